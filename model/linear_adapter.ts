/**
 * The structural interface through which adapters plug into the encoder's linear maps.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";

/**
 * An additive update to a frozen linear map `y = x·W0ᵀ + b`: the encoder computes
 * `x·W0ᵀ + b + delta(x)` for every linear that has one, and never forms `W0 + ΔW`.
 * Adapters in `ops/` implement it structurally; `model/` never imports them.
 *
 * `delta` is called inside the encoder's `tf.tidy` (and inside `tf.variableGrads` when
 * training), so it must return a new tensor and keep its own variables alive.
 *
 * @example A fixed low-rank update `x·Aᵀ·Bᵀ`
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { LinearDelta } from "./linear_adapter.ts";
 *
 * const a = tf.tensor2d([[1, 0]]); // [r=1, in=2]
 * const b = tf.tensor2d([[2], [3]]); // [out=2, r=1]
 * const delta: LinearDelta = {
 *   delta: (x) => tf.matMul(tf.matMul(x, a, false, true), b, false, true),
 * };
 * assert.deepEqual(Array.from(delta.delta(tf.tensor2d([[1, 5]]), false).dataSync()), [2, 3]);
 * ```
 */
export interface LinearDelta {
  /**
   * The update for a batch of rows.
   *
   * @param x Inputs of the linear, `[rows, in]`.
   * @param training Whether the model runs in training mode (adapter dropout applies).
   * @returns The additive update, `[rows, out]`.
   */
  delta(x: tf.Tensor2D, training: boolean): tf.Tensor2D;
  /**
   * The variables `delta` differentiates through. Needed by activation recomputation
   * (`DebertaModel.recompute`), which hands them to the layer's custom gradient.
   */
  trainableVariables?(): tf.Variable[];
  /**
   * The counters a training `delta` call advances (dropout index, call site), so that a
   * recomputation can replay a layer with the same masks and site numbers. Absent: none.
   */
  forwardState?(): readonly number[];
  /**
   * Sets the counters back to a value of {@linkcode LinearDelta.forwardState}.
   *
   * @param state A value returned by `forwardState()`.
   */
  restoreForwardState?(state: readonly number[]): void;
  /**
   * A hand-written vector-Jacobian product of `delta` for selective recomputation: the gradients
   * of `Σ delta(x, training) ⊙ dy` with respect to `x` (when `wantInput`) and to each trainable
   * variable. It must equal what differentiating `delta` gives, up to float32 round-off; it may
   * return `undefined` (for example while adapter dropout is on), and the caller then
   * differentiates `delta` itself. Absent: always differentiated.
   *
   * @param x The inputs `delta` saw, `[rows, in]`.
   * @param dy The gradient of the update, `[rows, out]`.
   * @param training Whether `delta` ran in training mode.
   * @param wantInput Whether to return the input gradient.
   * @returns The gradients (new tensors, owned by the caller), or `undefined`.
   */
  deltaBackward?(
    x: tf.Tensor2D,
    dy: tf.Tensor2D,
    training: boolean,
    wantInput: boolean,
  ): DeltaGradients | undefined;
}

/**
 * What {@link LinearDelta.deltaBackward} returns.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { DeltaGradients } from "./linear_adapter.ts";
 *
 * const v = tf.variable(tf.zeros([1, 2]));
 * const g: DeltaGradients = { variables: new Map([[v, tf.ones([1, 2])]]) };
 * ```
 */
export interface DeltaGradients {
  /** `∂/∂x`, `[rows, in]` (absent when not wanted). */
  readonly input?: tf.Tensor2D;
  /** `∂/∂v` for each trainable variable that receives one. */
  readonly variables: ReadonlyMap<tf.Variable, tf.Tensor>;
}
