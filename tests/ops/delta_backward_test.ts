import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { LoraAdapter } from "../../ops/lora.ts";
import { TriAdaptLoraAdapter } from "../../ops/triadapt_lora.ts";
import type { Adapter, AdapterGradients } from "../../ops/adapter.ts";
import { setWasmMatMul } from "../../ops/wasm_batch_matmul.ts";
import { gaussian, randomizeVariables, useWasm } from "./_helpers.ts";

await useWasm();

/** `∂(Σ delta(x) ⊙ dy)` by tfjs's own gradient, input first, then each trainable variable. */
function autograd(ad: Adapter, x: tf.Tensor2D, dy: tf.Tensor2D): Float32Array[] {
  return tf.tidy(() => {
    const xv = tf.variable(x, true);
    const vars = [xv, ...(ad.trainableVariables?.() ?? [])];
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(ad.delta(xv, true), dy)) as tf.Scalar,
      vars,
    );
    value.dispose();
    const out = vars.map((v) => grads[v.name]!.dataSync() as Float32Array);
    xv.dispose();
    return out;
  });
}

function handGrads(ad: Adapter, g: AdapterGradients): Float32Array[] {
  return [
    g.input!.dataSync() as Float32Array,
    ...(ad.trainableVariables?.() ?? []).map((v) => g.variables.get(v)!.dataSync() as Float32Array),
  ];
}

/** A TriAdaptLoRA adapter grown twice (three blocks, masks in play) and a LoRA one. */
function adapters(): Adapter[] {
  const tri = new TriAdaptLoraAdapter({
    name: "vjp.tri",
    inFeatures: 24,
    outFeatures: 16,
    seed: 3,
  });
  tri.grow(2);
  tri.grow(3);
  const lora = new LoraAdapter({
    name: "vjp.lora",
    inFeatures: 24,
    outFeatures: 16,
    seed: 4,
    rank: 5,
  });
  for (const ad of [tri, lora]) randomizeVariables(ad.trainableVariables(), 11);
  return [tri, lora];
}

Deno.test("deltaBackward equals tfjs's gradient of Σ delta(x) ⊙ dy within float32 round-off (TriAdaptLoRA grown, LoRA; both wasm products)", () => {
  for (const product of ["relaxed-simd", "xnnpack"] as const) {
    const before = setWasmMatMul(product);
    const ads = adapters();
    try {
      const x = tf.tensor2d(gaussian(40 * 24, 1), [40, 24]);
      const dy = tf.tensor2d(gaussian(40 * 16, 2), [40, 16]);
      for (const ad of ads) {
        const want = autograd(ad, x, dy);
        const g = ad.deltaBackward!(x, dy, true, true)!;
        const got = handGrads(ad, g);
        assert.equal(got.length, want.length);
        got.forEach((a, k) => {
          const scale = Math.max(1, ...want[k]!.map(Math.abs));
          a.forEach((v, i) => {
            // Different but equivalent sums of at most 40 products: a few float32 steps.
            assert.ok(
              Math.abs(v - want[k]![i]!) <= 64 * 2 ** -24 * scale,
              `${ad.method} (${product}) gradient ${k}[${i}]: ${v} vs ${want[k]![i]}`,
            );
          });
        });
        tf.dispose([g.input!, ...g.variables.values()]);
        // Without the input gradient: the same variable gradients, no input tensor.
        const h = ad.deltaBackward!(x, dy, true, false)!;
        assert.equal(h.input, undefined);
        tf.dispose([...h.variables.values()]);
      }
      tf.dispose([x, dy]);
    } finally {
      for (const ad of ads) ad.dispose();
      setWasmMatMul(before);
    }
  }
});

Deno.test("deltaBackward leaves no tensors behind but the ones it returns", () => {
  const ads = adapters();
  const x = tf.tensor2d(gaussian(8 * 24, 5), [8, 24]);
  const dy = tf.tensor2d(gaussian(8 * 16, 6), [8, 16]);
  for (const ad of ads) {
    const before = tf.memory().numTensors;
    const g = ad.deltaBackward!(x, dy, false, true)!;
    const returned = 1 + g.variables.size;
    assert.equal(tf.memory().numTensors, before + returned);
    tf.dispose([g.input!, ...g.variables.values()]);
    assert.equal(tf.memory().numTensors, before);
  }
  tf.dispose([x, dy]);
  for (const ad of ads) ad.dispose();
});

Deno.test("deltaBackward declines (undefined) while adapter dropout is on, and runs in evaluation mode", () => {
  const ad = new TriAdaptLoraAdapter({
    name: "vjp.drop",
    inFeatures: 8,
    outFeatures: 8,
    seed: 1,
    dropout: 0.1,
  });
  const x = tf.ones([2, 8]) as tf.Tensor2D, dy = tf.ones([2, 8]) as tf.Tensor2D;
  assert.equal(ad.deltaBackward(x, dy, true, true), undefined);
  const g = ad.deltaBackward(x, dy, false, true)!;
  assert.ok(g.input !== undefined && g.variables.size === 4);
  tf.dispose([g.input, ...g.variables.values(), x, dy]);
  ad.dispose();
});
