/**
 * Importance scores from triangular-core norms (docs/METHOD.md §4, eq. 11).
 *
 * @module
 */

import { assertFiniteArray, assertInteger, show } from "./_validate.ts";

/**
 * Normalisation `N(r)` of eq. 11: `r` (default), `sqrt(r)` or `1`.
 *
 * Note: the reference code divides by the number of parameter blocks of the module
 * (`len(lora_C_row)` = 1 + growths so far), not by `r`; with `initRank` 1 and `Δr` 4 that is
 * `1 + ⌈(r − 1)/4⌉`. docs/METHOD.md §4 specifies `r`; that variant is not offered here.
 *
 * @example Each mode's divisor for rank 4
 * ```ts
 * import type { Normalisation } from "./importance.ts";
 * import { normalisedNorms } from "./importance.ts";
 * import assert from "node:assert/strict";
 *
 * const modes: Normalisation[] = ["rank", "sqrt", "none"];
 * assert.deepEqual(modes.map((n) => normalisedNorms([8], [4], n)[0]), [2, 4, 8]);
 * ```
 */
export type Normalisation = "rank" | "sqrt" | "none";

function divisor(rank: number, normalisation: Normalisation): number {
  switch (normalisation) {
    case "rank":
      return rank;
    case "sqrt":
      return Math.sqrt(rank);
    case "none":
      return 1;
    default:
      throw new TypeError(
        `Cannot normalise norms as normalisation must be "rank", "sqrt" or "none": current value is ${
          show(normalisation)
        }`,
      );
  }
}

/**
 * Normalised norms `‖D_m‖_F / N(r_m)`. This is what an allocation event remembers as
 * "previous" for the next event; at initialisation compute it from the initial cores.
 *
 * @param norms Frobenius norm of each module's triangular core `D = L + U` (finite, `>= 0`).
 * @param ranks Rank of each module when the norms were measured (positive integers).
 * @param normalisation `"rank"` (default), `"sqrt"` or `"none"`.
 * @returns One value per module.
 * @throws {RangeError} On length mismatch, negative or non-finite norms, or bad ranks.
 *
 * @example Usage
 * ```ts
 * import { normalisedNorms } from "./importance.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(normalisedNorms([4, 6], [2, 3]), [2, 2]);
 * assert.deepEqual(normalisedNorms([4, 6], [4, 9], "sqrt"), [2, 2]);
 * assert.deepEqual(normalisedNorms([4, 6], [4, 9], "none"), [4, 6]);
 * ```
 */
export function normalisedNorms(
  norms: readonly number[],
  ranks: readonly number[],
  normalisation: Normalisation = "rank",
): readonly number[] {
  const action = "normalise norms";
  assertFiniteArray(action, "norms", norms, ranks.length);
  return Object.freeze(norms.map((n, i) => {
    const r = ranks[i];
    assertInteger(action, `ranks[${i}]`, r, 1);
    if (n < 0) {
      throw new RangeError(
        `Cannot ${action} as norms[${i}] must be >= 0: current value is ${n}`,
      );
    }
    return n / divisor(r, normalisation);
  }));
}

/**
 * Inputs of {@linkcode importanceScores}.
 *
 * @example A module that doubled its rank without its norm keeping up scores negative
 * ```ts
 * import type { ImportanceInput } from "./importance.ts";
 * import { importanceScores } from "./importance.ts";
 * import assert from "node:assert/strict";
 *
 * const input: ImportanceInput = { norms: [4, 6], ranks: [4, 2], previousNorms: [3, 2], previousRanks: [2, 2] };
 * assert.deepEqual(importanceScores(input), [-0.5, 2]);
 * ```
 */
export interface ImportanceInput {
  /** `‖D_m(t)‖_F` now. */
  readonly norms: readonly number[];
  /** `r_m(t)` now. */
  readonly ranks: readonly number[];
  /** `‖D_m(t')‖_F` at the previous event (or initialisation). */
  readonly previousNorms: readonly number[];
  /** `r_m(t')` at the previous event (or initialisation). */
  readonly previousRanks: readonly number[];
}

/**
 * Eq. 11: `S_m(t) = ‖D_m(t)‖_F / N(r_m(t)) − ‖D_m(t')‖_F / N(r_m(t'))`. Scores may be negative.
 *
 * @param input Current and previous norms and ranks.
 * @param normalisation `"rank"` (default), `"sqrt"` or `"none"`.
 * @returns One score per module.
 * @throws {RangeError} On length mismatch or invalid norms/ranks.
 *
 * @example A shrinking normalised norm gives a negative score
 * ```ts
 * import { importanceScores } from "./importance.ts";
 * import assert from "node:assert/strict";
 *
 * const scores = importanceScores({
 *   norms: [3, 2],
 *   ranks: [1, 2],
 *   previousNorms: [1, 4],
 *   previousRanks: [1, 2],
 * });
 * assert.deepEqual(scores, [2, -1]);
 * ```
 */
export function importanceScores(
  input: ImportanceInput,
  normalisation: Normalisation = "rank",
): readonly number[] {
  const now = normalisedNorms(input.norms, input.ranks, normalisation);
  const before = normalisedNorms(input.previousNorms, input.previousRanks, normalisation);
  return scoreDifference(now, before);
}

/**
 * Scores from already-normalised values: `current[m] − previous[m]`.
 *
 * @param current Normalised norms now.
 * @param previous Normalised norms at the previous event.
 * @returns One score per module.
 * @throws {RangeError} On length mismatch or non-finite values.
 *
 * @example Usage
 * ```ts
 * import { scoreDifference } from "./importance.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(scoreDifference([1, 2], [0.5, 3]), [0.5, -1]);
 * ```
 */
export function scoreDifference(
  current: readonly number[],
  previous: readonly number[],
): readonly number[] {
  assertFiniteArray("compute importance scores", "previous", previous, current.length);
  assertFiniteArray("compute importance scores", "current", current, current.length);
  return Object.freeze(current.map((c, i) => c - (previous[i] ?? 0)));
}
