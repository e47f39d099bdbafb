import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { IncreLoraAdapter, increLoraScores } from "../../ops/mod.ts";
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

Deno.test("IncreLoraAdapter() starts at rank 1 and outputs zero (E = 0)", async () => {
  const ad = new IncreLoraAdapter({ name: "i.init", inFeatures: 4, outFeatures: 3, seed: 1 });
  assert.equal(ad.rank, 1);
  const x = tf.ones([2, 4]) as tf.Tensor2D;
  const y = ad.delta(x, true);
  assert.ok((await y.data()).every((v) => v === 0));
  tf.dispose([x, y]);
  ad.dispose();
});

Deno.test("IncreLoraAdapter.delta() equals x·(s·B·(A⊙E))ᵀ in float64, training and eval paths", async () => {
  const n = 5, d = 4, rows = 3;
  const ad = new IncreLoraAdapter({
    name: "i.fwd",
    inFeatures: n,
    outFeatures: d,
    seed: 2,
    alpha: 3,
  });
  ad.grow(2);
  randomizeVariables(ad.trainableVariables(), 7);
  const s = await ad.snapshot();
  const r = 3;
  const a = [...s.tensors["lora_A.0"]!.data, ...s.tensors["lora_A.1"]!.data];
  const e = [...s.tensors["lora_E.0"]!.data, ...s.tensors["lora_E.1"]!.data];
  const b0 = s.tensors["lora_B.0"]!.data, b1 = s.tensors["lora_B.1"]!.data;
  const b = Array.from({ length: d * r }, (_, k) => {
    const i = Math.floor(k / r), j = k % r;
    return j === 0 ? b0[i]! : b1[i * 2 + j - 1]!;
  });
  const ae = mat(r, n, a.map((v, i) => v * e[Math.floor(i / n)]!));
  const dW = scaled(mm(mat(d, r, b), ae), 3 / (3 + 1e-5));
  const xv = gaussian(rows * n, 3);
  const x = tf.tensor2d(xv, [rows, n]);
  const expected = mm(mat(rows, n, xv), tr(dW)).data;
  const [ye, yt] = [ad.delta(x, false), ad.delta(x, true)];
  assertClose(await ye.data(), expected, 1e-5, "eval");
  assertClose(await yt.data(), expected, 1e-5, "training");
  const w = ad.deltaWeight();
  assertClose(await w.data(), dW.data, 1e-5, "deltaWeight");
  tf.dispose([x, ye, yt, w]);
  ad.dispose();
});

Deno.test("IncreLoraAdapter custom gradient matches central finite differences (float32, atol 2e-4 + 1e-3·|g|)", async () => {
  const ad = new IncreLoraAdapter({
    name: "i.grad",
    inFeatures: 4,
    outFeatures: 3,
    seed: 2,
    alpha: 2,
  });
  ad.grow(1);
  randomizeVariables(ad.trainableVariables(), 8);
  const x = tf.variable(tf.tensor2d(gaussian(5 * 4, 4), [5, 4]), true, "i.grad.x");
  const w = tf.tensor2d(gaussian(5 * 3, 5), [5, 3]);
  const loss = () => tf.tidy(() => ad.delta(x as tf.Tensor2D, true).mul(w).sum() as tf.Scalar);
  const vars = [...ad.trainableVariables(), x];
  assert.equal(await checkGradients(loss, vars), 2 * (4 + 3 + 1) + 20);
  tf.dispose([x, w]);
  ad.dispose();
});

Deno.test("IncreLoraAdapter score is Σ|ΔW ⊙ ∂L/∂ΔW|/√(d·n), smoothed by β1/β2", async () => {
  const n = 3, d = 2, rows = 4;
  const ad = new IncreLoraAdapter({
    name: "i.score",
    inFeatures: n,
    outFeatures: d,
    seed: 3,
    alpha: 1,
    beta1: 0.5,
    beta2: 0.5,
  });
  randomizeVariables(ad.trainableVariables(), 9);
  const xv = gaussian(rows * n, 1), rv = gaussian(rows * d, 2);
  const x = tf.tensor2d(xv, [rows, n]);
  const rw = tf.tensor2d(rv, [rows, d]);
  const dWt = ad.deltaWeight();
  const dW = Array.from(await dWt.data());
  dWt.dispose();
  // L = Σ delta(x) ⊙ R ⇒ ∂L/∂ΔW = Rᵀ·x.
  const g = mm(tr(mat(rows, d, rv)), mat(rows, n, xv)).data;
  const s = dW.reduce((acc, v, i) => acc + Math.abs(v * g[i]!), 0) / Math.sqrt(d * n);
  assert.ok(s > 0);
  const { value, grads } = tf.variableGrads(
    () => ad.delta(x, true).mul(rw).sum() as tf.Scalar,
    ad.trainableVariables(),
  );
  tf.dispose([value, grads]);
  assert.deepEqual(await increLoraScores([ad]), [0], "nothing folded in before updateImportance()");
  ad.updateImportance();
  // Ī = 0.5·s, Ū = 0.5·|s − 0.5·s| = 0.25·s ⇒ Ī·Ū = 0.125·s²
  assertClose(await increLoraScores([ad]), [0.125 * s * s], 1e-6 + 1e-5 * s * s, "score");
  tf.dispose([x, rw]);
  ad.dispose();
});

Deno.test("IncreLoraAdapter.grow() keeps old entries, adds E = 0, and rescales by (r+eps)/(r'+eps)", async () => {
  const ad = new IncreLoraAdapter({
    name: "i.grow",
    inFeatures: 4,
    outFeatures: 3,
    seed: 5,
    initialRank: 2,
  });
  randomizeVariables(ad.trainableVariables(), 4);
  const before = await ad.snapshot();
  const x = tf.tensor2d(gaussian(2 * 4, 6), [2, 4]);
  const y0 = ad.delta(x, false);
  const block = ad.grow(3);
  assert.deepEqual(block.variables.map((v) => v.shape), [[3, 4], [3, 3], [3, 1]]);
  const after = await ad.snapshot();
  for (const [k, v] of Object.entries(before.tensors)) assert.deepEqual(after.tensors[k], v, k);
  assert.ok(after.tensors["lora_E.1"]!.data.every((v) => v === 0));
  const y1 = ad.delta(x, false);
  const ratio = (2 + 1e-5) / (5 + 1e-5);
  assertClose(await y1.data(), Array.from(await y0.data(), (v) => v * ratio), 1e-6, "rescaled");
  tf.dispose([x, y0, y1]);
  ad.dispose();
});
