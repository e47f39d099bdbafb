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

/** Scores of `[h, b, s, d]` rows against `[h, 2s−1, d]` position rows, `[h, b, s, 2s−1]`. */
function positionScores(x: tf.Tensor4D, pos: tf.Tensor3D): tf.Tensor4D {
  const [h, b, s, d] = x.shape;
  const flat = tf.reshape(x, [h, b * s, d]) as tf.Tensor3D;
  return tf.reshape(batchMatMul(flat, pos, false, true), [h, b, s, pos.shape[1]]);
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
  return tf.tidy(() => {
    const { context, probs } = disentangledAttentionWithProbs(inputs);
    probs.dispose();
    return context;
  });
}

/** Checks the projection width and returns `headDim` and the score scale. */
function headGeometry(inputs: DisentangledAttentionInputs): { headDim: number; scale: number } {
  const width = inputs.query.shape[1];
  if (width % inputs.heads !== 0) {
    throw new TypeError(
      `Cannot split attention heads as the projection width must be divisible by ${inputs.heads}: current value is ${width}`,
    );
  }
  const headDim = width / inputs.heads;
  return { headDim, scale: Math.fround(Math.sqrt(Math.fround(headDim * inputs.scaleFactor))) };
}

/**
 * {@link disentangledAttention} that also returns the attention probabilities before dropout,
 * `[heads, batch, seq, seq]`: what {@link disentangledAttentionBackward} needs besides the
 * inputs.
 *
 * @param inputs See {@link DisentangledAttentionInputs}.
 * @returns The context `[batch·seq, heads·headDim]` and the probabilities.
 *
 * @example One token: probability 1
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { disentangledAttentionWithProbs } from "./attention.ts";
 *
 * const t = tf.tensor2d([[1, 2]]);
 * const { probs } = disentangledAttentionWithProbs({
 *   query: t, key: t, value: t, maskBias: tf.zeros([1, 1, 1, 1]),
 *   batch: 1, seqLen: 1, heads: 1, scaleFactor: 1,
 * });
 * assert.deepEqual(Array.from(probs.dataSync()), [1]);
 * ```
 */
export function disentangledAttentionWithProbs(
  inputs: DisentangledAttentionInputs,
): { context: tf.Tensor2D; probs: tf.Tensor4D } {
  const { batch: b, seqLen: s, heads: h } = inputs;
  const width = inputs.query.shape[1];
  const { headDim, scale } = headGeometry(inputs);
  return tf.tidy(() => {
    const q = splitHeads(inputs.query, b, s, h);
    const k = splitHeads(inputs.key, b, s, h);
    const v = splitHeads(inputs.value, b, s, h);
    let scores = tf.reshape(
      batchMatMul(
        tf.reshape(q, [h * b, s, headDim]) as tf.Tensor3D,
        tf.reshape(k, [h * b, s, headDim]) as tf.Tensor3D,
        false,
        true,
      ),
      [h, b, s, s],
    ) as tf.Tensor4D;
    if (inputs.posKey !== undefined) {
      const pk = splitPositionHeads(inputs.posKey, h); // [h, 2s-1, d]
      scores = tf.add(scores, relativeShift(positionScores(q, pk)));
    }
    if (inputs.posQuery !== undefined) {
      const pq = splitPositionHeads(inputs.posQuery, h);
      const p2cT = relativeShift(positionScores(k, pq)); // [h, b, j, i]
      scores = tf.add(scores, tf.transpose(p2cT, [0, 1, 3, 2]));
    }
    scores = tf.add(tf.div(scores, scale), inputs.maskBias);
    const probs = tf.softmax(scores) as tf.Tensor4D;
    const dropped = inputs.dropProbs === undefined ? probs : inputs.dropProbs(probs);
    const context = tf.reshape(
      batchMatMul(
        tf.reshape(dropped, [h * b, s, s]) as tf.Tensor3D,
        tf.reshape(v, [h * b, s, headDim]) as tf.Tensor3D,
      ),
      [h, b, s, headDim],
    );
    return {
      context: tf.reshape(tf.transpose(context, [1, 2, 0, 3]), [b * s, width]) as tf.Tensor2D,
      probs,
    };
  });
}

