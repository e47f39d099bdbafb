/**
 * One `GrowingAdamW` step at the size of a 12-layer DeBERTa-v3-base run's trainables (72 adapted
 * matrices with rank-8 factors, 768 or 3072 wide, and a 768×768 head: 1,695,744 entries, weight
 * decay on), median and minimum of 12 steps after an awaited read. In a worker run this step runs on
 * the main thread while the workers wait, so its time adds to every step.
 *
 * ```sh
 * deno run --allow-read --allow-env bench/optimizer_step.ts
 * ```
 *
 * Not part of `deno task bench` or the test suite.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../ops/backend.ts";
import { GrowingAdamW } from "../ops/mod.ts";

await initBackend("wasm");
const variables: tf.Variable[] = [];
const optimizer = new GrowingAdamW({ weightDecay: 0.01 });
for (let i = 0; i < 72; i++) {
  const a = tf.variable(tf.randomNormal([8, 768]), true, `m${i}.A`);
  const b = tf.variable(tf.randomNormal([i % 6 === 4 ? 3072 : 768, 8]), true, `m${i}.B`);
  variables.push(a, b);
  optimizer.addBlock({ key: `m${i}`, variables: [a, b] });
}
const head = tf.variable(tf.randomNormal([768, 768]), true, "head.w");
variables.push(head);
optimizer.addBlock({ key: "head", variables: [head] });
const grads: tf.NamedTensorMap = {};
for (const v of variables) grads[v.name] = tf.randomNormal(v.shape);
const times: number[] = [];
for (let i = 0; i < 12; i++) {
  const t0 = performance.now();
  optimizer.step(grads, 1e-3);
  await head.data();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const entries = variables.reduce((n, v) => n + v.size, 0);
console.log(
  `GrowingAdamW step, ${entries} entries: median ${times[6]!.toFixed(1)} ms, min ${
    times[0]!.toFixed(1)
  } ms`,
);
