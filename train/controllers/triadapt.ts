/**
 * The TriAdaptLoRA controller: on allocation steps it reads `‖L+U‖_F` of every module in one
 * batched op, asks `core.allocate` for the decision, grows the chosen adapters and registers the
 * new parameter blocks with the optimizer (born at this step, so their LR warms up from here).
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { allocate, type AllocationConfig } from "../../core/allocate.ts";
import { isAllocationStep } from "../../core/allocation_schedule.ts";
import { normalisedNorms } from "../../core/importance.ts";
import {
  createRankState,
  type RankState,
  rankStateFromJson,
  rankStateToJson,
} from "../../core/rank_state.ts";
import type { GrowingAdamW } from "../../ops/growing_adamw.ts";
import { frobeniusNormsOfD, type TriAdaptLoraAdapter } from "../../ops/triadapt_lora.ts";
import type { AllocationEvent } from "../loop.ts";
import type { Controller, ControllerState } from "./controller.ts";

/**
 * Options of {@linkcode createTriAdaptController}.
 *
 * @example Budget `refRank · M` for one module
 * ```ts
 * import assert from "node:assert/strict";
 * import { TriAdaptLoraAdapter } from "../../ops/triadapt_lora.ts";
 * import type { TriAdaptControllerOptions } from "./triadapt.ts";
 * import { createTriAdaptController } from "./triadapt.ts";
 *
 * const options: TriAdaptControllerOptions = { initRank: 1, refRank: 3, config: {
 *   initWarmup: 1, interval: 1, totalSteps: 3, threshold: "linear", deltaRank: 1 } };
 * const ad = new TriAdaptLoraAdapter({ name: "ex.opt", inFeatures: 4, outFeatures: 4, seed: 1 });
 * const ctl = await createTriAdaptController([ad], options);
 * assert.deepEqual([ctl.targetBudget, ctl.ranks()], [3, [1]]);
 * ad.dispose();
 * ```
 */
export interface TriAdaptControllerOptions {
  /** Schedule, threshold and normalisation (a parsed `TriAdaptConfig` fits). */
  readonly config: AllocationConfig;
  /** Initial rank of every module. */
  readonly initRank: number;
  /** Reference rank `r_ref` (budget `r_ref · M`). */
  readonly refRank: number;
}

/**
 * Creates the TriAdaptLoRA controller; reads the initial norms (the `t'` of eq. 11 before the
 * first event).
 *
 * @param adapters TriAdaptLoRA adapters, in module order.
 * @param options Allocation config, initial and reference rank.
 * @returns The controller.
 *
 * @example No event before t0
 * ```ts
 * import assert from "node:assert/strict";
 * import { TriAdaptLoraAdapter } from "../../ops/triadapt_lora.ts";
 * import { GrowingAdamW } from "../../ops/growing_adamw.ts";
 * import { createTriAdaptController } from "./triadapt.ts";
 *
 * const ad = new TriAdaptLoraAdapter({ name: "ex.ctl", inFeatures: 4, outFeatures: 4, seed: 1 });
 * const config = { initWarmup: 1, interval: 1, totalSteps: 3, threshold: "linear", deltaRank: 1 } as const;
 * const ctl = await createTriAdaptController([ad], { config, initRank: 1, refRank: 3 });
 * const opt = new GrowingAdamW();
 * opt.syncBlocks(ad.parameterBlocks(), 0);
 * assert.equal(await ctl.afterStep(1, {}, opt), undefined);
 * const event = await ctl.afterStep(2, {}, opt);
 * assert.deepEqual(event?.ranks, [2]);
 * assert.equal(ad.rank, 2);
 * opt.dispose();
 * ad.dispose();
 * ```
 */
export async function createTriAdaptController(
  adapters: readonly TriAdaptLoraAdapter[],
  options: TriAdaptControllerOptions,
): Promise<Controller> {
  const config = options.config;
  let state: RankState = createRankState({
    modules: adapters.map((a) => a.name),
    initRank: options.initRank,
    refRank: options.refRank,
  });
  let previous: readonly number[] = normalisedNorms(
    await frobeniusNormsOfD(adapters),
    state.ranks,
    config.normalisation ?? "rank",
  );
  let events = 0;
  return {
    method: "triadapt",
    get expectsEvents(): boolean {
      // Adaptive with a budget to spend: a run without any event is worth a loud warning,
      // whether the schedule leaves no allocation step or something else went wrong.
      return state.budget0 > state.total;
    },
    get targetBudget(): number {
      return state.budget0;
    },
    get events(): number {
      return events;
    },
    async afterStep(
      step: number,
      _grads: tf.NamedTensorMap,
      optimizer: GrowingAdamW,
    ): Promise<AllocationEvent | undefined> {
      if (!isAllocationStep(step, config, state.remaining)) return undefined;
      const norms = await frobeniusNormsOfD(adapters);
      const decision = allocate(state, norms, previous, step, config);
      if (!decision.event) return undefined;
      for (const g of decision.grown) {
        const adapter = adapters[g.index];
        if (adapter === undefined) continue;
        optimizer.addBlock(adapter.grow(g.amount), step);
      }
      state = decision.state;
      previous = decision.previous;
      events++;
      return {
        step,
        k: decision.k,
        scores: decision.scores,
        grown: decision.grown.map((g) => g.module),
        ranks: [...state.ranks],
        budgetLeft: state.remaining,
      };
    },
    ranks: () => [...state.ranks],
    budgetLeft: () => state.remaining,
    snapshot: (): ControllerState => ({
      method: "triadapt",
      rankState: rankStateToJson(state),
      previous: [...previous],
      events,
    }),
    restore(saved: ControllerState): void {
      if (saved.method !== "triadapt" || typeof saved.rankState !== "string") {
        throw new TypeError(
          `Cannot restore TriAdaptLoRA controller as the state must come from a triadapt run: current method is ${
            String(saved.method)
          }`,
        );
      }
      const restored = rankStateFromJson(saved.rankState);
      const names = adapters.map((a) => a.name);
      if (restored.modules.join("\n") !== names.join("\n")) {
        throw new TypeError(
          "Cannot restore TriAdaptLoRA controller as the saved modules must match the model's",
        );
      }
      restored.ranks.forEach((r, i) => {
        if (adapters[i]?.rank !== r) {
          throw new RangeError(
            `Cannot restore TriAdaptLoRA controller as module ${
              names[i]
            } must have rank ${r}: current rank is ${adapters[i]?.rank}`,
          );
        }
      });
      state = restored;
      previous = Object.freeze((saved.previous as number[]).map(Number));
      events = Number(saved.events ?? 0);
    },
    dispose(): void {},
  };
}
