/**
 * The `BatchMatMul` kernel of the tfjs wasm backend, registered in place of the package's own
 * when this module is imported. It runs, in order of preference:
 *
 * 1. **The relaxed-SIMD product** (`ops/_relaxed_gemm.ts`, the default where the engine compiles
 *    relaxed SIMD, as Deno 2's V8 does): any float32 rank-2 or rank-3 product, either batch
 *    broadcast, with or without transpose flags, straight on the heap (no copy). It multiplies
 *    and adds in one fused instruction where XNNPACK, built for plain wasm SIMD, takes two.
 *    Measured on this project's machine (`bench/wasm_matmul.ts`): about 1.3× XNNPACK on the
 *    encoder's 2-D products, 1.8× on its per-head batched ones, and as fast with a transposed
 *    operand as without (XNNPACK's transposed path is a naive loop, ~15× slower).
 * 2. **XNNPACK per batch entry** (`setWasmMatMul("xnnpack")`, or an engine without relaxed
 *    SIMD): `@tensorflow/tfjs-backend-wasm@4.22.0` sends a product to XNNPACK only when both
 *    batch sizes are 1 and nothing is transposed; every other product takes a naive triple loop
 *    (a `[96, 128, 64]·[96, 64, 128]` product: 72 ms against 11 ms as 96 separate 2-D
 *    products). This path registers a temporary tensor id for each batch entry of `a`, `b` and
 *    the output (a view: the same heap bytes), runs the package's own C++ `BatchMatMul` on each
 *    `[1, m, k]·[1, k, n]` triple (its XNNPACK path), and releases the ids (which also frees the
 *    XNNPACK operator the C++ side caches per weight id).
 * 3. The package's kernel, unchanged: transposed products and batch-1 products under the
 *    `"xnnpack"` choice, and operands the views cannot serve.
 *
 * @example The registered kernel agrees with separate products
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
// The tfjs flag that tells `model/` and the adapters whether transposed products are fast here
// (the relaxed-SIMD product packs either layout); the model then keeps no transposed weights.
import { FAST_TRANSPOSED_FLAG } from "./_fast_transposed.ts";
import {
  GEMM_SCRATCH_BYTES,
  type RelaxedGemm,
  relaxedGemmOn,
  relaxedGemmSupported,
} from "./_relaxed_gemm.ts";

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
    asm?: { memory?: unknown };
    _malloc(bytes: number): number;
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

/**
 * Which product the wasm backend's `BatchMatMul` runs: see {@link setWasmMatMul}.
 *
 * @example
 * ```ts
 * import type { WasmMatMul } from "./wasm_batch_matmul.ts";
 *
 * const choice: WasmMatMul = "xnnpack";
 * ```
 */
export type WasmMatMul = "relaxed-simd" | "xnnpack";

/** `TRIADAPT_WASM_MATMUL`, where the program may read it (no prompt, no error otherwise). */
function matMulFromEnvironment(): WasmMatMul {
  const variable = "TRIADAPT_WASM_MATMUL";
  try {
    if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") {
      return "relaxed-simd";
    }
    return Deno.env.get(variable) === "xnnpack" ? "xnnpack" : "relaxed-simd";
  } catch {
    return "relaxed-simd";
  }
}

let wasmMatMulChoice: WasmMatMul = matMulFromEnvironment();

/**
 * Chooses the matrix product of the wasm backend in this thread: `"relaxed-simd"` (the default:
 * `ops/_relaxed_gemm.ts`, fused multiply-adds, where the engine supports relaxed SIMD and the
 * product has a multiple of 8 columns; XNNPACK otherwise) or `"xnnpack"` (the package's own).
 * Gradient workers read the environment variable `TRIADAPT_WASM_MATMUL=xnnpack` at start, which
 * sets the same default in every thread.
 *
 * @param choice The product to run from now on.
 * @returns The previous choice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setWasmMatMul, wasmMatMul } from "./wasm_batch_matmul.ts";
 *
 * const before = setWasmMatMul("xnnpack");
 * assert.equal(wasmMatMul(), "xnnpack");
 * setWasmMatMul(before);
 * ```
 */
export function setWasmMatMul(choice: WasmMatMul): WasmMatMul {
  const previous = wasmMatMulChoice;
  wasmMatMulChoice = choice;
  tf.env().set(FAST_TRANSPOSED_FLAG, wasmTransposedProductsFast());
  return previous;
}

/**
 * Whether the wasm backend, in this thread, multiplies by a transposed operand as fast as by a
 * plain one: the relaxed-SIMD product is chosen and the engine runs it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setWasmMatMul, wasmTransposedProductsFast } from "./wasm_batch_matmul.ts";
 *
 * const before = setWasmMatMul("xnnpack");
 * assert.equal(wasmTransposedProductsFast(), false);
 * setWasmMatMul(before);
 * ```
 */
