import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  type BlockStepInfo,
  globalNorm,
  GrowingAdamW,
  TriAdaptLoraAdapter,
} from "../../ops/mod.ts";
import { assertClose, useWasm } from "./_helpers.ts";

await useWasm();

/** Independent float64 AdamW (paper form m̂/(√v̂ + ε), decoupled decay on the old p). */
function adamwReference(
  p: number[],
  grads: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number },
): { p: number[]; m: number[]; v: number[] } {
  let m = p.map(() => 0), v = p.map(() => 0), x = [...p];
  grads.forEach((g, k) => {
    const t = k + 1;
    m = m.map((mi, i) => o.b1 * mi + (1 - o.b1) * g[i]!);
    v = v.map((vi, i) => o.b2 * vi + (1 - o.b2) * g[i]! ** 2);
    x = x.map((xi, i) => {
      const mh = m[i]! / (1 - o.b1 ** t), vh = v[i]! / (1 - o.b2 ** t);
      return xi - o.lr * (mh / (Math.sqrt(vh) + o.eps) + o.wd * xi);
    });
  });
  return { p: x, m, v };
}

const HP = { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1 };

Deno.test("GrowingAdamW.step() equals hand-computed AdamW on a 2×2 case over two steps", async () => {
  const p = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, "adamw.p22");
  const opt = new GrowingAdamW({ beta1: HP.b1, beta2: HP.b2, epsilon: HP.eps, weightDecay: HP.wd });
  opt.addBlock({ key: "b0", variables: [p] });
  const gs = [[0.1, -0.2, 0.3, 0.4], [-0.5, 0.05, 0.3, -0.1]];
  for (const g of gs) {
    const gt = tf.tensor2d(g, [2, 2]);
    opt.step({ [p.name]: gt }, HP.lr);
    gt.dispose();
  }
  const ref = adamwReference([1, 2, 3, 4], gs, HP);
  // float32 parameters of O(1): 1 ulp ≈ 2.4e-7 at 4; 1e-6 covers the rounding.
  assertClose(await p.data(), ref.p, 1e-6, "p");
  const st = await opt.blockState("b0");
  assert.equal(st.step, 2);
  assertClose(st.m[0]!.data, ref.m, 1e-7, "m");
  assertClose(st.v[0]!.data, ref.v, 1e-9, "v");
  opt.dispose();
  p.dispose();
});

Deno.test("GrowingAdamW keeps old blocks' state when a block is added, and the new block starts fresh", async () => {
  const ad = new TriAdaptLoraAdapter({ name: "adamw.tri", inFeatures: 3, outFeatures: 2, seed: 1 });
  const opt = new GrowingAdamW({ weightDecay: 0.01 });
  opt.syncBlocks(ad.parameterBlocks());
  const x = tf.tensor2d([[1, 2, 3], [-1, 0.5, 2]]);
  const lossFn = () => ad.delta(x, false).square().sum().add(ad.normOfD()) as tf.Scalar;
  const step = (lr: number | ((b: BlockStepInfo) => number)) => {
    const { value, grads } = tf.variableGrads(lossFn, ad.trainableVariables());
    opt.step(grads, lr);
    tf.dispose([value, grads]);
  };
  for (let i = 0; i < 3; i++) step(1e-2);
  const before = await opt.blockState("adamw.tri.block0");
  ad.grow(2);
  assert.equal(opt.syncBlocks(ad.parameterBlocks()), 1);
  assert.deepEqual(
    await opt.blockState("adamw.tri.block0"),
    before,
    "adding a block leaves old state alone",
  );
  const fresh = await opt.blockState("adamw.tri.block1");
  assert.equal(fresh.step, 0);
  assert.equal(fresh.birthStep, 3);
  assert.ok(fresh.m.every((t) => t.data.every((v) => v === 0)));
  assert.ok(fresh.v.every((t) => t.data.every((v) => v === 0)));
  const seen: BlockStepInfo[] = [];
  step((b) => {
    seen.push(b);
    return b.key.endsWith("block1") ? 0 : 1e-2;
  });
  assert.deepEqual(seen, [
    { key: "adamw.tri.block0", blockStep: 4, globalStep: 4, birthStep: 0 },
    { key: "adamw.tri.block1", blockStep: 1, globalStep: 4, birthStep: 3 },
  ]);
  const after = await opt.blockState("adamw.tri.block1");
  assert.equal(after.step, 1);
  assert.ok(after.m.some((t) => t.data.some((v) => v !== 0)), "new block got moments");
  tf.dispose(x);
  opt.dispose();
  ad.dispose();
});

