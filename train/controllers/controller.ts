/**
 * The controller interface: what a method does around each optimizer step (TriAdaptLoRA grows
 * before the update, AdaLoRA masks and IncreLoRA scores and grows after it, LoRA does nothing). Controllers turn tensors into
 * plain numbers, ask `core/` for the decision and apply it through `ops/`.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import type { GrowingAdamW } from "../../ops/growing_adamw.ts";
import type { AllocationEvent } from "../loop.ts";

/**
 * A controller's plain, JSON-serialisable state (for checkpoints).
 *
 * @example A snapshot survives a JSON round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ControllerState } from "./controller.ts";
 * import { createLoraController } from "./lora.ts";
 *
 * const ctl = createLoraController([]);
 * const saved: ControllerState = JSON.parse(JSON.stringify(ctl.snapshot()));
 * assert.equal(saved.method, "lora");
 * ctl.restore(saved);
 * ```
 */
export type ControllerState = Readonly<Record<string, unknown>>;

/**
 * The per-method logic that runs after the optimizer step.
 *
 * @example The inert LoRA controller
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Controller } from "./controller.ts";
 * import { createLoraController } from "./lora.ts";
 *
 * const ctl: Controller = createLoraController([]);
 * assert.equal(ctl.method, "lora");
 * assert.equal(ctl.budgetLeft(), 0);
 * ctl.dispose();
 * ```
 */
export interface Controller {
  /** Method id (`triadapt`, `lora`, `adalora`, `increlora`). */
  readonly method: string;
  /**
   * Whether the method adapts ranks and has budget to spend or prune, so a run without any
   * allocation event deserves a loud warning.
   */
  readonly expectsEvents: boolean;
  /**
   * Runs after the gradients of `step` are computed and checked, before the optimizer applies
   * them (the reference trainer's place for TriAdaptLoRA's growth, docs/METHOD.md §19). Blocks
   * added here have no gradient at `step`, so their first Adam step is at `step + 1`. Optional:
   * methods that act after the update leave it out.
   *
   * @param step Optimizer step about to be applied (1-based).
   * @param grads This step's gradients by variable name (not disposed here).
   * @param optimizer The optimizer, to register grown blocks.
   * @returns The allocation event of this step, if one happened.
   */
  beforeUpdate?(
    step: number,
    grads: tf.NamedTensorMap,
    optimizer: GrowingAdamW,
  ): Promise<AllocationEvent | undefined>;
  /**
   * Runs after the optimizer step of `step`, with that step's gradients still alive.
   *
   * @param step Optimizer step just applied (1-based).
   * @param grads This step's gradients by variable name (not disposed here).
   * @param optimizer The optimizer, to register grown blocks.
   * @returns The allocation event of this step, if one happened.
   */
  afterStep(
    step: number,
    grads: tf.NamedTensorMap,
    optimizer: GrowingAdamW,
  ): Promise<AllocationEvent | undefined>;
  /**
   * Current rank of each module (module order; the effective rank for masking methods).
   *
   * @returns Ranks.
   */
  ranks(): number[];
  /**
   * Rank units not yet spent (growth) or still to prune (masking).
   *
   * @returns The budget left.
   */
  budgetLeft(): number;
  /** The total rank budget the method aims at (`r_ref · M`). */
  readonly targetBudget: number;
  /** Number of allocation events so far. */
  readonly events: number;
  /**
   * Plain state for a checkpoint.
   *
   * @returns JSON-serialisable state.
   */
  snapshot(): ControllerState;
  /**
   * Restores plain state written by `snapshot()` (adapters are restored separately, first).
   *
   * @param state The saved state.
   */
  restore(state: ControllerState): void;
  /** Releases anything the controller holds (adapters stay owned by the trainer). */
  dispose(): void;
}
