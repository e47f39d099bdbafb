// The encoder needs the exact (erf) GELU: the golden README shows the tanh form is detectable
// (7.6e-4 on hidden states). Both erf paths are checked against a float64 erf.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { erfRational, geluErf } from "../../../model/activations.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

/** float64 erf: Maclaurin series for |x| < 3, continued fraction for erfc beyond. */
function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = x;
    let term = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
}

const XS = Array.from({ length: 4001 }, (_, i) => Math.fround(-10 + i * 0.005));

Deno.test("erfRational() is within 5e-7 of float64 erf on [-10, 10]", () => {
  const got = tf.tidy(() => erfRational(tf.tensor1d(XS)).dataSync());
  const worst = Math.max(...XS.map((x, i) => Math.abs(got[i]! - erf64(x))));
  assert.ok(worst < 5e-7, `max error ${worst}`);
});

Deno.test("geluErf() is within 2e-6 of float64 exact GELU on wasm, cpu and the rational fallback", async () => {
  const want = XS.map((x) => 0.5 * x * (1 + erf64(x / Math.SQRT2)));
  for (const backend of ["wasm", "cpu"]) {
    assert.ok(await tf.setBackend(backend));
    const got = tf.tidy(() => geluErf(tf.tensor1d(XS)).dataSync());
    const worst = Math.max(...XS.map((_, i) => Math.abs(got[i]! - want[i]!)));
    assert.ok(worst < 2e-6, `${backend}: max error ${worst}`);
  }
  const fallback = tf.tidy(() =>
    tf.mul(
      tf.mul(tf.tensor1d(XS), 0.5),
      tf.add(erfRational(tf.mul(tf.tensor1d(XS), Math.SQRT1_2)), 1),
    )
      .dataSync()
  );
  const worst = Math.max(...XS.map((_, i) => Math.abs(fallback[i]! - want[i]!)));
  assert.ok(worst < 2e-6, `fallback: max error ${worst}`);
  // The tanh approximation is measurably different (so the check above can fail).
  const tanh = XS.map((x) =>
    0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
  );
  assert.ok(Math.max(...tanh.map((v, i) => Math.abs(v - want[i]!))) > 1e-4);
  assert.ok(await tf.setBackend("wasm"));
});
