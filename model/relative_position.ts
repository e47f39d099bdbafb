/**
 * Relative positions of DeBERTa-v2/v3 disentangled attention: the log-bucketed distance table
 * and the gather-free "relative shift" that turns scores against per-distance rows into the
 * `[query, key]` layout.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/**
 * Maps one signed relative distance `i - j` to its log bucket, as Hugging Face
 * `make_log_bucket_position` does (computed in float32, like the reference's torch code).
 *
 * Distances with `|k| <= bucketSize / 2` keep their value; longer ones are compressed
 * logarithmically so that `maxPosition - 1` lands on bucket `bucketSize - 1`.
 * With `bucketSize <= 0` or `maxPosition <= 0` the distance is returned unchanged.
 *
 * @param distance The signed relative distance `i - j` (an integer).
 * @param bucketSize `position_buckets` of the config (256 for DeBERTa-v3-base).
 * @param maxPosition `max_relative_positions` (or `max_position_embeddings` when that is < 1).
 * @returns The bucketed relative position (same sign as `distance`).
 *
 * @example Small distances are kept, long ones compressed
 * ```ts
 * import assert from "node:assert/strict";
 * import { logBucketPosition } from "./relative_position.ts";
 *
 * assert.equal(logBucketPosition(3, 8, 64), 3);
 * assert.equal(logBucketPosition(-11, 8, 64), -6);
 * assert.equal(logBucketPosition(63, 8, 64), 7);
 * ```
 */
export function logBucketPosition(
  distance: number,
  bucketSize: number,
  maxPosition: number,
): number {
  if (!Number.isInteger(distance)) {
    throw new TypeError(
      `Cannot bucket relative position as distance must be an integer: current value is ${distance}`,
    );
  }
  if (bucketSize <= 0 || maxPosition <= 0) return distance;
  const f = Math.fround;
  const mid = Math.floor(bucketSize / 2);
  const sign = Math.sign(distance);
  const absPos = distance < mid && distance > -mid ? mid - 1 : Math.abs(distance);
  if (absPos <= mid) return distance;
  const num = f(Math.log(f(absPos / mid)));
  const den = f(Math.log(f((maxPosition - 1) / mid)));
  const logPos = Math.ceil(f(f(num / den) * (mid - 1))) + mid;
  return logPos * sign;
}

/**
 * The bucketed relative-position table `P[i][j] = bucket(i - j)` for a square attention of
 * `seqLen` tokens (Hugging Face `build_relative_position`, before the `+ span` offset).
 *
 * @param seqLen Number of tokens (queries = keys).
 * @param bucketSize `position_buckets` (≤ 0 disables bucketing).
 * @param maxPosition Maximum relative position (≤ 0 disables bucketing).
 * @returns `seqLen` rows of `seqLen` integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRelativePosition } from "./relative_position.ts";
 *
 * assert.deepEqual(buildRelativePosition(3, 8, 64), [[0, -1, -2], [1, 0, -1], [2, 1, 0]]);
 * ```
 */
export function buildRelativePosition(
  seqLen: number,
  bucketSize: number,
  maxPosition: number,
): number[][] {
  if (!Number.isInteger(seqLen) || seqLen < 1) {
    throw new RangeError(
      `Cannot build relative positions as seqLen must be a positive integer: current value is ${seqLen}`,
    );
  }
  const out: number[][] = [];
  for (let i = 0; i < seqLen; i++) {
    const row: number[] = [];
    for (let j = 0; j < seqLen; j++) row.push(logBucketPosition(i - j, bucketSize, maxPosition));
    out.push(row);
  }
  return out;
}

/**
 * Row indices into the (LayerNorm'd) relative embedding table, one per signed distance, in the
 * order the shift trick needs. Row `c` of `c2p` serves distance `k = (seqLen - 1) - c`; row `c`
 * of `p2c` serves distance `k = c - (seqLen - 1)`. Both have `2·seqLen − 1` entries.
 *
 * `c2p[i][j]` of the reference uses embedding row `clamp(P[i][j] + span)`; `p2c[i][j]` uses
 * `clamp(−P[j][i] + span)` (the reference gathers at `[j, i]` and transposes).
 *
 * @param seqLen Number of tokens.
 * @param options `bucketSize`, `maxPosition` and `span` (`pos_ebd_size`; the table has `2·span` rows).
 * @returns `{ c2p, p2c }` index arrays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relativeEmbeddingRows } from "./relative_position.ts";
 *
 * const rows = relativeEmbeddingRows(2, { bucketSize: 8, maxPosition: 64, span: 8 });
 * assert.deepEqual([...rows.c2p], [9, 8, 7]);
 * assert.deepEqual([...rows.p2c], [7, 8, 9]);
 * ```
 */
export function relativeEmbeddingRows(
  seqLen: number,
  options: { readonly bucketSize: number; readonly maxPosition: number; readonly span: number },
): { c2p: Int32Array; p2c: Int32Array } {
  const { bucketSize, maxPosition, span } = options;
  const n = 2 * seqLen - 1;
  const c2p = new Int32Array(n);
  const p2c = new Int32Array(n);
  const clamp = (v: number): number => Math.min(Math.max(v, 0), 2 * span - 1);
  for (let c = 0; c < n; c++) {
    const kc = seqLen - 1 - c;
    c2p[c] = clamp(logBucketPosition(kc, bucketSize, maxPosition) + span);
    const kp = c - (seqLen - 1);
    // p2c[i][j] uses −P[j][i] = −bucket(j − i) = −bucket(−k) for k = i − j.
    p2c[c] = clamp(-logBucketPosition(-kp, bucketSize, maxPosition) + span);
  }
  return { c2p, p2c };
}

/**
 * The relative shift: `Y[..., a, b] = X[..., a, b + (S − 1) − a]` for `X` of shape
 * `[..., S, 2S − 1]`, done with reshapes and slices only (differentiable on every backend, no
 * `gather`).
 *
 * @param x Scores against per-distance rows, `[d0, d1, S, 2S − 1]` (any two leading dims).
 * @returns `[d0, d1, S, S]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { relativeShift } from "./relative_position.ts";
 *
 * // S = 2: X rows [x00 x01 x02], [x10 x11 x12] → Y = [[x01, x02], [x10, x11]]
 * const y = relativeShift(tf.tensor4d([0, 1, 2, 10, 11, 12], [1, 1, 2, 3]));
 * assert.deepEqual(Array.from(y.dataSync()), [1, 2, 10, 11]);
 * ```
 */
export function relativeShift(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, s, w] = x.shape;
  if (w !== 2 * s - 1) {
    throw new TypeError(
      `Cannot shift relative scores as the last dimension must be 2·S − 1 = ${
        2 * s - 1
      }: current value is ${w}`,
    );
  }
  if (s === 1) return x.clone();
  return tf.tidy(() => {
    const flat = tf.reshape(x, [b, h, s * w]);
    const cut = tf.slice(flat, [0, 0, s - 1], [b, h, s * (2 * s - 2)]);
    const rows = tf.reshape(cut, [b, h, s, 2 * s - 2]);
    return tf.slice(rows, [0, 0, 0, 0], [b, h, s, s]);
  }) as tf.Tensor4D;
}
