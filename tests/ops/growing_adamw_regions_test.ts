/**
 * Blocks as regions of variables that grow (docs/METHOD.md §3, §21): the optimizer must give every
 * entry exactly the update it would get if each region were its own variable.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { GrowingAdamW, type ParameterBlock, TriAdaptLoraAdapter } from "../../ops/mod.ts";
import { gaussian, useWasm } from "./_helpers.ts";
import { recordGrowth } from "../../ops/_internal.ts";
import { IncreLoraAdapter, orthogonalityPenalty } from "../../ops/mod.ts";

await useWasm();

/** Rows `r0..r1` × cols `c0..c1` of a row-major `[_, width]` array. */
function cut(
  data: ArrayLike<number>,
  width: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
) {
  const out: number[] = [];
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) out.push(data[r * width + c]!);
  }
  return out;
}

Deno.test("GrowingAdamW: regions of one growing variable update bit for bit like separate variables, before and after growth", async () => {
  const opts = { weightDecay: 0.05 };
  // Whole storage: W [2,3] (block b0), grown to [3,4] with block b1 = row 2, and column 3 of rows 0-1
  // left to nobody (a structural zero that must never move).
  const w0 = tf.variable(tf.tensor2d(gaussian(6, 1), [2, 3]), true, "rg.w");
  const whole = new GrowingAdamW(opts);
  whole.addBlock({ key: "b0", variables: [w0], regions: [{ rows: [0, 2], cols: [0, 3] }] });
  // Separate storage: the same entries as variables of their own.
  const p0 = tf.variable(tf.tensor2d(gaussian(6, 1), [2, 3]), true, "rg.p0");
  const separate = new GrowingAdamW(opts);
  separate.addBlock({ key: "b0", variables: [p0] });
  const lr = (info: { blockStep: number }) => 0.01 * info.blockStep;
  for (let s = 0; s < 3; s++) {
    const g = tf.tensor2d(gaussian(6, 10 + s), [2, 3]);
    whole.step({ "rg.w": g }, lr);
    separate.step({ "rg.p0": g }, lr);
    g.dispose();
  }
  assert.deepEqual(Array.from(await w0.data()), Array.from(await p0.data()));
  // Grow: a new, larger variable of the same name holding the old entries top left.
  const grownValues = tf.tidy(() =>
    tf.concat([tf.concat([w0, tf.zeros([2, 1])], 1), tf.tensor2d(gaussian(4, 2), [1, 4])], 0)
  );
  w0.dispose();
  const w = tf.variable(grownValues, true, "rg.w");
  grownValues.dispose();
  recordGrowth(w, w0);
  whole.addBlock({ key: "b1", variables: [w], regions: [{ rows: [2, 3], cols: [0, 4] }] }, 3);
  const p1 = tf.variable(tf.tensor2d(gaussian(4, 2), [1, 4]), true, "rg.p1");
  separate.addBlock({ key: "b1", variables: [p1] }, 3);
  // The old block's moments moved with its entries; the new block starts at zero.
  assert.deepEqual(
    (await whole.blockState("b0")).m[0]!.data,
    (await separate.blockState("b0")).m[0]!.data,
  );
  assert.deepEqual(Array.from((await whole.blockState("b1")).v[0]!.data), [0, 0, 0, 0]);
  // Step 4: a gradient taken before the growth ([2,3]) moves only the old block.
  const early = tf.tensor2d(gaussian(6, 20), [2, 3]);
  whole.step({ "rg.w": early }, lr);
  separate.step({ "rg.p0": early }, lr);
  early.dispose();
  assert.equal((await whole.blockState("b1")).step, 0);
  assert.equal((await separate.blockState("b1")).step, 0);
  // Steps 5-7: whole gradients; the corner column 3 of rows 0-1 gets a gradient and never moves.
  for (let s = 0; s < 3; s++) {
    const g = tf.tensor2d(gaussian(12, 30 + s), [3, 4]);
    const [g0, g1] = [g.slice([0, 0], [2, 3]), g.slice([2, 0], [1, 4])];
    whole.step({ "rg.w": g }, lr);
    separate.step({ "rg.p0": g0, "rg.p1": g1 }, lr);
    tf.dispose([g, g0, g1]);
  }
  const all = await w.data();
  assert.deepEqual(cut(all, 4, 0, 2, 0, 3), Array.from(await p0.data()));
  assert.deepEqual(cut(all, 4, 2, 3, 0, 4), Array.from(await p1.data()));
  assert.deepEqual(cut(all, 4, 0, 2, 3, 4), [0, 0]);
  for (const key of ["b0", "b1"]) {
    const [a, b] = [await whole.blockState(key), await separate.blockState(key)];
    assert.deepEqual(a, b, key);
  }
  // A snapshot restores into a fresh optimizer bit for bit.
  const snap = await whole.snapshot();
  const again = new GrowingAdamW(opts);
  again.addBlock({ key: "b0", variables: [w], regions: [{ rows: [0, 2], cols: [0, 3] }] });
  again.addBlock({ key: "b1", variables: [w], regions: [{ rows: [2, 3], cols: [0, 4] }] });
  again.restore(snap);
  assert.deepEqual(await again.snapshot(), snap);
  [whole, separate, again].forEach((o) => o.dispose());
  tf.dispose([w, p0, p1]);
});

