import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import fc from "fast-check";
import "../../ops/wasm_kernels.ts";
import { setWasmMatMul, type WasmMatMul } from "../../ops/wasm_batch_matmul.ts";
import { relaxedGemmModule } from "../../ops/_relaxed_gemm.ts";
import { gaussian, useWasm } from "./_helpers.ts";

await useWasm();

/** Runs `body` with the wasm product set to `choice`, then restores the previous one. */
async function withMatMul<T>(choice: WasmMatMul, body: () => Promise<T> | T): Promise<T> {
  const before = setWasmMatMul(choice);
  try {
    return await body();
  } finally {
    setWasmMatMul(before);
  }
}

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

Deno.test("wasm batched matMul (xnnpack choice) equals separate 2-D products bit for bit (broadcast batches too) and the package's loop within 1e-5", async () => {
  await withMatMul("xnnpack", () =>
    fc.assert(
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
    ));
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

Deno.test("wasm batched matMul (xnnpack choice) frees what it registers: 400 products leave the heap where it was", async () => {
  await withMatMul("xnnpack", () => heapFlatOver400Products());
});

Deno.test("wasm relaxed-SIMD matMul: 400 products leave the heap and the tensor count where they were", () => {
  heapFlatOver400Products();
});

function heapFlatOver400Products(): void {
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
}

Deno.test("wasm matMul (xnnpack choice) keeps the package's behaviour for transpose flags, batch 1 and 2-D operands", async () => {
  await withMatMul("xnnpack", packageBehaviour);
});

async function packageBehaviour(): Promise<void> {
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
}

Deno.test("wasm matMul runs the relaxed-SIMD product by default on this engine", () => {
  assert.ok(WebAssembly.validate(relaxedGemmModule()), "Deno's V8 should accept relaxed SIMD");
  assert.equal(setWasmMatMul("relaxed-simd"), "relaxed-simd");
});

/** `op(a)·op(b)` in float64, and `Σ|a||b|` per entry (the scale of its rounding error). */
function exactProduct(
  a: Float32Array,
  b: Float32Array,
  shape: { batchA: number; batchB: number; m: number; k: number; n: number },
  transposeA: boolean,
  transposeB: boolean,
): { value: Float64Array; scale: Float64Array } {
  const { batchA, batchB, m, k, n } = shape;
  const batch = Math.max(batchA, batchB);
  const value = new Float64Array(batch * m * n), scale = new Float64Array(batch * m * n);
  for (let e = 0; e < batch; e++) {
    const oa = (batchA === 1 ? 0 : e) * m * k, ob = (batchB === 1 ? 0 : e) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0, abs = 0;
        for (let t = 0; t < k; t++) {
          const x = a[oa + (transposeA ? t * m + i : i * k + t)]!;
          const y = b[ob + (transposeB ? j * k + t : t * n + j)]!;
          sum += x * y;
          abs += Math.abs(x * y);
        }
        value[(e * m + i) * n + j] = sum;
        scale[(e * m + i) * n + j] = abs;
      }
    }
  }
  return { value, scale };
}

Deno.test("wasm relaxed-SIMD matMul is within (k+2)·2⁻²⁴·Σ|a||b| of the exact product: every transpose flag, ranks 2 and 3, broadcast batches, row and column tails, k past one depth block", async () => {
  // A float32 dot product of length k, summed in any order with or without fused multiply-adds,
  // is within γ_k·Σ|aᵢbᵢ| of the exact one, γ_k ≈ k·u and u = 2⁻²⁴ (Higham, Accuracy and
  // Stability of Numerical Algorithms, §3.1); +2 covers the blocks' final additions.
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        rank: fc.constantFrom(2, 3),
        batch: fc.integer({ min: 1, max: 4 }),
        broadcast: fc.constantFrom("none", "a", "b"),
        m: fc.integer({ min: 1, max: 20 }),
        k: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 500, max: 1100 })),
        n: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 120, max: 300 })),
        transposeA: fc.boolean(),
        transposeB: fc.boolean(),
        seed: fc.integer({ min: 0, max: 1000 }),
      }),
      async ({ rank, batch, broadcast, m, k, n, transposeA, transposeB, seed }) => {
        const batchA = rank === 2 || broadcast === "a" ? 1 : batch;
        const batchB = rank === 2 || broadcast === "b" ? 1 : batch;
        const dimsA = transposeA ? [k, m] : [m, k], dimsB = transposeB ? [n, k] : [k, n];
        const av = gaussian(batchA * m * k, seed), bv = gaussian(batchB * k * n, seed + 7);
        const a = tf.tensor(av, rank === 3 ? [batchA, ...dimsA] : dimsA);
        const b = tf.tensor(bv, rank === 3 ? [batchB, ...dimsB] : dimsB);
        const y = tf.matMul(a, b, transposeA, transposeB);
        const outBatch = Math.max(batchA, batchB);
        assert.deepEqual(y.shape, rank === 3 ? [outBatch, m, n] : [m, n]);
        const got = await y.data();
        const exact = exactProduct(av, bv, { batchA, batchB, m, k, n }, transposeA, transposeB);
        const gamma = (k + 2) * 2 ** -24;
        got.forEach((v, i) => {
          const bound = gamma * exact.scale[i]!;
          assert.ok(
            Math.abs(v - exact.value[i]!) <= bound,
            `${i}: ${v} vs ${exact.value[i]} (bound ${bound})`,
          );
        });
        // The same product again, and each batch entry alone, give the same bits.
        assert.deepEqual(await tf.matMul(a, b, transposeA, transposeB).data(), got);
        if (rank === 3 && !transposeA && !transposeB) {
          assert.deepEqual(await perEntry(a as tf.Tensor3D, b as tf.Tensor3D), got);
        }
        tf.dispose([a, b, y]);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("wasm relaxed-SIMD and XNNPACK products agree within the same bound at the encoder's shapes", async () => {
  for (
    const [m, k, n] of [[64, 768, 3072], [64, 3072, 768], [130, 768, 255]] as const
  ) {
    const av = gaussian(m * k, m), bv = gaussian(k * n, n);
    const a = tf.tensor2d(av, [m, k]), b = tf.tensor2d(bv, [k, n]);
    const relaxed = await withMatMul("relaxed-simd", () => tf.matMul(a, b).data());
    const xnn = await withMatMul("xnnpack", () => tf.matMul(a, b).data());
    const exact = exactProduct(av, bv, { batchA: 1, batchB: 1, m, k, n }, false, false);
    const gamma = (k + 2) * 2 ** -24;
    let differs = 0;
    relaxed.forEach((v, i) => {
      const bound = 2 * gamma * exact.scale[i]!;
      assert.ok(Math.abs(v - xnn[i]!) <= bound, `${m}×${k}×${n} [${i}]: ${v} vs ${xnn[i]}`);
      if (v !== xnn[i]) differs++;
    });
    // They are different sums (fused, another order): most entries differ in their last bits.
    assert.ok(differs > relaxed.length / 10, `${differs} of ${relaxed.length} differ`);
    tf.dispose([a, b]);
  }
});