Deno.test("GrowingAdamW clips gradients by global norm before the moments", async () => {
  const p = tf.variable(tf.tensor1d([0, 0]), true, "adamw.clip");
  const opt = new GrowingAdamW({ clipNorm: 1 });
  opt.addBlock({ key: "c", variables: [p] });
  const g = tf.tensor1d([3, 4]);
  opt.step({ [p.name]: g }, 0.1);
  const st = await opt.blockState("c");
  // clip factor 1/(5 + 1e-6) (torch), m = 0.1·g·factor
  assertClose(st.m[0]!.data, [0.1 * 3 / (5 + 1e-6), 0.1 * 4 / (5 + 1e-6)], 1e-7, "m");
  const n = globalNorm([g]);
  assert.equal((await n.data())[0], 5);
  tf.dispose([g, n]);
  opt.dispose();
  p.dispose();
});

Deno.test("GrowingAdamW rejects gradients of unregistered variables and double registration", () => {
  const p = tf.variable(tf.scalar(1), true, "adamw.rej.p");
  const w0 = tf.variable(tf.scalar(1), false, "adamw.rej.base");
  const opt = new GrowingAdamW();
  opt.addBlock({ key: "a", variables: [p] });
  assert.throws(() => opt.addBlock({ key: "a", variables: [] }), TypeError);
  assert.throws(() => opt.addBlock({ key: "b", variables: [p] }), TypeError);
  const g = tf.scalar(1);
  assert.throws(() => opt.step({ [w0.name]: g }, 0.1), TypeError);
  assert.throws(() => new GrowingAdamW({ beta1: 1 }), RangeError);
  assert.throws(() => new GrowingAdamW({ clipNorm: 0 }), RangeError);
  tf.dispose([g, p, w0]);
  opt.dispose();
});

Deno.test("GrowingAdamW snapshot() → restore() resumes bit for bit", async () => {
  const mk = (name: string) => tf.variable(tf.tensor1d([1, -2, 3]), true, name);
  const [p1, p2] = [mk("adamw.s1"), mk("adamw.s2")];
  const [o1, o2] = [
    new GrowingAdamW({ weightDecay: 0.01 }),
    new GrowingAdamW({ weightDecay: 0.01 }),
  ];
  o1.addBlock({ key: "k", variables: [p1] });
  o2.addBlock({ key: "k", variables: [p2] });
  const g = tf.tensor1d([0.3, -0.1, 0.2]);
  o1.step({ [p1.name]: g }, 0.01);
  o1.step({ [p1.name]: g }, 0.01);
  p2.assign(p1);
  o2.restore(await o1.snapshot());
  o1.step({ [p1.name]: g }, 0.01);
  o2.step({ [p2.name]: g }, 0.01);
  assert.deepEqual(await p2.data(), await p1.data());
  assert.equal(o2.globalStep, 3);
  tf.dispose([g, p1, p2]);
  o1.dispose();
  o2.dispose();
});

Deno.test("GrowingAdamW bias-corrects a block added later by its own step, at its own rate", async () => {
  const old = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, "adamw.late.old");
  const late = tf.variable(tf.tensor2d([[-1, 0.5], [2, -3]]), true, "adamw.late.new");
  const opt = new GrowingAdamW({ beta1: HP.b1, beta2: HP.b2, epsilon: HP.eps, weightDecay: HP.wd });
  opt.addBlock({ key: "old", variables: [old] });
  const gOld = [[0.1, -0.2, 0.3, 0.4], [-0.5, 0.05, 0.3, -0.1], [0.2, 0.2, -0.1, 0.3], [
    0.01,
    -0.3,
    0.2,
    0.1,
  ], [0.4, 0.1, -0.2, -0.05]];
  const gNew = [[0.3, -0.1, 0.05, 0.2], [-0.2, 0.4, 0.1, -0.3]];
  const lrOf = (b: BlockStepInfo): number => b.key === "old" ? HP.lr : HP.lr / 2;
  gOld.forEach((g, k) => {
    if (k === 3) opt.addBlock({ key: "new", variables: [late] });
    const grads: tf.NamedTensorMap = { [old.name]: tf.tensor2d(g, [2, 2]) };
    if (k >= 3) grads[late.name] = tf.tensor2d(gNew[k - 3]!, [2, 2]);
    opt.step(grads, lrOf);
    tf.dispose(grads);
  });
  // The late block's two updates are AdamW steps 1 and 2 (not 4 and 5) at half the rate.
  const refNew = adamwReference([-1, 0.5, 2, -3], gNew, { ...HP, lr: HP.lr / 2 });
  const refOld = adamwReference([1, 2, 3, 4], gOld, HP);
  assertClose(await late.data(), refNew.p, 1e-6, "late block p");
  assertClose(await old.data(), refOld.p, 1e-6, "old block p");
  assert.equal((await opt.blockState("new")).step, 2);
  assert.equal((await opt.blockState("old")).step, 5);
  opt.dispose();
  tf.dispose([old, late]);
});

