/**
 * The exact (erf) GELU of DeBERTa (`hidden_act: "gelu"`) on every tfjs backend.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

// Rational approximation of erf on [-4, 4] (the float32 one used by Eigen / XLA);
// |error| ≲ 2e-7 in float32, and erf(±4) = ±1 to float32 precision.
const ERF_ALPHA = [
  -2.72614225801306e-10,
  2.77068142495902e-08,
  -2.10102402082508e-06,
  -5.69250639462346e-05,
  -7.34990630326855e-04,
  -2.95459980854025e-03,
  -1.60960333262415e-02,
] as const;
const ERF_BETA = [
  -1.45660718464996e-05,
  -2.13374055278905e-04,
  -1.68282697438203e-03,
  -7.37332916720468e-03,
  -1.42647390514189e-02,
] as const;

/**
 * `erf(x)` built from elementwise arithmetic only (a float32 rational approximation, max abs
 * error about 2e-7), differentiable on every backend. Used where the backend has no `Erf`
 * kernel.
 *
 * @param x Any float tensor.
 * @returns `erf(x)`, same shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { erfRational } from "./activations.ts";
 *
 * const [a, b] = erfRational(tf.tensor1d([0.5, -2])).dataSync();
 * assert.ok(Math.abs(a! - 0.5204998778) < 1e-6 && Math.abs(b! + 0.9953222650) < 1e-6);
 * ```
 */
export function erfRational(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const xc = tf.clipByValue(x, -4, 4);
    const x2 = tf.mul(xc, xc);
    let p: tf.Tensor = tf.scalar(ERF_ALPHA[0]);
    for (const a of ERF_ALPHA.slice(1)) p = tf.add(tf.mul(p, x2), a);
    p = tf.mul(p, xc);
    let q: tf.Tensor = tf.scalar(ERF_BETA[0]);
    for (const b of ERF_BETA.slice(1)) q = tf.add(tf.mul(q, x2), b);
    return tf.div(p, q);
  });
}

/**
 * Exact GELU, `0.5·x·(1 + erf(x/√2))`: uses the backend's `Erf` kernel when it has one (cpu,
 * wasm, webgl), else {@link erfRational}.
 *
 * @param x Any float tensor.
 * @returns `gelu(x)`, same shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { geluErf } from "./activations.ts";
 *
 * const [y] = geluErf(tf.tensor1d([1])).dataSync();
 * assert.ok(Math.abs(y! - 0.8413447) < 1e-6);
 * ```
 */
export function geluErf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.mul(x, Math.SQRT1_2);
    const e = tf.getKernel("Erf", tf.getBackend()) !== undefined ? tf.erf(z) : erfRational(z);
    return tf.mul(tf.mul(x, 0.5), tf.add(e, 1));
  });
}
