/**
 * A `BatchMatMul` kernel for the tfjs wasm backend that runs a batched product as one XNNPACK 2-D
 * product per batch entry, inside one kernel call. Registered in place of the package's own when
 * this module is imported.
 *
 * `@tensorflow/tfjs-backend-wasm@4.22.0` sends a product to XNNPACK only when both batch sizes are
 * 1 and nothing is transposed; every other product takes a naive triple loop, several times slower
 * (a `[96, 128, 64]·[96, 64, 128]` product: 72 ms against 11 ms as 96 separate 2-D products). The
 * encoder used to unstack its per-head operands and stack the products (`model/_matmul.ts`), which
 * cost a `Unpack`, a `Pack` and a product per head, and three kernels more per head in the backward
 * pass: about 5,000 of the 9,000 kernels of a planted demo step. This kernel registers a temporary
 * tensor id for each batch entry of `a`, `b` and the output (a view: the same heap bytes, nothing
 * copied), runs the package's own C++ `BatchMatMul` on each `[1, m, k]·[1, k, n]` triple (its
 * XNNPACK path, exactly what a separate 2-D product runs), and releases the ids (which also frees
 * the XNNPACK operator the C++ side caches per weight id). Products with a transpose flag, a batch
 * of 1, or operands the views cannot serve go to the package's kernel unchanged.
 *
 * @example The batched kernel is the registered one, and agrees with separate products
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "./backend.ts";
 * import "./wasm_batch_matmul.ts";
 *
 * await initBackend("wasm");
 * assert.equal(tf.getKernel("BatchMatMul", "wasm")?.kernelFunc.name, "batchedXnnMatMul");
 * const a = tf.tensor3d([1, 2, 3, 4], [2, 1, 2]);
 * const b = tf.tensor3d([5, 6, 7, 8], [2, 2, 1]);
 * assert.deepEqual(Array.from(await tf.matMul(a, b).data()), [1 * 5 + 2 * 6, 3 * 7 + 4 * 8]);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

/** What the kernel needs of one tensor's record in the wasm backend. */
interface WasmTensorRecord {
  readonly id: number;
  readonly memoryOffset: number;
}

/** The part of `BackendWasm` (and its emscripten module) this kernel uses. */
interface WasmMatMulBackend {
  dataIdMap: { get(dataId: tf.DataId): WasmTensorRecord | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The C++ `BatchMatMul` of one backend instance (cwrap'd once per backend). */
const cppMatMul = new WeakMap<object, (...args: unknown[]) => void>();

function cppBatchMatMul(backend: WasmMatMulBackend): (...args: unknown[]) => void {
  let f = cppMatMul.get(backend);
  if (f === undefined) {
    f = backend.wasm.cwrap("BatchMatMul", null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number",
    ]);
    cppMatMul.set(backend, f);
  }
  return f;
}

const shapeBytes = (shape: readonly number[]): Uint8Array =>
  new Uint8Array(new Int32Array(shape).buffer);

/**
 * `a·b` for float32 `[B, m, k]`·`[B, k, n]` (either batch may be 1, broadcast), as `B` XNNPACK
 * products on views; `null` when the package's kernel should run instead.
 */
function batchedOnViews(
  backend: WasmMatMulBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo | null {
  if (a.dtype !== "float32" || b.dtype !== "float32") return null;
  if (a.shape.length !== 3 || b.shape.length !== 3) return null;
  const [batchA, m, k] = a.shape as [number, number, number];
  const [batchB, kb, n] = b.shape as [number, number, number];
  const batch = Math.max(batchA, batchB);
  if (batch <= 1 || k !== kb || (batchA !== batch && batchA !== 1)) return null;
  if (batchB !== batch && batchB !== 1) return null;
  if (m === 0 || n === 0 || k === 0) return null;
  if (backend.dataIdMap.get(a.dataId) === undefined) return null;
  if (backend.dataIdMap.get(b.dataId) === undefined) return null;
  const out = backend.makeOutput([batch, m, n], "float32");
  // Records (offsets, not heap views) read after makeOutput: offsets survive a heap growth.
  const recA = backend.dataIdMap.get(a.dataId)!;
  const recB = backend.dataIdMap.get(b.dataId)!;
  const recOut = backend.dataIdMap.get(out.dataId)!;
  const run = cppBatchMatMul(backend);
  const { registerTensor, disposeData } = backend.wasm.tfjs;
  const aShape = shapeBytes([1, m, k]), bShape = shapeBytes([1, k, n]);
  const view = (rec: WasmTensorRecord, entry: number, size: number): number => {
    const id = backend.dataIdNextNumber++;
    registerTensor(id, size, rec.memoryOffset + entry * size * 4);
    return id;
  };
  const NONE = -1;
  // One view of b when it is broadcast: its XNNPACK operator (packed weights) is built once.
  const sharedB = batchB === 1 ? view(recB, 0, k * n) : NONE;
  try {
    for (let i = 0; i < batch; i++) {
      const va = view(recA, batchA === 1 ? 0 : i, m * k);
      const vb = sharedB !== NONE ? sharedB : view(recB, i, k * n);
      const vo = view(recOut, i, m * n);
      try {
        run(va, aShape, 3, vb, bShape, 3, 0, 0, vo);
      } finally {
        disposeData(va);
        if (vb !== sharedB) disposeData(vb);
        disposeData(vo);
      }
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  } finally {
    if (sharedB !== NONE) disposeData(sharedB);
  }
  return out;
}

function installBatchedMatMul(): void {
  const original = tf.getKernel("BatchMatMul", "wasm");
  if (original === undefined || original.kernelFunc.name === "batchedXnnMatMul") return;
  const fallback = original.kernelFunc;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: function batchedXnnMatMul(args: KernelArgs) {
      const { transposeA, transposeB } = args.attrs as unknown as {
        transposeA: boolean;
        transposeB: boolean;
      };
      if (transposeA || transposeB) return fallback(args);
      const a = args.inputs["a"] as tf.TensorInfo;
      const b = args.inputs["b"] as tf.TensorInfo;
      return batchedOnViews(args.backend as unknown as WasmMatMulBackend, a, b) ?? fallback(args);
    },
  });
}

installBatchedMatMul();
