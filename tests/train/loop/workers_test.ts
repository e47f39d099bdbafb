import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { injectAdapters } from "../../../model/inject.ts";
import { createAdapter } from "../../../ops/registry.ts";
import { createLoraController } from "../../../train/controllers/lora.ts";
import type { TrainMethod } from "../../../train/hyperparams.ts";
import { Trainer } from "../../../train/loop.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { createWorkerPool, resolveWorkers } from "../../../train/worker_pool.ts";
import {
  assertSameRun,
  fullAndResumedRuns,
  maxTensorDiff,
  NO_DROPOUT,
  tinyRun,
} from "./_compare_runs.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "./_tiny.ts";

const backend = await tinyBackend();

// Tolerance: float32 summation order. With micro-batches of 1 (4 slices per step), one
// process sums ((g₀+g₁)+g₂)+g₃ while 2 workers give (g₀+g₁)+(g₂+g₃): each gradient entry
// differs by ≤ a few ulps, and 12 scale-free AdamW steps keep that near 1e-7 (measured below and
// printed). 1e-6 is the micro-batch tests' bound; a dropped or doubled share moves values ≥ 1e-3.
const TOL = 1e-6;

async function workersMatch(method: TrainMethod, microBatch: number): Promise<number> {
  const root = await Deno.makeTempDir();
  try {
    // Act: the same run in-process and with 2 workers.
    const one = await tinyRun(join(root, "w1"), method, backend, { microBatch });
    const two = await tinyRun(join(root, "w2"), method, backend, { microBatch, workers: 2 });
    // Assert
    assert.equal(one.result.step, 12);
    const diff = assertSameRun(
      one,
      two,
      TOL,
      `${method} workers 2 vs 1, micro-batch ${microBatch}`,
    );
    console.log(`${method} micro ${microBatch}: max |Δ| workers 2 vs 1 = ${diff.toExponential(2)}`);
    if (method !== "lora") assert.ok(one.events.length > 0, "the run must allocate");
    return diff;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("workers 2 = workers 1 within 1e-6 (LoRA and TriAdaptLoRA with growth, 4 micro-batches)", async () => {
  await workersMatch("lora", 1);
  await workersMatch("triadapt", 1);
});

Deno.test("workers 2 = workers 1 within 1e-6 (AdaLoRA masking, IncreLoRA growth and scores)", async () => {
  await workersMatch("adalora", 1);
  await workersMatch("increlora", 1);
});

Deno.test("workers 2 with one share each is bit-identical to 2 in-process micro-batches (0 + g₀ + g₁ is g₀ + g₁)", async () => {
  assert.equal(await workersMatch("triadapt", 2), 0);
});

Deno.test("runTraining() with 2 workers and micro-batches resumes bit-identically (TriAdaptLoRA, IncreLoRA; dropout on)", async () => {
  for (const method of ["triadapt", "increlora"] as const) {
    const opts = { microBatch: 1, workers: 2, hyper: TINY_HYPER };
    const { full, resumed } = await fullAndResumedRuns(method, backend, opts);
    assert.equal(resumed.result.step, 12);
    assert.equal(maxTensorDiff(resumed, full), 0, method);
    assert.deepEqual(resumed.tensors, full.tensors, method);
    assert.deepEqual(resumed.losses, full.losses, method);
    assert.deepEqual(resumed.events, full.events, method);
  }
});

Deno.test("runTraining() with selective recomputation resumes bit-identically, in-process and with 2 workers (TriAdaptLoRA growth, dropout on)", async () => {
  for (const workers of [1, 2]) {
    const opts = { workers, recompute: "selective" as const, hyper: TINY_HYPER };
    const { full, resumed } = await fullAndResumedRuns("triadapt", backend, opts);
    assert.equal(resumed.result.step, 12);
    assert.ok(full.events.length > 0, "the run must grow");
    assert.deepEqual(resumed.tensors, full.tensors, `workers ${workers}`);
    assert.deepEqual(resumed.losses, full.losses, `workers ${workers}`);
    assert.deepEqual(resumed.events, full.events, `workers ${workers}`);
  }
});

Deno.test("worker pool steps keep tf.memory().numTensors flat on the main thread and in every worker", async () => {
  // Arrange
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 2 });
  const model = task.buildModel(2);
  const pool = await createWorkerPool({
    backend: backend.requested,
    taskInfo: task.describe(),
    method: "lora",
    hyper: { ...NO_DROPOUT, refRank: 2 },
    seed: 2,
    orthRegWeight: 0,
  }, 2);
  let i = 0;
  const adapters = [
    ...injectAdapters(
      model,
      (m) =>
        createAdapter("lora", { ...m, seed: 2 * 4096 + i++, rank: 2, alpha: NO_DROPOUT.alpha }),
    )
      .values(),
  ];
  const trainer = new Trainer({
    task,
    model,
    adapters,
    controller: createLoraController(adapters),
    hyper: { ...NO_DROPOUT, orthRegWeight: 0 },
    totalSteps: 8,
    seed: 2,
    microBatch: 1,
    gradients: pool,
  });
  try {
    await trainer.runStep();
    const main = tf.memory().numTensors;
    const workers = [...pool.workerTensors];
    assert.equal(workers.length, 2);
    // Act
    for (let s = 0; s < 5; s++) await trainer.runStep();
    // Assert
    assert.equal(tf.memory().numTensors, main);
    assert.deepEqual([...pool.workerTensors], workers);
  } finally {
    await pool.dispose();
    trainer.dispose();
    task.dispose();
  }
});

Deno.test("a worker's error reaches the trainer with the worker's message", async () => {
  await assert.rejects(
    () =>
      createWorkerPool({
        backend: backend.requested,
        taskInfo: { kind: "glue", options: { task: "rte", data: "/nonexistent", model: "/x" } },
        method: "lora",
        hyper: NO_DROPOUT,
        seed: 1,
        orthRegWeight: 0,
      }, 2),
    /Gradient worker 0 failed: .+/,
  );
});

Deno.test("resolveWorkers(): auto is the cores, capped by the slices of a step", () => {
  assert.equal(resolveWorkers(undefined, 16, 2), 2);
  assert.equal(resolveWorkers("auto", 1, 8), 1);
  assert.equal(resolveWorkers("3", 16, 2), 3);
  assert.throws(() => resolveWorkers("0", 4, 2), /positive integer/);
  assert.throws(() => resolveWorkers("-1", 4, 2), /"-1"/);
});