Deno.test("GrowingAdamW adds ε to √v̂ (torch placement), visible with a large ε", async () => {
  const hp = { ...HP, eps: 0.05 };
  const p = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, "adamw.eps");
  const opt = new GrowingAdamW({ beta1: hp.b1, beta2: hp.b2, epsilon: hp.eps, weightDecay: hp.wd });
  opt.addBlock({ key: "e", variables: [p] });
  const gs = [[0.1, -0.02, 0.3, 0.004], [-0.05, 0.05, 0.03, -0.1]];
  for (const g of gs) {
    const gt = tf.tensor2d(g, [2, 2]);
    opt.step({ [p.name]: gt }, hp.lr);
    gt.dispose();
  }
  // √(v̂ + ε) or √v̂·(1 + ε) would move p by ≥ 1e-4 more or less than this reference.
  assertClose(await p.data(), adamwReference([1, 2, 3, 4], gs, hp).p, 1e-6, "p");
  opt.dispose();
  p.dispose();
});

Deno.test("GrowingAdamW clips by the norm over every gradient of every block at once", async () => {
  const [p, q] = [
    tf.variable(tf.tensor1d([0]), true, "adamw.gclip.p"),
    tf.variable(tf.tensor2d([[0, 0]]), true, "adamw.gclip.q"),
  ];
  const opt = new GrowingAdamW({ clipNorm: 1 });
  opt.addBlock({ key: "p", variables: [p] });
  opt.addBlock({ key: "q", variables: [q] });
  const grads = { [p.name]: tf.tensor1d([2]), [q.name]: tf.tensor2d([[-4, 4]]) };
  opt.step(grads, 0.1);
  // Global norm √(4 + 16 + 16) = 6: every gradient is scaled by 1/(6 + 1e-6), m = 0.1·g·factor.
  const f = 1 / (6 + 1e-6);
  assertClose((await opt.blockState("p")).m[0]!.data, [0.1 * 2 * f], 1e-7, "m of p");
  assertClose((await opt.blockState("q")).m[0]!.data, [-0.4 * f, 0.4 * f], 1e-7, "m of q");
  tf.dispose([p, q, ...Object.values(grads)]);
  opt.dispose();
});

Deno.test("GrowingAdamW leaves a variable without gradient bit for bit (parameters and moments) and a block without any gradient at its step", async () => {
  const p = tf.variable(tf.tensor1d([1, -2]), true, "adamw.part.p");
  const q = tf.variable(tf.tensor2d([[0.5, 3]]), true, "adamw.part.q");
  const r = tf.variable(tf.tensor1d([7]), true, "adamw.part.r");
  const opt = new GrowingAdamW({ weightDecay: 0.1 });
  opt.addBlock({ key: "pq", variables: [p, q] });
  opt.addBlock({ key: "r", variables: [r] });
  const gp = tf.tensor1d([0.1, 0.2]), gq = tf.tensor2d([[-0.3, 0.4]]), gr = tf.tensor1d([1]);
  opt.step({ [p.name]: gp, [q.name]: gq, [r.name]: gr }, 0.01);
  const qBefore = Array.from(await q.data());
  const pqBefore = await opt.blockState("pq");
  const rBefore = await opt.blockState("r");
  const rValue = Array.from(await r.data());
  opt.step({ [p.name]: gp }, 0.01); // q and all of block r get no gradient
  assert.deepEqual(Array.from(await q.data()), qBefore, "q untouched");
  assert.deepEqual(Array.from(await r.data()), rValue, "r untouched");
  const pqAfter = await opt.blockState("pq");
  assert.equal(pqAfter.step, 2, "block pq stepped (p had a gradient)");
  assert.deepEqual(pqAfter.m[1], pqBefore.m[1], "q's first moment untouched");
  assert.deepEqual(pqAfter.v[1], pqBefore.v[1], "q's second moment untouched");
  assert.notDeepEqual(pqAfter.m[0], pqBefore.m[0], "p's first moment moved");
  assert.deepEqual(await opt.blockState("r"), rBefore, "block r keeps its step and moments");
  tf.dispose([gp, gq, gr]);
  opt.dispose();
  tf.dispose([p, q, r]);
});

Deno.test("GrowingAdamW.removeBlock() keeps the other blocks' moments and they keep training", async () => {
  const vs = [0, 1, 2].map((i) => tf.variable(tf.tensor1d([i + 1, -i]), true, `adamw.rm.${i}`));
  const opt = new GrowingAdamW();
  vs.forEach((v, i) => opt.addBlock({ key: `b${i}`, variables: [v] }));
  const g = tf.tensor1d([0.3, -0.1]);
  opt.step(Object.fromEntries(vs.map((v) => [v.name, g])), 0.01);
  const keep = [await opt.blockState("b0"), await opt.blockState("b2")];
  opt.removeBlock("b1");
  assert.deepEqual(opt.blockKeys, ["b0", "b2"]);
  assert.deepEqual([await opt.blockState("b0"), await opt.blockState("b2")], keep);
  opt.step({ [vs[0]!.name]: g, [vs[2]!.name]: g }, 0.01);
  assert.equal((await opt.blockState("b2")).step, 2);
  g.dispose();
  opt.dispose();
  tf.dispose(vs);
});
