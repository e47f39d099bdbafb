/**
 * Shared adapter types: the structural `LinearDelta` interface the model plugs in, the common
 * `Adapter` surface every method implements, parameter blocks for the growing optimizer, and
 * serialisable tensor records.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/**
 * The structural interface `model/` uses to add an adapter path to a frozen linear map.
 *
 * @example Any adapter is a LinearDelta: `[rows, in]` → `[rows, out]`
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { LinearDelta } from "./adapter.ts";
 * import { LoraAdapter } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const ad = new LoraAdapter({ name: "ex.ld", inFeatures: 4, outFeatures: 3, seed: 1, rank: 2 });
 * const path: LinearDelta = ad;
 * const y = path.delta(tf.ones([2, 4]), false);
 * assert.deepEqual(Array.from(await y.data()), [0, 0, 0, 0, 0, 0]); // B = 0 at init
 * y.dispose();
 * ad.dispose();
 * ```
 */
export interface LinearDelta {
  /**
   * The adapter path only, scale included (W0 and bias stay in the model).
   *
   * @param x Input `[rows, in]`.
   * @param training Dropout on the adapter input applies only when `true`.
   * @returns `[rows, out]`.
   */
  delta(x: tf.Tensor2D, training: boolean): tf.Tensor2D;
  /**
   * The vector-Jacobian product of `delta` by hand, for selective recomputation: gradients of
   * `Σ delta(x, training) ⊙ dy` for `x` (when `wantInput`) and each trainable variable, equal to
   * differentiating `delta` up to float32 round-off; `undefined` when the adapter cannot (adapter
   * dropout on). Absent (AdaLoRA, IncreLoRA): the encoder differentiates `delta` itself.
   *
   * @param x The input `delta` saw, `[rows, in]`.
   * @param dy The update's gradient, `[rows, out]`.
   * @param training Whether `delta` ran in training mode.
   * @param wantInput Whether to return `∂x`.
   * @returns New tensors owned by the caller, or `undefined`.
   */
  deltaBackward?(
    x: tf.Tensor2D,
    dy: tf.Tensor2D,
    training: boolean,
    wantInput: boolean,
  ): AdapterGradients | undefined;
}

/**
 * Adapter methods built into this package.
 *
 * @example The method name selects the adapter class
 * ```ts
 * import type { AdapterMethod } from "./adapter.ts";
 * import { createAdapter } from "./registry.ts";
 * import assert from "node:assert/strict";
 *
 * const method: AdapterMethod = "increlora";
 * const ad = createAdapter(method, { name: "ex.am", inFeatures: 4, outFeatures: 4, seed: 0 });
 * assert.equal(ad.method, method);
 * ad.dispose();
 * ```
 */
export type AdapterMethod = "triadaptlora" | "lora" | "adalora" | "increlora";

/**
 * A group of variables created together (at init or at one growth). The growing AdamW keeps one
 * step counter and one learning-rate schedule per block.
 *
 * @example A LoRA adapter has one block holding `A` and `B`
 * ```ts
 * import type { ParameterBlock } from "./adapter.ts";
 * import { LoraAdapter } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const ad = new LoraAdapter({ name: "ex.pb", inFeatures: 4, outFeatures: 3, seed: 1, rank: 2 });
 * const blocks: ParameterBlock[] = ad.parameterBlocks();
 * assert.deepEqual(blocks.map((b) => b.key), ["ex.pb.block0"]);
 * assert.deepEqual(blocks[0]?.variables.map((v) => v.shape), [[2, 4], [3, 2]]);
 * ad.dispose();
 * ```
 */
export interface ParameterBlock {
  /** Unique key, `<module>.block<k>`. */
  readonly key: string;
  /**
   * The block's parts: whole variables, or (with `regions`) variables the block owns a rectangle
   * of. A variable may appear more than once, with disjoint regions.
   */
  readonly variables: readonly tf.Variable[];
  /**
   * Per part, the rectangle of the 2-D variable that belongs to the block (`null`: all of it);
   * absent: every part is a whole variable. A variable that grows (a new, larger variable of the
   * same name) keeps every old entry at the same row and column, so old regions stay valid.
   */
  readonly regions?: readonly (EntryRegion | null)[];
}

/**
 * Rows `[rows[0], rows[1])` × columns `[cols[0], cols[1])` of a 2-D variable.
 *
 * @example The second row of a `[2, 3]` variable
 * ```ts
 * import type { EntryRegion } from "./adapter.ts";
 * import assert from "node:assert/strict";
 *
 * const region: EntryRegion = { rows: [1, 2], cols: [0, 3] };
 * assert.equal((region.rows[1] - region.rows[0]) * (region.cols[1] - region.cols[0]), 3);
 * ```
 */
export interface EntryRegion {
  /** First row and one past the last. */
  readonly rows: readonly [number, number];
  /** First column and one past the last. */
  readonly cols: readonly [number, number];
}

/**
 * A tensor as plain data (for checkpoints).
 *
 * @example `lora_A` of a snapshot as plain data
 * ```ts
 * import type { TensorData } from "./adapter.ts";
 * import { LoraAdapter } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const ad = new LoraAdapter({ name: "ex.td", inFeatures: 4, outFeatures: 3, seed: 1, rank: 2 });
 * const a: TensorData | undefined = (await ad.snapshot()).tensors["lora_A"];
 * assert.deepEqual(a?.shape, [2, 4]);
 * assert.ok(a?.data instanceof Float32Array && a.data.length === 8);
 * ad.dispose();
 * ```
 */
