// 20 training steps on the tiny planted task (2 layers, hidden 8; T = 20, allocation after step 2
// and every 2 steps: growth at 9 events) through runTraining, on webgpu against wasm: the whole
// step (encoder forward/backward, adapter, orthogonality penalty, clipping, growing AdamW with its
// gather, growth, checkpoints) on the GPU backend.
//
// Tolerance 1e-4 on every checkpoint tensor (adapter factors, optimizer moments, head) and on the
// relative train losses, same allocation decisions. The two backends differ only in float32
// rounding (summation order of WGSL shaders vs XNNPACK), ~1e-7 per op; AdamW's 1/√v step and the
// clip norm let that grow over 20 steps, measured 1.3e-7 here (printed, 2026-12-04). A wrong kernel (a sign,
// a transposed operand, a dropped term) moves values by ≥ 1e-3.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../ops/backend.ts";
import type { TrainMethod } from "../../../train/hyperparams.ts";
import {
  assertSameRun,
  NO_DROPOUT,
  type RunOutcome,
  tinyRun,
} from "../../train/loop/_compare_runs.ts";
import { IGNORE_WEBGPU } from "./_webgpu.ts";

const TOL = 1e-4;
/** 16 examples / batch 4 × 5 epochs = 20 steps. */
const HYPER = { ...NO_DROPOUT, epochs: 5 };

async function runOn(
  backend: "wasm" | "webgpu",
  method: TrainMethod,
  dir: string,
): Promise<RunOutcome> {
  const info = await initBackend(backend);
  return await tinyRun(join(dir, backend), method, info, { hyper: HYPER });
}

Deno.test({
  name:
    "webgpu: 20 TriAdaptLoRA training steps with growth on the tiny planted task match wasm within 1e-4; memory flat",
  ignore: IGNORE_WEBGPU,
  fn: async () => {
    const root = await Deno.makeTempDir();
    try {
      const wasm = await runOn("wasm", "triadapt", root);
      await initBackend("webgpu");
      // Every kernel as a WGSL shader: tfjs-webgpu would otherwise run ops on these tiny tensors
      // with its cpu kernels when their data is on the CPU (WEBGPU_CPU_FORWARD).
      tf.env().set("WEBGPU_CPU_FORWARD", false);
      const start = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      const t0 = performance.now();
      const gpu = await runOn("webgpu", "triadapt", root);
      const seconds = (performance.now() - t0) / 1000;
      const end = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      assert.equal(gpu.result.step, 20);
      assert.ok(gpu.events.length >= 5, `growth events: ${gpu.events.length}`);
      const diff = assertSameRun(wasm, gpu, TOL, "webgpu vs wasm", TOL);
      console.log(
        `triadapt 20 steps, ${gpu.events.length} events: max |Δ| webgpu vs wasm ${
          diff.toExponential(2)
        }, final loss ${gpu.losses.at(-1)} vs ${wasm.losses.at(-1)}, webgpu run ${
          seconds.toFixed(1)
        } s`,
      );
      // The whole run (task, model, adapters, optimizer) leaves nothing on the GPU backend.
      assert.equal(end.numTensors, start.numTensors, "tensors left by the webgpu run");
      assert.equal(end.numBytes, start.numBytes, "bytes left by the webgpu run");
    } finally {
      tf.env().set("WEBGPU_CPU_FORWARD", true);
      await initBackend("wasm");
      await Deno.remove(root, { recursive: true });
    }
  },
});
