import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  disentangledAttention,
  disentangledAttentionBackward,
  type DisentangledAttentionInputs,
  disentangledAttentionWithProbs,
} from "../../../model/attention.ts";
import { dropoutMultipliers } from "../../../model/_dropout.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

// Tolerance: float32 round-off. The hand-written gradient runs the same products as tfjs's
// tape but sums some terms in another order (the softmax's row dot product, c2p and p2c
// contributions); measured max |Δ| ≤ 1.8e-7 at gradients of order 1 (printed below). 1e-5 is
// far below what a wrong shift, transpose or a missing term gives (≥ 1e-2 on these inputs).
const TOL = 1e-5;

function randomInputs(
  b: number,
  s: number,
  h: number,
  d: number,
  terms: { c2p: boolean; p2c: boolean },
  seed: number,
): Omit<DisentangledAttentionInputs, "dropProbs"> {
  const r = (rows: number, k: number) =>
    tf.randomNormal([rows, h * d], 0, 1, "float32", seed * 10 + k) as tf.Tensor2D;
  // The last key of the second example is padding.
  const mask = Array.from({ length: b * s }, (_, i) => (i === 2 * s - 1 && b > 1 ? -1e9 : 0));
  return {
    query: r(b * s, 1),
    key: r(b * s, 2),
    value: r(b * s, 3),
    ...(terms.c2p ? { posKey: r(2 * s - 1, 4) } : {}),
    ...(terms.p2c ? { posQuery: r(2 * s - 1, 5) } : {}),
    maskBias: tf.tensor4d(mask, [1, b, 1, s]),
    batch: b,
    seqLen: s,
    heads: h,
    scaleFactor: 1 + (terms.c2p ? 1 : 0) + (terms.p2c ? 1 : 0),
  };
}

for (
  const [b, s, h, d, c2p, p2c, rate] of [
    [2, 5, 2, 3, true, true, 0],
    [2, 5, 2, 3, true, true, 0.3],
    [1, 1, 1, 2, true, true, 0],
    [3, 2, 2, 2, true, false, 0.2],
    [2, 4, 3, 2, false, true, 0],
    [2, 6, 2, 4, false, false, 0.1],
  ] as const
) {
  Deno.test(`disentangledAttentionBackward() = tfjs's gradient within 1e-5 (b ${b}, s ${s}, heads ${h}, c2p ${c2p}, p2c ${p2c}, dropout ${rate})`, () => {
    tf.tidy(() => {
      // Arrange
      const base = randomInputs(b, s, h, d, { c2p, p2c }, b * 100 + s);
      const maskValues = rate > 0 ? dropoutMultipliers(h * b * s * s, rate, `t:${s}`) : undefined;
      const dropMask = maskValues === undefined ? undefined : tf.tensor4d(maskValues, [h, b, s, s]);
      const dropProbs = dropMask === undefined
        ? undefined
        : (p: tf.Tensor4D) => tf.mul(p, dropMask) as tf.Tensor4D;
      const inputs: DisentangledAttentionInputs = {
        ...base,
        ...(dropProbs === undefined ? {} : { dropProbs }),
      };
      const dy = tf.randomNormal([b * s, h * d], 0, 1, "float32", 77) as tf.Tensor2D;
      const names = [
        "query",
        "key",
        "value",
        ...(c2p ? ["posKey"] : []),
        ...(p2c ? ["posQuery"] : []),
      ] as const;
      const xs = names.map((n) => inputs[n as keyof DisentangledAttentionInputs] as tf.Tensor);
      // Act: tfjs's tape, and the hand-written gradient.
      const auto = tf.grads((...t: tf.Tensor[]) => {
        const replaced = Object.fromEntries(names.map((n, i) => [n, t[i]]));
        return tf.sum(tf.mul(disentangledAttention({ ...inputs, ...replaced }), dy));
      })(xs);
      const { probs } = disentangledAttentionWithProbs(inputs);
      const mine = disentangledAttentionBackward(inputs, probs, dropMask, dy);
      // Assert
      let max = 0;
      names.forEach((n, i) => {
        const got = mine[n as keyof typeof mine] as tf.Tensor;
        assert.deepEqual(got.shape, auto[i]!.shape, n);
        max = Math.max(max, tf.max(tf.abs(tf.sub(got, auto[i]!))).dataSync()[0]!);
      });
      console.log(`max |Δ| = ${max.toExponential(2)}`);
      assert.ok(max <= TOL, `max |Δ| ${max}`);
      assert.equal(Object.keys(mine).length, names.length);
    });
  });
}
