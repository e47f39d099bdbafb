import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  AdaLoraAdapter,
  type Adapter,
  ADAPTERS,
  createAdapter,
  IncreLoraAdapter,
  type LinearDelta,
  LoraAdapter,
  TriAdaptLoraAdapter,
} from "../../ops/mod.ts";
import { gaussian, randomizeVariables, useWasm } from "./_helpers.ts";

await useWasm();

function build(method: Adapter["method"], name: string, seed: number): Adapter {
  const common = { name, inFeatures: 5, outFeatures: 4, seed };
  switch (method) {
    case "triadaptlora": {
      const ad = createAdapter("triadaptlora", common);
      ad.grow(2);
      return ad;
    }
    case "lora":
      return createAdapter("lora", { ...common, rank: 3 });
    case "adalora":
      return createAdapter("adalora", { ...common, initialRank: 3 });
    case "increlora": {
      const ad = createAdapter("increlora", common);
      ad.grow(2);
      return ad;
    }
  }
}

Deno.test("createAdapter() builds every built-in method as a LinearDelta", () => {
  const classes = {
    triadaptlora: TriAdaptLoraAdapter,
    lora: LoraAdapter,
    adalora: AdaLoraAdapter,
    increlora: IncreLoraAdapter,
  };
  for (const method of Object.keys(ADAPTERS) as Adapter["method"][]) {
    const ad = build(method, `reg.${method}`, 1);
    assert.ok(ad instanceof classes[method]);
    assert.equal(ad.method, method);
    const asDelta: LinearDelta = ad;
    const y = asDelta.delta(tf.zeros([2, 5]) as tf.Tensor2D, false);
    assert.deepEqual(y.shape, [2, 4]);
    y.dispose();
    ad.dispose();
  }
  assert.throws(
    () => createAdapter("nope" as "lora", { name: "x", inFeatures: 1, outFeatures: 1, seed: 0 }),
    TypeError,
  );
});

Deno.test("parameterBlocks() partition trainableVariables(), named by module path", () => {
  for (const method of Object.keys(ADAPTERS) as Adapter["method"][]) {
    const ad = build(method, `reg.blocks.${method}`, 1);
    const fromBlocks = new Set(ad.parameterBlocks().flatMap((b) => b.variables.map((v) => v.name)));
    const all = ad.trainableVariables().map((v) => v.name);
    assert.deepEqual([...fromBlocks].sort(), [...all].sort(), method);
    // No entry of a variable is in two blocks (regions, where given, are disjoint).
    const owned = new Map<string, Set<number>>();
    for (const b of ad.parameterBlocks()) {
      b.variables.forEach((v, i) => {
        const seen = owned.get(v.name) ?? new Set<number>();
        owned.set(v.name, seen);
        const region = b.regions?.[i] ?? null;
        const [r0, r1] = region?.rows ?? [0, v.shape[0] ?? 1];
        const [c0, c1] = region?.cols ?? [0, v.size / (v.shape[0] ?? 1)];
        const width = v.size / (v.shape[0] ?? 1);
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) {
            assert.ok(!seen.has(r * width + c), `${method}: ${v.name}[${r},${c}] in two blocks`);
            seen.add(r * width + c);
          }
        }
      });
    }
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.every((n) => n.startsWith(`reg.blocks.${method}.lora_`)), all.join(","));
    assert.ok(ad.trainableVariables().every((v) => v.trainable));
    ad.dispose();
  }
});

