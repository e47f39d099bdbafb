/**
 * Growth in the loop: the parameter blocks a controller adds at an allocation event are born at
 * that step (docs/METHOD.md §10: fresh Adam state, a step counter per block, their own warm-up from
 * the event), for TriAdaptLoRA and IncreLoRA; and the controller runs after the optimizer step.
 */
import assert from "node:assert/strict";
import { injectAdapters } from "../../../model/inject.ts";
import type { Adapter } from "../../../ops/adapter.ts";
import type { IncreLoraAdapter } from "../../../ops/increlora.ts";
import { createAdapter } from "../../../ops/registry.ts";
import type { TriAdaptLoraAdapter } from "../../../ops/triadapt_lora.ts";
import type { Controller } from "../../../train/controllers/controller.ts";
import { createIncreLoraController } from "../../../train/controllers/increlora.ts";
import { createLoraController } from "../../../train/controllers/lora.ts";
import { createTriAdaptController } from "../../../train/controllers/triadapt.ts";
import { Trainer } from "../../../train/loop.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { validateSchedules } from "../../../train/run.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "./_tiny.ts";

await tinyBackend();

async function grownBlocksAreBornAtTheirEvent(
  method: "triadaptlora" | "increlora",
  makeController: (adapters: Adapter[]) => Promise<Controller>,
): Promise<void> {
  // Arrange: T = 12, warm-up 2 steps per block, first event at step 4.
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 4 });
  const model = task.buildModel(4);
  let i = 0;
  const adapters = [
    ...injectAdapters(model, (m) =>
      createAdapter(method, {
        name: m.name,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        seed: i++,
      }) as Adapter).values(),
  ];
  const trainer = new Trainer({
    task,
    model,
    adapters,
    controller: await makeController(adapters),
    hyper: TINY_HYPER,
    totalSteps: 12,
    seed: 4,
  });
  try {
    const initial = new Set(trainer.optimizer.blockKeys);
    // Act: run to the first event, then one step more.
    let event = (await trainer.runStep()).event;
    while (event === undefined) event = (await trainer.runStep()).event;
    const eventStep = event.step;
    const born = trainer.optimizer.blockKeys.filter((k) => !initial.has(k));
    await trainer.runStep();
    // Assert: one new block per grown module, born at the event, one Adam step since; the
    // initial blocks keep counting from 0.
    assert.ok(born.length > 0 && born.length === event.grown.length, `${method}: ${born}`);
    for (const key of born) {
      const state = await trainer.optimizer.blockState(key);
      assert.equal(state.birthStep, eventStep, `${method} ${key} birth step`);
      assert.equal(state.step, 1, `${method} ${key} Adam steps`);
    }
    const old = await trainer.optimizer.blockState([...initial][0] as string);
    assert.equal(old.birthStep, 0);
    assert.equal(old.step, eventStep + 1);
    // A newborn block is still warming up where the initial ones are at their peak.
    const next = { globalStep: eventStep + 1 };
    assert.ok(
      trainer.learningRate({ ...next, birthStep: eventStep }) <
        trainer.learningRate({ ...next, birthStep: 0 }),
    );
  } finally {
    trainer.dispose();
    task.dispose();
  }
}

Deno.test("Trainer.runStep() registers TriAdaptLoRA's grown blocks born at their event step", async () => {
  const config = validateSchedules("triadapt", TINY_HYPER, 12);
  await grownBlocksAreBornAtTheirEvent(
    "triadaptlora",
    (adapters) =>
      createTriAdaptController(adapters as TriAdaptLoraAdapter[], {
        config: config!,
        initRank: 1,
        refRank: 2,
      }),
  );
});

Deno.test("Trainer.runStep() registers IncreLoRA's grown blocks born at their event step", async () => {
  await grownBlocksAreBornAtTheirEvent(
    "increlora",
    (adapters) =>
      Promise.resolve(createIncreLoraController(adapters as IncreLoraAdapter[], {
        initWarmup: 2,
        interval: 2,
        totalSteps: 12,
        topH: 2,
        deltaRank: 1,
        initRank: 1,
        refRank: 2,
      })),
  );
});

Deno.test("Trainer.runStep() runs the controller after the optimizer step, on the updated weights", async () => {
  // Arrange: a LoRA run whose controller records what it sees.
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 6 });
  const model = task.buildModel(6);
  let i = 0;
  const adapters = [
    ...injectAdapters(model, (m) =>
      createAdapter("lora", {
        name: m.name,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        seed: i++,
        rank: 2,
      }) as Adapter).values(),
  ];
  const inner = createLoraController(adapters);
  const seen: { step: number; optimizerStep: number; weight: number }[] = [];
  const probe = adapters[0]?.trainableVariables()[0];
  assert.ok(probe !== undefined);
  const controller: Controller = {
    ...inner,
    async afterStep(step, grads, optimizer) {
      const weight = (await probe.data())[0] as number;
      seen.push({ step, optimizerStep: optimizer.globalStep, weight });
      return await inner.afterStep(step, grads, optimizer);
    },
  };
  const trainer = new Trainer({
    task,
    model,
    adapters,
    controller,
    hyper: { ...TINY_HYPER, warmupSteps: 0 },
    totalSteps: 12,
    seed: 6,
  });
  try {
    const before = (await probe.data())[0] as number;
    // Act
    await trainer.runStep();
    await trainer.runStep();
    // Assert: the optimizer has applied the step the controller is told about.
    assert.deepEqual(seen.map((s) => [s.step, s.optimizerStep]), [[1, 1], [2, 2]]);
    assert.notEqual(seen[0]?.weight, before);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});
