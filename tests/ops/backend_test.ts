import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { importBackendPackage, initBackend } from "../../ops/mod.ts";

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
  await assert.rejects(() => initBackend("webgpu" as "wasm"), TypeError);
  await assert.rejects(
    () => importBackendPackage("tensorflow", "x-pkg", () => Promise.reject(new Error("boom"))),
    (e: unknown) => e instanceof TypeError && /x-pkg must be installed.*boom/.test(e.message),
  );
  await importBackendPackage("tensorflow", "ok-pkg", () => Promise.resolve({}));
});
