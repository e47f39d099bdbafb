import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import fc from "fast-check";
import { frobeniusNormsOfD, mergeAdapter, TriAdaptLoraAdapter } from "../../ops/mod.ts";
import type { AdapterSnapshot } from "../../ops/mod.ts";
import {
  assertClose,
  axpy,
  checkGradients,
  gaussian,
  type Mat,
  mat,
  mm,
  randomizeVariables,
  readSafetensor,
  scaled,
  toMat,
  tr,
  useWasm,
} from "./_helpers.ts";

await useWasm();

const FIXTURES = new URL("../../testdata/", import.meta.url);

/** Rebuilds A, B, L, U in float64 from a snapshot, independently of the adapter's assembly. */
function factorsFromSnapshot(s: AdapterSnapshot, n: number, d: number): {
  a: Mat;
  b: Mat;
  l: Mat;
  u: Mat;
} {
  const r = s.blockRanks.reduce((x, y) => x + y, 0);
  const a = new Float64Array(r * n);
  const b = new Float64Array(d * r);
  const l = new Float64Array(r * r);
  const u = new Float64Array(r * r);
  let off = 0;
  s.blockRanks.forEach((rk, k) => {
    const t = (key: string): Float32Array => {
      const e = s.tensors[`${key}.${k}`];
      assert.ok(e !== undefined, `${key}.${k}`);
      return e.data;
    };
    a.set(t("lora_A"), off * n);
    const bk = t("lora_B");
    for (let i = 0; i < d; i++) for (let j = 0; j < rk; j++) b[i * r + off + j] = bk[i * rk + j]!;
    const la = t("lora_L_aug");
    const ua = t("lora_U_aug");
    for (let i = 0; i < rk; i++) {
      for (let j = 0; j < rk; j++) {
        l[(off + i) * r + off + j] = la[i * rk + j]!;
        u[(off + i) * r + off + j] = ua[i * rk + j]!;
      }
    }
    if (off > 0) {
      const ld = t("lora_L_down");
      const uu = t("lora_U_up");
      for (let i = 0; i < rk; i++) {
        for (let j = 0; j < off; j++) l[(off + i) * r + j] = ld[i * off + j]!;
      }
      for (let i = 0; i < off; i++) {
        for (let j = 0; j < rk; j++) u[i * r + off + j] = uu[i * rk + j]!;
      }
    }
    off += rk;
  });
  return { a: mat(r, n, a), b: mat(d, r, b), l: mat(r, r, l), u: mat(r, r, u) };
}

