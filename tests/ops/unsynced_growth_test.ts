/**
 * A growth the optimizer was not told about is an error that says what to call
 * (`optimizer.syncBlocks(...)`), raised before any weight or optimizer state changes.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ops/backend.ts";
import { GrowingAdamW } from "../../ops/growing_adamw.ts";
import { TriAdaptLoraAdapter } from "../../ops/triadapt_lora.ts";
import { adaptModel } from "../../train/run.ts";
import { Trainer } from "../../train/loop.ts";
import { createPlantedTask } from "../../train/planted/planted_task.ts";

await initBackend("wasm");

function gradsOf(ad: TriAdaptLoraAdapter): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  return tf.variableGrads(
    () =>
      tf.tidy(() => ad.delta(tf.ones([2, 4]) as tf.Tensor2D, false).square().sum() as tf.Scalar),
    ad.trainableVariables(),
  );
}

Deno.test("GrowingAdamW.step() after an unsynced grow() throws naming optimizer.syncBlocks and the new variables, changing nothing", async () => {
  const ad = new TriAdaptLoraAdapter({
    name: "t.unsynced",
    inFeatures: 4,
    outFeatures: 3,
    seed: 1,
    initialRank: 1,
  });
  const opt = new GrowingAdamW();
  opt.syncBlocks(ad.parameterBlocks());
  const before = await ad.snapshot();
  ad.grow(2);
  const newNames = ad.parameterBlocks()[1]!.variables.map((v) => v.name);
  const { value, grads } = gradsOf(ad);
  try {
    assert.throws(
      () => opt.step(grads, 0.1),
      (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.match(
          e.message,
          /optimizer\.syncBlocks\(adapters\.flatMap\(\(a\) => a\.parameterBlocks\(\)\)\)/,
        );
        assert.match(e.message, /trainer\.optimizer\.syncBlocks/);
        for (const n of newNames) assert.ok(e.message.includes(n), `${n} in ${e.message}`);
        assert.match(e.message, /current blocks are t\.unsynced\.block0\./);
        // The grown variables (same names, larger shapes than registered) are named.
        assert.match(e.message, /^Cannot apply gradient as variables t\.unsynced\.lora_A, /);
        assert.match(e.message, /in their current shapes/);
        return true;
      },
    );
    assert.equal(opt.globalStep, 0);
    const after = await ad.snapshot();
    // The old block's tensors did not move.
    for (const [k, t] of Object.entries(before.tensors)) {
      assert.deepEqual(after.tensors[k]?.data, t.data, k);
    }
    // The call the message names fixes it.
    assert.equal(opt.syncBlocks(ad.parameterBlocks()), 1);
    opt.step(grads, 0.1);
    assert.equal(opt.globalStep, 1);
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
    opt.dispose();
    ad.dispose();
  }
});

Deno.test("Trainer.runStep() after a hand grow() of an adapter rejects naming trainer.optimizer.syncBlocks; syncing resumes training", async () => {
  const task = await createPlantedTask({
    seed: 1,
    layers: 1,
    hidden: 8,
    heads: 2,
    intermediate: 16,
    vocab: 16,
    seqLength: 4,
    trainExamples: 8,
    evalExamples: 2,
  });
  const model = task.buildModel(1);
  const adapted = await adaptModel(model, {
    method: "triadapt",
    totalSteps: 10,
    refRank: 4,
    initRank: 1,
    initWarmup: 5,
    interval: 5,
    batchSize: 4,
  });
  const trainer = new Trainer({ task, ...adapted });
  try {
    await trainer.runStep();
    const first = trainer.adapters[0] as TriAdaptLoraAdapter;
    first.grow(1);
    const tensors = tf.memory().numTensors;
    await assert.rejects(() => trainer.runStep(), /trainer\.optimizer\.syncBlocks/);
    assert.equal(trainer.step, 1);
    assert.equal(tf.memory().numTensors, tensors, "the failed step leaks no tensor");
    trainer.optimizer.syncBlocks(trainer.adapters.flatMap((a) => a.parameterBlocks()));
    const report = await trainer.runStep();
    assert.equal(report.step, 2);
  } finally {
    trainer.dispose();
    task.dispose();
  }
});