Deno.test("GrowingAdamW rejects overlapping regions, regions outside the variable, a shrunk or unrelated same-named variable, changing nothing", async () => {
  const w0 = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, "rg.bad");
  const opt = new GrowingAdamW();
  opt.addBlock({ key: "a", variables: [w0], regions: [{ rows: [0, 2], cols: [0, 2] }] });
  const g0 = tf.ones([2, 2]);
  opt.step({ "rg.bad": g0 }, 0.1);
  const before = await opt.snapshot();
  assert.throws(
    () => opt.addBlock({ key: "b", variables: [w0], regions: [{ rows: [1, 2], cols: [1, 2] }] }),
    /Cannot add optimizer block b as variable rg\.bad must not be in another block: current owner is a/,
  );
  assert.throws(
    () => opt.addBlock({ key: "c", variables: [w0], regions: [{ rows: [2, 4], cols: [0, 1] }] }),
    /region of rg\.bad must lie inside its shape \[2,2\]: current region is rows \[2,4\]/,
  );
  // A growth whose new block overlaps an old one: rejected before the growth is taken.
  const values = tf.tidy(() => tf.pad(w0, [[0, 1], [0, 1]]));
  w0.dispose();
  const w = tf.variable(values, true, "rg.bad");
  values.dispose();
  recordGrowth(w, w0);
  assert.throws(
    () => opt.addBlock({ key: "d", variables: [w], regions: [{ rows: [1, 3], cols: [0, 3] }] }),
    /must not be in another block: current owner is a/,
  );
  // Nothing changed: the grown shape is still unknown to step(), the state is as before.
  const g = tf.ones([3, 3]);
  assert.throws(() => opt.step({ "rg.bad": g }, 0.1), /must belong to a registered block/);
  assert.deepEqual(await opt.snapshot(), before);
  // A same-named variable that is no recorded growth (another adapter) is refused too.
  const stranger = tf.variable(tf.zeros([4, 4]), true, "rg.bad#x");
  const named = { ...stranger, name: "rg.bad" } as unknown as tf.Variable;
  assert.throws(
    () => opt.addBlock({ key: "e", variables: [named] }),
    /variable rg\.bad must be the registered variable or its growth/,
  );
  // A gradient smaller than a variable that never grew is refused, not applied to a corner.
  const head = tf.variable(tf.zeros([4, 3]), true, "rg.head");
  opt.addBlock({ key: "head", variables: [head] });
  const small = tf.ones([1, 3]);
  // (rg.bad is named too: it grew and its growth was never registered.)
  assert.throws(
    () => opt.step({ "rg.head": small }, 0.1),
    /variables rg\.head, rg\.bad must belong/,
  );
  // Moments of the wrong length are refused by restore().
  const broken = structuredClone(await opt.snapshot());
  const m0 = broken.blocks["head"]!.m[0]!;
  (broken.blocks["head"]!.m as unknown[])[0] = { shape: m0.shape, data: new Float32Array(2) };
  assert.throws(() => opt.restore(broken), /moment 0 must hold 12 values: current length is 2/);
  opt.dispose();
  tf.dispose([g0, g, stranger, head, small, w]);
});

Deno.test("GrowingAdamW.step() after a growth nobody registered throws and changes nothing, even without gradients of the grown variables", async () => {
  const ad = new TriAdaptLoraAdapter({ name: "rg.unsync", inFeatures: 4, outFeatures: 3, seed: 1 });
  const head = tf.variable(tf.zeros([2]), true, "rg.unsync.head");
  const opt = new GrowingAdamW();
  opt.syncBlocks(ad.parameterBlocks());
  opt.addBlock({ key: "head", variables: [head] });
  ad.grow(1);
  const g = tf.ones([2]);
  assert.throws(() => opt.step({ "rg.unsync.head": g }, 0.1), /rg\.unsync\.lora_A/);
  assert.equal(opt.globalStep, 0);
  assert.equal((await opt.blockState("head")).step, 0);
  opt.dispose();
  ad.dispose();
  tf.dispose([g, head]);
});

