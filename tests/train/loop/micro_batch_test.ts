import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { IncreLoraAdapter } from "../../../ops/increlora.ts";
import type { TrainMethod } from "../../../train/hyperparams.ts";
import { accumulateSlices, planSlices, trainableList } from "../../../train/gradients.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { injectAdapters } from "../../../model/inject.ts";
import { assertSameRun, fullAndResumedRuns, NO_DROPOUT, tinyRun } from "./_compare_runs.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "./_tiny.ts";

const backend = await tinyBackend();

// Tolerance: float32 round-off. A micro-batch sum reorders the batch's reductions (the mean
// over 4 examples becomes 0.75·mean₃ + 0.25·mean₁), which changes each gradient by a few ulps
// (relative ~1e-7); AdamW's update is scale-free, so after 12 steps at lr 1e-2 the checkpoint
// (parameters, moments, head) moved by at most 5.5e-8 in the runs measured (LoRA 5.5e-8,
// TriAdaptLoRA 1.5e-8, AdaLoRA 2.6e-8). 1e-6 is ~20× that, and any real difference (a wrong
// loss weight, a lost micro-batch, a penalty counted twice) moves values by ≥ 1e-3.
const TOL = 1e-6;

async function microMatchesFull(method: TrainMethod): Promise<void> {
  // Arrange
  const root = await Deno.makeTempDir();
  try {
    // Act: batch 4 as one batch, and as micro-batches of 3 + 1 (uneven last one).
    const full = await tinyRun(join(root, "full"), method, backend, {});
    const micro = await tinyRun(join(root, "micro"), method, backend, { microBatch: 3 });
    // Assert: same sampler, schedule and allocation decisions; values within round-off.
    assert.equal(full.result.step, 12);
    const diff = assertSameRun(full, micro, TOL, `${method} micro-batch 3 vs full batch 4`);
    console.log(`${method}: max |Δ| micro-batch vs full batch = ${diff.toExponential(2)}`);
    if (method !== "lora") assert.ok(full.events.length > 0, "the run must allocate");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("micro-batches of 3+1 equal the full batch of 4 within 1e-6 (LoRA)", async () => {
  await microMatchesFull("lora");
});

Deno.test("micro-batches of 3+1 equal the full batch of 4 within 1e-6 (TriAdaptLoRA, growth mid-run)", async () => {
  await microMatchesFull("triadapt");
});

Deno.test("micro-batches of 3+1 equal the full batch of 4 within 1e-6 (AdaLoRA, sensitivity once per step)", async () => {
  await microMatchesFull("adalora");
});

Deno.test("micro-batches of 3+1 equal the full batch of 4 within 1e-6 (IncreLoRA, score of the summed gradient)", async () => {
  await microMatchesFull("increlora");
});

Deno.test("planSlices() weights n_m/N sum to 1 and cover the batch in order", () => {
  for (const [n, micro] of [[4, 3], [7, 2], [5, 5], [5, 9], [1, 1], [8, 1]] as const) {
    const indices = Array.from({ length: n }, (_, i) => 10 + i);
    const slices = planSlices(indices, { step: 2, seed: 1, microBatch: micro });
    assert.deepEqual(slices.flatMap((s) => s.indices), indices);
    assert.ok(Math.abs(slices.reduce((w, s) => w + s.weight, 0) - 1) < 1e-12);
    assert.equal(slices.filter((s) => s.penalty).length, 1);
    assert.equal(new Set(slices.map((s) => s.seed)).size, slices.length);
  }
  assert.throws(() => planSlices([1], { step: 1, seed: 0, microBatch: 0 }), /microBatch/);
});

Deno.test("IncreLoRA per-step score under accumulation is |ΔW ⊙ Σ_m ∇_m|, not Σ_m |ΔW ⊙ ∇_m|", async () => {
  // Arrange: one IncreLoRA module per linear of a tiny planted model, rank 2, B ≠ 0.
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 4 });
  const model = task.buildModel(4);
  let i = 0;
  const adapters = [
    ...injectAdapters(
      model,
      (m) => new IncreLoraAdapter({ ...m, seed: i++, initialRank: 2, initStd: 0.3 }),
    ).values(),
  ];
  // E starts at 0 (ΔW = 0, score 0): give it values so every module has a score.
  for (const a of adapters) {
    const snap = await a.snapshot();
    const e = snap.tensors["lora_E.0"]!;
    a.restore({
      ...snap,
      tensors: { ...snap.tensors, "lora_E.0": { ...e, data: e.data.map((_, k) => 1 + k) } },
    });
  }
  const context = { task, model, adapters, orthRegWeight: 0 };
  const vars = trainableList(adapters, model);
  const scoreOf = (mode: "full" | "summed" | "per-slice"): number[] => {
    for (const a of adapters) a.accumulateScoreGradient = mode === "summed";
    const slices = planSlices([0, 1, 2, 3], {
      step: 1,
      seed: 4,
      ...(mode === "full" ? {} : { microBatch: 1 }),
    });
    const g = accumulateSlices(context, slices, vars);
    tf.dispose([g.loss, ...Object.values(g.grads)]);
    for (const a of adapters) a.finishScoreGradient();
    // β = 0 would read the raw score; read it through a fresh EMA update instead.
    return adapters.map((a) => {
      const before = tf.memory().numTensors;
      a.updateImportance();
      const v = a.importance().dataSync()[0] as number;
      assert.ok(tf.memory().numTensors <= before + 1);
      return v;
    });
  };
  try {
    // Act: three fresh score updates from the same parameters.
    const full = scoreOf("full");
    for (const a of adapters) a.restore({ ...(await a.snapshot()), scalars: { ipt: 0, unc: 0 } });
    const summed = scoreOf("summed");
    for (const a of adapters) a.restore({ ...(await a.snapshot()), scalars: { ipt: 0, unc: 0 } });
    const perSlice = scoreOf("per-slice");
    // Assert: the summed-gradient score is the full batch's; per-slice scores overestimate.
    full.forEach((f, k) => {
      assert.ok(f > 0);
      assert.ok(
        Math.abs(f - (summed[k] as number)) <= 1e-5 * f,
        `module ${k}: ${f} vs ${summed[k]}`,
      );
    });
    assert.ok(perSlice.some((p, k) => p > (full[k] as number) * (1 + 1e-3)));
  } finally {
    for (const a of adapters) a.dispose();
    model.dispose();
    task.dispose();
  }
});

Deno.test("runTraining() with micro-batches resumes bit-identically (TriAdaptLoRA, dropout on)", async () => {
  // Act: micro-batches of 2 with dropout; one run uninterrupted, one stopped at 5 and resumed.
  const opts = { microBatch: 2, hyper: TINY_HYPER };
  const { full, resumed } = await fullAndResumedRuns("triadapt", backend, opts);
  // Assert
  assert.equal(resumed.result.step, 12);
  assert.deepEqual(resumed.tensors, full.tensors);
  assert.deepEqual(resumed.losses, full.losses);
  assert.deepEqual(resumed.events, full.events);
});

Deno.test("runTraining() with micro-batches resumes bit-identically (IncreLoRA, AdaLoRA)", async () => {
  for (const method of ["increlora", "adalora"] as const) {
    const opts = { microBatch: 3, hyper: { ...NO_DROPOUT, dropout: 0.1 } };
    const { full, resumed } = await fullAndResumedRuns(method, backend, opts, 7);
    assert.deepEqual(resumed.tensors, full.tensors, method);
    assert.deepEqual(resumed.losses, full.losses, method);
    assert.deepEqual(resumed.events, full.events, method);
  }
});
