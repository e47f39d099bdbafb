/**
 * DeBERTa disentangled self-attention on already-projected queries, keys, values and
 * relative-position projections (Hugging Face `DisentangledSelfAttention`, gather-free).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { relativeShift } from "./relative_position.ts";
import { batchMatMul } from "./_matmul.ts";

/**
 * Inputs of {@link disentangledAttention}; projections are flat `[rows, heads·headDim]`.
 *
 * @example Content→position only, one token
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { DisentangledAttentionInputs } from "./attention.ts";
 * import { disentangledAttention } from "./attention.ts";
 *
 * const t = tf.tensor2d([[1, 2]]);
 * const inputs: DisentangledAttentionInputs = {
 *   query: t, key: t, value: tf.tensor2d([[5, 6]]), posKey: t,
 *   maskBias: tf.zeros([1, 1, 1, 1]), batch: 1, seqLen: 1, heads: 1, scaleFactor: 2,
 * };
 * assert.deepEqual(Array.from(disentangledAttention(inputs).dataSync()), [5, 6]);
 * ```
 */
export interface DisentangledAttentionInputs {
  /** Content queries `x·Wqᵀ + bq`, `[batch·seq, heads·headDim]`. */
  readonly query: tf.Tensor2D;
  /** Content keys, `[batch·seq, heads·headDim]`. */
  readonly key: tf.Tensor2D;
  /** Values, `[batch·seq, heads·headDim]`. */
  readonly value: tf.Tensor2D;
  /**
   * Position keys for content→position (c2p), one row per signed distance in the order of
   * `relativeEmbeddingRows().c2p`: `[2·seq − 1, heads·headDim]`. Omit to skip c2p.
   */
  readonly posKey?: tf.Tensor2D;
  /**
   * Position queries for position→content (p2c), rows in the order of
   * `relativeEmbeddingRows().p2c`: `[2·seq − 1, heads·headDim]`. Omit to skip p2c.
   */
  readonly posQuery?: tf.Tensor2D;
  /** Additive key mask, `[1, batch, 1, seq]` (0 for real keys, a large negative for padding). */
  readonly maskBias: tf.Tensor4D;
  /** Batch size. */
  readonly batch: number;
  /** Sequence length. */
  readonly seqLen: number;
  /** Number of heads. */
  readonly heads: number;
  /** `1 + (number of c2p / p2c terms in pos_att_type)`: scores are divided by `√(headDim·factor)`. */
  readonly scaleFactor: number;
  /** Applied to the attention probabilities (dropout in training; identity otherwise). */
  readonly dropProbs?: (probs: tf.Tensor4D) => tf.Tensor4D;
}

/** `[b·s, h·d]` → `[h, b, s, d]` (heads outermost, so position terms need no broadcasting). */
function splitHeads(x: tf.Tensor2D, b: number, s: number, h: number): tf.Tensor4D {
  const d = x.shape[1] / h;
  return tf.transpose(tf.reshape(x, [b, s, h, d]), [2, 0, 1, 3]);
}

/** Scores of `[h, b, s, d]` rows against `[h, d, 2s−1]` position rows, `[h, b, s, 2s−1]`. */
function positionScores(x: tf.Tensor4D, posT: tf.Tensor3D): tf.Tensor4D {
  const [h, b, s, d] = x.shape;
  const flat = tf.reshape(x, [h, b * s, d]) as tf.Tensor3D;
  return tf.reshape(batchMatMul(flat, posT), [h, b, s, posT.shape[2]]);
}

/** `[rows, h·d]` → `[h, d, rows]` (position rows, transposed for a plain product). */
function splitPositionHeadsT(x: tf.Tensor2D, h: number): tf.Tensor3D {
  const d = x.shape[1] / h;
  return tf.transpose(tf.reshape(x, [x.shape[0], h, d]), [1, 2, 0]);
}

/**
 * Disentangled attention: `softmax((Q·Kᵀ + c2p + p2c) / √(d·factor) + mask)·V`, with
 * `c2p[i][j] = Q_i · Kpos[δ(i, j)]` and `p2c[i][j] = K_j · Qpos[δ'(j, i)]` computed against
 * one position row per signed distance and rearranged with the relative shift (no `gather`,
 * so gradients flow on every backend).
 *
 * @param inputs See {@link DisentangledAttentionInputs}.
 * @returns The context, `[batch·seq, heads·headDim]`.
 *
 * @example One token, one head: the context is the value
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { disentangledAttention } from "./attention.ts";
 *
 * const t = tf.tensor2d([[1, 2]]);
 * const out = disentangledAttention({
 *   query: t, key: t, value: tf.tensor2d([[3, 4]]), posKey: t, posQuery: t,
 *   maskBias: tf.zeros([1, 1, 1, 1]), batch: 1, seqLen: 1, heads: 1, scaleFactor: 3,
 * });
 * assert.deepEqual(Array.from(out.dataSync()), [3, 4]);
 * ```
 */
export function disentangledAttention(inputs: DisentangledAttentionInputs): tf.Tensor2D {
  const { batch: b, seqLen: s, heads: h } = inputs;
  const width = inputs.query.shape[1];
  if (width % h !== 0) {
    throw new TypeError(
      `Cannot split attention heads as the projection width must be divisible by ${h}: current value is ${width}`,
    );
  }
  const headDim = width / h;
  const scale = Math.fround(Math.sqrt(Math.fround(headDim * inputs.scaleFactor)));
  return tf.tidy(() => {
    const q = splitHeads(inputs.query, b, s, h);
    const k = splitHeads(inputs.key, b, s, h);
    const v = splitHeads(inputs.value, b, s, h);
    const kT = tf.reshape(tf.transpose(k, [0, 1, 3, 2]), [h * b, headDim, s]) as tf.Tensor3D;
    let scores = tf.reshape(
      batchMatMul(tf.reshape(q, [h * b, s, headDim]) as tf.Tensor3D, kT),
      [h, b, s, s],
    ) as tf.Tensor4D;
    if (inputs.posKey !== undefined) {
      const pkT = splitPositionHeadsT(inputs.posKey, h); // [h, d, 2s-1]
      scores = tf.add(scores, relativeShift(positionScores(q, pkT)));
    }
    if (inputs.posQuery !== undefined) {
      const pqT = splitPositionHeadsT(inputs.posQuery, h);
      const p2cT = relativeShift(positionScores(k, pqT)); // [h, b, j, i]
      scores = tf.add(scores, tf.transpose(p2cT, [0, 1, 3, 2]));
    }
    scores = tf.add(tf.div(scores, scale), inputs.maskBias);
    let probs = tf.softmax(scores) as tf.Tensor4D;
    if (inputs.dropProbs !== undefined) probs = inputs.dropProbs(probs);
    const context = tf.reshape(
      batchMatMul(
        tf.reshape(probs, [h * b, s, s]) as tf.Tensor3D,
        tf.reshape(v, [h * b, s, headDim]) as tf.Tensor3D,
      ),
      [h, b, s, headDim],
    );
    return tf.reshape(tf.transpose(context, [1, 2, 0, 3]), [b * s, width]);
  });
}
