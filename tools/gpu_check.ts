/**
 * The timing half of `tools/gpu_check.sh`: on webgpu, prints the adapter, the DeBERTa-v3-base
 * shape encoder forward (12 layers, hidden 768, batch 8 × 128) and base-shape training steps
 * (frozen, LoRA r=8, TriAdaptLoRA r=8; 12 layers, batch 8 × 128). Meant for a machine with a
 * real GPU; on a software adapter the base shape takes many minutes per step (use `--small`).
 *
 * Run: `deno run --unstable-webgpu --allow-read --allow-write --allow-env tools/gpu_check.ts [--small]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeAdapter, initBackend } from "../ops/backend.ts";
import { formatTiming } from "../bench/_harness.ts";
import { runEncoderBench } from "../bench/encoder_bench.ts";
import { BASE_SHAPE, measureSteps, SMALL_SHAPE } from "../bench/step_bench.ts";

const { values } = parseArgs({ args: Deno.args, options: { small: { type: "boolean" } } });
const small = values.small === true;
const info = await initBackend("webgpu");
console.log(`${info.summary}`);
console.log(`adapter: ${info.adapter === undefined ? "?" : describeAdapter(info.adapter)}`);
console.log(`date: ${new Date().toISOString()}`);

const t0 = performance.now();
console.log(await runEncoderBench({ quick: small }));

const shape = small ? SMALL_SHAPE : BASE_SHAPE;
const { rows, buildSeconds } = await measureSteps(
  shape,
  ["frozen", "lora", "triadaptlora"],
  { warmup: 1, repeats: 3, memorySteps: 4 },
  (m) => console.error(m),
);
console.log(
  `### Training step on webgpu (${shape.label}, ${shape.layers} layers, batch ${shape.batch} × ${shape.seq}; weights built in ${
    buildSeconds.toFixed(1)
  } s)\n`,
);
console.log("| method | median ms (min–max) | memory flat |");
console.log("| --- | --- | --- |");
for (const r of rows) console.log(`| ${r.method} | ${formatTiming(r.timing)} | ${r.flat} |`);
console.log(`\nwall ${((performance.now() - t0) / 1000).toFixed(0)} s`);
