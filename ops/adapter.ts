/**
 * Shared adapter types: the structural `LinearDelta` interface the model plugs in, the common
 * `Adapter` surface every method implements, parameter blocks for the growing optimizer, and
 * serialisable tensor records.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** The structural interface `model/` uses to add an adapter path to a frozen linear map. */
export interface LinearDelta {
  /**
   * The adapter path only, scale included (W0 and bias stay in the model).
   *
   * @param x Input `[rows, in]`.
   * @param training Dropout on the adapter input applies only when `true`.
   * @returns `[rows, out]`.
   */
  delta(x: tf.Tensor2D, training: boolean): tf.Tensor2D;
}

/** Adapter methods built into this package. */
export type AdapterMethod = "triadaptlora" | "lora" | "adalora" | "increlora";

/**
 * A group of variables created together (at init or at one growth). The growing AdamW keeps one
 * step counter and one learning-rate schedule per block.
 */
export interface ParameterBlock {
  /** Unique key, `<module>.block<k>`. */
  readonly key: string;
  /** Trainable variables of the block. */
  readonly variables: readonly tf.Variable[];
}

/** A tensor as plain data (for checkpoints). */
export interface TensorData {
  /** Shape of the tensor. */
  readonly shape: readonly number[];
  /** Row-major float32 values. */
  readonly data: Float32Array;
}

/** Everything needed to rebuild an adapter's tensors: logical name → data, plus the block ranks. */
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

/** The common surface of every adapter in this package. */
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
