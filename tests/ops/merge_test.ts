import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AdaLoraAdapter,
  type Adapter,
  createAdapter,
  exportPeft,
  frobeniusNorm,
  LoraAdapter,
  loraFromPeft,
  mergeAdapter,
  orthogonalityPenalty,
  unmergeAdapter,
} from "../../ops/mod.ts";
import {
  assertClose,
  checkGradients,
  gaussian,
  mat,
  mm,
  randomizeVariables,
  tr,
  useWasm,
} from "./_helpers.ts";

await useWasm();

const N = 6, D = 5;

function allMethods(tag: string): Adapter[] {
  const common = (m: string) => ({
    name: `mg.${tag}.${m}`,
    inFeatures: N,
    outFeatures: D,
    seed: 3,
  });
  const tri = createAdapter("triadaptlora", { ...common("tri"), alpha: 4 });
  tri.grow(2);
  const incre = createAdapter("increlora", { ...common("incre"), alpha: 4 });
  incre.grow(2);
  const ads: Adapter[] = [
    tri,
    createAdapter("lora", { ...common("lora"), rank: 3, alpha: 6 }),
    createAdapter("adalora", { ...common("ada"), initialRank: 4, alpha: 4 }),
    incre,
  ];
  ads.forEach((ad, k) =>
    randomizeVariables(ad.trainableVariables(), 40 + k, 0.5, (v, t) => {
      if (/\.lora_L(#\d+)?$/.test(v.name)) return tf.linalg.bandPart(t as tf.Tensor2D, -1, 0);
      if (/\.lora_U(#\d+)?$/.test(v.name)) return tf.linalg.bandPart(t as tf.Tensor2D, 0, -1);
      return t;
    })
  );
  return ads;
}

Deno.test("mergeAdapter() then unmergeAdapter() returns W0 to 1e-6 for every method", async () => {
  const w0 = tf.tensor2d(gaussian(D * N, 1), [D, N]);
  const w0v = await w0.data();
  for (const ad of allMethods("mu")) {
    const merged = mergeAdapter(w0, ad);
    const back = unmergeAdapter(merged, ad);
    const moved = Math.max(...Array.from(await merged.data(), (v, i) => Math.abs(v - w0v[i]!)));
    assert.ok(moved > 1e-3, `${ad.method}: merge must change W (moved ${moved})`);
    assertClose(await back.data(), w0v, 1e-6, ad.method);
    tf.dispose([merged, back]);
    ad.dispose();
  }
  w0.dispose();
  assert.throws(
    () =>
      mergeAdapter(
        tf.zeros([N, D]) as tf.Tensor2D,
        new LoraAdapter({ name: "mg.bad", inFeatures: N, outFeatures: D, seed: 0 }),
      ),
    TypeError,
  );
  tf.disposeVariables();
});

Deno.test("exportPeft() → loraFromPeft() gives the same outputs for every method", async () => {
  const x = tf.tensor2d(gaussian(4 * N, 2), [4, N]);
  const ads = allMethods("ex");
  // Mask one AdaLoRA triplet so its rank is dropped from the export.
  const ada = ads[2] as AdaLoraAdapter;
  const keep = tf.tensor1d([1, 0, 1, 1]);
  ada.applyMask(keep);
  keep.dispose();
  const out = await exportPeft(ads);
  assert.deepEqual(out.rankPattern, {
    "mg.ex.tri": 3,
    "mg.ex.lora": 3,
    "mg.ex.ada": 3,
    "mg.ex.incre": 3,
  });
  assert.deepEqual(out.alphaPattern, out.rankPattern);
  const pattern: Readonly<Record<string, number>> = out.alphaPattern;
  for (const ad of ads) {
    const a = out.tensors[`base_model.model.${ad.name}.lora_A.weight`]!;
    const b = out.tensors[`base_model.model.${ad.name}.lora_B.weight`]!;
    assert.deepEqual(a.shape, [pattern[ad.name], N]);
    assert.deepEqual(b.shape, [D, pattern[ad.name]]);
    const la = tf.tensor2d(a.data, a.shape as [number, number]);
    const lb = tf.tensor2d(b.data, b.shape as [number, number]);
    const re = loraFromPeft(`${ad.name}.re`, la, lb);
    const [y, yr] = [ad.delta(x, false), re.delta(x, false)];
    assertClose(await yr.data(), await y.data(), 1e-5, ad.method);
    tf.dispose([la, lb, y, yr]);
    re.dispose();
    ad.dispose();
  }
  x.dispose();
});

Deno.test("mergeAdapter() is linear in the scale", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.double({ min: 0.25, max: 8, noNaN: true }),
      fc.integer({ min: 1, max: 4 }),
      async (c, rank) => {
        const mk = (alpha: number, tag: string) =>
          new LoraAdapter({
            name: `mg.lin.${tag}`,
            inFeatures: 3,
            outFeatures: 2,
            seed: 5,
            rank,
            alpha,
          });
        const [a1, a2] = [mk(rank, "1"), mk(c * rank, "c")];
        randomizeVariables(a1.trainableVariables(), 7);
        randomizeVariables(a2.trainableVariables(), 7);
        const w0 = tf.tensor2d(gaussian(6, 3), [2, 3]);
        const [m1, m2] = [mergeAdapter(w0, a1), mergeAdapter(w0, a2)];
        const [v0, v1, v2] = [await w0.data(), await m1.data(), await m2.data()];
        const expected = Array.from(v1, (v, i) => v0[i]! + c * (v - v0[i]!));
        assertClose(v2, expected, 1e-5 * (1 + c), `c=${c}`);
        tf.dispose([w0, m1, m2]);
        a1.dispose();
        a2.dispose();
      },
    ),
    { numRuns: 20 },
  );
});

Deno.test("orthogonalityPenalty() equals Σ(‖AAᵀ − I‖_F + ‖BᵀB − I‖_F)/(2M) in float64", async () => {
  const ads = allMethods("orth");
  let expected = 0;
  for (const ad of ads) {
    const f = tf.tidy(() => ad.orthogonalityFactors());
    const [a, b] = [await f.a.data(), await f.b.data()];
    const r = f.a.shape[0];
    const am = mat(r, N, a), bm = mat(D, r, b);
    const fro = (m: ReturnType<typeof mm>) =>
      Math.sqrt(m.data.reduce((s, v, i) => s + (v - (i % (r + 1) === 0 ? 1 : 0)) ** 2, 0));
    expected += fro(mm(am, tr(am))) + fro(mm(tr(bm), bm));
  }
  expected /= 2 * ads.length;
  const reg = orthogonalityPenalty(ads);
  assertClose(await reg.data(), [expected], 1e-5 * expected, "penalty");
  reg.dispose();
  ads.forEach((ad) => ad.dispose());
  const zero = orthogonalityPenalty([]);
  assert.equal((await zero.data())[0], 0);
  zero.dispose();
});

Deno.test("orthogonalityPenalty() gradients match central finite differences (h 1e-3, atol 2e-4 + 1e-3·|g|)", async () => {
  const ad = new AdaLoraAdapter({
    name: "mg.og",
    inFeatures: 3,
    outFeatures: 3,
    seed: 1,
    initialRank: 2,
  });
  randomizeVariables(ad.trainableVariables(), 3);
  const vars = ad.trainableVariables().slice(0, 2); // A, B (E does not enter the penalty)
  assert.equal(await checkGradients(() => orthogonalityPenalty([ad]), vars, { h: 1e-3 }), 12);
  ad.dispose();
});

Deno.test("orthogonalityPenalty() has a finite gradient (0 for that term) when A·Aᵀ = I or BᵀB = I exactly", async () => {
  // A rank-1 adapter whose A row and B column have norm exactly 1 in float32: ‖AAᵀ − I‖_F = 0 and
  // ‖BᵀB − I‖_F = 0, where tf.norm's gradient is 0/0 = NaN (seen at step 1015 of a planted run).
  const ad = new LoraAdapter({ name: "mg.orth0", inFeatures: 4, outFeatures: 3, seed: 1, rank: 1 });
  const [a, b] = ad.trainableVariables() as [tf.Variable, tf.Variable];
  assert.deepEqual([a.shape, b.shape], [[1, 4], [3, 1]]);
  a.assign(tf.tensor2d([[0, 1, 0, 0]]));
  b.assign(tf.tensor2d([[0], [0], [1]]));
  const exact = tf.variableGrads(() => orthogonalityPenalty([ad]), [a, b]);
  assert.equal((await exact.value.data())[0], 0);
  for (const g of [exact.grads[a.name]!, exact.grads[b.name]!]) {
    assert.deepEqual(Array.from(await g.data()), new Array(g.size).fill(0));
  }
  tf.dispose([exact.value, ...Object.values(exact.grads)]);
  // Only the A term at 0: B's gradient is the B term's alone, finite and non-zero.
  b.assign(tf.tensor2d([[0], [0], [2]]));
  const half = tf.variableGrads(() => orthogonalityPenalty([ad]), [a, b]);
  assert.deepEqual(Array.from(await half.grads[a.name]!.data()), [0, 0, 0, 0]);
  // d/dB of ‖BᵀB − 1‖/2 = sign(BᵀB − 1)·B = [0, 0, 2] (M = 1, so the 1/(2M) factor is 1/2).
  assertClose(await half.grads[b.name]!.data(), [0, 0, 2], 1e-6, "B gradient");
  tf.dispose([half.value, ...Object.values(half.grads)]);
  ad.dispose();
});

Deno.test("frobeniusNorm() value and gradient equal tf.norm's bit for bit wherever the norm is non-zero", async () => {
  // The penalty's fix for ‖·‖ = 0 must not move any other run by one bit (determinism of old runs).
  let mismatches = 0;
  for (let s = 0; s < 40; s++) {
    const x = tf.randomNormal([2 + (s % 5), 1 + (s % 4)], 0, 1 + s, "float32", s);
    const dy = tf.scalar(0.3 + s * 0.01);
    const ref = tf.grad((v: tf.Tensor) => tf.norm(v))(x, dy);
    const ours = tf.grad((v: tf.Tensor) => frobeniusNorm(v))(x, dy);
    const [nr, no] = [tf.norm(x), frobeniusNorm(x)];
    const [a, b] = [await ref.data(), await ours.data()];
    a.forEach((v, i) => mismatches += Object.is(v, b[i]) ? 0 : 1);
    mismatches += Object.is((await nr.data())[0], (await no.data())[0]) ? 0 : 1;
    tf.dispose([x, dy, ref, ours, nr, no]);
  }
  assert.equal(mismatches, 0);
});
