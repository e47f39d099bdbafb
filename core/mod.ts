/**
 * triadapt `core/` layer: pure functions on plain data that decide everything the rank
 * allocator does (rank state, schedules, thresholds, importance, selection, budgets, configs).
 * No tensors, no I/O, no mutation.
 *
 * @example Plan a run, then make one decision
 * ```ts
 * import {
 *   allocate,
 *   createRankState,
 *   normalisedNorms,
 *   parseTriAdaptConfig,
 *   planAllocation,
 * } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const config = parseTriAdaptConfig({ initWarmup: 100, interval: 100, totalSteps: 3900 });
 * const events = planAllocation({ ...config, matrices: 72 });
 * assert.deepEqual(events.map((e) => e.k), [13, 23, 28, 26, 18, 11, 5, 1, 1]);
 *
 * const modules = Array.from({ length: 72 }, (_, i) => `m${i}`);
 * const state = createRankState({ modules, initRank: config.initRank, refRank: config.refRank });
 * const previous = normalisedNorms(modules.map(() => 1), state.ranks);
 * const decision = allocate(state, modules.map((_, i) => 1 + i / 100), previous, 200, config);
 * assert.equal(decision.k, 13);
 * assert.equal(decision.state.remaining, 504 - 52);
 * ```
 *
 * @module
 */

export * from "./rank_state.ts";
export * from "./allocation_schedule.ts";
export * from "./threshold.ts";
export * from "./importance.ts";
export * from "./selection.ts";
export * from "./allocate.ts";
export * from "./planner.ts";
export * from "./adalora_budget.ts";
export * from "./increlora.ts";
export * from "./lr_schedule.ts";
export * from "./config.ts";
export * from "./update_score.ts";
