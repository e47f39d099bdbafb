/**
 * Helpers for the ops tests: wasm setup, seeded float arrays, float64 linear algebra, a
 * finite-difference gradient check and a tiny safetensors reader.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";

/** Sets the wasm backend and checks the boolean. */
export async function useWasm(): Promise<void> {
  const ok = await tf.setBackend("wasm");
  await tf.ready();
  assert.equal(ok, true, "tf.setBackend('wasm') returned false");
  assert.equal(tf.getBackend(), "wasm");
}

/** A dense float64 matrix. */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** mulberry32 PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian values as float32-exact numbers. */
export function gaussian(n: number, seed: number, std = 1): Float32Array {
  const r = prng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

/** Makes a float64 matrix from row-major values. */
export function mat(rows: number, cols: number, values: ArrayLike<number>): Mat {
  assert.equal(values.length, rows * cols);
  return { rows, cols, data: Float64Array.from(values) };
}

/** Float64 matrix product. */
export function mm(a: Mat, b: Mat): Mat {
  assert.equal(a.cols, b.rows);
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k] as number;
      for (let j = 0; j < b.cols; j++) {
        out[i * b.cols + j]! += aik * (b.data[k * b.cols + j] as number);
      }
    }
  }
  return { rows: a.rows, cols: b.cols, data: out };
}

/** Transpose. */
export function tr(a: Mat): Mat {
  const out = new Float64Array(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = a.data[i * a.cols + j] as number;
  }
  return { rows: a.cols, cols: a.rows, data: out };
}

/** Element-wise `a + s·b`. */
export function axpy(a: Mat, b: Mat, s = 1): Mat {
  assert.equal(a.rows, b.rows);
  assert.equal(a.cols, b.cols);
  return { rows: a.rows, cols: a.cols, data: a.data.map((v, i) => v + s * (b.data[i] as number)) };
}

/** Scales a matrix. */
export function scaled(a: Mat, s: number): Mat {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v) => v * s) };
}

/** Reads a 2-D tensor into a float64 matrix. */
export async function toMat(t: tf.Tensor): Promise<Mat> {
  assert.equal(t.rank, 2);
  return mat(t.shape[0] as number, t.shape[1] as number, await t.data());
}

/** Asserts element-wise `|a − b| ≤ atol`. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  label = "",
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(
    worst <= atol,
    `${label}: max abs diff ${worst} at ${at} exceeds ${atol} (actual ${actual[at]}, expected ${
      expected[at]
    })`,
  );
}

/**
 * Central-difference gradient check of `loss` w.r.t. every entry of `vars`:
 * `|fd − analytic| ≤ atol + rtol·|analytic|`. The adapter paths are linear in each single
 * entry, so the central difference is exact up to float32 rounding of the loss
 * (≈ 6e-8·|loss|/h); with h = 1e-2 and |loss| ≤ 10 that is ≤ 6e-5, hence atol 2e-4 and
 * rtol 1e-3 (a 1 % error in any gradient of size ≥ 0.03 fails).
 */
export async function checkGradients(
  loss: () => tf.Scalar,
  vars: tf.Variable[],
  options: { h?: number; atol?: number; rtol?: number } = {},
): Promise<number> {
  const h = options.h ?? 1e-2;
  const atol = options.atol ?? 2e-4;
  const rtol = options.rtol ?? 1e-3;
  const { grads, value } = tf.variableGrads(loss, vars);
  value.dispose();
  let checked = 0;
  for (const v of vars) {
    const g = grads[v.name];
    assert.ok(g !== undefined, `no gradient for ${v.name}`);
    const analytic = await g.data();
    const base = new Float32Array(await v.data());
    for (let i = 0; i < base.length; i++) {
      const probe = async (delta: number): Promise<number> => {
        const p = base.slice();
        p[i] = (base[i] as number) + delta;
        v.assign(tf.tensor(p, v.shape));
        const l = loss();
        const out = (await l.data())[0] as number;
        l.dispose();
        return out;
      };
      const fd = ((await probe(h)) - (await probe(-h))) / (2 * h);
      const a = analytic[i] as number;
      assert.ok(
        Math.abs(fd - a) <= atol + rtol * Math.abs(a),
        `${v.name}[${i}]: finite difference ${fd} vs analytic ${a}`,
      );
      checked++;
    }
    v.assign(tf.tensor(base, v.shape));
  }
  tf.dispose(grads);
  return checked;
}

/** Reads one F32 tensor from a safetensors file. */
export async function readSafetensor(
  url: URL,
  key: string,
): Promise<{ shape: number[]; data: Float32Array }> {
  const bytes = await Deno.readFile(url);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const entry = header[key];
  assert.ok(entry !== undefined, `${key} not in ${url}`);
  assert.equal(entry.dtype, "F32");
  const [start, end] = entry.data_offsets;
  const raw = bytes.slice(8 + headerLen + start, 8 + headerLen + end);
  return { shape: entry.shape, data: new Float32Array(raw.buffer) };
}

/** Sets every variable to seeded N(0, std²) values, masking with `mask(name)` if given. */
export function randomizeVariables(
  vars: readonly tf.Variable[],
  seed: number,
  std = 0.5,
  transform?: (v: tf.Variable, t: tf.Tensor) => tf.Tensor,
): void {
  vars.forEach((v, k) => {
    tf.tidy(() => {
      const t = tf.tensor(gaussian(v.size, seed * 1000 + k, std), v.shape);
      v.assign(transform === undefined ? t : transform(v, t));
    });
  });
}
