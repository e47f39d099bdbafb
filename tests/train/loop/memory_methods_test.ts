import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { injectAdapters } from "../../../model/inject.ts";
import type { Adapter } from "../../../ops/adapter.ts";
import type { AdaLoraAdapter } from "../../../ops/adalora.ts";
import type { IncreLoraAdapter } from "../../../ops/increlora.ts";
import { createAdapter } from "../../../ops/registry.ts";
import { adaloraBudgetConfig } from "../../../core/adalora_budget.ts";
import { parseAdaLoraConfig } from "../../../core/config.ts";
import { createAdaLoraController } from "../../../train/controllers/adalora.ts";
import { createIncreLoraController } from "../../../train/controllers/increlora.ts";
import type { Controller } from "../../../train/controllers/controller.ts";
import { Trainer } from "../../../train/loop.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "./_tiny.ts";

await tinyBackend();

async function memoryFlat(
  method: "adalora" | "increlora",
  makeController: (adapters: Adapter[]) => Controller,
): Promise<void> {
  // Arrange
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 9 });
  const model = task.buildModel(9);
  let i = 0;
  const adapters = [
    ...injectAdapters(model, (m) =>
      createAdapter(method, {
        name: m.name,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        seed: i++,
        initialRank: method === "adalora" ? 3 : 1,
      }) as Adapter).values(),
  ];
  const controller = makeController(adapters);
  const trainer = new Trainer({
    task,
    model,
    adapters,
    controller,
    hyper: TINY_HYPER,
    totalSteps: 50,
    seed: 9,
  });
  const variables = (): number => adapters.reduce((n, a) => n + a.trainableVariables().length, 0);
  try {
    await trainer.runStep();
    let events = 0;
    // Act + Assert: nothing survives a step except new variables (the optimizer's moments are one
    // flat vector each, replaced at growth, docs/METHOD.md §21; IncreLoRA growth caches nothing
    // else: its scores live in two scalars per module).
    for (let s = 2; s <= 50; s++) {
      const before = tf.memory().numTensors;
      const vars = variables();
      const report = await trainer.runStep();
      if (report.event !== undefined) events++;
      const delta = tf.memory().numTensors - before;
      assert.equal(delta, variables() - vars, `${method} step ${s}: ${delta} new tensors`);
    }
    assert.ok(events > 0, `${method}: no allocation event`);
  } finally {
    trainer.dispose();
    task.dispose();
  }
}

Deno.test("Trainer.runStep() keeps numTensors flat over 50 AdaLoRA steps with masking", async () => {
  await memoryFlat("adalora", (adapters) =>
    createAdaLoraController(
      adapters as AdaLoraAdapter[],
      adaloraBudgetConfig(
        parseAdaLoraConfig({
          initRank: 3,
          targetRank: 2,
          tinit: 5,
          tfinal: 10,
          deltaT: 2,
          totalSteps: 50,
        }),
        adapters.length,
      ),
    ));
});

Deno.test("Trainer.runStep() keeps numTensors flat over 50 IncreLoRA steps with growth", async () => {
  await memoryFlat(
    "increlora",
    (adapters) =>
      createIncreLoraController(adapters as IncreLoraAdapter[], {
        initWarmup: 2,
        interval: 2,
        totalSteps: 50,
        topH: 2,
        deltaRank: 1,
        initRank: 1,
        refRank: 3,
      }),
  );
});
