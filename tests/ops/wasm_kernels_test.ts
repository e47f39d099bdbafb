import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WASM_COPY_FREE_KERNELS } from "../../ops/wasm_kernels.ts";
import { useWasm } from "./_helpers.ts";

await useWasm();

/** Row-major strides of `shape`. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1]! * shape[d + 1]!;
  return s;
}

/** The reference slice, element by element in plain JS. */
function sliceRef(
  values: ArrayLike<number>,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): number[] {
  const st = strides(shape);
  const count = size.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < count; o++) {
    let flat = 0;
    for (let d = 0; d < shape.length; d++) flat += (begin[d]! + index[d]!) * st[d]!;
    out.push(values[flat]!);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]! += 1;
      if (index[d]! < size[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** A shape (rank 1–5, dims 1–5) with one slice of it. */
const sliceCase = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 })
  .chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.tuple(...shape.map((n) => fc.integer({ min: 0, max: n - 1 }))),
      fc.tuple(...shape.map((n) => fc.integer({ min: 0, max: n }))),
      fc.constantFrom("float32", "int32", "bool"),
    ).map(([s, begin, fraction, dtype]) => ({
      shape: s,
      begin,
      // size in [0, n - begin]
      size: begin.map((b, d) => Math.min(fraction[d]!, s[d]! - b)),
      dtype: dtype as "float32" | "int32" | "bool",
    }))
  );

function valuesFor(shape: readonly number[], dtype: "float32" | "int32" | "bool"): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from(
    { length: n },
    (_, i) =>
      dtype === "float32"
        ? Math.fround(Math.sin(i + 1) * 1e3)
        : dtype === "int32"
        ? i * 7 - 50
        : i % 3 === 0
        ? 1
        : 0,
  );
}

Deno.test("the copy-free kernels are the ones registered for wasm", () => {
  for (const name of WASM_COPY_FREE_KERNELS) {
    assert.equal(tf.getKernel(name, "wasm")?.kernelFunc.name, `copyFree${name}`);
  }
});

Deno.test("wasm slice equals the element-by-element reference slice for every rank ≤ 5, dtype and position", () => {
  fc.assert(
    fc.property(sliceCase, ({ shape, begin, size, dtype }) => {
      const values = valuesFor(shape, dtype);
      const got = tf.tidy(() =>
        Array.from(tf.slice(tf.tensor(values, shape, dtype), begin, size).dataSync())
      );
      assert.deepEqual(got, sliceRef(values, shape, begin, size));
    }),
    { numRuns: Number(Deno.env.get("FC_NUM_RUNS") ?? 300) },
  );
});

Deno.test("wasm unstack along any axis returns the reference slices in order, each with the axis removed", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
        fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }))
      ),
      ([shape, axis]) => {
        const values = valuesFor(shape, "float32");
        tf.tidy(() => {
          const parts = tf.unstack(tf.tensor(values, shape), axis);
          assert.equal(parts.length, shape[axis]);
          parts.forEach((p, i) => {
            assert.deepEqual(p.shape, shape.filter((_, d) => d !== axis));
            const begin = shape.map((_, d) => (d === axis ? i : 0));
            const size = shape.map((n, d) => (d === axis ? 1 : n));
            assert.deepEqual(Array.from(p.dataSync()), sliceRef(values, shape, begin, size));
          });
        });
      },
    ),
    { numRuns: Number(Deno.env.get("FC_NUM_RUNS") ?? 200) },
  );
});

Deno.test("wasm split with sizes along any axis returns the reference pieces in order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
        fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }))
      ).chain(([shape, axis]) =>
        fc.tuple(
          fc.constant(shape),
          fc.constant(axis),
          fc.integer({ min: 0, max: shape[axis]! }),
        )
      ),
      ([shape, axis, cut]) => {
        const values = valuesFor(shape, "int32");
        const sizes = [cut, shape[axis]! - cut];
        tf.tidy(() => {
          const parts = tf.split(tf.tensor(values, shape, "int32"), sizes, axis);
          let start = 0;
          parts.forEach((p, i) => {
            const begin = shape.map((_, d) => (d === axis ? start : 0));
            const size = shape.map((n, d) => (d === axis ? sizes[i]! : n));
            assert.deepEqual(p.shape, size);
            assert.deepEqual(Array.from(p.dataSync()), sliceRef(values, shape, begin, size));
            start += sizes[i]!;
          });
        });
      },
    ),
    { numRuns: Number(Deno.env.get("FC_NUM_RUNS") ?? 200) },
  );
});

Deno.test("a slice whose output allocation grows the wasm heap still copies the input's values", () => {
  // 48 MiB in, 47 MiB out: the output's allocation grows the heap and detaches older views.
  const rows = 3 * 1024, cols = 4096;
  const x = tf.tidy(() => tf.range(0, rows * cols, 1, "int32").reshape([rows, cols]));
  const before = tf.memory().numTensors;
  const y = tf.slice(x, [64, 0], [rows - 64, cols]);
  const got = y.dataSync() as Int32Array;
  assert.equal(got.length, (rows - 64) * cols);
  assert.equal(got[0], 64 * cols);
  assert.equal(got[got.length - 1], rows * cols - 1);
  y.dispose();
  x.dispose();
  assert.equal(tf.memory().numTensors, before - 1);
});

Deno.test("slice and unstack gradients still flow through the copy-free kernels", () => {
  const g = tf.tidy(() => {
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    return Array.from(
      tf.grad((t: tf.Tensor) =>
        tf.add(tf.sum(tf.slice(t, [0, 1], [2, 2])), tf.sum(tf.unstack(t)[1]!))
      )(x).dataSync(),
    );
  });
  assert.deepEqual(g, [0, 1, 1, 1, 2, 2]);
});

Deno.test("wasm clone and same-dtype cast share the input's bytes: no new buffer, same values, each freed on its own", async () => {
  const x = tf.tensor2d([[1, 2], [3, 4]]);
  const i = tf.tensor1d([1, 2], "int32");
  // tfjs counts numBytes per tensor; numDataBuffers counts the backend's buffers.
  const buffers = () => tf.memory().numDataBuffers;
  const before = buffers();
  const c = tf.clone(x), k = tf.cast(x, "float32"), ki = tf.cast(i, "int32");
  assert.equal(buffers(), before, "a copy would add a buffer");
  assert.deepEqual(await c.data(), await x.data());
  assert.deepEqual(await k.data(), await x.data());
  assert.deepEqual(await ki.data(), await i.data());
  // A real cast still converts, into a buffer of its own.
  const f = tf.cast(i, "float32");
  assert.equal(f.dtype, "float32");
  assert.equal(buffers(), before + 1);
  assert.deepEqual(Array.from(await f.data()), [1, 2]);
  // Disposing the original leaves the clones readable; the last reference frees the buffer.
  x.dispose();
  assert.deepEqual(Array.from(await c.data()), [1, 2, 3, 4]);
  assert.equal(buffers(), before + 1);
  tf.dispose([c, k]);
  assert.equal(buffers(), before);
  tf.dispose([i, ki, f]);
  assert.equal(buffers(), before - 2);
});
