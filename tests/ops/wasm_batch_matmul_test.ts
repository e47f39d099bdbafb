import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import fc from "fast-check";
import "../../ops/wasm_kernels.ts";
import { gaussian, useWasm } from "./_helpers.ts";

await useWasm();

/** The wasm heap's size in bytes (it only grows). */
function heapBytes(): number {
  const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
  return backend.wasm.HEAPU8.length;
}

/** `a·b` as one 2-D product per batch entry (the package's XNNPACK path), stacked. */
async function perEntry(a: tf.Tensor3D, b: tf.Tensor3D): Promise<Float32Array> {
  const batch = Math.max(a.shape[0], b.shape[0]);
  const parts: Float32Array[] = [];
  for (let i = 0; i < batch; i++) {
    const y = tf.tidy(() => {
      const ai = a.slice([a.shape[0] === 1 ? 0 : i, 0, 0], [1, -1, -1]).reshape(a.shape.slice(1));
      const bi = b.slice([b.shape[0] === 1 ? 0 : i, 0, 0], [1, -1, -1]).reshape(b.shape.slice(1));
      return tf.matMul(ai as tf.Tensor2D, bi as tf.Tensor2D);
    });
    parts.push(await y.data() as Float32Array);
    y.dispose();
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

Deno.test("wasm BatchMatMul is the batched XNNPACK kernel", () => {
  assert.equal(tf.getKernel("BatchMatMul", "wasm")?.kernelFunc.name, "batchedXnnMatMul");
});

Deno.test("wasm batched matMul equals separate 2-D products bit for bit (broadcast batches too) and the package's loop within 1e-5", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 2, max: 6 }),
        m: fc.integer({ min: 1, max: 9 }),
        k: fc.integer({ min: 1, max: 9 }),
        n: fc.integer({ min: 1, max: 9 }),
        broadcast: fc.constantFrom("none", "a", "b"),
        seed: fc.integer({ min: 0, max: 1000 }),
      }),
      async ({ batch, m, k, n, broadcast, seed }) => {
        const ba = broadcast === "a" ? 1 : batch, bb = broadcast === "b" ? 1 : batch;
        const a = tf.tensor3d(gaussian(ba * m * k, seed), [ba, m, k]);
        const b = tf.tensor3d(gaussian(bb * k * n, seed + 1), [bb, k, n]);
        const y = tf.matMul(a, b);
        assert.deepEqual(y.shape, [batch, m, n]);
        const got = await y.data();
        assert.deepEqual(got, await perEntry(a, b));
        // The package's own kernel (reached through a transpose flag) sums in another order.
        const bT = tf.transpose(b, [0, 2, 1]);
        const loop = tf.matMul(a, bT, false, true);
        const ref = await loop.data();
        got.forEach((v, i) => {
          assert.ok(
            Math.abs(v - ref[i]!) <= 1e-5 * (1 + Math.abs(ref[i]!)),
            `${i}: ${v} vs ${ref[i]}`,
          );
        });
        tf.dispose([a, b, y, bT, loop]);
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("wasm batched matMul is right when its output grows the heap", async () => {
  // An outer product [2, m, 1]·[2, 1, n] whose output is larger than the whole heap, so the
  // allocation must grow it (the kernel reads offsets after allocating, never stale views).
  const before = heapBytes();
  const side = Math.ceil(Math.sqrt((before + (64 << 20)) / 8));
  const a = tf.tensor3d(Float32Array.from({ length: 2 * side }, (_, i) => (i % 7) - 3), [
    2,
    side,
    1,
  ]);
  const b = tf.tensor3d(Float32Array.from({ length: 2 * side }, (_, i) => (i % 5) - 2), [
    2,
    1,
    side,
  ]);
  const y = tf.matMul(a, b);
  assert.ok(heapBytes() > before, `heap ${before} → ${heapBytes()}`);
  const values = await y.data();
  const av = await a.data(), bv = await b.data();
  for (const [e, i, j] of [[0, 0, 0], [1, side - 1, side - 1], [0, 17, side - 3], [1, 5, 2]]) {
    const expected = av[e! * side + i!]! * bv[e! * side + j!]!;
    const got = values[(e! * side + i!) * side + j!]!;
    // Exact (0 and −0 alike: a product sums from +0).
    assert.ok(got - expected === 0, `[${e}, ${i}, ${j}]: ${got} vs ${expected}`);
  }
  tf.dispose([a, b, y]);
});

Deno.test("wasm batched matMul frees what it registers: 400 products leave the heap where it was", () => {
  const a = tf.tensor3d(gaussian(8 * 16 * 64, 1), [8, 16, 64]);
  const b = tf.tensor3d(gaussian(8 * 64 * 64, 2), [8, 64, 64]);
  const run = () => tf.tidy(() => tf.matMul(a, b).sum()).dispose();
  for (let i = 0; i < 20; i++) run();
  const heap = heapBytes(), tensors = tf.memory().numTensors;
  // Leaked XNNPACK operators would keep 8 packed 64×64 weight copies per product (6.5 MB in all).
  for (let i = 0; i < 400; i++) run();
  assert.equal(heapBytes(), heap);
  assert.equal(tf.memory().numTensors, tensors);
  tf.dispose([a, b]);
});

Deno.test("wasm matMul keeps the package's behaviour for transpose flags, batch 1 and 2-D operands", async () => {
  const a = tf.tensor3d(gaussian(3 * 4 * 5, 3), [3, 4, 5]);
  const b = tf.tensor3d(gaussian(3 * 5 * 2, 4), [3, 5, 2]);
  const plain = await tf.matMul(a, b).data();
  const flagged = tf.matMul(tf.transpose(a, [0, 2, 1]), b, true, false);
  const ref = await flagged.data();
  plain.forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) <= 1e-5 * (1 + Math.abs(v))));
  const a2 = tf.tensor2d(gaussian(4 * 5, 5), [4, 5]), b2 = tf.tensor2d(gaussian(5 * 2, 6), [5, 2]);
  assert.deepEqual(
    await tf.matMul(a2, b2).data(),
    await perEntry(a2.expandDims(0) as tf.Tensor3D, b2.expandDims(0) as tf.Tensor3D),
  );
  tf.dispose([a, b, flagged, a2, b2]);
});
