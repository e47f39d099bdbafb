/**
 * The orthogonality penalty of docs/METHOD.md §9 (eq. 10, as coded: not squared).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Adapter } from "./adapter.ts";

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
      return tf.norm(aat).add(tf.norm(btb));
    });
    return tf.addN(terms).div(2 * adapters.length) as tf.Scalar;
  });
}
