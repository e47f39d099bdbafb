/**
 * Matrix products that stay on the fast path of the tfjs wasm backend.
 *
 * Measured on this project's machine (wasm, SIMD, 1 thread): `matMul(x, w, false, true)` for
 * 1024×768·768×768 takes 481 ms against 31 ms with `w` pre-transposed, and a batched
 * `[96, 128, 64]·[96, 64, 128]` product takes 72 ms in the package's kernel against 11 ms as 96
 * separate 2-D products (what `ops/wasm_batch_matmul.ts` runs, in one kernel).
 * tfjs's own `matMul` gradient uses transposed products, so the gradients here are written with
 * explicit transposes and plain products.
 *
 * @internal
 * @module
 */

import * as tf from "@tensorflow/tfjs";
// The flag `ops/wasm_batch_matmul.ts` keeps (the one helper `model/` shares with `ops/`; it
// imports no backend).
import { fastTransposedProducts } from "../ops/_fast_transposed.ts";

/**
 * `a·b` (or `a·bᵀ`) for 2-D tensors: `tf.matMul` where transposed products are fast
 * ({@link transposedProductsFast}), else explicit transposes and a gradient of plain products.
 *
 * @param a `[m, k]`.
 * @param b `[k, n]` (`[n, k]` with `transposeB`).
 * @param transposeB Multiply by `bᵀ`.
 * @returns `[m, n]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { matMulPlain } from "./_matmul.ts";
 *
 * const y = matMulPlain(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
 * assert.deepEqual(Array.from(y.dataSync()), [11]);
 * ```
 */
export function matMulPlain(a: tf.Tensor2D, b: tf.Tensor2D, transposeB = false): tf.Tensor2D {
  if (transposedProductsFast()) return tf.matMul(a, b, false, transposeB);
  return productWithPlainGradient(a, transposeB ? tf.transpose(b) : b) as tf.Tensor2D;
}

/** `xᵀ` over the last two axes (rank 2 or 3). */
function transposeLast(x: tf.Tensor): tf.Tensor {
  return x.rank === 2 ? tf.transpose(x) : tf.transpose(x, [0, 2, 1]);
}

/**
 * `a·b` (rank 2, or rank 3 batched) with the gradient `dA = dy·bᵀ`, `dB = aᵀ·dy` as explicit
 * transposes and plain products (no transpose flags).
 */
function productWithPlainGradient(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x, y]);
    return {
      value: tf.matMul(x, y),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.matMul(dy, transposeLast(saved[1]!)),
        tf.matMul(transposeLast(saved[0]!), dy),
      ],
    };
  });
  return f(a, b);
}

/**
 * `x·wT + bias` for a frozen `wT` (`[in, out]`) and `bias`: only `x` is differentiated, with
 * `dx = dy·wTᵀ` (a plain product with `weight()`, or with an explicit transpose of `wT`).
 *
 * @param x `[rows, in]`.
 * @param wT `[in, out]` (a frozen tensor, not differentiated).
 * @param bias `[out]` (frozen).
 * @param weight Returns `wTᵀ` (`[out, in]`) kept by the caller (a cached copy saves the
 *   backward's transpose); absent: a product by the transposed operand (see {@link timesWeight}).
 * @returns `[rows, out]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { frozenLinear } from "./_matmul.ts";
 *
 * const y = frozenLinear(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0], [0, 1]]), tf.tensor1d([5, 6]));
 * assert.deepEqual(Array.from(y.dataSync()), [6, 8]);
 * ```
 */
export function frozenLinear(
  x: tf.Tensor2D,
  wT: tf.Tensor2D,
  bias: tf.Tensor1D,
  weight?: () => tf.Tensor2D,
): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.add(tf.matMul(args[0] as tf.Tensor2D, wT), bias),
    gradFunc: (dy: tf.Tensor) => timesWeight(dy as tf.Tensor2D, wT, weight),
  }));
  return f(x) as tf.Tensor2D;
}

/**
 * Batched `op(a)·op(b)` over the leading dimension, `op` transposing the last two axes where its
 * flag is set. Where transposed products are fast ({@link transposedProductsFast}: every backend
 * but wasm, and wasm with the relaxed-SIMD product of `ops/wasm_batch_matmul.ts`) this is
 * `tf.matMul` with its own gradient; on wasm with XNNPACK the flags become explicit transposes and
 * the gradient plain products (`ops/wasm_batch_matmul.ts` runs each plain batched product as one
 * XNNPACK 2-D product per batch entry; the package's transposed products are naive loops).
 *
 * @param a `[n, m, k]` (`[n, k, m]` with `transposeA`).
 * @param b `[n, k, p]` (`[n, p, k]` with `transposeB`).
 * @param transposeA Multiply by `aᵀ`.
 * @param transposeB Multiply by `bᵀ`.
 * @returns `[n, m, p]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { batchMatMul } from "./_matmul.ts";
 *
 * const y = batchMatMul(tf.ones([2, 1, 3]) as tf.Tensor3D, tf.ones([2, 3, 1]) as tf.Tensor3D);
 * assert.deepEqual(Array.from(y.dataSync()), [3, 3]);
 * const z = batchMatMul(tf.ones([2, 1, 3]) as tf.Tensor3D, tf.ones([2, 1, 3]) as tf.Tensor3D, false, true);
 * assert.deepEqual(Array.from(z.dataSync()), [3, 3]);
 * ```
 */
export function batchMatMul(
  a: tf.Tensor3D,
  b: tf.Tensor3D,
  transposeA = false,
  transposeB = false,
): tf.Tensor3D {
  if (transposedProductsFast()) return tf.matMul(a, b, transposeA, transposeB);
  return productWithPlainGradient(
    transposeA ? transposeLast(a) : a,
    transposeB ? transposeLast(b) : b,
  ) as tf.Tensor3D;
}

/**
 * Whether the active backend multiplies by a transposed operand about as fast as by a plain one:
 * every backend but wasm does; wasm does when `ops/wasm_batch_matmul.ts` runs its relaxed-SIMD
 * product (the package's own transposed product is a naive loop, ~15× slower).
 *
 * @returns `true` where no transposed copy of a frozen weight is worth keeping.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transposedProductsFast } from "./_matmul.ts";
 *
 * assert.equal(typeof transposedProductsFast(), "boolean");
 * ```
 */
export function transposedProductsFast(): boolean {
  return fastTransposedProducts();
}

/**
 * `dy·wTᵀ`, the input gradient of a frozen linear: a plain product with `weight()` (a kept `W0`)
 * when given, else a product by the transposed operand (fast where
 * {@link transposedProductsFast}), else an explicit transpose first.
 *
 * @param dy `[rows, out]`.
 * @param wT `[in, out]`.
 * @param weight Returns `W0` (`[out, in]`), if the caller keeps one.
 * @returns `[rows, in]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { timesWeight } from "./_matmul.ts";
 *
 * const dx = timesWeight(tf.tensor2d([[1, 1]]), tf.tensor2d([[1, 2], [3, 4]]));
 * assert.deepEqual(Array.from(dx.dataSync()), [3, 7]);
 * ```
 */
export function timesWeight(
  dy: tf.Tensor2D,
  wT: tf.Tensor2D,
  weight?: () => tf.Tensor2D,
): tf.Tensor2D {
  if (weight !== undefined) return tf.matMul(dy, weight());
  if (transposedProductsFast()) return tf.matMul(dy, wT, false, true);
  return tf.tidy(() => tf.matMul(dy, tf.transpose(wT) as tf.Tensor2D));
}
