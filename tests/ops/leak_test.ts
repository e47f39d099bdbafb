import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  AdaLoraAdapter,
  type Adapter,
  createAdapter,
  exportPeft,
  frobeniusNormsOfD,
  GrowingAdamW,
  IncreLoraAdapter,
  increLoraScores,
  maskAdaLoraToBudget,
  mergeAdapter,
  orthogonalityPenalty,
  TriAdaptLoraAdapter,
  unmergeAdapter,
} from "../../ops/mod.ts";
import { assertNoTensorLeak } from "../_tensor_helpers.ts";
import { gaussian, useWasm } from "./_helpers.ts";

await useWasm();

const N = 8, D = 6;

function build(method: Adapter["method"]): Adapter {
  const common = { name: `leak.${method}`, inFeatures: N, outFeatures: D, seed: 1, dropout: 0.1 };
  switch (method) {
    case "triadaptlora":
      return createAdapter("triadaptlora", common);
    case "lora":
      return createAdapter("lora", { ...common, rank: 2 });
    case "adalora":
      return createAdapter("adalora", { ...common, initialRank: 3 });
    case "increlora":
      return createAdapter("increlora", common);
  }
}

/** 10 forward/backward/update steps with a growth (or AdaLoRA masking) after step 5. */
async function trainTen(method: Adapter["method"], perStep: number[]): Promise<void> {
  const ad = build(method);
  const opt = new GrowingAdamW({ weightDecay: 0.01, clipNorm: 1 });
  opt.syncBlocks(ad.parameterBlocks());
  const x = tf.tensor2d(gaussian(5 * N, 1), [5, N]);
  const target = tf.tensor2d(gaussian(5 * D, 2), [5, D]);
  for (let step = 1; step <= 10; step++) {
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() =>
          ad.delta(x, true).sub(target).square().mean().add(
            orthogonalityPenalty([ad]).mul(0.1),
          ) as tf.Scalar
        ),
      ad.trainableVariables(),
    );
    if (ad instanceof AdaLoraAdapter) ad.updateSensitivity(grads);
    if (ad instanceof IncreLoraAdapter) ad.updateImportance();
    opt.step(grads, 1e-2);
    tf.dispose([value, grads]);
    if (step === 5) {
      if (ad instanceof TriAdaptLoraAdapter) {
        await frobeniusNormsOfD([ad]);
        ad.grow(2);
      }
      if (ad instanceof IncreLoraAdapter) {
        await increLoraScores([ad]);
        ad.grow(2);
      }
      if (ad instanceof AdaLoraAdapter) await maskAdaLoraToBudget([ad], 2);
      opt.syncBlocks(ad.parameterBlocks());
    }
    perStep.push(tf.memory().numTensors);
  }
  const w0 = tf.zeros([D, N]) as tf.Tensor2D;
  const merged = mergeAdapter(w0, ad);
  const back = unmergeAdapter(merged, ad);
  await exportPeft([ad]);
  await ad.snapshot();
  tf.dispose([w0, merged, back, x, target]);
  opt.dispose();
  ad.dispose();
}

for (const method of ["triadaptlora", "lora", "adalora", "increlora"] as const) {
  Deno.test(`${method}: numTensors is unchanged by 10 fwd/bwd/update steps with a growth in between`, async () => {
    const perStep: number[] = [];
    await assertNoTensorLeak(() => trainTen(method, perStep), method);
    // Within a run, the count only changes at the growth step (new variables + moments).
    const run = perStep.slice(10);
    for (const i of [1, 2, 3, 5, 6, 7, 8, 9]) {
      assert.equal(
        run[i],
        run[i - 1],
        `${method}: step ${i + 1} changed numTensors ${run[i - 1]} -> ${run[i]}`,
      );
    }
  });
}

Deno.test("increlora: accumulating the score over two backward passes leaks nothing", async () => {
  const ad = createAdapter("increlora", {
    name: "leak.acc",
    inFeatures: N,
    outFeatures: D,
    seed: 2,
  });
  const x = tf.tensor2d(gaussian(3 * N, 3), [3, N]);
  await assertNoTensorLeak(() => {
    for (let i = 0; i < 2; i++) {
      const { value, grads } = tf.variableGrads(
        () => ad.delta(x, true).sum() as tf.Scalar,
        ad.trainableVariables(),
      );
      tf.dispose([value, grads]);
    }
    ad.updateImportance();
  }, "increlora accumulation");
  x.dispose();
  ad.dispose();
});
