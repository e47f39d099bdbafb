/**
 * Top-k selection with deterministic tie-breaking (docs/METHOD.md §8, [ours]).
 *
 * @module
 */

import { assertFiniteArray, assertInteger } from "./_validate.ts";

/**
 * Indices of the `k` highest scores, best first; equal scores are ordered by module index (lower
 * first), so exactly `k` distinct modules are selected.
 *
 * @param scores One finite score per module.
 * @param k How many to select (`0 ≤ k ≤ scores.length`).
 * @returns `k` distinct indices whose scores are `>=` every unselected score.
 * @throws {RangeError} If `k` is out of range or a score is not finite.
 *
 * @example Ties go to the earlier module
 * ```ts
 * import { selectTopK } from "./selection.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(selectTopK([0.5, 2, 0.5, -1], 2), [1, 0]);
 * ```
 */
export function selectTopK(scores: readonly number[], k: number): readonly number[] {
  assertFiniteArray("select top-k", "scores", scores, scores.length);
  assertInteger("select top-k", "k", k, 0);
  if (k > scores.length) {
    throw new RangeError(
      `Cannot select top-k as k must be <= the number of scores ${scores.length}: current value is ${k}`,
    );
  }
  const order = scores.map((_, i) => i);
  order.sort((a, b) => {
    const sa = scores[a] ?? 0;
    const sb = scores[b] ?? 0;
    return sa > sb ? -1 : sa < sb ? 1 : a - b;
  });
  return Object.freeze(order.slice(0, k));
}
