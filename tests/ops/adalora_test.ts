import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { AdaLoraAdapter, maskAdaLoraToBudget, maskAdaLoraToPattern } from "../../ops/mod.ts";
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

Deno.test("AdaLoraAdapter() starts with E = 0 (identity), A, B ~ N(0, 0.02²), scale alpha/(r_init + 1e-5)", async () => {
  const ad = new AdaLoraAdapter({
    name: "a.init",
    inFeatures: 40,
    outFeatures: 30,
    seed: 1,
    alpha: 12,
  });
  const s = await ad.snapshot();
  assert.equal(ad.rank, 12);
  assert.equal(ad.scale, 12 / (12 + 1e-5));
  assert.ok(s.tensors["lora_E"]!.data.every((v) => v === 0));
  const b = s.tensors["lora_B"]!.data;
  const std = Math.sqrt(b.reduce((x, v) => x + v * v, 0) / b.length);
  assert.ok(std > 0.017 && std < 0.023, `std of B ${std}`);
  ad.dispose();
});

Deno.test("AdaLoraAdapter.delta() equals x·(s·B·(A⊙E))ᵀ computed in float64", async () => {
  const n = 5, d = 4, r = 3, rows = 3;
  const ad = new AdaLoraAdapter({
    name: "a.fwd",
    inFeatures: n,
    outFeatures: d,
    seed: 2,
    initialRank: r,
    alpha: 3,
  });
  randomizeVariables(ad.trainableVariables(), 7);
  const s = await ad.snapshot();
  const a = s.tensors["lora_A"]!.data, e = s.tensors["lora_E"]!.data;
  const ae = mat(r, n, Array.from(a, (v, i) => v * e[Math.floor(i / n)]!));
  const dW = scaled(mm(mat(d, r, s.tensors["lora_B"]!.data), ae), 3 / (3 + 1e-5));
  const xv = gaussian(rows * n, 3);
  const x = tf.tensor2d(xv, [rows, n]);
  const y = ad.delta(x, false);
  assertClose(await y.data(), mm(mat(rows, n, xv), tr(dW)).data, 1e-5, "delta");
  tf.dispose([x, y]);
  ad.dispose();
});

Deno.test("AdaLoraAdapter gradients match central finite differences (float32, atol 2e-4 + 1e-3·|g|)", async () => {
  const ad = new AdaLoraAdapter({
    name: "a.grad",
    inFeatures: 4,
    outFeatures: 3,
    seed: 2,
    initialRank: 2,
    alpha: 2,
  });
  randomizeVariables(ad.trainableVariables(), 8);
  const x = tf.tensor2d(gaussian(5 * 4, 4), [5, 4]);
  const w = tf.tensor2d(gaussian(5 * 3, 5), [5, 3]);
  const loss = () => tf.tidy(() => ad.delta(x, false).mul(w).sum() as tf.Scalar);
  assert.equal(await checkGradients(loss, ad.trainableVariables()), 8 + 6 + 2);
  tf.dispose([x, w]);
  ad.dispose();
});

Deno.test("AdaLoraAdapter.updateSensitivity() follows the β1/β2 EMAs and triplet scores by hand", async () => {
  // r = 1, n = 1, d = 1: every score is a scalar we can follow by hand.
  const ad = new AdaLoraAdapter({
    name: "a.ema",
    inFeatures: 1,
    outFeatures: 1,
    seed: 0,
    initialRank: 1,
    beta1: 0.5,
    beta2: 0.25,
  });
  const [va, vb, ve] = ad.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
  va.assign(tf.tensor2d([[2]]));
  vb.assign(tf.tensor2d([[-3]]));
  ve.assign(tf.tensor2d([[0.5]]));
  const g1 = {
    [va.name]: tf.tensor2d([[1]]),
    [vb.name]: tf.tensor2d([[1]]),
    [ve.name]: tf.tensor2d([[-4]]),
  };
  ad.updateSensitivity(g1);
  // step 1: I_A = 2, I_B = 3, I_E = 2; Ī = 0.5·I; Ū = 0.75·|I − Ī| = 0.375·I; score = 0.1875·I²
  const s1 = ad.tripletScores();
  assertClose(await s1.data(), [0.1875 * (4 + 9 + 4)], 1e-6, "step 1");
  ad.updateSensitivity(g1);
  // step 2: Ī = 0.75·I, Ū = 0.25·0.375·I + 0.75·0.25·I = 0.28125·I; score = 0.2109375·I²
  const s2 = ad.tripletScores();
  assertClose(await s2.data(), [0.2109375 * 17], 1e-6, "step 2");
  tf.dispose([s1, s2, ...Object.values(g1)]);
  ad.dispose();
});