Deno.test("orthogonalityPenalty() leaves only its result behind (IncreLoRA's factors are new tensors)", () => {
  const ad = new IncreLoraAdapter({ name: "rg.orth", inFeatures: 4, outFeatures: 3, seed: 1 });
  ad.grow(2);
  const before = tf.memory().numTensors;
  const reg = orthogonalityPenalty([ad]);
  assert.equal(tf.memory().numTensors, before + 1);
  reg.dispose();
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter: a training step runs the same number of kernels after 1, 3 and 6 blocks", async () => {
  const x = tf.tensor2d(gaussian(6 * 8, 3), [6, 8]);
  const counts: number[] = [];
  const ad = new TriAdaptLoraAdapter({
    name: "rg.kernels",
    inFeatures: 8,
    outFeatures: 5,
    seed: 1,
    dropout: 0.1,
  });
  const opt = new GrowingAdamW({ clipNorm: 1 });
  opt.syncBlocks(ad.parameterBlocks());
  const count = async (): Promise<number> => {
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.tidy(() => ad.delta(x, true).square().sum() as tf.Scalar),
        ad.trainableVariables(),
      );
      opt.step(grads, 0.01);
      tf.dispose([value, grads]);
    });
    return info.kernels.length;
  };
  counts.push(await count());
  for (const growths of [2, 3]) {
    for (let i = 0; i < growths; i++) opt.addBlock(ad.grow(1 + i));
    counts.push(await count());
  }
  assert.deepEqual(ad.blockRanks, [1, 1, 2, 1, 2, 3]);
  assert.equal(new Set(counts).size, 1, `kernels per step at 1, 3, 6 blocks: ${counts}`);
  opt.dispose();
  ad.dispose();
  x.dispose();
});

Deno.test("TriAdaptLoraAdapter blocks cover A, B and the triangles of L and U exactly once, leaving L's and U's structural zeros to no block", () => {
  const ad = new TriAdaptLoraAdapter({ name: "rg.cover", inFeatures: 4, outFeatures: 3, seed: 1 });
  ad.grow(2);
  ad.grow(1);
  const r = ad.rank;
  const hits = new Map<string, number[]>();
  for (const b of ad.parameterBlocks() as ParameterBlock[]) {
    b.variables.forEach((v, i) => {
      const region = b.regions![i]!;
      const width = v.shape[1]!;
      const h = hits.get(v.name) ?? new Array(v.size).fill(0);
      hits.set(v.name, h);
      for (let row = region.rows[0]; row < region.rows[1]; row++) {
        for (let c = region.cols[0]; c < region.cols[1]; c++) h[row * width + c]++;
      }
    });
  }
  const [a, b, l, u] = ad.trainableVariables();
  assert.ok(hits.get(a!.name)!.every((n) => n === 1));
  assert.ok(hits.get(b!.name)!.every((n) => n === 1));
  // Block-lower part of L (and block-upper of U) once; the rest never.
  const offsets = [0, 1, 3];
  const blockOf = (i: number) => offsets.filter((o) => o <= i).length - 1;
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) {
      const lower = blockOf(j) <= blockOf(i);
      assert.equal(hits.get(l!.name)![i * r + j], lower ? 1 : 0, `L[${i},${j}]`);
      assert.equal(hits.get(u!.name)![j * r + i], lower ? 1 : 0, `U[${j},${i}]`);
    }
  }
  ad.dispose();
});

Deno.test("GrowingAdamW.step() runs no gather kernel: per-block step sizes reach the entries without GatherV2 (50–150 ms a step on wasm at base size)", async () => {
  const ad = new TriAdaptLoraAdapter({ name: "rg.gather", inFeatures: 8, outFeatures: 5, seed: 2 });
  ad.grow(2);
  const opt = new GrowingAdamW({ weightDecay: 0.01 });
  opt.syncBlocks(ad.parameterBlocks());
  const grads: tf.NamedTensorMap = {};
  for (const v of ad.trainableVariables()) grads[v.name] = tf.onesLike(v);
  const info = await tf.profile(() => opt.step(grads, 0.01));
  const names = new Set(info.kernels.map((k) => k.name));
  assert.ok(names.size > 0, "the step ran kernels");
  assert.ok(!names.has("GatherV2"), [...names].join(","));
  tf.dispose(Object.values(grads));
  opt.dispose();
  ad.dispose();
});
