/**
 * The estimated peak memory of one training step (docs/METHOD.md §22), in bytes, from plain
 * numbers: the encoder's shape, the examples of one backward pass, the sequence length, the
 * trainable parameter count and whether activations are recomputed. The trainer compares it with
 * what the backend has (the wasm heap: at most 4 GiB) before the first step.
 *
 * The activation term is calibrated on the wasm backend (tf.profile peak bytes of one
 * `tf.variableGrads` step, base width h 768, I 3072, 12 heads, s 32–256, batch 1–2, LoRA r 8):
 * one encoder layer keeps about `4·b·(184·s·h + 23·s·I + 74·H·s²)` bytes plus about its own
 * frozen weights again (saved operands of its matmuls) for the backward pass. With recomputation
 * a layer keeps only its input `[b, s, h]` and the layer constants (mask `[b, s]`, the two
 * relative-position tables `[2s − 1, h]`), and one layer's activations live at a time. With
 * selective recomputation a layer keeps its linears' inputs and outputs (eight `[b, s, h]`
 * tensors, two `[b, s, I]`, four `[2s − 1, h]` position rows and the mask) and the attention
 * probabilities `[H, b, s, s]`, and one layer's backward transients are counted as a whole
 * layer's activations (an upper bound).
 *
 * @module
 */

const FLOAT = 4;
/** Per-layer activation floats per token per hidden unit (calibrated, see the module doc). */
const PER_TOKEN_HIDDEN = 184;
/** Per-layer activation floats per token per intermediate unit. */
const PER_TOKEN_INTERMEDIATE = 23;
/** Per-layer activation floats per head per (query, key) pair. */
const PER_HEAD_PAIR = 74;
/** Floats an optimizer keeps per trainable parameter: value, gradient, two AdamW moments. */
const PER_TRAINABLE = 4;

/**
 * The shape of one training step.
 *
 * @example DeBERTa-v3-base at batch 8 × 128
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StepShape } from "./memory_estimate.ts";
 *
 * const shape: StepShape = {
 *   layers: 12, hidden: 768, intermediate: 3072, heads: 12, vocab: 128100,
 *   batch: 8, seqLength: 128, trainable: 1_327_104, recompute: false,
 * };
 * assert.equal(shape.layers, 12);
 * ```
 */
export interface StepShape {
  /** Encoder layers. */
  readonly layers: number;
  /** Hidden width `h`. */
  readonly hidden: number;
  /** Feed-forward width `I`. */
  readonly intermediate: number;
  /** Attention heads `H`. */
  readonly heads: number;
  /** Vocabulary rows of the embedding table. */
  readonly vocab: number;
  /** Examples in one backward pass (the micro-batch, or a worker's share). */
  readonly batch: number;
  /** Tokens per example (the longest sequence of a batch). */
  readonly seqLength: number;
  /** Trainable parameters (adapters and head). */
  readonly trainable: number;
  /**
   * Activation recomputation: `false` (none), `true` (every layer again in its gradient) or
   * `"selective"` (GELU again, the attention core and LayerNorms by hand).
   */
  readonly recompute: boolean | "selective";
  /**
   * Whether the backward pass keeps a transposed copy of every encoder linear weight (the wasm
   * backend with its XNNPACK product, whose transposed products are slow); default `true`.
   */
  readonly keptWeightCopies?: boolean;
}

/**
 * The parts of a step's estimated peak, in bytes.
 *
 * @example The parts add up
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateStepMemory, type StepMemory } from "./memory_estimate.ts";
 *
 * const m: StepMemory = estimateStepMemory({
 *   layers: 2, hidden: 8, intermediate: 16, heads: 2, vocab: 16,
 *   batch: 4, seqLength: 4, trainable: 100, recompute: false,
 * });
 * assert.equal(m.total, m.frozen + m.trainable + m.activations);
 * ```
 */
export interface StepMemory {
  /**
   * Frozen weights (embeddings, every layer, relative embeddings), and (with
   * `keptWeightCopies`) the transposed copy of every encoder linear weight that the backward pass
   * keeps for its input gradients.
   */
  readonly frozen: number;
  /** Trainable parameters with their gradients and two optimizer moments. */
  readonly trainable: number;
  /** Activations kept for (and made during) the backward pass. */
  readonly activations: number;
  /** The sum: the estimated peak. */
  readonly total: number;
}

