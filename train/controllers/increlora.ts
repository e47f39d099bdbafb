/**
 * The IncreLoRA controller: after every optimizer step the scores accumulated by the backward
 * pass are folded into each adapter's EMAs; at allocation events (`step > t0`, on the interval,
 * budget left) `core.increloraK` says how many of the highest-scoring matrices grow by `Δr`.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { isAllocationStep } from "../../core/allocation_schedule.ts";
import { increloraK } from "../../core/increlora.ts";
import {
  createRankState,
  growRanks,
  type RankState,
  rankStateFromJson,
  rankStateToJson,
} from "../../core/rank_state.ts";
import { selectTopK } from "../../core/selection.ts";
import type { GrowingAdamW } from "../../ops/growing_adamw.ts";
import { type IncreLoraAdapter, increLoraScores } from "../../ops/increlora.ts";
import type { AllocationEvent } from "../loop.ts";
import type { Controller, ControllerState } from "./controller.ts";

/**
 * Options of {@linkcode createIncreLoraController}.
 *
 * @example No modules, so nothing to grow
 * ```ts
 * import assert from "node:assert/strict";
 * import type { IncreLoraControllerOptions } from "./increlora.ts";
 * import { createIncreLoraController } from "./increlora.ts";
 *
 * const options: IncreLoraControllerOptions = {
 *   initWarmup: 2, interval: 2, totalSteps: 10, topH: 1, deltaRank: 2, initRank: 2, refRank: 8,
 * };
 * const ctl = createIncreLoraController([], options);
 * assert.equal(ctl.expectsEvents, false);
 * ```
 */
export interface IncreLoraControllerOptions {
  /** No event at or before this step. */
  readonly initWarmup: number;
  /** Steps between events. */
  readonly interval: number;
  /** T. */
  readonly totalSteps: number;
  /** Matrices grown per event. */
  readonly topH: number;
  /** Rank added per growth. */
  readonly deltaRank: number;
  /** Initial rank. */
  readonly initRank: number;
  /** Reference rank (budget `refRank · M`). */
  readonly refRank: number;
}

function stopTracking(adapters: readonly IncreLoraAdapter[]): void {
  for (const a of adapters) {
    // Scores form a d×n product in the backward pass: stop once the budget is spent.
    if ("trackScore" in a) (a as { trackScore: boolean }).trackScore = false;
  }
}

/**
 * Creates the IncreLoRA controller.
 *
 * @param adapters IncreLoRA adapters, in module order.
 * @param options Schedule, `topH`, `Δr`, initial and reference rank.
 * @returns The controller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIncreLoraController } from "./increlora.ts";
 *
 * const ctl = createIncreLoraController([], {
 *   initWarmup: 1, interval: 1, totalSteps: 4, topH: 1, deltaRank: 1, initRank: 1, refRank: 2,
 * });
 * assert.equal(ctl.targetBudget, 0); // no modules
 * ```
 */
export function createIncreLoraController(
  adapters: readonly IncreLoraAdapter[],
  options: IncreLoraControllerOptions,
): Controller {
  let state: RankState | undefined = adapters.length === 0 ? undefined : createRankState({
    modules: adapters.map((a) => a.name),
    initRank: options.initRank,
    refRank: options.refRank,
  });
  let events = 0;
  const remaining = (): number => state?.remaining ?? 0;
  return {
    method: "increlora",
    expectsEvents: remaining() > 0,
    targetBudget: state?.budget0 ?? 0,
    get events(): number {
      return events;
    },
    async afterStep(
      step: number,
      _grads: tf.NamedTensorMap,
      optimizer: GrowingAdamW,
    ): Promise<AllocationEvent | undefined> {
      for (const a of adapters) a.updateImportance();
      if (state === undefined || !isAllocationStep(step, options, state.remaining)) {
        return undefined;
      }
      const scores = await increLoraScores(adapters);
      const k = Math.min(
        increloraK(options.topH, state.remaining, options.deltaRank),
        adapters.length,
      );
      let left = state.remaining;
      const grants = selectTopK(scores, k).map((index) => {
        const amount = Math.min(options.deltaRank, left);
        left -= amount;
        return { index, amount };
      }).filter((g) => g.amount > 0);
      for (const g of grants) {
        const adapter = adapters[g.index];
        if (adapter !== undefined) optimizer.addBlock(adapter.grow(g.amount), step);
      }
      state = growRanks(state, grants);
      events++;
      if (state.remaining <= 0) stopTracking(adapters);
      return {
        step,
        k,
        scores,
        grown: grants.map((g) => adapters[g.index]?.name ?? String(g.index)),
        ranks: [...state.ranks],
        budgetLeft: state.remaining,
      };
    },
    ranks: () => state === undefined ? [] : [...state.ranks],
    budgetLeft: remaining,
    snapshot: (): ControllerState => ({
      method: "increlora",
      rankState: state === undefined ? null : rankStateToJson(state),
      events,
    }),
    restore(saved: ControllerState): void {
      if (saved.method !== "increlora") {
        throw new TypeError(
          `Cannot restore IncreLoRA controller as the state must come from an increlora run: current method is ${
            String(saved.method)
          }`,
        );
      }
      state = typeof saved.rankState === "string" ? rankStateFromJson(saved.rankState) : undefined;
      events = Number(saved.events ?? 0);
      if (remaining() <= 0) stopTracking(adapters);
    },
    dispose(): void {},
  };
}