export function wasmTransposedProductsFast(): boolean {
  return wasmMatMulChoice === "relaxed-simd" && relaxedGemmSupported();
}

if (
  (tf.env() as unknown as { flagRegistry: Record<string, unknown> }).flagRegistry[
    FAST_TRANSPOSED_FLAG
  ] == null
) {
  tf.env().registerFlag(FAST_TRANSPOSED_FLAG, wasmTransposedProductsFast);
}

/**
 * The product the wasm backend runs in this thread (see {@link setWasmMatMul}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmMatMul } from "./wasm_batch_matmul.ts";
 *
 * assert.ok(["relaxed-simd", "xnnpack"].includes(wasmMatMul()));
 * ```
 */
export function wasmMatMul(): WasmMatMul {
  return wasmMatMulChoice;
}

/** The relaxed-SIMD product of one backend and its scratch buffer, made on first use. */
interface RelaxedOnBackend {
  readonly run: RelaxedGemm;
  readonly scratch: number;
}
const relaxedOnBackend = new WeakMap<object, RelaxedOnBackend | null>();

function relaxedFor(backend: WasmMatMulBackend): RelaxedOnBackend | null {
  let entry = relaxedOnBackend.get(backend);
  if (entry === undefined) {
    const memory = backend.wasm.asm?.memory;
    const run = memory instanceof WebAssembly.Memory ? relaxedGemmOn(memory) : null;
    entry = run === null ? null : { run, scratch: backend.wasm._malloc(GEMM_SCRATCH_BYTES) };
    relaxedOnBackend.set(backend, entry);
  }
  return entry;
}

/**
 * `op(a)·op(b)` for float32 rank-2 or rank-3 operands (either batch may be 1, broadcast), `op`
 * transposing the last two axes where its flag is set, with the relaxed-SIMD product; `null` when
 * it does not apply (another rank or dtype, an empty operand, an engine without relaxed SIMD, or
 * the choice is `"xnnpack"`).
 */
function relaxedProduct(
  backend: WasmMatMulBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo | null {
  if (wasmMatMulChoice !== "relaxed-simd") return null;
  if (a.dtype !== "float32" || b.dtype !== "float32") return null;
  const rank = a.shape.length;
  if ((rank !== 2 && rank !== 3) || b.shape.length !== rank) return null;
  const [batchA, rowsA, colsA] = rank === 3
    ? a.shape as [number, number, number]
    : [1, a.shape[0]!, a.shape[1]!];
  const [batchB, rowsB, colsB] = rank === 3
    ? b.shape as [number, number, number]
    : [1, b.shape[0]!, b.shape[1]!];
  const [m, k] = transposeA ? [colsA, rowsA] : [rowsA, colsA];
  const [kb, n] = transposeB ? [colsB, rowsB] : [rowsB, colsB];
  const batch = Math.max(batchA, batchB);
  if (k !== kb || m === 0 || n === 0 || k === 0) return null;
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  if (backend.dataIdMap.get(a.dataId) === undefined) return null;
  if (backend.dataIdMap.get(b.dataId) === undefined) return null;
  const relaxed = relaxedFor(backend);
  if (relaxed === null) return null;
  const out = backend.makeOutput(rank === 3 ? [batch, m, n] : [m, n], "float32");
  // Offsets read after makeOutput: they survive a heap growth.
  const offA = backend.dataIdMap.get(a.dataId)!.memoryOffset;
  const offB = backend.dataIdMap.get(b.dataId)!.memoryOffset;
  const offOut = backend.dataIdMap.get(out.dataId)!.memoryOffset;
  const [sizeA, sizeB, sizeOut] = [m * k * 4, k * n * 4, m * n * 4];
  for (let i = 0; i < batch; i++) {
    relaxed.run(
      offA + (batchA === 1 ? 0 : i * sizeA),
      offB + (batchB === 1 ? 0 : i * sizeB),
      offOut + i * sizeOut,
      m,
      n,
      k,
      relaxed.scratch,
      transposeA,
      transposeB,
    );
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
      const a = args.inputs["a"] as tf.TensorInfo;
      const b = args.inputs["b"] as tf.TensorInfo;
      const backend = args.backend as unknown as WasmMatMulBackend;
      const relaxed = relaxedProduct(backend, a, b, transposeA, transposeB);
      if (relaxed !== null) return relaxed;
      if (transposeA || transposeB) return fallback(args);
      return batchedOnViews(backend, a, b) ?? fallback(args);
    },
  });
}

installBatchedMatMul();