/** `[h, b, s, d]` → `[b·s, h·d]` (the inverse of `splitHeads`). */
function mergeHeads(x: tf.Tensor4D): tf.Tensor2D {
  const [h, b, s, d] = x.shape;
  return tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [b * s, h * d]);
}

/** `[rows, h·d]` → `[h, rows, d]` (position rows per head). */
function splitPositionHeads(x: tf.Tensor2D, h: number): tf.Tensor3D {
  const d = x.shape[1] / h;
  return tf.transpose(tf.reshape(x, [x.shape[0], h, d]), [1, 0, 2]);
}

/** `[h, rows, d]` → `[rows, h·d]`. */
function mergePositionHeads(x: tf.Tensor3D): tf.Tensor2D {
  const [h, rows, d] = x.shape;
  return tf.reshape(tf.transpose(x, [1, 0, 2]), [rows, h * d]);
}

/**
 * The adjoint of {@link relativeShift}: `[d0, d1, S, S]` → `[d0, d1, S, 2S − 1]`, each entry put
 * back where the shift took it from, zeros elsewhere (pads and reshapes only).
 */
function relativeShiftAdjoint(y: tf.Tensor4D): tf.Tensor4D {
  const [d0, d1, s] = y.shape;
  if (s === 1) return y.clone();
  const rows = tf.pad(y, [[0, 0], [0, 0], [0, 0], [0, s - 2]]); // [d0, d1, s, 2s - 2]
  const flat = tf.pad(tf.reshape(rows, [d0, d1, s * (2 * s - 2)]), [[0, 0], [0, 0], [s - 1, 1]]);
  return tf.reshape(flat, [d0, d1, s, 2 * s - 1]);
}

/**
 * The gradient of {@link disentangledAttention} by hand (the vector-Jacobian product), from the
 * inputs, the probabilities {@link disentangledAttentionWithProbs} returned and the dropout
 * multipliers of the probabilities: every product is a plain batched product, and nothing of
 * the forward runs again. Selective recomputation uses it (docs/METHOD.md §22).
 *
 * @param inputs The forward's inputs (`dropProbs` is not called; pass `dropMask`).
 * @param probs The probabilities before dropout, `[heads, batch, seq, seq]`.
 * @param dropMask The dropout multipliers applied to them (absent: none).
 * @param dContext Gradient of the context, `[batch·seq, heads·headDim]`.
 * @returns Gradients of the query, key, value and (when given) position keys and queries.
 *
 * @example Agrees with tfjs's own gradient
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import {
 *   disentangledAttention,
 *   disentangledAttentionBackward,
 *   disentangledAttentionWithProbs,
 * } from "./attention.ts";
 *
 * const r = (seed: number, rows: number) => tf.randomNormal([rows, 4], 0, 1, "float32", seed) as tf.Tensor2D;
 * const base = { maskBias: tf.zeros([1, 1, 1, 2]) as tf.Tensor4D, batch: 1, seqLen: 2, heads: 2, scaleFactor: 2 };
 * const [q, k, v, pk] = [r(1, 2), r(2, 2), r(3, 2), r(4, 3)];
 * const dy = r(5, 2);
 * const auto = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
 *   tf.sum(tf.mul(disentangledAttention({ ...base, query: a as tf.Tensor2D, key: b as tf.Tensor2D,
 *     value: c as tf.Tensor2D, posKey: d as tf.Tensor2D }), dy)))([q, k, v, pk]);
 * const inputs = { ...base, query: q, key: k, value: v, posKey: pk };
 * const { probs } = disentangledAttentionWithProbs(inputs);
 * const mine = disentangledAttentionBackward(inputs, probs, undefined, dy);
 * const close = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! < 1e-5;
 * assert.ok(close(mine.query, auto[0]!) && close(mine.key, auto[1]!));
 * assert.ok(close(mine.value, auto[2]!) && close(mine.posKey!, auto[3]!));
 * ```
 */
