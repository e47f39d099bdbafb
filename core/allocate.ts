/**
 * One TriAdaptLoRA allocation decision: schedule → threshold → importance → selection → growth.
 *
 * @module
 */

import { allocationAlpha, isAllocationStep } from "./allocation_schedule.ts";
import { type Normalisation, normalisedNorms, scoreDifference } from "./importance.ts";
import { growRanks, type RankState } from "./rank_state.ts";
import { selectTopK } from "./selection.ts";
import { grantAmounts, type Rounding, thresholdK, type ThresholdMode } from "./threshold.ts";
import { type GrantRule, proportionalGrants } from "./update_score.ts";

/**
 * What {@linkcode allocate} needs from a config. A parsed `TriAdaptConfig` satisfies it.
 *
 * @example A parsed TriAdaptConfig is an AllocationConfig
 * ```ts
 * import type { AllocationConfig } from "./allocate.ts";
 * import { parseTriAdaptConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config: AllocationConfig = parseTriAdaptConfig({ initWarmup: 100, interval: 100, totalSteps: 3900 });
 * assert.equal(config.threshold, "linear");
 * assert.equal(config.deltaRank, 4);
 * assert.equal(config.rounding, "floor");
 * ```
 */
export interface AllocationConfig {
  /** `t0`. */
  readonly initWarmup: number;
  /** Allocation interval. */
  readonly interval: number;
  /** `T`. */
  readonly totalSteps: number;
  /** Threshold schedule. */
  readonly threshold: ThresholdMode;
  /** `Δr`. */
  readonly deltaRank: number;
  /** `k` for the `fixed` threshold. */
  readonly topH?: number;
  /** Default `"floor"`. */
  readonly rounding?: Rounding;
  /** Default `false`. */
  readonly allowOvershoot?: boolean;
  /** Default `"rank"`. */
  readonly normalisation?: Normalisation;
  /** How the event's units are shared: `"equal"` (default, §8) or `"proportional"` [ours] (§20). */
  readonly grants?: GrantRule;
}

/**
 * One module grown by an allocation event.
 *
 * @example The modules grown by one event
 * ```ts
 * import type { GrownModule } from "./allocate.ts";
 * import { allocate } from "./allocate.ts";
 * import { createRankState } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 3 });
 * const config = { initWarmup: 0, interval: 1, totalSteps: 2, threshold: "linear", deltaRank: 2 } as const;
 * const grown: readonly GrownModule[] = allocate(state, [1, 4], [1, 1], 1, config).grown;
 * assert.deepEqual(grown, [{ module: "v", index: 1, amount: 2 }, { module: "q", index: 0, amount: 2 }]);
 * ```
 */
export interface GrownModule {
  /** Module name. */
  readonly module: string;
  /** Module index in the state's order. */
  readonly index: number;
  /** Rank units added. */
  readonly amount: number;
}

/**
 * Result of {@linkcode allocate}.
 *
 * @example Off the interval no event runs and the state is passed through
 * ```ts
 * import type { AllocationDecision } from "./allocate.ts";
 * import { allocate } from "./allocate.ts";
 * import { createRankState } from "./rank_state.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q", "v"], initRank: 1, refRank: 3 });
 * const config = { initWarmup: 0, interval: 2, totalSteps: 4, threshold: "linear", deltaRank: 2 } as const;
 * const decision: AllocationDecision = allocate(state, [2, 1], [1, 1], 1, config);
 * assert.equal(decision.event, false);
 * assert.equal(decision.state, state);
 * assert.deepEqual(decision.scores, [1, 0]);
 * assert.deepEqual([decision.k, decision.alpha, decision.grown.length], [0, 0.25, 0]);
 * ```
 */
export interface AllocationDecision {
  /** Whether `step` was an allocation event. */
  readonly event: boolean;
  /** The new state (the input state when no event ran). */
  readonly state: RankState;
  /** Grown modules, highest score first (empty when no event ran). */
  readonly grown: readonly GrownModule[];
  /** Eq. 11 scores at `step` (always computed). */
  readonly scores: readonly number[];
  /** Number of modules grown (0 when no event ran). */
  readonly k: number;
  /** `α(step)`. */
  readonly alpha: number;
  /**
   * Normalised norms to pass as `previous` to the next call: this step's values after an event,
   * the unchanged input otherwise (eq. 11 compares with the previous *event*).
   */
  readonly previous: readonly number[];
}

