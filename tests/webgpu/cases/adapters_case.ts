// Each adapter method on webgpu against wasm, in one process (tf.setBackend switching between
// runs; every tensor of a run is made and disposed on its backend). Per method: the gradient of
// (delta − target)² + 0.1 · orthogonality penalty at step 1, then 10 GrowingAdamW steps with a
// growth (AdaLoRA: masking to budget) after step 5, and the final weights.
//
// Tolerances (float32 throughout; wasm runs XNNPACK kernels, webgpu WGSL shaders that sum in
// another order, so results differ by rounding only):
// - step-1 gradients: max |Δ| ≤ 1e-5 · max(1, max |g_wasm|) per variable (a few float32 ulps of
//   sums of ~10 terms; measured ≤ 3.6e-7 here, 2026-12-04);
// - weights after 10 steps with growth: max |Δ| ≤ 1e-4 (AdamW divides by √v, which can turn a
//   1e-7 gradient difference on a near-zero gradient into a visible step difference, bounded by
//   lr · 10 steps = 0.1 at worst; measured ≤ 6e-8 here).
// Every webgpu kernel runs as a shader (WEBGPU_CPU_FORWARD off). Memory on webgpu: numTensors and numBytes unchanged by every step without growth, and back to
// their starting values (GPU bytes too) once the adapter and optimizer are disposed.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  AdaLoraAdapter,
  type Adapter,
  createAdapter,
  frobeniusNorm,
  frobeniusNormsOfD,
  GrowingAdamW,
  IncreLoraAdapter,
  increLoraScores,
  maskAdaLoraToBudget,
  orthogonalityPenalty,
  TriAdaptLoraAdapter,
} from "../../../ops/mod.ts";
import { gaussian } from "../../ops/_helpers.ts";
import { IGNORE_WEBGPU, maxAbs, maxDiff, use, values } from "./_webgpu.ts";

const N = 8, D = 6;
const GRAD_TOL = 1e-5;
const WEIGHT_TOL = 1e-4;

function build(method: Adapter["method"]): Adapter {
  const common = { name: `gpu.${method}`, inFeatures: N, outFeatures: D, seed: 1, dropout: 0.1 };
  switch (method) {
    case "triadaptlora":
      return createAdapter("triadaptlora", common);
    case "lora":
      return createAdapter("lora", { ...common, rank: 2 });
    case "adalora":
      return createAdapter("adalora", { ...common, initialRank: 3 });
    case "increlora":
      return createAdapter("increlora", common);
  }
}

interface RunResult {
  readonly grads: Map<string, Float32Array>;
  readonly weights: Map<string, Float32Array>;
  /** [numTensors, numBytes] after each step. */
  readonly memory: [number, number][];
  readonly growthStep: number;
}

async function run(method: Adapter["method"]): Promise<RunResult> {
  const ad = build(method);
  const opt = new GrowingAdamW({ weightDecay: 0.01, clipNorm: 1 });
  opt.syncBlocks(ad.parameterBlocks());
  const x = tf.tensor2d(gaussian(5 * N, 1), [5, N]);
  const target = tf.tensor2d(gaussian(5 * D, 2), [5, D]);
  const grads = new Map<string, Float32Array>();
  const memory: [number, number][] = [];
  for (let step = 1; step <= 10; step++) {
    const { value, grads: g } = tf.variableGrads(
      () =>
        tf.tidy(() =>
          ad.delta(x, true).sub(target).square().mean().add(
            orthogonalityPenalty([ad]).mul(0.1),
          ) as tf.Scalar
        ),
      ad.trainableVariables(),
    );
    if (step === 1) {
      for (const [name, t] of Object.entries(g)) grads.set(name, await values(t));
    }
    if (ad instanceof AdaLoraAdapter) ad.updateSensitivity(g);
    if (ad instanceof IncreLoraAdapter) ad.updateImportance();
    opt.step(g, 1e-2);
    tf.dispose([value, g]);
    if (step === 5) {
      if (ad instanceof TriAdaptLoraAdapter) {
        await frobeniusNormsOfD([ad]);
        ad.grow(2);
      }
      if (ad instanceof IncreLoraAdapter) {
        await increLoraScores([ad]);
        ad.grow(2);
      }
      if (ad instanceof AdaLoraAdapter) await maskAdaLoraToBudget([ad], 2);
      opt.syncBlocks(ad.parameterBlocks());
    }
    memory.push([tf.memory().numTensors, tf.memory().numBytes]);
  }
  const weights = new Map<string, Float32Array>();
  for (const v of ad.trainableVariables()) weights.set(v.name, await values(v));
  tf.dispose([x, target]);
  opt.dispose();
  ad.dispose();
  return { grads, weights, memory, growthStep: 5 };
}

