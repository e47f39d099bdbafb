/**
 * Copy-free `Slice`, `Unpack`, `SplitV`, `Identity` and same-dtype `Cast` kernels for the tfjs
 * wasm backend, registered in place of the package's own when this module is imported
 * (`Identity` and `Cast` share the input's bytes: see `installSharingKernels`).
 *
 * `@tensorflow/tfjs-backend-wasm@4.22.0`'s `Slice` reads its whole input with `readSync` (a copy
 * of the input out of the wasm heap) before it copies the slice, and its `Unpack` and `SplitV`
 * call that `Slice` once per output: unstacking an `[n, m, k]` tensor copies `n² · m · k` floats.
 * The encoder's batched products unstack `[batch · heads, seq, d]` tensors (wasm's batched
 * `matMul` is several times slower than separate 2-D products), so at the planted demo's size the
 * copies were most of a training step (a V8 profile of 60 demo steps: `TypedArray.slice` under
 * `Unpack` in 4,500 of 18,000 ticks, with the `libc` `memcpy` time it causes).
 *
 * These kernels read the input through a view of the heap instead (taken after the output is
 * allocated, since an allocation may grow and so detach the heap), and copy the same elements in
 * the same order: results are bit-identical to the package's kernels (tested against them). Strings
 * and any other dtype the heap does not hold go to the package's own kernel. The registry is
 * global: importing this module changes the `wasm` backend for every tfjs user in the process,
 * the same results faster.
 *
 * @example The fast kernels are the registered ones
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { WASM_COPY_FREE_KERNELS } from "./wasm_kernels.ts";
 *
 * for (const name of WASM_COPY_FREE_KERNELS) {
 *   assert.equal(tf.getKernel(name, "wasm")?.kernelFunc.name, `copyFree${name}`);
 * }
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "./wasm_batch_matmul.ts";

/** The part of `BackendWasm` these kernels use. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: tf.DataId): void;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * The kernels this module replaces on the `wasm` backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WASM_COPY_FREE_KERNELS } from "./wasm_kernels.ts";
 *
 * assert.deepEqual([...WASM_COPY_FREE_KERNELS], ["Slice", "Unpack", "SplitV", "Identity", "Cast"]);
 * ```
 */
export const WASM_COPY_FREE_KERNELS: readonly string[] = Object.freeze([
  "Slice",
  "Unpack",
  "SplitV",
  "Identity",
  "Cast",
]);

const HEAP_DTYPES: ReadonlySet<string> = new Set(["float32", "int32", "bool"]);

/** `x[begin : begin + size]` copied through heap views; `null` when the dtype is not on the heap. */
function sliceOnHeap(
  backend: WasmHeapBackend,
  x: tf.TensorInfo,
  beginIn: number | number[],
  sizeIn: number | number[],
): tf.TensorInfo | null {
  if (!HEAP_DTYPES.has(x.dtype)) return null;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, beginIn, sizeIn) as [
    number[],
    number[],
  ];
  const out = backend.makeOutput(size, x.dtype);
  const count = tf.util.sizeFromShape(size);
  if (count === 0) return out;
  // Views after makeOutput: an allocation may have grown (and detached) the heap.
  const xVals = backend.typedArrayFromHeap(x);
  const outVals = backend.typedArrayFromHeap(out);
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const offset = tf.slice_util.computeFlatOffset(begin, strides);
    outVals.set(xVals.subarray(offset, offset + count));
    return out;
  }
  // Row by row over the last axis, in row-major order of the output.
  const rank = x.shape.length;
  const run = size[rank - 1] as number;
  const index = new Array<number>(Math.max(0, rank - 1)).fill(0);
  for (let o = 0; o < count; o += run) {
    let offset = begin[rank - 1] as number;
    for (let d = 0; d < rank - 1; d++) {
      offset += ((begin[d] as number) + (index[d] as number)) * (strides[d] as number);
    }
    outVals.set(xVals.subarray(offset, offset + run), o);
    for (let d = rank - 2; d >= 0; d--) {
      index[d] = (index[d] as number) + 1;
      if ((index[d] as number) < (size[d] as number)) break;
      index[d] = 0;
    }
  }
  return out;
}