/**
 * Decides one allocation step. Scores are eq. 11 with the current ranks; when `step` is an
 * allocation step, `k` comes from the threshold schedule, the top-`k` scores (ties by module
 * order) grow by `Δr` (the last one by the remainder when the budget would be overshot), and the
 * new state is returned. Inputs are never mutated.
 *
 * @param state Current rank state.
 * @param norms `‖D_m‖_F` of each module now (same order as `state.modules`).
 * @param previous Normalised norms remembered from the previous event (or initialisation).
 * @param step Current optimizer step.
 * @param config Schedule, threshold and normalisation settings.
 * @returns The decision.
 * @throws {RangeError} On mismatched lengths or invalid numbers.
 *
 * @example One event
 * ```ts
 * import { allocate } from "./allocate.ts";
 * import { createRankState } from "./rank_state.ts";
 * import { normalisedNorms } from "./importance.ts";
 * import assert from "node:assert/strict";
 *
 * const state = createRankState({ modules: ["q", "k", "v", "o"], initRank: 1, refRank: 3 });
 * const previous = normalisedNorms([1, 1, 1, 1], state.ranks);
 * const config = { initWarmup: 0, interval: 1, totalSteps: 2, threshold: "linear", deltaRank: 2 } as const;
 * const decision = allocate(state, [1, 3, 2, 0.5], previous, 1, config);
 * assert.equal(decision.k, 4); // floor(R·α) = floor(8 · 0.5)
 * assert.deepEqual(decision.grown.map((g) => g.module), ["k", "v", "q", "o"]);
 * assert.deepEqual(decision.state.ranks, [3, 3, 3, 3]);
 * assert.deepEqual(decision.scores, [0, 2, 1, -0.5]);
 * ```
 */
export function allocate(
  state: RankState,
  norms: readonly number[],
  previous: readonly number[],
  step: number,
  config: AllocationConfig,
): AllocationDecision {
  const current = normalisedNorms(norms, state.ranks, config.normalisation ?? "rank");
  const scores = scoreDifference(current, previous);
  const alpha = allocationAlpha(step, config);
  if (!isAllocationStep(step, config, state.remaining)) {
    return Object.freeze({
      event: false,
      state,
      grown: Object.freeze([]),
      scores,
      k: 0,
      alpha,
      previous,
    });
  }
  const thresholdOptions = {
    threshold: config.threshold,
    modules: state.modules.length,
    deltaRank: config.deltaRank,
    rounding: config.rounding ?? "floor",
    allowOvershoot: config.allowOvershoot ?? false,
    ...(config.topH === undefined ? {} : { topH: config.topH }),
  };
  const k = thresholdK(alpha, state.remaining, thresholdOptions);
  const selected = selectTopK(scores, k);
  const amounts = grantAmounts(k, state.remaining, thresholdOptions);
  const grown = config.grants === "proportional"
    ? proportionalGrown(state, scores, amounts.reduce((a, b) => a + b, 0))
    : selected.map((index, i) =>
      Object.freeze({ module: state.modules[index] ?? "", index, amount: amounts[i] ?? 0 })
    );
  const next = growRanks(state, grown, { allowOvershoot: thresholdOptions.allowOvershoot });
  return Object.freeze({
    event: true,
    state: next,
    grown: Object.freeze(grown),
    scores,
    k,
    alpha,
    previous: current,
  });
}

/** The same units as the equal grants, shared by {@linkcode proportionalGrants}; most units first. */
function proportionalGrown(
  state: RankState,
  scores: readonly number[],
  units: number,
): GrownModule[] {
  const shares = proportionalGrants(scores, state.ranks, units);
  return shares
    .map((amount, index) => ({ amount, index }))
    .filter((g) => g.amount > 0)
    .sort((a, b) => b.amount - a.amount || a.index - b.index)
    .map((g) =>
      Object.freeze({ module: state.modules[g.index] ?? "", index: g.index, amount: g.amount })
    );
}
