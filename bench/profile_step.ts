/**
 * Where one base-width training step spends its time (issue 12): a 1-layer DeBERTa-v3-base-width
 * encoder (hidden 768, FFN 3072) with TriAdaptLoRA (ranks 1+4+3, orthogonality penalty) at a
 * gradient worker's share of the batch, one untimed and one timed step, then `tf.profile` of a
 * third: kernel milliseconds summed by kernel name (scopes such as custom gradients are left out,
 * their kernels are counted under their own names). Then the GFLOPS of the layer's three dense
 * product shapes on this machine, so the step can be compared with what the products alone allow.
 *
 * ```sh
 * deno run --allow-read --allow-env bench/profile_step.ts [--batch 4] [--recompute on|off|selective]
 * ```
 *
 * Not part of `deno task bench` or the test suite.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { initBackend } from "../ops/backend.ts";
import { attachMethod, BASE_WIDTH_SHAPE, createBenchModel } from "./step_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "4" },
    recompute: { type: "string", default: "on" },
  },
});
const batch = Number(values.batch);
if (!Number.isSafeInteger(batch) || batch < 1) {
  throw new RangeError(`--batch must be an integer >= 1: current value is ${values.batch}`);
}
if (!["on", "off", "selective"].includes(values.recompute)) {
  throw new RangeError(
    `--recompute must be on, off or selective: current value is ${values.recompute}`,
  );
}

await initBackend("wasm");
const bench = createBenchModel({ ...BASE_WIDTH_SHAPE, batch });
bench.model.setRecompute(
  values.recompute === "selective" ? "selective" : values.recompute === "on",
);
const rig = attachMethod(bench, "triadaptlora");
await rig.step();
const t0 = performance.now();
await rig.step();
console.log(
  `one step, 1 layer × 768, batch ${batch} × ${BASE_WIDTH_SHAPE.seq}, recompute ${values.recompute}: ${
    (performance.now() - t0).toFixed(0)
  } ms`,
);

const info = await tf.profile(async () => {
  await rig.step();
});
const kernelNames = new Set(
  tf.getKernelsForBackend(tf.getBackend()).map((k) => k.kernelName as string),
);
const byName = new Map<string, { ms: number; count: number }>();
let total = 0;
let kernels = 0;
for (const k of info.kernels) {
  if (!kernelNames.has(k.name)) continue;
  const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
  const entry = byName.get(k.name) ?? { ms: 0, count: 0 };
  entry.ms += ms;
  entry.count++;
  byName.set(k.name, entry);
  total += ms;
  kernels++;
}
console.log(`profiled step: ${kernels} kernels, ${total.toFixed(0)} kernel ms`);
console.log("| kernel | ms | calls |\n| --- | --- | --- |");
for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
  console.log(`| ${name} | ${e.ms.toFixed(1)} | ${e.count} |`);
}
rig.dispose();
bench.dispose();

const rows = batch * BASE_WIDTH_SHAPE.seq;
const h = BASE_WIDTH_SHAPE.hidden;
const f = BASE_WIDTH_SHAPE.intermediate;
console.log("| product (m×k×n) | GFLOPS |\n| --- | --- |");
for (const [m, k, n] of [[rows, h, h], [rows, h, f], [rows, f, h]] as const) {
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  for (let i = 0; i < 2; i++) tf.matMul(a, b).dispose();
  const reps = 8;
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  }
  const seconds = (performance.now() - start) / 1000 / reps;
  console.log(`| ${m}×${k}×${n} | ${(2 * m * k * n / seconds / 1e9).toFixed(1)} |`);
  tf.dispose([a, b]);
}