function install(original: tf.KernelConfig, kernelFunc: tf.KernelFunc): void {
  tf.unregisterKernel(original.kernelName, "wasm");
  tf.registerKernel({ ...original, kernelFunc });
}

function installCopyFreeKernels(): void {
  const slice = tf.getKernel("Slice", "wasm");
  const unpack = tf.getKernel("Unpack", "wasm");
  const splitV = tf.getKernel("SplitV", "wasm");
  if (slice === undefined || unpack === undefined || splitV === undefined) return;
  if (slice.kernelFunc.name === "copyFreeSlice") return; // already installed (module loaded twice)
  const originalSlice = slice.kernelFunc;
  const sliceOne = (args: KernelArgs, x: tf.TensorInfo, begin: number[], size: number[]) =>
    sliceOnHeap(args.backend as unknown as WasmHeapBackend, x, begin, size) ??
      originalSlice({ ...args, inputs: { x }, attrs: { begin, size } }) as tf.TensorInfo;

  install(slice, function copyFreeSlice(args: KernelArgs) {
    const x = args.inputs["x"] as tf.TensorInfo;
    const { begin, size } = args.attrs as unknown as {
      begin: number | number[];
      size: number | number[];
    };
    return sliceOnHeap(args.backend as unknown as WasmHeapBackend, x, begin, size) ??
      originalSlice(args);
  });

  install(unpack, function copyFreeUnpack(args: KernelArgs) {
    const value = args.inputs["value"] as tf.TensorInfo;
    if (!HEAP_DTYPES.has(value.dtype)) return unpack.kernelFunc(args);
    const rank = value.shape.length;
    let axis = (args.attrs as unknown as { axis: number }).axis;
    if (axis < 0) axis += rank;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const begin = new Array<number>(rank).fill(0);
    const size = value.shape.slice();
    size[axis] = 1;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < (value.shape[axis] as number); i++) {
      begin[axis] = i;
      const { dataId, dtype } = sliceOne(args, value, begin, size);
      outs.push({ dataId, dtype, shape: outShape });
    }
    return outs;
  });

  install(splitV, function copyFreeSplitV(args: KernelArgs) {
    const x = args.inputs["x"] as tf.TensorInfo;
    if (!HEAP_DTYPES.has(x.dtype)) return splitV.kernelFunc(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number | number[];
    };
    const a = tf.util.parseAxisParam(axis, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, a);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[a] = s;
      const piece = sliceOne(args, x, begin.slice(), size);
      begin[a] = (begin[a] as number) + s;
      return piece;
    });
  });
}

/** `x` itself under a new reference (what the package's `Reshape` and the cpu `Identity` do). */
function shared(args: KernelArgs, x: tf.TensorInfo): tf.TensorInfo {
  (args.backend as unknown as WasmHeapBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * `Identity` and a `Cast` to the same dtype share the input's heap bytes instead of copying
 * them: tfjs tensors are immutable (a variable's `assign` takes a new buffer, and no kernel
 * writes into its inputs), so a clone needs no bytes of its own. tfjs clones every tensor a
 * custom gradient saves, and `tf.moments` casts its float32 input to float32: about 300 copies of
 * `[512, 768]`-sized tensors per base-width layer and training step.
 */
function installSharingKernels(): void {
  const identity = tf.getKernel("Identity", "wasm");
  const cast = tf.getKernel("Cast", "wasm");
  if (identity === undefined || cast === undefined) return;
  if (identity.kernelFunc.name === "copyFreeIdentity") return;
  install(identity, function copyFreeIdentity(args: KernelArgs) {
    const x = args.inputs["x"] as tf.TensorInfo;
    return HEAP_DTYPES.has(x.dtype) ? shared(args, x) : identity.kernelFunc(args);
  });
  install(cast, function copyFreeCast(args: KernelArgs) {
    const x = args.inputs["x"] as tf.TensorInfo;
    const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
    return HEAP_DTYPES.has(x.dtype) && dtype === x.dtype ? shared(args, x) : cast.kernelFunc(args);
  });
}

installCopyFreeKernels();
installSharingKernels();
