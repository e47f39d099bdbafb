import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { LoraAdapter } from "../../ops/mod.ts";
import {
  assertClose,
  checkGradients,
  gaussian,
  mat,
  mm,
  randomizeVariables,
  scaled,
  tr,
  useWasm,
} from "./_helpers.ts";

await useWasm();

Deno.test("LoraAdapter() inits A kaiming-uniform within ±1/√n and B = 0", async () => {
  const ad = new LoraAdapter({
    name: "l.init",
    inFeatures: 100,
    outFeatures: 10,
    seed: 3,
    rank: 4,
  });
  const s = await ad.snapshot();
  const a = s.tensors["lora_A"]!.data;
  const bound = 1 / Math.sqrt(100);
  assert.ok(a.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...a) > 0.8 * bound && Math.min(...a) < -0.8 * bound, "spread over the range");
  assert.ok(s.tensors["lora_B"]!.data.every((v) => v === 0));
  ad.dispose();
});

Deno.test("LoraAdapter scale is alpha/r, or alpha/√r with useRsLora", () => {
  const a = new LoraAdapter({
    name: "l.s1",
    inFeatures: 2,
    outFeatures: 2,
    seed: 0,
    rank: 4,
    alpha: 8,
  });
  const b = new LoraAdapter({
    name: "l.s2",
    inFeatures: 2,
    outFeatures: 2,
    seed: 0,
    rank: 4,
    alpha: 8,
    useRsLora: true,
  });
  assert.equal(a.scale, 2);
  assert.equal(b.scale, 4);
  a.dispose();
  b.dispose();
});

Deno.test("LoraAdapter.delta() equals x·(s·B·A)ᵀ computed in float64", async () => {
  const n = 6, d = 5, r = 3, rows = 4;
  const ad = new LoraAdapter({
    name: "l.fwd",
    inFeatures: n,
    outFeatures: d,
    seed: 2,
    rank: r,
    alpha: 6,
  });
  randomizeVariables(ad.trainableVariables(), 5);
  const s = await ad.snapshot();
  const dW = scaled(
    mm(mat(d, r, s.tensors["lora_B"]!.data), mat(r, n, s.tensors["lora_A"]!.data)),
    2,
  );
  const xv = gaussian(rows * n, 1);
  const expected = mm(mat(rows, n, xv), tr(dW));
  const x = tf.tensor2d(xv, [rows, n]);
  const y = ad.delta(x, false);
  assertClose(await y.data(), expected.data, 1e-5, "delta");
  const w = ad.deltaWeight();
  assertClose(await w.data(), dW.data, 1e-5, "deltaWeight");
  tf.dispose([x, y, w]);
  ad.dispose();
});

Deno.test("LoraAdapter gradients match central finite differences (float32, atol 2e-4 + 1e-3·|g|)", async () => {
  const ad = new LoraAdapter({
    name: "l.grad",
    inFeatures: 4,
    outFeatures: 3,
    seed: 2,
    rank: 2,
    alpha: 2,
  });
  randomizeVariables(ad.trainableVariables(), 6);
  // x as a variable too: the gradient w.r.t. the input flows on into the model.
  const x = tf.variable(tf.tensor2d(gaussian(5 * 4, 4), [5, 4]), true, "l.grad.x");
  const w = tf.tensor2d(gaussian(5 * 3, 5), [5, 3]);
  const loss = () => tf.tidy(() => ad.delta(x as tf.Tensor2D, false).mul(w).sum() as tf.Scalar);
  assert.equal(await checkGradients(loss, [...ad.trainableVariables(), x]), 8 + 6 + 20);
  tf.dispose([x, w]);
  ad.dispose();
});
