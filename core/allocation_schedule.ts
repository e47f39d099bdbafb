/**
 * When rank allocation runs (docs/METHOD.md §6).
 *
 * @module
 */

import { assertFinite, assertInteger } from "./_validate.ts";

/**
 * The step schedule of allocation events.
 *
 * @example RTE's schedule (t0 100, every 100 steps, T 3900)
 * ```ts
 * import type { AllocationSchedule } from "./allocation_schedule.ts";
 * import { candidateSteps } from "./allocation_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const schedule: AllocationSchedule = { initWarmup: 100, interval: 100, totalSteps: 3900 };
 * const steps = candidateSteps(schedule);
 * assert.equal(steps.length, 37);
 * assert.deepEqual([steps[0], steps.at(-1)], [200, 3800]);
 * ```
 */
export interface AllocationSchedule {
  /** `t0`: no allocation at or before this step (non-negative integer). */
  readonly initWarmup: number;
  /** Allocation runs only on multiples of this step count (positive integer). */
  readonly interval: number;
  /** `T`: total optimizer steps (integer `> initWarmup`). */
  readonly totalSteps: number;
}

/**
 * Whether an allocation event happens at `step`: `t0 < step < T`, `step % interval === 0` and
 * budget remains (`remaining > 0`).
 *
 * `step < T` is the reference trainer's convention (docs/METHOD.md §19): its loop never reaches an
 * allocation check at step `T`, and a matrix grown there would never be trained.
 *
 * @param step Optimizer step (1-based, non-negative integer).
 * @param schedule `initWarmup`, `interval`, `totalSteps`.
 * @param remaining Remaining rank budget `R`.
 * @returns `true` when allocation runs at `step`.
 *
 * @example Boundaries
 * ```ts
 * import { isAllocationStep } from "./allocation_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const schedule = { initWarmup: 100, interval: 100, totalSteps: 3900 };
 * assert.equal(isAllocationStep(100, schedule, 504), false); // step must be > t0
 * assert.equal(isAllocationStep(150, schedule, 504), false); // off-interval
 * assert.equal(isAllocationStep(200, schedule, 504), true);
 * assert.equal(isAllocationStep(200, schedule, 0), false); // budget spent
 * assert.equal(isAllocationStep(3900, schedule, 504), false); // never at T
 * ```
 */
export function isAllocationStep(
  step: number,
  schedule: AllocationSchedule,
  remaining: number,
): boolean {
  assertInteger("check allocation step", "step", step, 0);
  assertFinite("check allocation step", "remaining", remaining);
  return step > schedule.initWarmup && step % schedule.interval === 0 &&
    step < schedule.totalSteps && remaining > 0;
}

/**
 * Schedule progress `α(t) = (t − t0) / (T − t0)`.
 *
 * @param step Optimizer step.
 * @param schedule `initWarmup` (`t0`) and `totalSteps` (`T`).
 * @returns `α`; in `(0, 1)` for every allocation step.
 *
 * @example Usage
 * ```ts
 * import { allocationAlpha } from "./allocation_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(allocationAlpha(2000, { initWarmup: 100, interval: 100, totalSteps: 3900 }), 0.5);
 * ```
 */
export function allocationAlpha(step: number, schedule: AllocationSchedule): number {
  return (step - schedule.initWarmup) / (schedule.totalSteps - schedule.initWarmup);
}

/**
 * Every step that passes the step test of {@linkcode isAllocationStep} (ignoring the budget):
 * the multiples of `interval` in `(t0, T)`, ascending.
 *
 * @param schedule The schedule.
 * @returns The candidate event steps.
 *
 * @example Usage
 * ```ts
 * import { candidateSteps } from "./allocation_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(candidateSteps({ initWarmup: 10, interval: 4, totalSteps: 24 }), [12, 16, 20]);
 * ```
 */
export function candidateSteps(schedule: AllocationSchedule): readonly number[] {
  const steps: number[] = [];
  const first = (Math.floor(schedule.initWarmup / schedule.interval) + 1) * schedule.interval;
  for (let s = first; s < schedule.totalSteps; s += schedule.interval) steps.push(s);
  return Object.freeze(steps);
}
