import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { injectAdapters } from "../../../model/inject.ts";
import type { Adapter } from "../../../ops/adapter.ts";
import { loraFromPeft } from "../../../ops/lora.ts";
import { exportPeft } from "../../../ops/merge.ts";
import { createAdapter } from "../../../ops/registry.ts";
import type { TriAdaptLoraAdapter } from "../../../ops/triadapt_lora.ts";
import { createTriAdaptController } from "../../../train/controllers/triadapt.ts";
import { Trainer } from "../../../train/loop.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { validateSchedules } from "../../../train/run.ts";
import { TINY_HYPER, TINY_PLANTED, tinyBackend } from "../loop/_tiny.ts";

await tinyBackend();

Deno.test("exportPeft() of a trained planted TriAdaptLoRA model reloads as plain LoRA with the same outputs (1e-5)", async () => {
  // Arrange: train 12 steps with growth events (ranks 1 → up to 3).
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 8 });
  const hyper = { ...TINY_HYPER, refRank: 3 };
  const model = task.buildModel(8);
  let i = 0;
  const adapters = [
    ...injectAdapters(model, (m) =>
      createAdapter("triadaptlora", {
        name: m.name,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        seed: i++,
        alpha: hyper.alpha,
      }) as Adapter).values(),
  ];
  const controller = await createTriAdaptController(adapters as TriAdaptLoraAdapter[], {
    config: validateSchedules("triadapt", hyper, 12)!,
    initRank: 1,
    refRank: 3,
  });
  const trainer = new Trainer({
    task,
    model,
    adapters,
    controller,
    hyper,
    totalSteps: 12,
    seed: 8,
  });
  const reloaded = task.buildModel(8);
  const loras: Adapter[] = [];
  try {
    for (let s = 0; s < 12; s++) await trainer.runStep();
    assert.ok(adapters.some((a) => a.rank > 1), "no growth happened");
    // Act: PEFT tensors → plain LoRA adapters on a fresh base model.
    const peft = await exportPeft(adapters);
    for (const a of adapters) {
      const A = peft.tensors[`base_model.model.${a.name}.lora_A.weight`]!;
      const B = peft.tensors[`base_model.model.${a.name}.lora_B.weight`]!;
      const aT = tf.tensor2d(A.data, A.shape as [number, number]);
      const bT = tf.tensor2d(B.data, B.shape as [number, number]);
      const lora = loraFromPeft(a.name, aT, bT);
      tf.dispose([aT, bT]);
      loras.push(lora);
      reloaded.setAdapter(a.name, lora);
      assert.equal(peft.rankPattern[a.name], a.rank);
    }
    const ids = [[4, 9, 12, 5], [7, 7, 15, 4]];
    const [x, y] = tf.tidy(() => {
      const o1 = model.forward({ inputIds: ids });
      const o2 = reloaded.forward({ inputIds: ids });
      tf.dispose([o1.logits, o2.logits]);
      return [o1.lastHiddenState, o2.lastHiddenState];
    });
    const base = task.buildModel(8);
    const z = tf.tidy(() => {
      const o = base.forward({ inputIds: ids });
      tf.dispose(o.logits);
      return o.lastHiddenState;
    });
    const diff = (await tf.tidy(() => tf.max(tf.abs(x!.sub(y!)))).data())[0]!;
    const moved = (await tf.tidy(() => tf.max(tf.abs(x!.sub(z)))).data())[0]!;
    tf.dispose([x!, y!, z]);
    base.dispose();
    // Assert: float32 re-association of (x·Aᵀ)·(B·D·s)ᵀ vs ((x·Aᵀ)·D·s)·Bᵀ: 1e-5 absolute on
    // LayerNorm outputs of magnitude ~1.
    assert.ok(diff < 1e-5, `max |Δ| = ${diff}`);
    assert.ok(moved > 1e-3, `training did not change the outputs (${moved})`);
  } finally {
    for (const l of loras) l.dispose();
    reloaded.dispose();
    trainer.dispose();
    task.dispose();
  }
});
