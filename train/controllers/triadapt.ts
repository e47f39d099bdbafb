/**
 * The TriAdaptLoRA controller: on allocation steps, after backward and before the optimizer
 * step (the reference trainer's order, docs/METHOD.md §19), it reads `‖L+U‖_F` of every module in
 * one batched op, asks `core.allocate` for the decision, grows the chosen adapters and registers
 * the new parameter blocks with the optimizer (born at this step, so their LR warms up from here;
 * they have no gradient at this step, so their first Adam step is the next one, at rate 0).
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
import { type ScoreKind, updateScores, updateValue } from "../../core/update_score.ts";
import type { GrowingAdamW } from "../../ops/growing_adamw.ts";
import { frobeniusNormsOfD, type TriAdaptLoraAdapter } from "../../ops/triadapt_lora.ts";
import { updateGramsOf } from "../../ops/update_grams.ts";
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
  /**
   * The score (docs/METHOD.md §20): `"paper"` (eq. 11, default), `"update"` (change of `‖ΔW‖_F`
   * since the previous event) or `"spectrum"` (`σ_r(ΔW)`), the last two from `r×r` Grams.
   */
  readonly score?: ScoreKind;
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
 * assert.equal(await ctl.beforeUpdate?.(1, {}, opt), undefined);
 * const event = await ctl.beforeUpdate?.(2, {}, opt);
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
  const score = options.score ?? "paper";
  let state: RankState = createRankState({
    modules: adapters.map((a) => a.name),
    initRank: options.initRank,
    refRank: options.refRank,
  });
  // "paper": eq. 11's normalised ‖L+U‖_F; "update"/"spectrum": ‖ΔW‖_F or σ_r(ΔW) from r×r Grams.
  const values = async (): Promise<number[]> =>
    score === "paper"
      ? await frobeniusNormsOfD(adapters)
      : (await updateGramsOf(adapters)).map((g) => updateValue(score, g));
  let previous: readonly number[] = score === "paper"
    ? normalisedNorms(await values(), state.ranks, config.normalisation ?? "rank")
    : await values();
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
    afterStep(): Promise<AllocationEvent | undefined> {
      return Promise.resolve(undefined);
    },
    async beforeUpdate(
      step: number,
      _grads: tf.NamedTensorMap,
      optimizer: GrowingAdamW,
    ): Promise<AllocationEvent | undefined> {
      if (!isAllocationStep(step, config, state.remaining)) return undefined;
      const now = await values();
      // With N = 1, eq. 11's difference `now − before` is `updateScores(score, now, previous)`:
      // `before` is the previous event's values ("update") or 0 ("spectrum").
      const scores = score === "paper" ? [] : updateScores(score, now, previous);
      const before = score === "paper" ? previous : now.map((v, i) => v - (scores[i] as number));
      const decision = allocate(
        state,
        now,
        before,
        step,
        score === "paper" ? config : { ...config, normalisation: "none" },
      );
      if (!decision.event) return undefined;
      for (const g of decision.grown) {
        const adapter = adapters[g.index];
        if (adapter === undefined) continue;
        optimizer.addBlock(adapter.grow(g.amount), step);
      }
      state = decision.state;
      previous = score === "paper" ? decision.previous : now;
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
      score,
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
      if ((saved.score ?? "paper") !== score) {
        throw new TypeError(
          `Cannot restore TriAdaptLoRA controller as the saved score must match: saved ${
            String(saved.score ?? "paper")
          }, current ${score}`,
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