Deno.test("snapshot() → restore() into a fresh adapter reproduces outputs for every method", async () => {
  const x = tf.tensor2d(gaussian(3 * 5, 1), [3, 5]);
  for (const method of Object.keys(ADAPTERS) as Adapter["method"][]) {
    const name = `reg.snap.${method}`;
    const a = build(method, name, 1);
    randomizeVariables(a.trainableVariables(), 4, 0.5, (v, t) => {
      if (/\.lora_L(#\d+)?$/.test(v.name)) return tf.linalg.bandPart(t as tf.Tensor2D, -1, 0);
      if (/\.lora_U(#\d+)?$/.test(v.name)) return tf.linalg.bandPart(t as tf.Tensor2D, 0, -1);
      return t;
    });
    const snap = await a.snapshot();
    // A fresh adapter with another seed and (for growing methods) no growth yet.
    const b = method === "lora" || method === "adalora"
      ? build(method, name, 2)
      : createAdapter(method, { name, inFeatures: 5, outFeatures: 4, seed: 2 });
    b.restore(snap);
    assert.equal(b.rank, a.rank);
    const [ya, yb] = [a.delta(x, false), b.delta(x, false)];
    assert.deepEqual(await yb.data(), await ya.data(), method);
    tf.dispose([ya, yb]);
    assert.throws(() => b.restore({ ...snap, name: "other" }), TypeError);
    a.dispose();
    b.dispose();
  }
  x.dispose();
});

Deno.test("every method is bit-identical for the same seed (init, growth, dropout) and differs across seeds", async () => {
  const x = tf.tensor2d(gaussian(3 * 5, 21), [3, 5]);
  const run = async (method: Adapter["method"], name: string, seed: number) => {
    const common = { name, inFeatures: 5, outFeatures: 4, seed, dropout: 0.5 };
    const ad = method === "lora"
      ? createAdapter("lora", { ...common, rank: 3 })
      : method === "adalora"
      ? createAdapter("adalora", { ...common, initialRank: 3 })
      : createAdapter(method, common);
    if (ad instanceof TriAdaptLoraAdapter || ad instanceof IncreLoraAdapter) ad.grow(2);
    const snap = await ad.snapshot();
    // Then non-zero B / E so the outputs (and the dropout masks) are visible.
    randomizeVariables(ad.trainableVariables(), 5, 0.5);
    const ys = [ad.delta(x, true), ad.delta(x, true)];
    const out = [...await ys[0]!.data(), ...await ys[1]!.data()];
    tf.dispose(ys);
    ad.dispose();
    return { snap: snap.tensors, out };
  };
  for (const method of Object.keys(ADAPTERS) as Adapter["method"][]) {
    const a = await run(method, `det.${method}`, 7);
    const b = await run(method, `det.${method}`, 7);
    assert.deepEqual(b, a, `${method}: same seed must be bit-identical`);
    assert.notDeepEqual(a.out.slice(0, 12), a.out.slice(12), `${method}: dropout masks must vary`);
    const c = await run(method, `det.${method}`, 8);
    assert.notDeepEqual(c.snap, a.snap, `${method}: another seed must differ`);
  }
  x.dispose();
});

Deno.test("every method drops out the adapter input only in training, and eval equals x·ΔWᵀ", async () => {
  // n = 1: input dropout zeroes a whole output row or scales it by 1/(1 − p) = 2; dropout on the
  // output (or nowhere) would not.
  const rows = 32;
  const x = tf.tensor2d(gaussian(rows, 41).map((v) => v + 3), [rows, 1]);
  for (const method of Object.keys(ADAPTERS) as Adapter["method"][]) {
    const common = { name: `drop.${method}`, inFeatures: 1, outFeatures: 4, seed: 3, dropout: 0.5 };
    const ad = method === "lora"
      ? createAdapter("lora", { ...common, rank: 2 })
      : method === "adalora"
      ? createAdapter("adalora", { ...common, initialRank: 2 })
      : createAdapter(method, common);
    randomizeVariables(ad.trainableVariables(), 9, 0.5);
    const dw = ad.deltaWeight();
    const ref = tf.matMul(x, dw, false, true);
    const [yEval, yTrain] = [ad.delta(x, false), ad.delta(x, true)];
    const [e, t, r] = [await yEval.data(), await yTrain.data(), await ref.data()];
    for (let i = 0; i < e.length; i++) {
      assert.ok(Math.abs(e[i]! - r[i]!) <= 1e-5 * (1 + Math.abs(r[i]!)), `${method} eval [${i}]`);
    }
    let dropped = 0;
    for (let i = 0; i < rows; i++) {
      const row = Array.from(t.subarray(i * 4, i * 4 + 4));
      const ev = Array.from(e.subarray(i * 4, i * 4 + 4));
      if (row.every((v) => v === 0)) dropped++;
      else {
        row.forEach((v, j) => {
          assert.ok(Math.abs(v - 2 * ev[j]!) <= 1e-5 * (1 + Math.abs(v)), `${method} row ${i}`);
        });
      }
    }
    assert.ok(dropped > 0 && dropped < rows, `${method}: ${dropped} of ${rows} rows dropped`);
    tf.dispose([dw, ref, yEval, yTrain]);
    ad.dispose();
  }
  x.dispose();
});

Deno.test("no method forms a d×n tensor in the forward pass (every kernel's output shape, tf.profile)", async () => {
  const [n, d] = [5, 7];
  const x = tf.tensor2d(gaussian(3 * n, 51), [3, n]);
  for (const method of Object.keys(ADAPTERS) as Adapter["method"][]) {
    const common = { name: `dn.${method}`, inFeatures: n, outFeatures: d, seed: 4, dropout: 0.1 };
    const ad = method === "lora"
      ? createAdapter("lora", { ...common, rank: 2 })
      : method === "adalora"
      ? createAdapter("adalora", { ...common, initialRank: 2 })
      : createAdapter(method, common);
    if (ad instanceof TriAdaptLoraAdapter || ad instanceof IncreLoraAdapter) ad.grow(1);
    for (const training of [false, true]) {
      const info = await tf.profile(() => ad.delta(x, training));
      const shapes = info.kernels.flatMap((k) => k.outputShapes.map((s) => `${k.name}[${s}]`));
      assert.ok(shapes.length > 0, `${method}: profile saw no kernels`);
      const big = shapes.filter((s) => s.endsWith(`[${d},${n}]`) || s.endsWith(`[${n},${d}]`));
      assert.deepEqual(big, [], `${method} (training ${training}) formed a d×n tensor`);
      tf.dispose(info.result as tf.Tensor);
    }
    // The merge path does form it: the profile would see it.
    const merged = await tf.profile(() => ad.deltaWeight());
    assert.ok(merged.kernels.some((k) => k.outputShapes.some((s) => `${s}` === `${d},${n}`)));
    tf.dispose(merged.result as tf.Tensor);
    ad.dispose();
  }
  tf.dispose(x);
});
