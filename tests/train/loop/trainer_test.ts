import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { injectAdapters } from "../../../model/inject.ts";
import type { Adapter } from "../../../ops/adapter.ts";
import { createAdapter } from "../../../ops/registry.ts";
import type { TriAdaptLoraAdapter } from "../../../ops/triadapt_lora.ts";
import { createLoraController } from "../../../train/controllers/lora.ts";
import { createTriAdaptController } from "../../../train/controllers/triadapt.ts";
import { NonFiniteError, Trainer, type TrainingTask } from "../../../train/loop.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { openRunFolder, readLatestCheckpointDir } from "../../../train/run_folder.ts";
import { runTraining, validateSchedules } from "../../../train/run.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "./_tiny.ts";

const backend = await tinyBackend();

Deno.test("Trainer.runStep() keeps tf.memory().numTensors flat over 50 steps with growth events", async () => {
  // Arrange: T = 50, events every 2 steps after step 2 until the budget (3·M) is spent.
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 5 });
  const hyper = { ...TINY_HYPER, refRank: 3, initWarmup: 2, interval: 2 };
  const config = validateSchedules("triadapt", hyper, 50);
  const model = task.buildModel(5);
  let i = 0;
  const adapters = [
    ...injectAdapters(model, (m) =>
      createAdapter("triadaptlora", {
        name: m.name,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        seed: i++,
        dropout: 0.1,
      }) as Adapter).values(),
  ];
  const controller = await createTriAdaptController(adapters as TriAdaptLoraAdapter[], {
    config: config!,
    initRank: 1,
    refRank: 3,
  });
  const trainer = new Trainer({
    task,
    model,
    adapters,
    controller,
    hyper,
    totalSteps: 50,
    seed: 5,
  });
  const variables = (): number => adapters.reduce((n, a) => n + a.trainableVariables().length, 0);
  try {
    await trainer.runStep(); // warm-up: kernels and cached masks of rank 1
    let events = 0;
    // Act + Assert: a step without growth allocates nothing that survives it; a growth step
    // adds exactly its new variables (the optimizer's moments are one flat vector each and each
    // adapter keeps one pair of r×r masks, both replaced at growth; docs/METHOD.md §21).
    for (let s = 2; s <= 50; s++) {
      const before = tf.memory().numTensors;
      const vars = variables();
      const report = await trainer.runStep();
      const added = variables() - vars;
      const delta = tf.memory().numTensors - before;
      if (report.event === undefined) {
        assert.equal(delta, 0, `step ${s} leaked ${delta} tensors`);
      } else {
        events++;
        assert.equal(delta, added, `step ${s}: ${delta} new tensors for ${added} new variables`);
      }
    }
    assert.ok(events >= 3, `only ${events} growth events`);
    assert.equal(controller.budgetLeft(), 0);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});

Deno.test("runTraining() stops on a non-finite loss, names the step and keeps the last good checkpoint", async () => {
  // Arrange: the loss turns NaN at the 6th training batch.
  const planted = await createPlantedTask({ ...TINY_PLANTED, seed: 2 });
  let calls = 0;
  const task: TrainingTask = {
    ...planted,
    loss(model, indices, options) {
      calls++;
      const l = planted.loss(model, indices, options);
      return calls === 6 ? l.mul(NaN) as tf.Scalar : l;
    },
  };
  const dir = join(await Deno.makeTempDir(), "run");
  try {
    // Act
    const run = runTraining({
      task,
      hyper: TINY_HYPER,
      settings: { method: "triadapt", seed: 2, logEvery: 1, evalEvery: 2 },
      dir,
      backend,
      progress: false,
    });
    // Assert
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof NonFiniteError);
      assert.equal(e.step, 6);
      assert.equal(e.what, "loss"); // the loss itself, not just its NaN gradients
      assert.match(e.message, /loss must be finite: current value at step 6 is NaN/);
      return true;
    });
    const lines = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n");
    const last = JSON.parse(lines.at(-1)!);
    assert.equal(last.kind, "failure");
    assert.equal(last.step, 6);
    assert.equal(last.what, "loss");
    const latest = await readLatestCheckpointDir(await openRunFolder(dir));
    assert.ok(latest?.endsWith("step-00000004"), latest);
    await Deno.stat(join(latest!, "state.json"));
  } finally {
    planted.dispose();
    await Deno.remove(join(dir, ".."), { recursive: true });
  }
});

