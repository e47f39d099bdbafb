/**
 * IncreLoRA's fixed-k rule (docs/METHOD.md §13).
 *
 * @module
 */

import { assertFinite, assertInteger } from "./_validate.ts";

/**
 * Matrices grown at an IncreLoRA event: `k = min(topH, ⌈R/Δr⌉)`, `0` when `R <= 0`. With
 * `Δr = 1` this is the paper's `min(topH, R)`; for larger `Δr` it counts the budget in grants
 * (the last grant takes the remainder, as in TriAdaptLoRA's no-overshoot rule).
 *
 * @param topH Matrices per event (positive integer).
 * @param remaining Remaining budget `R` in rank units.
 * @param deltaR Rank units per grant (positive integer).
 * @returns `k`.
 *
 * @example Usage
 * ```ts
 * import { increloraK } from "./increlora.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(increloraK(9, 100, 1), 9);
 * assert.equal(increloraK(9, 5, 1), 5);
 * assert.equal(increloraK(9, 10, 4), 3);
 * assert.equal(increloraK(9, 0, 1), 0);
 * ```
 */
export function increloraK(topH: number, remaining: number, deltaR: number): number {
  assertInteger("compute IncreLoRA k", "topH", topH, 1);
  assertFinite("compute IncreLoRA k", "remaining", remaining);
  assertInteger("compute IncreLoRA k", "deltaR", deltaR, 1);
  if (remaining <= 0) return 0;
  return Math.min(topH, Math.ceil(remaining / deltaR));
}
