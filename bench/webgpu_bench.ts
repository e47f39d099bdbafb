/**
 * The webgpu rows of `deno task bench` (`--only webgpu`): adapter forward+backward, encoder
 * forward and training step (frozen, LoRA, TriAdaptLoRA) on `@tensorflow/tfjs-backend-webgpu`, at
 * tiny shapes (adapter: 128 rows at 768→768; encoder and step: 2 layers, hidden 64, batch
 * 2 × 32), each table headed by the adapter. On a machine without a GPU the adapter is a
 * software one (Mesa's llvmpipe, about 4 GFLOPS on 2 cores): the rows then say `software adapter`
 * and measure correctness-path speed, not GPU speed. `tools/gpu_check.sh` times the base shape on
 * a real GPU.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { describeAdapter, initBackend } from "../ops/backend.ts";
import type { BenchContext, BenchSectionResult } from "./_harness.ts";
import { runAdapterBench } from "./adapter_bench.ts";
import { runEncoderBench, type Shape } from "./encoder_bench.ts";
import { runBackendComparison } from "./step_bench.ts";

/** The encoder row's shape: 2 layers, hidden 64, batch 2 × 32 (the step rows' tiny shape). */
const TINY_ENCODER: Shape = {
  label: "tiny 2×64",
  layers: 2,
  hidden: 64,
  heads: 4,
  intermediate: 256,
  vocab: 1000,
  batch: 2,
  seq: 32,
  warmup: 1,
  repeats: 3,
};

/**
 * Runs the webgpu rows (tiny shapes whatever `ctx.quick` says: the software adapter is slow) and
 * restores the active backend. Without an adapter the section is one line saying why.
 *
 * @example
 * ```ts ignore
 * import { runWebGpuBench } from "./webgpu_bench.ts";
 *
 * console.log((await runWebGpuBench({ quick: true, backend: "wasm", log: console.error })).markdown);
 * ```
 *
 * @param ctx Runner context (progress log).
 * @returns The section.
 */
export async function runWebGpuBench(ctx: BenchContext): Promise<BenchSectionResult> {
  const active = tf.getBackend();
  const md = ["## webgpu", ""];
  let adapter: string;
  try {
    const info = await initBackend("webgpu");
    adapter = info.adapter === undefined ? "unknown adapter" : describeAdapter(info.adapter);
  } catch (e) {
    md.push(`Not available here: ${(e as Error).message}`, "");
    return { markdown: md.join("\n"), data: { available: false } };
  }
  const t0 = performance.now();
  try {
    md.push(
      `Adapter: ${adapter}. ${
        adapter.endsWith("software adapter")
          ? "A software adapter runs the shaders on the CPU: these rows measure the GPU code path, not a GPU's speed."
          : ""
      } Tiny shapes.`,
      "",
    );
    ctx.log("webgpu: adapter");
    md.push(await runAdapterBench({ quick: true, rows: 128, shapes: [[768, 768]] }), "");
    ctx.log("webgpu: encoder");
    md.push(await runEncoderBench({ quick: true, shape: TINY_ENCODER }), "");
    ctx.log("webgpu: step");
    const step = await runBackendComparison(["webgpu"], true, ctx);
    md.push(...step.markdown);
    md.push(`Section wall time ${((performance.now() - t0) / 1000).toFixed(0)} s.`, "");
    return { markdown: md.join("\n"), data: { available: true, adapter, step: step.data } };
  } finally {
    await initBackend(active as "wasm");
  }
}