function triangularTransform(v: tf.Variable, t: tf.Tensor): tf.Tensor {
  if (/\.lora_L(#\d+)?$/.test(v.name)) return tf.linalg.bandPart(t as tf.Tensor2D, -1, 0);
  if (/\.lora_U(#\d+)?$/.test(v.name)) return tf.linalg.bandPart(t as tf.Tensor2D, 0, -1);
  return t;
}

Deno.test("TriAdaptLoraAdapter() starts at rank 1 with B = 0 and N(0, 0.02²) A, L, U", async () => {
  const ad = new TriAdaptLoraAdapter({ name: "t.init", inFeatures: 64, outFeatures: 32, seed: 7 });
  const s = await ad.snapshot();
  assert.equal(ad.rank, 1);
  assert.ok(Math.abs(ad.scale - 32 / (1 + 1e-5)) < 1e-12); // default alpha 32
  assert.ok(s.tensors["lora_B.0"]!.data.every((v) => v === 0));
  const a = s.tensors["lora_A.0"]!.data;
  const std = Math.sqrt(a.reduce((x, v) => x + v * v, 0) / a.length);
  assert.ok(std > 0.012 && std < 0.028, `std of A ${std}`);
  const x = tf.tensor2d(gaussian(5 * 64, 1), [5, 64]);
  const y = ad.delta(x, true);
  assert.ok((await y.data()).every((v) => v === 0));
  tf.dispose([x, y]);
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter() is deterministic given the seed and differs across seeds", async () => {
  const mk = (seed: number, name: string) =>
    new TriAdaptLoraAdapter({ name, inFeatures: 6, outFeatures: 5, seed, initialRank: 2 });
  const [a1, a2, a3] = [mk(3, "t.det"), mk(3, "t.det"), mk(4, "t.det")];
  const [s1, s2, s3] = [await a1.snapshot(), await a2.snapshot(), await a3.snapshot()];
  assert.deepEqual(s1.tensors, s2.tensors);
  assert.notDeepEqual(s1.tensors["lora_A.0"], s3.tensors["lora_A.0"]);
  // Same logical name twice: the registry names must not collide.
  assert.notEqual(a1.trainableVariables()[0]!.name, a2.trainableVariables()[0]!.name);
  [a1, a2, a3].forEach((a) => a.dispose());
});

Deno.test("TriAdaptLoraAdapter.delta() equals x·(W0 + ΔW)ᵀ − x·W0ᵀ with ΔW in float64", async () => {
  const n = 7, d = 5, rows = 4;
  const ad = new TriAdaptLoraAdapter({
    name: "t.fwd",
    inFeatures: n,
    outFeatures: d,
    seed: 1,
    initialRank: 2,
    alpha: 8,
  });
  ad.grow(3);
  randomizeVariables(ad.trainableVariables(), 11, 0.5, triangularTransform);
  const s = await ad.snapshot();
  const f = factorsFromSnapshot(s, n, d);
  const dW = scaled(mm(mm(f.b, axpy(f.l, f.u)), f.a), 8 / (5 + 1e-5));
  const w0 = mat(d, n, gaussian(d * n, 2));
  const xv = gaussian(rows * n, 3);
  const x = mat(rows, n, xv);
  const expected = axpy(mm(x, tr(axpy(w0, dW))), mm(x, tr(w0)), -1);
  const xt = tf.tensor2d(xv, [rows, n]);
  const y = ad.delta(xt, false);
  assert.deepEqual(y.shape, [rows, d]);
  // float32 chain of three small products on O(1) values: ~1e-6 relative; 1e-5 absolute.
  assertClose(await y.data(), expected.data, 1e-5, "delta");
  const w0t = tf.tensor2d(Float32Array.from(w0.data), [d, n]);
  const merged = mergeAdapter(w0t, ad);
  assertClose(await merged.data(), axpy(w0, dW).data, 1e-5, "merged");
  tf.dispose([xt, y, w0t, merged]);
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter gradients match central finite differences (float32, atol 2e-4 + 1e-3·|g|)", async () => {
  const ad = new TriAdaptLoraAdapter({
    name: "t.grad",
    inFeatures: 4,
    outFeatures: 3,
    seed: 2,
    initialRank: 2,
    alpha: 2,
  });
  ad.grow(2);
  randomizeVariables(ad.trainableVariables(), 21, 0.5, triangularTransform);
  const x = tf.tensor2d(gaussian(5 * 4, 4), [5, 4]);
  const w = tf.tensor2d(gaussian(5 * 3, 5), [5, 3]);
  const loss = () => tf.tidy(() => ad.delta(x, false).mul(w).sum() as tf.Scalar);
  const checked = await checkGradients(loss, ad.trainableVariables());
  // A [4,4], B [3,4], whole L and U [4,4] (structural zeros included: their gradient is 0).
  assert.equal(checked, 4 * 4 + 3 * 4 + 4 * 4 + 4 * 4);
  tf.dispose([x, w]);
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter gradients of entries outside the triangles are exactly zero", async () => {
  const ad = new TriAdaptLoraAdapter({
    name: "t.mask",
    inFeatures: 4,
    outFeatures: 3,
    seed: 2,
    initialRank: 3,
  });
  randomizeVariables(ad.trainableVariables(), 5, 0.5, triangularTransform);
  const x = tf.tensor2d(gaussian(5 * 4, 4), [5, 4]);
  const vars = ad.trainableVariables();
  const { grads, value } = tf.variableGrads(() => ad.delta(x, false).sum() as tf.Scalar, vars);
  const gl = await grads[vars.find((v) => /\.lora_L(#\d+)?$/.test(v.name))!.name]!.data();
  const gu = await grads[vars.find((v) => /\.lora_U(#\d+)?$/.test(v.name))!.name]!.data();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      if (j > i) assert.ok(gl[i * 3 + j] === 0);
      if (j < i) assert.ok(gu[i * 3 + j] === 0);
    }
  }
  tf.dispose([x, value, grads]);
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter.grow() keeps old entries bit-identical and appends the right shapes", async () => {
  const ad = new TriAdaptLoraAdapter({ name: "t.grow", inFeatures: 6, outFeatures: 5, seed: 9 });
  randomizeVariables(ad.trainableVariables(), 3, 0.5, triangularTransform);
  const before = await ad.snapshot();
  const fBefore = factorsFromSnapshot(before, 6, 5);
  const block = ad.grow(3);
  const after = await ad.snapshot();
  for (const [key, value] of Object.entries(before.tensors)) {
    assert.deepEqual(after.tensors[key], value, key);
  }
  assert.equal(ad.rank, 4);
  assert.deepEqual(ad.blockRanks, [1, 3]);
  // The new block is a region of each grown variable: A's rows, B's columns, L_down | L_aug,
  // U_up over U_aug.
  assert.deepEqual(block.variables.map((v) => v.shape), [[4, 6], [5, 4], [4, 4], [4, 4], [4, 4], [
    4,
    4,
  ]]);
  assert.deepEqual(block.regions, [
    { rows: [1, 4], cols: [0, 6] },
    { rows: [0, 5], cols: [1, 4] },
    { rows: [1, 4], cols: [0, 1] },
    { rows: [1, 4], cols: [1, 4] },
    { rows: [0, 1], cols: [1, 4] },
    { rows: [1, 4], cols: [1, 4] },
  ]);
  // Paper init: new B columns are random (not zero), so the function changes.
  assert.ok(after.tensors["lora_B.1"]!.data.some((v) => v !== 0));
  const t = tf.tidy(() => ad.factors());
  const [a, b, l, u] = await Promise.all([toMat(t.a), toMat(t.b), toMat(t.l), toMat(t.u)]);
  tf.dispose(t);
  assert.deepEqual([a.rows, a.cols, b.rows, b.cols, l.rows, u.cols], [4, 6, 5, 4, 4, 4]);
  // Old top-left entries of the assembled matrices equal the old ones.
  assert.deepEqual(Array.from(a.data.slice(0, 6)), Array.from(fBefore.a.data));
  assert.equal(l.data[0], fBefore.l.data[0]);
  assert.equal(u.data[0], fBefore.u.data[0]);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      if (j > i) assert.ok(l.data[i * 4 + j] === 0, `L[${i}][${j}]`);
      if (j < i) assert.ok(u.data[i * 4 + j] === 0, `U[${i}][${j}]`);
    }
  }
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter.grow('preserving') leaves outputs unchanged to 1e-6", async () => {
  const ad = new TriAdaptLoraAdapter({
    name: "t.pres",
    inFeatures: 8,
    outFeatures: 6,
    seed: 4,
    initialRank: 2,
    growthInit: "preserving",
  });
  randomizeVariables(ad.trainableVariables(), 8, 0.5, triangularTransform);
  const x = tf.tensor2d(gaussian(3 * 8, 6), [3, 8]);
  const y0 = ad.delta(x, false);
  ad.grow(4);
  ad.grow(1);
  const y1 = ad.delta(x, false);
  assertClose(await y1.data(), await y0.data(), 1e-6, "preserving");
  assert.ok((await y0.data()).some((v) => Math.abs(v) > 0.1), "outputs must be non-trivial");
  // The paper mode does change the function.
  ad.grow(2, "paper");
  const y2 = ad.delta(x, false);
  const [v0, v2] = [Array.from(await y0.data()), Array.from(await y2.data())];
  const diff = Math.max(...v2.map((v, i) => Math.abs(v - (v0[i] as number))));
  assert.ok(diff > 1e-4, `paper growth changed outputs by only ${diff}`);
  tf.dispose([x, y0, y1, y2]);
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter keeps L lower- and U upper-triangular under any growth sequence", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 1000 }),
      async (growths, initialRank, seed) => {
        const ad = new TriAdaptLoraAdapter({
          name: "t.prop",
          inFeatures: 3,
          outFeatures: 2,
          seed,
          initialRank,
        });
        for (const g of growths) ad.grow(g);
        const t = tf.tidy(() => ad.factors());
        const [l, u] = [await toMat(t.l), await toMat(t.u)];
        tf.dispose(t);
        const r = initialRank + growths.reduce((x, y) => x + y, 0);
        assert.equal(ad.rank, r);
        for (let i = 0; i < r; i++) {
          for (let j = 0; j < r; j++) {
            if (j > i) assert.ok(l.data[i * r + j] === 0);
            if (j < i) assert.ok(u.data[i * r + j] === 0);
            if (j <= i) assert.notEqual(l.data[i * r + j], 0); // the lower triangle is all free
          }
        }
        ad.dispose();
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("TriAdaptLoraAdapter reproduces lora_case.json W_merged to 1e-5", async () => {
  const dir = new URL("golden/deberta/tiny-a/", FIXTURES);
  const c = JSON.parse(await Deno.readTextFile(new URL("lora_case.json", dir))) as {
    r: number;
    s: number;
    in_features: number;
    out_features: number;
    weight_key: string;
    A: number[][];
    B: number[][];
    L: number[][];
    U: number[][];
    W_merged: number[][];
  };
  const w = await readSafetensor(new URL("model.safetensors", dir), c.weight_key);
  assert.deepEqual(w.shape, [c.out_features, c.in_features]);
  const alpha = c.s * (c.r + 1e-5);
  const name = "deberta.encoder.layer.0.attention.self.query_proj";
  const ad = new TriAdaptLoraAdapter({
    name,
    inFeatures: c.in_features,
    outFeatures: c.out_features,
    seed: 0,
    initialRank: c.r,
    alpha,
  });
  const td = (m: number[][]) => ({
    shape: [m.length, m[0]!.length],
    data: Float32Array.from(m.flat()),
  });
  ad.restore({
    method: "triadaptlora",
    name,
    blockRanks: [c.r],
    scalars: {},
    tensors: {
      "lora_A.0": td(c.A),
      "lora_B.0": td(c.B),
      "lora_L_aug.0": td(c.L),
      "lora_U_aug.0": td(c.U),
    },
  });
  assert.ok(Math.abs(ad.scale - c.s) < 1e-12);
  const w0 = tf.tensor2d(w.data, [c.out_features, c.in_features]);
  const merged = mergeAdapter(w0, ad);
  // Reference: float64 then rounded to float32; our float32 products of O(1) values land
  // within ~1e-6, so 1e-5 is the stated tolerance (README "How to compare").
  assertClose(await merged.data(), c.W_merged.flat(), 1e-5, "W_merged");
  // The skinny forward path agrees with the merged weight as well.
  const x = tf.tensor2d(gaussian(3 * 32, 12), [3, 32]);
  const y = ad.delta(x, false);
  const viaMerged = tf.tidy(() => tf.matMul(x, merged.sub(w0), false, true));
  assertClose(await y.data(), await viaMerged.data(), 1e-5, "delta vs merged");
  tf.dispose([w0, merged, x, y, viaMerged]);
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter.restore() rejects non-triangular L_aug", () => {
  const ad = new TriAdaptLoraAdapter({
    name: "t.bad",
    inFeatures: 2,
    outFeatures: 2,
    seed: 0,
    initialRank: 2,
  });
  const td = (v: number[]) => ({ shape: [2, 2], data: Float32Array.from(v) });
  assert.throws(
    () =>
      ad.restore({
        method: "triadaptlora",
        name: "t.bad",
        blockRanks: [2],
        scalars: {},
        tensors: {
          "lora_A.0": td([1, 2, 3, 4]),
          "lora_B.0": td([0, 0, 0, 0]),
          "lora_L_aug.0": td([1, 1, 1, 1]),
          "lora_U_aug.0": td([1, 1, 0, 1]),
        },
      }),
    TypeError,
  );
  ad.dispose();
});

Deno.test("TriAdaptLoraAdapter snapshot() → restore() round-trips a grown adapter", async () => {
  const a = new TriAdaptLoraAdapter({
    name: "t.snap",
    inFeatures: 5,
    outFeatures: 4,
    seed: 1,
    growthInit: "preserving",
  });
  a.grow(2);
  randomizeVariables(a.trainableVariables(), 2, 0.5, triangularTransform);
  const snap = await a.snapshot();
  const b = new TriAdaptLoraAdapter({ name: "t.snap", inFeatures: 5, outFeatures: 4, seed: 99 });
  b.restore(snap);
  assert.deepEqual(b.blockRanks, [1, 2]);
  assert.equal(b.scale, a.scale);
  const x = tf.tensor2d(gaussian(2 * 5, 3), [2, 5]);
  const [ya, yb] = [a.delta(x, false), b.delta(x, false)];
  assert.deepEqual(await yb.data(), await ya.data());
  tf.dispose([x, ya, yb]);
  a.dispose();
  b.dispose();
});

Deno.test("TriAdaptLoraAdapter dropout replays bit for bit from the seed and is off in eval", async () => {
  const mk = () =>
    new TriAdaptLoraAdapter({
      name: "t.drop",
      inFeatures: 16,
      outFeatures: 4,
      seed: 5,
      dropout: 0.5,
    });
  const [a, b] = [mk(), mk()];
  randomizeVariables(a.trainableVariables(), 1);
  randomizeVariables(b.trainableVariables(), 1);
  const x = tf.tensor2d(gaussian(8 * 16, 2), [8, 16]);
  const ya1 = a.delta(x, true), ya2 = a.delta(x, true), yb1 = b.delta(x, true);
  const e1 = a.delta(x, false), e2 = a.delta(x, false);
  assert.deepEqual(await ya1.data(), await yb1.data());
  assert.notDeepEqual(await ya1.data(), await ya2.data());
  assert.deepEqual(await e1.data(), await e2.data());
  assert.notDeepEqual(await ya1.data(), await e1.data());
  tf.dispose([x, ya1, ya2, yb1, e1, e2]);
  a.dispose();
  b.dispose();
});

Deno.test("TriAdaptLoraAdapter() rejects bad options and bad inputs", () => {
  assert.throws(
    () => new TriAdaptLoraAdapter({ name: "t.x", inFeatures: 0, outFeatures: 2, seed: 0 }),
    RangeError,
  );
  assert.throws(
    () =>
      new TriAdaptLoraAdapter({ name: "t.x", inFeatures: 2, outFeatures: 2, seed: 0, dropout: 1 }),
    RangeError,
  );
  assert.throws(
    () => new TriAdaptLoraAdapter({ name: "t.x", inFeatures: 2, outFeatures: 2, seed: 0.5 }),
    TypeError,
  );
  const ad = new TriAdaptLoraAdapter({ name: "t.x", inFeatures: 2, outFeatures: 2, seed: 0 });
  const x = tf.zeros([3, 5]) as tf.Tensor2D;
  assert.throws(() => ad.delta(x, false), TypeError);
  assert.throws(() => ad.grow(0), RangeError);
  x.dispose();
  ad.dispose();
});

Deno.test("frobeniusNormsOfD() returns ‖L + U‖_F per module in float64 order, one read for all", async () => {
  const mk = (name: string, seed: number, growths: number[]): TriAdaptLoraAdapter => {
    const ad = new TriAdaptLoraAdapter({ name, inFeatures: 4, outFeatures: 3, seed });
    for (const g of growths) ad.grow(g);
    randomizeVariables(ad.trainableVariables(), seed, 0.5, triangularTransform);
    return ad;
  };
  const ads = [mk("t.fro.0", 31, [2, 1]), mk("t.fro.1", 32, []), mk("t.fro.2", 33, [3])];
  const before = tf.memory().numTensors;
  const norms = await frobeniusNormsOfD(ads);
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  assert.equal(norms.length, 3);
  for (const [i, ad] of ads.entries()) {
    const f = factorsFromSnapshot(await ad.snapshot(), 4, 3);
    // The diagonal is in both triangles, so it counts twice inside D = L + U.
    const ref = Math.sqrt(f.l.data.reduce((acc, v, k) => acc + (v + f.u.data[k]!) ** 2, 0));
    // float32 sums of O(1) squares: relative 1e-6.
    assert.ok(Math.abs(norms[i]! - ref) <= 1e-6 * ref, `module ${i}: ${norms[i]} vs ${ref}`);
    ad.dispose();
  }
  assert.deepEqual(await frobeniusNormsOfD([]), []);
});