Deno.test("runTraining() rejects an inconsistent schedule before building anything", async () => {
  // Arrange: t0 = 64 but T = 3 epochs × 4 steps = 12.
  const task = { name: "t", numTrainExamples: 16 } as TrainingTask;
  // Act + Assert
  await assert.rejects(
    runTraining({
      task,
      hyper: { ...TINY_HYPER, initWarmup: 64 },
      settings: { method: "triadapt", seed: 0, logEvery: 1 },
      dir: "/nonexistent/never-created",
      backend,
      progress: false,
    }),
    /initWarmup must be < totalSteps \(12\)/,
  );
  await assert.rejects(
    runTraining({
      task,
      hyper: { ...TINY_HYPER, tinit: 8, tfinal: 8 },
      settings: { method: "adalora", seed: 0, logEvery: 1 },
      dir: "/nonexistent/never-created",
      backend,
      progress: false,
    }),
    RangeError,
  );
});

Deno.test("runTraining() warns loudly when the allocator never fires", async () => {
  // Arrange: interval longer than the run, so no step is an allocation step.
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 1 });
  const root = await Deno.makeTempDir();
  try {
    // Act
    const result = await runTraining({
      task,
      hyper: { ...TINY_HYPER, epochs: 1, initWarmup: 1, interval: 5 },
      settings: { method: "increlora", seed: 1, logEvery: 2 },
      dir: join(root, "run"),
      backend,
      progress: false,
    });
    const quiet = await runTraining({
      task,
      hyper: { ...TINY_HYPER, epochs: 1, initWarmup: 1, interval: 2 },
      settings: { method: "triadapt", seed: 1, logEvery: 2 },
      dir: join(root, "run2"),
      backend,
      progress: false,
    });
    // Assert
    assert.equal(result.events, 0);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /never fired/);
    assert.ok(quiet.events > 0);
    assert.deepEqual(quiet.warnings, []);
  } finally {
    task.dispose();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("Trainer.runStep() stops on a non-finite gradient with a finite loss, before any update", async () => {
  // Arrange: √(0·loss) adds 0 to the loss but its gradient is ∞·0 = NaN.
  const planted = await createPlantedTask({ ...TINY_PLANTED, seed: 4 });
  const task: TrainingTask = {
    ...planted,
    loss(model, indices, options) {
      return tf.tidy(() => {
        const l = planted.loss(model, indices, options);
        return l.add(tf.sqrt(l.mul(0))) as tf.Scalar;
      });
    },
  };
  const model = task.buildModel(4);
  let i = 0;
  const adapters = [
    ...injectAdapters(model, (m) => createAdapter("lora", { ...m, seed: i++, rank: 1 }) as Adapter)
      .values(),
  ];
  const trainer = new Trainer({
    task,
    model,
    adapters,
    controller: createLoraController(adapters),
    hyper: TINY_HYPER,
    totalSteps: 4,
    seed: 4,
  });
  try {
    const before = await adapters[0]!.snapshot();
    // Act + Assert
    await assert.rejects(trainer.runStep(), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError);
      assert.equal(e.what, "gradient");
      assert.equal(e.step, 1);
      return true;
    });
    assert.equal(trainer.step, 0);
    assert.deepEqual(await adapters[0]!.snapshot(), before);
  } finally {
    trainer.dispose();
    planted.dispose();
  }
});

Deno.test("runTraining() evaluates at every epoch end and also every --eval-every steps", async () => {
  // Arrange: 4 steps per epoch, T = 12, --eval-every 3.
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 8 });
  const root = await Deno.makeTempDir();
  try {
    // Act
    await runTraining({
      task,
      hyper: TINY_HYPER,
      settings: { method: "lora", seed: 8, logEvery: 4, evalEvery: 3 },
      dir: join(root, "run"),
      backend,
      progress: false,
    });
    // Assert
    const lines = (await Deno.readTextFile(join(root, "run", "metrics.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    const evals = lines.filter((l) => l.kind === "eval").map((l) => l.step);
    assert.deepEqual(evals, [3, 4, 6, 8, 9, 12]);
  } finally {
    task.dispose();
    await Deno.remove(root, { recursive: true });
  }
});