export function disentangledAttentionBackward(
  inputs: DisentangledAttentionInputs,
  probs: tf.Tensor4D,
  dropMask: tf.Tensor | undefined,
  dContext: tf.Tensor2D,
): {
  query: tf.Tensor2D;
  key: tf.Tensor2D;
  value: tf.Tensor2D;
  posKey?: tf.Tensor2D;
  posQuery?: tf.Tensor2D;
} {
  const { batch: b, seqLen: s, heads: h } = inputs;
  const { headDim: d, scale } = headGeometry(inputs);
  return tf.tidy(() => {
    const hb = h * b;
    const q3 = tf.reshape(splitHeads(inputs.query, b, s, h), [hb, s, d]) as tf.Tensor3D;
    const k3 = tf.reshape(splitHeads(inputs.key, b, s, h), [hb, s, d]) as tf.Tensor3D;
    const v3 = tf.reshape(splitHeads(inputs.value, b, s, h), [hb, s, d]) as tf.Tensor3D;
    const dc3 = tf.reshape(splitHeads(dContext, b, s, h), [hb, s, d]) as tf.Tensor3D;
    const p3 = tf.reshape(probs, [hb, s, s]) as tf.Tensor3D;
    const m3 = dropMask === undefined ? undefined : tf.reshape(dropMask, [hb, s, s]);
    const dropped = m3 === undefined ? p3 : tf.mul(p3, m3);
    // context = dropped · v
    const dv3 = batchMatMul(dropped as tf.Tensor3D, dc3, true, false);
    let dp = batchMatMul(dc3, v3, false, true) as tf.Tensor3D;
    if (m3 !== undefined) dp = tf.mul(dp, m3);
    // softmax, then the scale (the mask bias takes no gradient)
    const dot = tf.sum(tf.mul(dp, p3), -1, true);
    const ds = tf.div(tf.mul(p3, tf.sub(dp, dot)), scale) as tf.Tensor3D;
    let dq3 = batchMatMul(ds, k3);
    let dk3 = batchMatMul(ds, q3, true, false);
    const out: {
      query?: tf.Tensor2D;
      key?: tf.Tensor2D;
      posKey?: tf.Tensor2D;
      posQuery?: tf.Tensor2D;
    } = {};
    const ds4 = tf.reshape(ds, [h, b, s, s]) as tf.Tensor4D;
    if (inputs.posKey !== undefined) {
      // c2p = shift(q · pkᵀ): q's rows against the position rows, per head.
      const dc = tf.reshape(relativeShiftAdjoint(ds4), [h, b * s, 2 * s - 1]) as tf.Tensor3D;
      const pk = splitPositionHeads(inputs.posKey, h); // [h, P, d]
      dq3 = tf.add(dq3, tf.reshape(batchMatMul(dc, pk), [hb, s, d]));
      const qh = tf.reshape(q3, [h, b * s, d]) as tf.Tensor3D;
      out.posKey = mergePositionHeads(batchMatMul(dc, qh, true, false));
    }
    if (inputs.posQuery !== undefined) {
      // p2c = shift(k · pqᵀ)ᵀ: key rows against the position rows, transposed into [i, j].
      const dT = tf.transpose(ds4, [0, 1, 3, 2]) as tf.Tensor4D;
      const dd = tf.reshape(relativeShiftAdjoint(dT), [h, b * s, 2 * s - 1]) as tf.Tensor3D;
      const pq = splitPositionHeads(inputs.posQuery, h);
      dk3 = tf.add(dk3, tf.reshape(batchMatMul(dd, pq), [hb, s, d]));
      const kh = tf.reshape(k3, [h, b * s, d]) as tf.Tensor3D;
      out.posQuery = mergePositionHeads(batchMatMul(dd, kh, true, false));
    }
    const merge = (x: tf.Tensor): tf.Tensor2D => mergeHeads(tf.reshape(x, [h, b, s, d]));
    return {
      query: merge(dq3),
      key: merge(dk3),
      value: merge(dv3),
      ...(out.posKey === undefined ? {} : { posKey: out.posKey }),
      ...(out.posQuery === undefined ? {} : { posQuery: out.posQuery }),
    };
  });
}