export interface TensorData {
  /** Shape of the tensor. */
  readonly shape: readonly number[];
  /** Row-major float32 values. */
  readonly data: Float32Array;
}

/**
 * Everything needed to rebuild an adapter's tensors: logical name → data, plus the block ranks.
 *
 * @example A LoRA snapshot
 * ```ts
 * import type { AdapterSnapshot } from "./adapter.ts";
 * import { LoraAdapter } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const ad = new LoraAdapter({ name: "ex.snap", inFeatures: 4, outFeatures: 3, seed: 1, rank: 2 });
 * const snapshot: AdapterSnapshot = await ad.snapshot();
 * assert.deepEqual([snapshot.method, snapshot.name, snapshot.blockRanks], ["lora", "ex.snap", [2]]);
 * assert.deepEqual(Object.keys(snapshot.tensors), ["lora_A", "lora_B"]);
 * ad.dispose();
 * ```
 */
export interface AdapterSnapshot {
  /** Method of the adapter that wrote the snapshot. */
  readonly method: AdapterMethod;
  /** Module name. */
  readonly name: string;
  /** Rank of each parameter block, in creation order. */
  readonly blockRanks: readonly number[];
  /** Extra scalars (e.g. the scale factor of preserving growth). */
  readonly scalars: Readonly<Record<string, number>>;
  /** Logical tensor name (without the module prefix) → data. */
  readonly tensors: Readonly<Record<string, TensorData>>;
}

/**
 * The common surface of every adapter in this package.
 *
 * @example A fresh LoRA adapter through the common surface
 * ```ts
 * import type { Adapter } from "./adapter.ts";
 * import { LoraAdapter } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const ad: Adapter = new LoraAdapter({ name: "ex.adapter", inFeatures: 4, outFeatures: 3, seed: 1, rank: 2 });
 * assert.deepEqual([ad.method, ad.rank, ad.scale], ["lora", 2, 16]); // alpha 32 / r 2
 * const dw = ad.deltaWeight();
 * assert.deepEqual(dw.shape, [3, 4]);
 * assert.ok(Array.from(await dw.data()).every((v) => v === 0)); // B = 0
 * dw.dispose();
 * ad.dispose();
 * ```
 */
export interface Adapter extends LinearDelta {
  /** Method name. */
  readonly method: AdapterMethod;
  /** Module path, e.g. `deberta.encoder.layer.0.attention.self.query_proj`. */
  readonly name: string;
  /** Input features `n`. */
  readonly inFeatures: number;
  /** Output features `d`. */
  readonly outFeatures: number;
  /** Current rank `r`. */
  readonly rank: number;
  /** Current scale multiplying the adapter path. */
  readonly scale: number;
  /** All trainable variables, in a stable order. */
  trainableVariables(): tf.Variable[];
  /**
   * The counters a training `delta` advances (dropout index; IncreLoRA also its call site), for
   * replaying a layer under activation recomputation (docs/METHOD.md §22).
   */
  forwardState(): readonly number[];
  /**
   * Sets the counters back to a value of `forwardState()`.
   *
   * @param state A value returned by `forwardState()`.
   */
  restoreForwardState(state: readonly number[]): void;
  /** The parameter blocks (one per init/growth), in creation order. */
  parameterBlocks(): ParameterBlock[];
  /**
   * The dense update `ΔW` `[out, in]`, scale included; for merging and export only.
   *
   * @returns A new tensor owned by the caller.
   */
  deltaWeight(): tf.Tensor2D;
  /**
   * The factor pair for PEFT export: `lora_A [r,in]`, `lora_B [out,r]` with the scale folded in,
   * so `ΔW = lora_B · lora_A`.
   *
   * @returns New tensors owned by the caller.
   */
  peftFactors(): { loraA: tf.Tensor2D; loraB: tf.Tensor2D };
  /**
   * The factors entering the orthogonality penalty (`A [r,in]`, `B [out,r]`).
   *
   * @returns Tensors built inside the caller's tidy scope.
   */
  orthogonalityFactors(): { a: tf.Tensor2D; b: tf.Tensor2D };
  /**
   * Reads every tensor into plain data.
   *
   * @returns The snapshot.
   */
  snapshot(): Promise<AdapterSnapshot>;
  /**
   * Restores tensors from a snapshot of the same method and name (growing first if needed).
   *
   * @param snapshot A snapshot written by `snapshot()`.
   */
  restore(snapshot: AdapterSnapshot): void;
  /** Disposes every variable and internal tensor. */
  dispose(): void;
}

/**
 * The gradients an adapter's hand-written `deltaBackward` returns (structurally the
 * `DeltaGradients` of `model/linear_adapter.ts`, which `ops/` does not import).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { AdapterGradients } from "./adapter.ts";
 *
 * const v = tf.variable(tf.zeros([1, 2]));
 * const g: AdapterGradients = { variables: new Map([[v, tf.ones([1, 2])]]) };
 * ```
 */
export interface AdapterGradients {
  /** `∂/∂x`, `[rows, in]` (absent when not wanted). */
  readonly input?: tf.Tensor2D;
  /** `∂/∂v` for each trainable variable that receives one. */
  readonly variables: ReadonlyMap<tf.Variable, tf.Tensor>;
}