Deno.test("maskAdaLoraToBudget() masks every tied triplet at the threshold, as PEFT does", async () => {
  const a = new AdaLoraAdapter({
    name: "a.m1",
    inFeatures: 2,
    outFeatures: 2,
    seed: 1,
    initialRank: 3,
    beta1: 0,
    beta2: 0,
  });
  const b = new AdaLoraAdapter({
    name: "a.m2",
    inFeatures: 2,
    outFeatures: 2,
    seed: 2,
    initialRank: 3,
    beta1: 0,
    beta2: 0,
  });
  const grads: tf.NamedTensorMap = {};
  for (const [k, ad] of [a, b].entries()) {
    const [va, vb, ve] = ad.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
    va.assign(tf.ones([3, 2]));
    vb.assign(tf.ones([2, 3]));
    ve.assign(tf.ones([3, 1]));
    grads[va.name] = tf.ones([3, 2]);
    grads[vb.name] = tf.ones([2, 3]);
    grads[ve.name] = tf.tensor2d(k === 0 ? [[1], [5], [3]] : [[2], [6], [4]]);
  }
  // With β1 = β2 = 0, Ī = I and Ū = 0: every score is 0, so any budget below the total masks all
  // ties (PEFT masks everything ≤ threshold). Check that behaviour first.
  a.updateSensitivity(grads);
  b.updateSensitivity(grads);
  tf.dispose(Object.values(grads));
  const res0 = await maskAdaLoraToBudget([a, b], 6);
  assert.deepEqual(res0.rankPattern, { "a.m1": 3, "a.m2": 3 });
  const res1 = await maskAdaLoraToBudget([a, b], 5);
  assert.deepEqual(res1.rankPattern, { "a.m1": 0, "a.m2": 0 });
  assert.equal(await a.effectiveRank(), 0);
  a.dispose();
  b.dispose();
});

Deno.test("maskAdaLoraToBudget() keeps exactly the top-budget triplets when scores differ", async () => {
  const a = new AdaLoraAdapter({
    name: "a.k1",
    inFeatures: 1,
    outFeatures: 1,
    seed: 1,
    initialRank: 3,
    beta1: 0.5,
    beta2: 0.5,
  });
  const b = new AdaLoraAdapter({
    name: "a.k2",
    inFeatures: 1,
    outFeatures: 1,
    seed: 2,
    initialRank: 2,
    beta1: 0.5,
    beta2: 0.5,
  });
  const eValues = [[1, 5, 3], [2, 6]];
  for (const [k, ad] of [a, b].entries()) {
    const [va, vb, ve] = ad.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
    const r = ad.rank;
    va.assign(tf.zeros([r, 1]));
    vb.assign(tf.zeros([1, r]));
    ve.assign(tf.tensor2d(eValues[k]!, [r, 1]));
    const g = {
      [va.name]: tf.zeros([r, 1]),
      [vb.name]: tf.zeros([1, r]),
      [ve.name]: tf.ones([r, 1]),
    };
    ad.updateSensitivity(g); // score_i = 0.5·I·0.5·0.5·I ∝ E_i²
    tf.dispose(Object.values(g));
  }
  const res = await maskAdaLoraToBudget([a, b], 3); // keep 6, 5, 3; mask 1, 2
  assert.deepEqual(res.rankPattern, { "a.k1": 2, "a.k2": 1 });
  const sa = await a.snapshot();
  const sb = await b.snapshot();
  assert.deepEqual(Array.from(sa.tensors["lora_E"]!.data), [0, 5, 3]);
  assert.deepEqual(Array.from(sb.tensors["lora_E"]!.data), [0, 6]);
  await assert.rejects(() => maskAdaLoraToBudget([a, b], 6), RangeError);
  a.dispose();
  b.dispose();
});

Deno.test("maskAdaLoraToPattern() re-applies the keep pattern frozen at T − tfinal, whatever the scores", async () => {
  const a = new AdaLoraAdapter({
    name: "a.p1",
    inFeatures: 1,
    outFeatures: 1,
    seed: 1,
    initialRank: 3,
  });
  const b = new AdaLoraAdapter({
    name: "a.p2",
    inFeatures: 1,
    outFeatures: 1,
    seed: 2,
    initialRank: 2,
  });
  const setE = (ad: AdaLoraAdapter, e: number[]): void => {
    const [va, vb, ve] = ad.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
    va.assign(tf.zeros([ad.rank, 1]));
    vb.assign(tf.zeros([1, ad.rank]));
    ve.assign(tf.tensor2d(e, [ad.rank, 1]));
    const g = {
      [va.name]: tf.zeros([ad.rank, 1]),
      [vb.name]: tf.zeros([1, ad.rank]),
      [ve.name]: tf.ones([ad.rank, 1]),
    };
    ad.updateSensitivity(g);
    tf.dispose(Object.values(g));
  };
  setE(a, [1, 5, 3]);
  setE(b, [2, 6]);
  const frozen = await maskAdaLoraToBudget([a, b], 3);
  assert.deepEqual(frozen.keepPattern, { "a.p1": [false, true, true], "a.p2": [false, true] });
  // Training revives the masked entries and the scores change order; the pattern still holds.
  const [, , ea] = a.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
  const [, , eb] = b.trainableVariables() as [tf.Variable, tf.Variable, tf.Variable];
  ea.assign(tf.tensor2d([[9], [0.5], [0.25]]));
  eb.assign(tf.tensor2d([[8], [0.125]]));
  maskAdaLoraToPattern([a, b], frozen.keepPattern);
  assert.deepEqual(Array.from(await ea.data()), [0, 0.5, 0.25]);
  assert.deepEqual(Array.from(await eb.data()), [0, 0.125]);
  assert.throws(() => maskAdaLoraToPattern([a, b], { "a.p1": [true, true, true] }), TypeError);
  assert.throws(() => maskAdaLoraToPattern([a], { "a.p1": [true] }), /must have 3 entries/);
  const all = await maskAdaLoraToBudget([a, b], 5);
  assert.deepEqual(all.keepPattern, { "a.p1": [true, true, true], "a.p2": [true, true] });
  a.dispose();
  b.dispose();
});
