/**
 * The AdaLoRA controller: after every optimizer step it updates the sensitivity EMAs with that
 * step's gradients; `core.adaloraMaskAction` says what to do: mask the lowest triplets to the
 * cubic budget (`core.adaloraBudget`), freeze the pattern at `T − tfinal` (masked to the target
 * budget), or re-apply that frozen pattern on every later step (PEFT's final phase).
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import {
  adaloraBudget,
  type AdaLoraBudgetConfig,
  adaloraMaskAction,
} from "../../core/adalora_budget.ts";
import {
  type AdaLoraAdapter,
  maskAdaLoraToBudget,
  maskAdaLoraToPattern,
} from "../../ops/adalora.ts";
import type { AllocationEvent } from "../loop.ts";
import type { Controller, ControllerState } from "./controller.ts";

/**
 * Creates the AdaLoRA controller.
 *
 * @param adapters AdaLoRA adapters, in module order.
 * @param budget Budgets and phases (`core.adaloraBudgetConfig`).
 * @returns The controller.
 *
 * @example Budget at the initial value: nothing masked
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAdaLoraController } from "./adalora.ts";
 *
 * const ctl = createAdaLoraController([], {
 *   initBudget: 12, targetBudget: 8, tinit: 1, tfinal: 1, deltaT: 1, totalSteps: 4,
 * });
 * assert.equal(ctl.expectsEvents, true);
 * assert.equal(ctl.targetBudget, 8);
 * ```
 */
export function createAdaLoraController(
  adapters: readonly AdaLoraAdapter[],
  budget: AdaLoraBudgetConfig,
): Controller {
  let ranks = adapters.map((a) => a.rank);
  let events = 0;
  let frozen: Readonly<Record<string, readonly boolean[]>> | undefined;
  const total = (): number => ranks.reduce((n, r) => n + r, 0);
  return {
    method: "adalora",
    expectsEvents: budget.initBudget > budget.targetBudget,
    targetBudget: budget.targetBudget,
    get events(): number {
      return events;
    },
    async afterStep(step: number, grads: tf.NamedTensorMap): Promise<AllocationEvent | undefined> {
      for (const a of adapters) a.updateSensitivity(grads);
      const action = adaloraMaskAction(step, budget);
      if (action === "none") return undefined;
      if (action === "reapply" && frozen !== undefined) {
        maskAdaLoraToPattern(adapters, frozen);
        return undefined;
      }
      // "reapply" without a frozen pattern only happens when T − tfinal fell before step 1:
      // freeze now, as PEFT would have at its first final-phase step.
      const result = await maskAdaLoraToBudget(adapters, adaloraBudget(step, budget).budget);
      if (action !== "mask") frozen = result.keepPattern;
      const next = adapters.map((a) => result.rankPattern[a.name] ?? a.rank);
      const changed = adapters.filter((_, i) => next[i] !== ranks[i]).map((a) => a.name);
      ranks = next;
      if (changed.length === 0) return undefined;
      events++;
      return {
        step,
        k: changed.length,
        scores: [],
        grown: changed,
        ranks: [...ranks],
        budgetLeft: total() - budget.targetBudget,
      };
    },
    ranks: () => [...ranks],
    budgetLeft: () => Math.max(0, total() - budget.targetBudget),
    snapshot: (): ControllerState => ({
      method: "adalora",
      ranks: [...ranks],
      events,
      ...(frozen === undefined ? {} : { frozenPattern: frozen }),
    }),
    restore(saved: ControllerState): void {
      if (saved.method !== "adalora" || !Array.isArray(saved.ranks)) {
        throw new TypeError(
          `Cannot restore AdaLoRA controller as the state must come from an adalora run: current method is ${
            String(saved.method)
          }`,
        );
      }
      ranks = (saved.ranks as unknown[]).map(Number);
      events = Number(saved.events ?? 0);
      const pattern = saved.frozenPattern as Record<string, boolean[]> | undefined;
      frozen = pattern === undefined ? undefined : Object.freeze({ ...pattern });
    },
    dispose(): void {},
  };
}
