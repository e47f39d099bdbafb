/**
 * The reference trainer's conventions (docs/METHOD.md §19), each pinned by a test that failed on
 * the earlier behaviour: no allocation event at step T; update `u` uses `lrMultiplier(u − 1)`, so
 * update 1 and a grown block's first Adam step have rate 0; TriAdaptLoRA grows after backward and
 * before `optimizer.step`.
 */
import assert from "node:assert/strict";
import { injectAdapters } from "../../../model/inject.ts";
import type { Adapter } from "../../../ops/adapter.ts";
import { createAdapter } from "../../../ops/registry.ts";
import type { TriAdaptLoraAdapter } from "../../../ops/triadapt_lora.ts";
import { createTriAdaptController } from "../../../train/controllers/triadapt.ts";
import type { HyperParams } from "../../../train/hyperparams.ts";
import { type StepReport, Trainer } from "../../../train/loop.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { validateSchedules } from "../../../train/run.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "./_tiny.ts";

await tinyBackend();

/** A TriAdaptLoRA trainer on the tiny planted task (T = 12, events possible at 4, 6, 8, 10). */
async function triadaptTrainer(hyper: HyperParams, seed: number) {
  const task = await createPlantedTask({ ...TINY_PLANTED, seed });
  const model = task.buildModel(seed);
  let i = 0;
  const adapters = [
    ...injectAdapters(model, (m) =>
      createAdapter("triadaptlora", {
        name: m.name,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        seed: i++,
      }) as Adapter).values(),
  ] as TriAdaptLoraAdapter[];
  const config = validateSchedules("triadapt", hyper, 12);
  const controller = await createTriAdaptController(adapters, {
    config: config!,
    initRank: hyper.initRank,
    refRank: hyper.refRank,
  });
  const trainer = new Trainer({ task, model, adapters, controller, hyper, totalSteps: 12, seed });
  return { task, trainer, adapters };
}

Deno.test("Trainer: no allocation event at step T, even with budget left", async () => {
  // Arrange: a budget (r_ref 8, k ≤ 2 per event) that four events cannot spend.
  const hyper = { ...TINY_HYPER, refRank: 8, threshold: "fixed" as const, topH: 2 };
  const { task, trainer } = await triadaptTrainer(hyper, 3);
  try {
    // Act
    const reports: StepReport[] = [];
    for (let s = 0; s < 12; s++) reports.push(await trainer.runStep());
    // Assert: events at 4, 6, 8, 10 only; budget is left at T, yet step 12 has none.
    const steps = reports.filter((r) => r.event !== undefined).map((r) => r.step);
    assert.deepEqual(steps, [4, 6, 8, 10]);
    assert.ok(trainer.controller.budgetLeft() > 0);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});

Deno.test("Trainer: update u uses lrMultiplier(u − 1), so update 1 has rate 0 and moves nothing", async () => {
  // Arrange: warm-up 2, weight decay on (decay is scaled by the rate, so rate 0 keeps p exactly).
  const { task, trainer, adapters } = await triadaptTrainer(TINY_HYPER, 5);
  try {
    const probe = adapters[0]!.trainableVariables()[0]!;
    const before = Array.from(await probe.data());
    // Act
    const first = await trainer.runStep();
    const second = await trainer.runStep();
    // Assert: rate 0, then lr · 1/2 (half-way through the 2-step warm-up), then the peak.
    assert.equal(first.lr, 0);
    assert.equal(second.lr, TINY_HYPER.lr * 0.5);
    assert.equal(trainer.learningRate({ globalStep: 3, birthStep: 0 }), TINY_HYPER.lr);
    // Update 1 left the parameters bit-identical; its Adam moments were still accumulated.
    const afterFirstTwo = Array.from(await probe.data());
    assert.notDeepEqual(afterFirstTwo, before);
    const state = await trainer.optimizer.blockState(trainer.optimizer.blockKeys[0]!);
    assert.equal(state.step, 2);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});

Deno.test("Trainer: update 1 with warm-up leaves every parameter bit-identical", async () => {
  const { task, trainer, adapters } = await triadaptTrainer(TINY_HYPER, 6);
  try {
    const vars = adapters.flatMap((a) => a.trainableVariables());
    const before = await Promise.all(vars.map(async (v) => Array.from(await v.data())));
    await trainer.runStep();
    const after = await Promise.all(vars.map(async (v) => Array.from(await v.data())));
    assert.deepEqual(after, before);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});

Deno.test("Trainer: a grown block's first Adam step has rate 0 (its parameters stay as initialised)", async () => {
  const { task, trainer, adapters } = await triadaptTrainer(TINY_HYPER, 7);
  try {
    const initial = new Set(trainer.optimizer.blockKeys);
    let report = await trainer.runStep();
    while (report.event === undefined) report = await trainer.runStep();
    const born = trainer.optimizer.blockKeys.filter((k) => !initial.has(k));
    assert.ok(born.length > 0);
    // The new blocks' own entries (regions of the grown variables), read as plain numbers.
    const grownBlocks = born.flatMap((k) =>
      adapters.flatMap((a) => a.parameterBlocks()).filter((b) => b.key === k)
    );
    assert.ok(grownBlocks.length > 0);
    const readBlocks = () =>
      Promise.all(grownBlocks.flatMap((b) =>
        b.variables.map(async (v, i) => {
          const data = Array.from(await v.data());
          const region = b.regions?.[i] ?? null;
          if (region === null) return data;
          const width = v.shape[1]!;
          const out: number[] = [];
          for (let r = region.rows[0]; r < region.rows[1]; r++) {
            out.push(...data.slice(r * width + region.cols[0], r * width + region.cols[1]));
          }
          return out;
        })
      ));
    const before = await readBlocks();
    // Act: the step after the event is the new blocks' first Adam step.
    await trainer.runStep();
    // Assert: one Adam step counted, parameters untouched (rate 0, so no decay either).
    for (const key of born) assert.equal((await trainer.optimizer.blockState(key)).step, 1);
    const after = await readBlocks();
    assert.deepEqual(after, before);
    // The step after that moves them.
    await trainer.runStep();
    const later = await readBlocks();
    assert.notDeepEqual(later, before);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});

Deno.test("Trainer: TriAdaptLoRA grows before optimizer.step of the event step", async () => {
  const { task, trainer, adapters } = await triadaptTrainer(TINY_HYPER, 8);
  try {
    // Record the total rank each time the optimizer applies an update.
    const seen: { step: number; rank: number }[] = [];
    const inner = trainer.optimizer.step.bind(trainer.optimizer);
    trainer.optimizer.step = (grads, lr) => {
      seen.push({
        step: trainer.optimizer.globalStep + 1,
        rank: adapters.reduce((a, x) => a + x.rank, 0),
      });
      inner(grads, lr);
    };
    let report = await trainer.runStep();
    while (report.event === undefined) report = await trainer.runStep();
    // Assert: at the event step's update the adapters already have their new ranks.
    const atEvent = seen.find((s) => s.step === report.step);
    assert.equal(atEvent?.rank, report.event!.ranks.reduce((a, b) => a + b, 0));
    assert.ok(atEvent!.rank > adapters.length);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});
