/**
 * The LoRA controller: fixed ranks, nothing happens after the optimizer step.
 *
 * @module
 */

import type { Adapter } from "../../ops/adapter.ts";
import type { AllocationEvent } from "../loop.ts";
import type { Controller, ControllerState } from "./controller.ts";

/**
 * Creates the (inert) LoRA controller.
 *
 * @param adapters LoRA adapters, in module order.
 * @returns The controller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLoraController } from "./lora.ts";
 *
 * const ctl = createLoraController([]);
 * assert.equal(ctl.expectsEvents, false);
 * assert.deepEqual(ctl.ranks(), []);
 * ```
 */
export function createLoraController(adapters: readonly Adapter[]): Controller {
  return {
    method: "lora",
    expectsEvents: false,
    targetBudget: adapters.reduce((n, a) => n + a.rank, 0),
    events: 0,
    afterStep: (): Promise<AllocationEvent | undefined> => Promise.resolve(undefined),
    ranks: () => adapters.map((a) => a.rank),
    budgetLeft: () => 0,
    snapshot: (): ControllerState => ({ method: "lora" }),
    restore(saved: ControllerState): void {
      if (saved.method !== "lora") {
        throw new TypeError(
          `Cannot restore LoRA controller as the state must come from a lora run: current method is ${
            String(saved.method)
          }`,
        );
      }
    },
    dispose(): void {},
  };
}
