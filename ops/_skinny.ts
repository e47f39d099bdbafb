/**
 * The shared skinny chain `y = (x·Pᵀ)·Qᵀ` with a hand-written gradient that uses only
 * explicit transposes of small (`r×·`) matrices: on the wasm backend, `matMul` with a transpose
 * flag is several times slower than an explicit transpose of the small operand.
 *
 * @internal
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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
        const dh = tf.matMul(dy2, qs); // [rows, r]
        const dhT = tf.transpose(dh); // [r, rows]
        return [
          tf.matMul(dh, ps), // dx [rows, n]
          tf.matMul(dhT, xs), // dP [r, n]
          tf.transpose(tf.matMul(tf.transpose(hs), dy2)), // dQ [d, r]
        ];
      },
    };
  });
  return f(x, p, q) as tf.Tensor2D;
}
