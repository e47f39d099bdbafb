/**
 * Per-block learning-rate multiplier (IncreLoRA's per-group schedule, docs/METHOD.md §10).
 *
 * @module
 */

import { assertInteger } from "./_validate.ts";

/**
 * Settings of {@linkcode lrMultiplier}.
 *
 * @example A block grown at step 100: peak at the end of its warm-up
 * ```ts
 * import type { LrScheduleOptions } from "./lr_schedule.ts";
 * import { lrMultiplier } from "./lr_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const options: LrScheduleOptions = { birthStep: 100, warmupSteps: 10, totalSteps: 200 };
 * assert.equal(lrMultiplier(110, options), 1);
 * assert.equal(lrMultiplier(50, options), 0);
 * ```
 */
export interface LrScheduleOptions {
  /** Step at which the parameter block was created (0 for the initial adapters). */
  readonly birthStep: number;
  /** Warm-up length in steps, counted from `birthStep`. */
  readonly warmupSteps: number;
  /** `T`: the multiplier reaches 0 at this step. */
  readonly totalSteps: number;
}

/**
 * Learning-rate multiplier of a parameter block born at `birthStep`: transformers'
 * `get_linear_schedule_with_warmup` shifted to the birth step. With `s = step − birthStep`,
 * `W = warmupSteps`, `N = totalSteps − birthStep`:
 *
 * - `step < birthStep`: `0` (the block does not exist yet);
 * - `s < W`: `s / max(1, W)` (so `0` at the birth step);
 * - otherwise `max(0, (N − s) / max(1, N − W))` = `max(0, (T − step) / max(1, T − birthStep − W))`.
 *
 * @param step Optimizer step (non-negative integer).
 * @param options `birthStep`, `warmupSteps`, `totalSteps`.
 * @returns The multiplier in `[0, 1]`.
 *
 * @example Boundaries (birth 100, warm-up 10, T 200)
 * ```ts
 * import { lrMultiplier } from "./lr_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const options = { birthStep: 100, warmupSteps: 10, totalSteps: 200 };
 * assert.equal(lrMultiplier(99, options), 0);
 * assert.equal(lrMultiplier(100, options), 0);
 * assert.equal(lrMultiplier(105, options), 0.5);
 * assert.equal(lrMultiplier(110, options), 1);
 * assert.equal(lrMultiplier(155, options), 0.5);
 * assert.equal(lrMultiplier(200, options), 0);
 * assert.equal(lrMultiplier(250, options), 0);
 * ```
 */
export function lrMultiplier(step: number, options: LrScheduleOptions): number {
  const action = "compute learning-rate multiplier";
  assertInteger(action, "step", step, 0);
  assertInteger(action, "birthStep", options.birthStep, 0);
  assertInteger(action, "warmupSteps", options.warmupSteps, 0);
  assertInteger(action, "totalSteps", options.totalSteps, 0);
  const { birthStep, warmupSteps, totalSteps } = options;
  if (step < birthStep) return 0;
  const s = step - birthStep;
  if (s < warmupSteps) return s / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - birthStep - warmupSteps));
}
