import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { importBackendPackage, initBackend, TriAdaptLoraAdapter } from "../../ops/mod.ts";

Deno.test("initBackend() activates wasm by default and cpu on request, and reports it", async () => {
  const cpu = await initBackend("cpu");
  assert.equal(cpu.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  const wasm = await initBackend();
  assert.equal(wasm.name, "wasm");
  assert.equal(wasm.requested, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(wasm.tfjsVersion, "4.22.0");
  assert.match(wasm.summary, /^backend wasm \(tfjs 4\.22\.0, @tensorflow\/tfjs-backend-wasm\)$/);
});

Deno.test("initBackend('tensorflow') fails clearly when @tensorflow/tfjs-node is not installed", async () => {
  await initBackend("wasm");
  const err = await initBackend("tensorflow").then(() => null, (e: unknown) => e);
  assert.ok(err instanceof TypeError, `expected TypeError, got ${err}`);
  assert.match(
    err.message,
    /^Cannot initialise backend "tensorflow" as package @tensorflow\/tfjs-node must be installed/,
  );
  assert.match(err.message, /deno add npm:@tensorflow\/tfjs-node/);
  assert.equal(tf.getBackend(), "wasm", "no silent switch");
  await assert.rejects(() => initBackend("tensorflow-gpu"), /@tensorflow\/tfjs-node-gpu/);
});

Deno.test("initBackend() rejects unknown names and importBackendPackage() wraps import errors", async () => {
  await assert.rejects(() => initBackend("metal" as "wasm"), TypeError);
  await assert.rejects(
    () => importBackendPackage("tensorflow", "x-pkg", () => Promise.reject(new Error("boom"))),
    (e: unknown) => e instanceof TypeError && /x-pkg must be installed.*boom/.test(e.message),
  );
  await importBackendPackage("tensorflow", "ok-pkg", () => Promise.resolve({}));
});

Deno.test("initBackend() fails when tf.setBackend() returns false, never falling back", async () => {
  await initBackend("wasm");
  // A "native" backend whose package imports but whose factory fails: setBackend gives false.
  tf.registerBackend("tensorflow", () => {
    throw new Error("no native binding");
  }, -1);
  const warn = console.warn;
  console.warn = () => {};
  try {
    const err = await initBackend("tensorflow", () => Promise.resolve({})).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof TypeError, `expected TypeError, got ${err}`);
    assert.match(
      err.message,
      /^Cannot initialise backend "tensorflow" as tf\.setBackend\("tensorflow"\) must return true/,
    );
    assert.match(err.message, /deno add npm:@tensorflow\/tfjs-node@4\.22\.0/);
  } finally {
    console.warn = warn;
    tf.removeBackend("tensorflow");
    await initBackend("wasm");
  }
  assert.equal(tf.getBackend(), "wasm");
});

Deno.test("TriAdaptLoraAdapter.delta() agrees on cpu and wasm to 1e-6", async () => {
  const run = async (backend: "cpu" | "wasm"): Promise<Float32Array> => {
    await initBackend(backend);
    const ad = new TriAdaptLoraAdapter({
      name: "be.same",
      inFeatures: 16,
      outFeatures: 8,
      seed: 4,
      initialRank: 3,
    });
    ad.grow(2);
    for (const v of ad.trainableVariables()) {
      if (v.name.includes(".lora_B.")) v.assign(tf.randomNormal(v.shape, 0, 0.5, "float32", 9));
    }
    const x = tf.randomNormal([5, 16], 0, 1, "float32", 3) as tf.Tensor2D;
    const y = ad.delta(x, false);
    const out = new Float32Array(await y.data());
    tf.dispose([x, y]);
    ad.dispose();
    return out;
  };
  const [cpu, wasm] = [await run("cpu"), await run("wasm")];
  assert.ok(cpu.some((v) => Math.abs(v) > 1e-4), "non-trivial output");
  for (let i = 0; i < cpu.length; i++) {
    assert.ok(Math.abs(cpu[i]! - wasm[i]!) <= 1e-6, `entry ${i}: cpu ${cpu[i]}, wasm ${wasm[i]}`);
  }
});