function compare(
  label: string,
  want: Map<string, Float32Array>,
  got: Map<string, Float32Array>,
  tol: (w: Float32Array) => number,
): number {
  assert.deepEqual([...got.keys()], [...want.keys()], `${label}: same variables`);
  let worst = 0;
  for (const [name, w] of want) {
    const d = maxDiff(got.get(name)!, w);
    worst = Math.max(worst, d);
    assert.ok(d <= tol(w), `${label} ${name}: max |webgpu − wasm| = ${d} > ${tol(w)}`);
  }
  return worst;
}

for (const method of ["triadaptlora", "lora", "adalora", "increlora"] as const) {
  Deno.test({
    name:
      `webgpu: ${method} gradients and 10 AdamW steps with growth match wasm; no tensor or GPU byte left`,
    ignore: IGNORE_WEBGPU,
    fn: async () => {
      await use("wasm");
      const ref = await run(method);
      await use("webgpu");
      // Every kernel as a WGSL shader: by default tfjs-webgpu runs ops on small tensors that live
      // on the CPU with the cpu kernels (WEBGPU_CPU_FORWARD), which would hide the shaders here.
      tf.env().set("WEBGPU_CPU_FORWARD", false);
      try {
        const start = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
        const got = await run(method);
        const end = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
        const g = compare(
          `${method} step-1 gradient`,
          ref.grads,
          got.grads,
          (w) => GRAD_TOL * Math.max(1, maxAbs(w)),
        );
        const w = compare(
          `${method} weights after 10 steps`,
          ref.weights,
          got.weights,
          () => WEIGHT_TOL,
        );
        console.log(
          `${method}: max |Δ| gradient ${g.toExponential(2)}, weights ${w.toExponential(2)}`,
        );
        // Flat across steps except at the growth (new variables, optimizer state re-laid out).
        got.memory.forEach(([n, b], i) => {
          if (i === 0 || i === got.growthStep - 1) return;
          assert.deepEqual([n, b], got.memory[i - 1], `${method} step ${i + 1} changed memory`);
        });
        assert.equal(end.numTensors, start.numTensors, `${method}: tensors left`);
        assert.equal(end.numBytes, start.numBytes, `${method}: bytes left`);
        assert.equal(end.numBytesInGPU, start.numBytesInGPU, `${method}: GPU bytes left`);
      } finally {
        tf.env().set("WEBGPU_CPU_FORWARD", true);
        await use("wasm");
      }
    },
  });
}

Deno.test({
  name:
    "webgpu: tf.addN of 13 tensors (more than the shader's 8 storage buffers) equals the wasm sum, as in a gradient summed over many uses",
  ignore: IGNORE_WEBGPU,
  fn: async () => {
    const parts = Array.from({ length: 13 }, (_, i) => gaussian(40, 100 + i));
    await use("wasm");
    const want = tf.tidy(() => tf.addN(parts.map((p) => tf.tensor1d(p))));
    const w = await values(want);
    want.dispose();
    await use("webgpu");
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    try {
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => tf.addN(parts.map((p) => tf.tensor1d(p))));
      const d = maxDiff(await values(got), w);
      got.dispose();
      // Sums of 13 terms of size ~1: a few float32 ulps (the chunks add in another order).
      assert.ok(d <= 1e-5, `addN differs by ${d}`);
      assert.equal(tf.memory().numTensors, before, "the chunked addN leaves no tensor");
    } finally {
      tf.env().set("WEBGPU_CPU_FORWARD", true);
      await use("wasm");
    }
  },
});

Deno.test({
  name:
    "webgpu: the penalty's Frobenius norm has gradient x/‖x‖ and 0 (not NaN) at x = 0, as on wasm",
  ignore: IGNORE_WEBGPU,
  fn: async () => {
    await use("webgpu");
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    try {
      const g = tf.grad((x: tf.Tensor) => frobeniusNorm(x));
      const at = async (x: tf.Tensor): Promise<Float32Array> => {
        const d = g(x);
        const v = await values(d);
        tf.dispose([x, d]);
        return v;
      };
      assert.ok(maxDiff(await at(tf.tensor2d([[3, 4]])), [0.6, 0.8]) < 1e-6);
      // 0 where wasm gives +0 and webgpu −0 (same number; tf.norm's own gradient is NaN here).
      const zero = Array.from(await at(tf.zeros([2, 2])));
      assert.ok(zero.length === 4 && zero.every((v) => v === 0), `gradient at 0: ${zero}`);
    } finally {
      tf.env().set("WEBGPU_CPU_FORWARD", true);
      await use("wasm");
    }
  },
});
