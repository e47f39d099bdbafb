/**
 * The AdaLoRA controller's final phase follows PEFT: at `T − tfinal` the pattern is masked to the
 * target budget and frozen; on every later step that frozen pattern is re-applied, even when the
 * sensitivity scores would now keep other triplets.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { AdaLoraAdapter } from "../../../ops/adalora.ts";
import { createAdaLoraController } from "../../../train/controllers/adalora.ts";
import { tinyBackend } from "./_tiny.ts";

await tinyBackend();

/** Gradients equal to `scale` on the rows of `favoured` triplets and 1e-6 elsewhere. */
function grads(ad: AdaLoraAdapter, favoured: readonly boolean[], scale: number): tf.NamedTensorMap {
  const [a, b, e] = ad.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
  const row = tf.tensor1d(favoured.map((f) => (f ? scale : 1e-6)));
  return {
    [a.name]: tf.ones(a.shape).mul(row.reshape([ad.rank, 1])),
    [b.name]: tf.ones(b.shape).mul(row.reshape([1, ad.rank])),
    [e.name]: row.reshape([ad.rank, 1]),
  };
}

async function eZeros(ad: AdaLoraAdapter): Promise<boolean[]> {
  const [, , e] = ad.trainableVariables();
  return Array.from(await e!.data()).map((v) => v === 0);
}

Deno.test("AdaLoRA controller freezes the pattern at T − tfinal and re-applies it, whatever the scores", async () => {
  // Arrange: one adapter of rank 4, budget 4 → 2; freeze at step T − tfinal = 6 − 3 = 3
  const ad = new AdaLoraAdapter({
    name: "t.final",
    inFeatures: 3,
    outFeatures: 3,
    seed: 5,
    initialRank: 4,
  });
  const [a, b, e] = ad.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
  a.assign(tf.ones(a.shape));
  b.assign(tf.ones(b.shape));
  const setE = (): void => e.assign(tf.ones(e.shape));
  const ctl = createAdaLoraController([ad], {
    initBudget: 4,
    targetBudget: 2,
    tinit: 0,
    tfinal: 3,
    deltaT: 1,
    totalSteps: 6,
  });
  const first = [true, true, false, false];
  const second = [false, false, true, true];
  // Act: steps 1–3 favour triplets 0 and 1; the freeze at step 3 keeps them
  for (let step = 1; step <= 3; step++) {
    setE();
    const g = grads(ad, first, 1);
    await ctl.afterStep(step, g, undefined as never);
    tf.dispose(Object.values(g));
  }
  const frozenRanks = ctl.ranks();
  assert.deepEqual(await eZeros(ad), [false, false, true, true]);
  // steps 4–6 favour triplets 2 and 3 by a factor 1e6: scores now rank them first
  for (let step = 4; step <= 6; step++) {
    setE();
    const g = grads(ad, second, 1e6);
    await ctl.afterStep(step, g, undefined as never);
    tf.dispose(Object.values(g));
  }
  const scores = Array.from(await ad.tripletScores().data());
  // Assert: the scores would now keep 2 and 3, yet the frozen pattern (keep 0 and 1) is applied
  assert.ok(scores[2]! > scores[0]! && scores[3]! > scores[1]!, `scores ${scores}`);
  assert.deepEqual(await eZeros(ad), [false, false, true, true]);
  assert.deepEqual(ctl.ranks(), frozenRanks);
  assert.deepEqual(frozenRanks, [2]);
  // the frozen pattern survives snapshot → restore
  const restored = createAdaLoraController([ad], {
    initBudget: 4,
    targetBudget: 2,
    tinit: 0,
    tfinal: 3,
    deltaT: 1,
    totalSteps: 6,
  });
  restored.restore(JSON.parse(JSON.stringify(ctl.snapshot())));
  setE();
  const g = grads(ad, second, 1e6);
  await restored.afterStep(6, g, undefined as never);
  tf.dispose(Object.values(g));
  assert.deepEqual(await eZeros(ad), [false, false, true, true]);
  ad.dispose();
});
