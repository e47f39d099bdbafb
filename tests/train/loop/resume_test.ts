import assert from "node:assert/strict";
import { join } from "node:path";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { runTraining } from "../../../train/run.ts";
import type { TrainMethod } from "../../../train/hyperparams.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "./_tiny.ts";

const backend = await tinyBackend();

async function read(path: string): Promise<Uint8Array> {
  return await Deno.readFile(path);
}

function metricLines(text: string): unknown[] {
  // Step times are wall-clock: everything else must match exactly.
  return text.trim().split("\n").map((l) => {
    const { stepMs: _ignored, ...rest } = JSON.parse(l);
    return rest;
  });
}

async function resumeMatches(method: TrainMethod, stopAt: number): Promise<void> {
  // Arrange
  const root = await Deno.makeTempDir();
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 3 });
  const settings = { method, seed: 3, logEvery: 1 };
  const common = { task, hyper: TINY_HYPER, settings, backend, progress: false as const };
  try {
    // Act: one uninterrupted run; one stopped at `stopAt` (after the step-4 checkpoint) and resumed.
    const full = await runTraining({ ...common, dir: join(root, "full") });
    const cut = await runTraining({ ...common, dir: join(root, "cut"), stopAfterStep: stopAt });
    const resumed = await runTraining({ ...common, dir: join(root, "cut"), resume: true });
    // Assert
    assert.equal(full.step, 12);
    assert.equal(cut.finished, false);
    assert.equal(resumed.step, 12);
    for (const file of ["adapter/adapter_model.safetensors", "adapter/adapter_config.json"]) {
      assert.deepEqual(
        await read(join(root, "cut", file)),
        await read(join(root, "full", file)),
        file,
      );
    }
    const ckpt = "checkpoints/step-00000012";
    for (const file of ["adapters.safetensors", "optimizer.safetensors", "head.safetensors"]) {
      assert.deepEqual(
        await read(join(root, "cut", ckpt, file)),
        await read(join(root, "full", ckpt, file)),
        `${method} ${file}`,
      );
    }
    const state = async (run: string): Promise<unknown> => {
      const s = JSON.parse(await Deno.readTextFile(join(root, run, ckpt, "state.json")));
      // Timings differ between runs: the log window and the wall time so far.
      return { ...s, loop: { ...s.loop, windowMs: 0, elapsedMs: 0 } };
    };
    assert.deepEqual(await state("cut"), await state("full"));
    assert.deepEqual(
      metricLines(await Deno.readTextFile(join(root, "cut", "metrics.jsonl"))),
      metricLines(await Deno.readTextFile(join(root, "full", "metrics.jsonl"))),
    );
    const ranks = async (run: string): Promise<string> =>
      await Deno.readTextFile(join(root, run, "ranks.jsonl")).catch(() => "");
    assert.equal(await ranks("cut"), await ranks("full"));
    assert.deepEqual(resumed.ranks, full.ranks);
  } finally {
    task.dispose();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("runTraining() resumed after a stop mid-epoch is bit-identical (TriAdaptLoRA, dropout on)", async () => {
  await resumeMatches("triadapt", 6);
});

Deno.test("runTraining() resumed is bit-identical for AdaLoRA (masks and EMAs restored)", async () => {
  await resumeMatches("adalora", 7);
});

Deno.test("runTraining() resumed is bit-identical for IncreLoRA (scores and growth restored)", async () => {
  await resumeMatches("increlora", 5);
});
