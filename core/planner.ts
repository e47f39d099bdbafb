/**
 * Whole-run planner: every allocation event from the schedule alone (scores never change `k`).
 *
 * @module
 */

import { allocationAlpha } from "./allocation_schedule.ts";
import { assertInteger } from "./_validate.ts";
import { grantAmounts, type Rounding, thresholdK, type ThresholdMode } from "./threshold.ts";

/**
 * Input of {@linkcode planAllocation}: a TriAdaptLoRA schedule plus the module count.
 *
 * @example A small linear plan (M = 4, Δr = 2)
 * ```ts
 * import type { PlanConfig } from "./planner.ts";
 * import { planAllocation } from "./planner.ts";
 * import assert from "node:assert/strict";
 *
 * const config: PlanConfig = {
 *   matrices: 4, initRank: 1, refRank: 3, deltaRank: 2,
 *   initWarmup: 0, interval: 1, totalSteps: 2, threshold: "linear",
 * };
 * assert.deepEqual(planAllocation(config).map((e) => e.k), [4]);
 * ```
 */
export interface PlanConfig {
  /** Number of adapted matrices `M`. */
  readonly matrices: number;
  /** Initial rank per module. */
  readonly initRank: number;
  /** Reference rank; `R0 = refRank · M`. */
  readonly refRank: number;
  /** `Δr`. */
  readonly deltaRank: number;
  /** `t0`. */
  readonly initWarmup: number;
  /** Allocation interval. */
  readonly interval: number;
  /** `T`. */
  readonly totalSteps: number;
  /** Threshold schedule. */
  readonly threshold: ThresholdMode;
  /** `k` for `fixed`. */
  readonly topH?: number;
  /** Default `"floor"`. */
  readonly rounding?: Rounding;
  /** Default `false`. */
  readonly allowOvershoot?: boolean;
}

/**
 * One planned allocation event.
 *
 * @example One event spends the whole budget
 * ```ts
 * import type { PlanEvent } from "./planner.ts";
 * import { planAllocation } from "./planner.ts";
 * import assert from "node:assert/strict";
 *
 * const [event]: readonly PlanEvent[] = planAllocation({
 *   matrices: 4, initRank: 1, refRank: 3, deltaRank: 2,
 *   initWarmup: 0, interval: 1, totalSteps: 2, threshold: "linear",
 * });
 * assert.deepEqual(event, { step: 1, alpha: 0.5, remainingBefore: 8, k: 4, grants: [2, 2, 2, 2], remainingAfter: 0 });
 * ```
 */
export interface PlanEvent {
  /** Optimizer step. */
  readonly step: number;
  /** `α(step)`. */
  readonly alpha: number;
  /** Budget `R` before the event. */
  readonly remainingBefore: number;
  /** Modules grown. */
  readonly k: number;
  /** Rank units granted to each grown module, in selection order. */
  readonly grants: readonly number[];
  /** Budget after the event (negative only with `allowOvershoot`). */
  readonly remainingAfter: number;
}

/**
 * Lists every allocation event of a run: at each step in `(t0, T)` on the interval while budget
 * remains, `k` from {@linkcode thresholdK} and the grants from {@linkcode grantAmounts}.
 * Deterministic; `allocate` reaches the same `k` sequence whatever the scores.
 *
 * @param config Schedule, ranks and `M`.
 * @returns The events in step order.
 * @throws {RangeError} On invalid integers or `initWarmup >= totalSteps`.
 *
 * @example RTE, linear (docs/METHOD.md §7)
 * ```ts
 * import { planAllocation } from "./planner.ts";
 * import assert from "node:assert/strict";
 *
 * const events = planAllocation({
 *   matrices: 72, initRank: 1, refRank: 8, deltaRank: 4,
 *   initWarmup: 100, interval: 100, totalSteps: 3900, threshold: "linear",
 * });
 * assert.deepEqual(events.map((e) => e.k), [13, 23, 28, 26, 18, 11, 5, 1, 1]);
 * assert.equal(events.at(-1)?.step, 1000);
 * assert.equal(events.at(-1)?.remainingAfter, 0);
 * ```
 */
export function planAllocation(config: PlanConfig): readonly PlanEvent[] {
  const action = "plan allocation";
  assertInteger(action, "matrices", config.matrices, 1);
  assertInteger(action, "initRank", config.initRank, 1);
  assertInteger(action, "refRank", config.refRank, config.initRank);
  assertInteger(action, "deltaRank", config.deltaRank, 1);
  assertInteger(action, "initWarmup", config.initWarmup, 0);
  assertInteger(action, "interval", config.interval, 1);
  assertInteger(action, "totalSteps", config.totalSteps, config.initWarmup + 1);
  const options = {
    threshold: config.threshold,
    modules: config.matrices,
    deltaRank: config.deltaRank,
    rounding: config.rounding ?? "floor",
    allowOvershoot: config.allowOvershoot ?? false,
    ...(config.topH === undefined ? {} : { topH: config.topH }),
  };
  let remaining = (config.refRank - config.initRank) * config.matrices;
  const events: PlanEvent[] = [];
  const first = (Math.floor(config.initWarmup / config.interval) + 1) * config.interval;
  for (let step = first; step < config.totalSteps && remaining > 0; step += config.interval) {
    const alpha = allocationAlpha(step, config);
    const k = thresholdK(alpha, remaining, options);
    const grants = grantAmounts(k, remaining, options);
    const spent = grants.reduce((a, b) => a + b, 0);
    events.push(Object.freeze({
      step,
      alpha,
      remainingBefore: remaining,
      k,
      grants,
      remainingAfter: remaining - spent,
    }));
    remaining -= spent;
  }
  return Object.freeze(events);
}
