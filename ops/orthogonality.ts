/**
 * The orthogonality penalty of docs/METHOD.md §9 (eq. 10, as coded: not squared).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Adapter } from "./adapter.ts";

/**
 * `‖x‖_F` with gradient `x / ‖x‖_F`, and 0 where `‖x‖_F = 0` (the subgradient PyTorch's norm uses).
 * `tf.norm`'s gradient there is `0/0 = NaN`: a rank-1 `A` whose `A·Aᵀ` reaches exactly 1 in float32
 * (the penalty drives it there) made a whole step's gradient NaN (docs/METHOD.md §9).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "./backend.ts";
 * import { frobeniusNorm } from "./orthogonality.ts";
 *
 * await initBackend("cpu");
 * const g = tf.grad((x: tf.Tensor) => frobeniusNorm(x));
 * const [gx, gy] = Array.from(await g(tf.tensor2d([[3, 4]])).data());
 * assert.ok(Math.abs(gx! - 0.6) < 1e-6 && Math.abs(gy! - 0.8) < 1e-6);
 * assert.ok(Array.from(await g(tf.zeros([1, 2])).data()).every((v) => v === 0)); // tf.norm: NaN
 * ```
 *
 * @param x Any tensor.
 * @returns The scalar norm.
 */
export function frobeniusNorm(x: tf.Tensor): tf.Scalar {
  const f = tf.customGrad((t, save) => {
    const input = t as tf.Tensor;
    const n = tf.norm(input) as tf.Scalar;
    (save as tf.GradSaveFunc)([input, n]);
    return {
      value: n,
      gradFunc: (dy, saved) => {
        const [xs, norm] = saved as [tf.Tensor, tf.Scalar];
        // tf.norm's own backward (sqrt, sum, pow 2, abs), op for op so that the bits match it,
        // with the sqrt step's dy/(2·0) = ∞ (then ∞·0 = NaN) replaced by 0.
        const halfInv = tf.where(
          tf.greater(norm, 0),
          tf.div(dy, tf.mul(norm, 2)),
          tf.zerosLike(norm),
        );
        return tf.mul(tf.mul(halfInv, tf.mul(tf.abs(xs), 2)), tf.step(xs, -1));
      },
    };
  });
  return f(x) as tf.Scalar;
}

/**
 * `reg = Σ_m (‖A_m A_mᵀ − I‖_F + ‖B_mᵀ B_m − I‖_F) / (2M)`, differentiable; multiply by
 * `orthRegWeight` and add to the loss. Works for every adapter that has `A` and `B`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LoraAdapter } from "./lora.ts";
 * import { orthogonalityPenalty } from "./orthogonality.ts";
 *
 * const ad = new LoraAdapter({ name: "ex.orth", inFeatures: 4, outFeatures: 4, seed: 1, rank: 2 });
 * const reg = orthogonalityPenalty([ad]);
 * const [value] = await reg.data();
 * // B = 0 gives ‖−I‖_F = √2 for the B term
 * assert.ok(value !== undefined && value > Math.SQRT2 / 2);
 * reg.dispose();
 * ad.dispose();
 * ```
 *
 * @param adapters The adapted modules (`M = adapters.length`).
 * @returns A scalar owned by the caller (0 when `M = 0`).
 */
export function orthogonalityPenalty(adapters: readonly Adapter[]): tf.Scalar {
  if (adapters.length === 0) return tf.scalar(0);
  return tf.tidy(() => {
    const terms = adapters.map((ad) => {
      const { a, b } = ad.orthogonalityFactors();
      const r = a.shape[0];
      const eye = tf.eye(r);
      const aat = tf.matMul(a, a, false, true).sub(eye);
      const btb = tf.matMul(b, b, true, false).sub(eye);
      return frobeniusNorm(aat).add(frobeniusNorm(btb));
    });
    return tf.addN(terms).div(2 * adapters.length) as tf.Scalar;
  });
}