function checkCount(value: number, name: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Cannot estimate step memory as ${name} must be an integer >= ${min}: current value is ${value}`,
    );
  }
}

/**
 * The frozen parameter count of an encoder of this shape: embeddings, per layer four `h×h`
 * and two `h×I` linears with biases and two LayerNorms, and 512 relative-position rows.
 *
 * @param shape Layers, widths and vocabulary.
 * @returns The parameter count.
 *
 * @example DeBERTa-v3-base has about 184 M parameters
 * ```ts
 * import assert from "node:assert/strict";
 * import { frozenParameters } from "./memory_estimate.ts";
 *
 * const n = frozenParameters({ layers: 12, hidden: 768, intermediate: 3072, vocab: 128100 });
 * assert.ok(n > 183e6 && n < 185e6);
 * ```
 */
export function frozenParameters(
  shape: Pick<StepShape, "layers" | "hidden" | "intermediate" | "vocab">,
): number {
  const { layers, hidden: h, intermediate: i, vocab } = shape;
  const perLayer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h;
  return vocab * h + 2 * h + 512 * h + 2 * h + layers * perLayer;
}

/**
 * Activation bytes one encoder layer keeps without recomputation, at `batch × seqLength`
 * (calibrated on wasm; see the module doc), plus the saved copies of its frozen weights.
 *
 * @param shape The step shape.
 * @returns Bytes.
 *
 * @example Linear in the batch (the weight term aside)
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerActivationBytes } from "./memory_estimate.ts";
 *
 * const s = { layers: 1, hidden: 8, intermediate: 16, heads: 2, vocab: 16, seqLength: 4,
 *   trainable: 0, recompute: false };
 * const w = layerActivationBytes({ ...s, batch: 0 });
 * assert.equal(layerActivationBytes({ ...s, batch: 2 }) - w, 2 * (layerActivationBytes({ ...s, batch: 1 }) - w));
 * ```
 */
export function layerActivationBytes(shape: StepShape): number {
  const { hidden: h, intermediate: i, heads, batch: b, seqLength: s } = shape;
  const layerWeights = 4 * (h * h + h) + 2 * h * i + i + h;
  const perExample = PER_TOKEN_HIDDEN * s * h + PER_TOKEN_INTERMEDIATE * s * i +
    PER_HEAD_PAIR * heads * s * s;
  return FLOAT * (layerWeights + b * perExample);
}

/**
 * **The estimated peak memory of one training step**: frozen weights, trainable state, and
 * activations — every layer's (plain), or what each layer keeps plus one layer's (recompute,
 * selective recompute).
 *
 * @param shape The step shape.
 * @returns The parts and the total, in bytes.
 * @throws {RangeError} When a count is not a non-negative integer (layers, widths, batch and
 * length at least 1).
 *
 * @example Recomputation brings DeBERTa-v3-base at 8 × 128 under the 4 GiB wasm heap
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateStepMemory } from "./memory_estimate.ts";
 *
 * const base = { layers: 12, hidden: 768, intermediate: 3072, heads: 12, vocab: 128100,
 *   batch: 8, seqLength: 128, trainable: 1_327_104 };
 * const GiB = 2 ** 30;
 * assert.ok(estimateStepMemory({ ...base, recompute: false }).total > 4 * GiB);
 * assert.ok(estimateStepMemory({ ...base, recompute: true }).total < 4 * GiB);
 * assert.ok(estimateStepMemory({ ...base, recompute: "selective" }).total < 4 * GiB);
 * ```
 */
export function estimateStepMemory(shape: StepShape): StepMemory {
  checkCount(shape.layers, "layers", 1);
  checkCount(shape.hidden, "hidden", 1);
  checkCount(shape.intermediate, "intermediate", 1);
  checkCount(shape.heads, "heads", 1);
  checkCount(shape.vocab, "vocab", 1);
  checkCount(shape.batch, "batch", 1);
  checkCount(shape.seqLength, "seqLength", 1);
  checkCount(shape.trainable, "trainable", 0);
  if (shape.recompute !== true && shape.recompute !== false && shape.recompute !== "selective") {
    throw new RangeError(
      `Cannot estimate step memory as recompute must be true, false or "selective": current value is ${
        JSON.stringify(shape.recompute)
      }`,
    );
  }
  const { layers, hidden: h, batch: b, seqLength: s } = shape;
  const linearWeights = shape.keptWeightCopies === false
    ? 0
    : layers * (4 * h * h + 2 * h * shape.intermediate);
  const frozen = FLOAT * (frozenParameters(shape) + linearWeights);
  const trainable = FLOAT * PER_TRAINABLE * shape.trainable;
  const oneLayer = layerActivationBytes(shape);
  // Recompute keeps per layer: its input [b, s, h], the mask [b, s] and two [2s − 1, h] tables;
  // selective recompute its linears' inputs and outputs (see the module doc).
  const kept = shape.recompute === "selective"
    ? FLOAT * (b * s * (8 * h + 2 * shape.intermediate + shape.heads * s) + b * s +
      4 * (2 * s - 1) * h)
    : FLOAT * (b * s * h + b * s + 2 * (2 * s - 1) * h);
  const activations = shape.recompute === false ? layers * oneLayer : layers * kept + oneLayer;
  return { frozen, trainable, activations, total: frozen + trainable + activations };
}

/**
 * How many examples one backward pass holds: the micro-batch if set, else the batch cut into
 * one share per worker (the trainer's slicing).
 *
 * @param batch Examples per optimizer step.
 * @param microBatch Examples per micro-batch (absent: none).
 * @param workers Gradient workers (1: in-process).
 * @returns Examples per backward pass.
 *
 * @example Batch 8 over 2 workers
 * ```ts
 * import assert from "node:assert/strict";
 * import { examplesPerPass } from "./memory_estimate.ts";
 *
 * assert.equal(examplesPerPass(8, undefined, 2), 4);
 * assert.equal(examplesPerPass(8, 2, 2), 2);
 * assert.equal(examplesPerPass(8, 16, 1), 8);
 * ```
 */
export function examplesPerPass(
  batch: number,
  microBatch: number | undefined,
  workers: number,
): number {
  checkCount(batch, "batch", 1);
  checkCount(workers, "workers", 1);
  if (microBatch !== undefined) {
    checkCount(microBatch, "microBatch", 1);
    return Math.min(batch, microBatch);
  }
  return Math.ceil(batch / workers);
}
