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
    // Inside the tidy: some adapters' factors are new tensors (IncreLoRA's concatenations).
    const factors = adapters.flatMap((ad) => {
      const { a, b } = ad.orthogonalityFactors();
      return [a, b];
    });
    return penaltyOf(factors, 1 / (2 * adapters.length));
  });
}

/**
 * `scale · Σ_m (‖A_m A_mᵀ − I‖_F + ‖B_mᵀ B_m − I‖_F)` for `[A_0, B_0, A_1, B_1, …]`, as one
 * custom-gradient node with a hand-written backward, so the penalty costs a few ops per module
 * (§9): `∂‖E‖/∂A = 2·E·A/‖E‖` with `E = A·Aᵀ − I` symmetric, `∂‖F‖/∂B = 2·B·F/‖F‖` with
 * `F = BᵀB − I`, and 0 where a norm is 0 (the subgradient PyTorch's norm takes there).
 */
function penaltyOf(factors: readonly tf.Tensor2D[], scale: number): tf.Scalar {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args.slice(0, factors.length) as tf.Tensor2D[];
    const save = args[factors.length] as tf.GradSaveFunc;
    // E = A·Aᵀ − I for A [r,n]; F = Bᵀ·B − I for B [d,r] (explicit transposes: faster on wasm).
    const gaps = xs.map((x, i) => {
      const isA = i % 2 === 0;
      const r = isA ? x.shape[0] : x.shape[1];
      const gram = isA ? tf.matMul(x, tf.transpose(x)) : tf.matMul(tf.transpose(x), x);
      return gram.sub(tf.eye(r)) as tf.Tensor2D;
    });
    const norms = tf.stack(gaps.map((g) => g.square().sum())).sqrt() as tf.Tensor1D;
    save([...xs, ...gaps, norms]);
    return {
      value: norms.sum().mul(scale) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const n = factors.length;
        const ins = saved.slice(0, n) as tf.Tensor2D[];
        const gs = saved.slice(n, 2 * n) as tf.Tensor2D[];
        const ns = saved[2 * n] as tf.Tensor1D;
        // 2·dy·scale/‖·‖ per term, 0 where the norm is 0.
        const coef = tf.where(
          tf.greater(ns, 0),
          tf.div(tf.mul(dy, 2 * scale), ns),
          tf.zerosLike(ns),
        );
        const cs = tf.unstack(coef);
        return ins.map((x, i) =>
          (i % 2 === 0 ? tf.matMul(gs[i]!, x) : tf.matMul(x, gs[i]!)).mul(cs[i]!)
        );
      },
    };
  });
  return f(...factors) as tf.Scalar;
}
