/**
 * The shared skinny chain `y = (x·Pᵀ)·Qᵀ` with a hand-written gradient that uses only
 * explicit transposes of small (`r×·`) matrices: on the wasm backend, `matMul` with a transpose
 * flag is several times slower than an explicit transpose of the small operand.
 *
 * @internal
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fastTransposedProducts } from "./_fast_transposed.ts";

/** Called in the backward pass with `dy [rows,d]`, `x [rows,n]`, `P [r,n]`, `Q [d,r]`. */
export type BackwardHook = (
  dy: tf.Tensor2D,
  x: tf.Tensor2D,
  p: tf.Tensor2D,
  q: tf.Tensor2D,
) => void;

/**
 * `y = (x·Pᵀ)·Qᵀ` for `x [rows,n]`, `P [r,n]`, `Q [d,r]`; never forms a `d×n` matrix.
 * Gradients: `dh = dy·Q`, `dQ = (hᵀ·dy)ᵀ`, `dP = dhᵀ·x`, `dx = dh·P`.
 *
 * @internal
 * @param x Input `[rows, n]`.
 * @param p Left factor `[r, n]`.
 * @param q Right factor `[d, r]`.
 * @param hook Optional backward hook (IncreLoRA's score).
 * @returns `[rows, d]`.
 */
export function skinnyChain(
  x: tf.Tensor2D,
  p: tf.Tensor2D,
  q: tf.Tensor2D,
  hook?: BackwardHook,
): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, pi, qi] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const save = args[3] as tf.GradSaveFunc;
    const h = tf.matMul(xi, tf.transpose(pi));
    save([xi, pi, qi, h]);
    return {
      value: tf.matMul(h, tf.transpose(qi)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xs, ps, qs, hs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy as tf.Tensor2D;
        if (hook !== undefined) hook(dy2, xs, ps, qs);
        const g = chainGradients(xs, ps, qs, hs, dy2, true);
        return [g.dx!, g.dp, g.dq];
      },
    };
  });
  return f(x, p, q) as tf.Tensor2D;
}

/**
 * `op(a)·op(b)` for small adapter products: `tf.matMul` with transpose flags, except on wasm
 * with the package's XNNPACK product, whose transposed products are naive loops: there the
 * operands are transposed first.
 *
 * @internal
 * @param a Left operand.
 * @param b Right operand.
 * @param transposeA Multiply by `aᵀ`.
 * @param transposeB Multiply by `bᵀ`.
 * @returns The product.
 */
export function product(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  transposeA: boolean,
  transposeB: boolean,
): tf.Tensor2D {
  if (fastTransposedProducts()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
}

/**
 * The vector-Jacobian product of `y = (x·Pᵀ)·Qᵀ` (what {@link skinnyChain} computes) by hand:
 * `h = x·Pᵀ`, `dh = dy·Q`, `dP = dhᵀ·x`, `dQ = dyᵀ·h`, `dx = dh·P`.
 *
 * @internal
 * @param x Input `[rows, n]`.
 * @param p Left factor `[r, n]`.
 * @param q Right factor `[d, r]`.
 * @param dy Gradient of `y`, `[rows, d]`.
 * @param wantInput Whether to compute `dx`.
 * @returns `dP`, `dQ` and (when wanted) `dx`.
 */
export function skinnyChainBackward(
  x: tf.Tensor2D,
  p: tf.Tensor2D,
  q: tf.Tensor2D,
  dy: tf.Tensor2D,
  wantInput: boolean,
): { dp: tf.Tensor2D; dq: tf.Tensor2D; dx?: tf.Tensor2D } {
  return tf.tidy(() => chainGradients(x, p, q, product(x, p, false, true), dy, wantInput));
}

/**
 * The skinny chain's gradients from its hidden `h = x·Pᵀ` (kept by {@link skinnyChain}'s
 * forward, recomputed by {@link skinnyChainBackward}): `dh = dy·Q`, `dP = dhᵀ·x`, `dQ = dyᵀ·h`,
 * `dx = dh·P`.
 */
function chainGradients(
  x: tf.Tensor2D,
  p: tf.Tensor2D,
  q: tf.Tensor2D,
  h: tf.Tensor2D,
  dy: tf.Tensor2D,
  wantInput: boolean,
): { dp: tf.Tensor2D; dq: tf.Tensor2D; dx?: tf.Tensor2D } {
  const dh = tf.matMul(dy, q) as tf.Tensor2D; // [rows, r]
  const dp = product(dh, x, true, false); // [r, n]
  const dq = product(dy, h, true, false); // [d, r]
  return wantInput ? { dp, dq, dx: tf.matMul(dh, p) as tf.Tensor2D } : { dp, dq };
}
