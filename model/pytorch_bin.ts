/**
 * Reader for `pytorch_model.bin` written by `torch.save` (torch ≥ 1.6 zip format): a zip holding
 * `<archive>/data.pkl` (the pickled state dict), `<archive>/data/<key>` (one raw storage per key)
 * and optionally `<archive>/byteorder`. Other entries (`version`, `.format_version`,
 * `.storage_alignment`, `.data/serialization_id`, …) are ignored. The zip is read with `fflate`;
 * the pickle with the restricted reader in `pickle.ts`, whose allow-list here holds only what a
 * state dict needs. No code from the file is ever executed.
 *
 * @module
 */

import { unzipSync } from "fflate";
import { centralDirectoryCrcs, crc32 } from "./_zip_crc.ts";
import {
  PickleGlobal,
  type PickleGlobalHandler,
  type PickleKey,
  PickleOpaque,
  type PickleValue,
  unpickle,
} from "./pickle.ts";
import {
  CheckpointFormatError,
  decodeTensorBytes,
  dtypeByteSize,
  type RawTensor,
  type StateDict,
} from "./safetensors.ts";

/** Storage classes a state dict may reference → element dtype (safetensors spelling). */
const STORAGE_DTYPES: ReadonlyMap<string, string> = new Map([
  ["torch.FloatStorage", "F32"],
  ["torch.HalfStorage", "F16"],
  ["torch.BFloat16Storage", "BF16"],
  ["torch.DoubleStorage", "F64"],
  ["torch.LongStorage", "I64"],
  ["torch.IntStorage", "I32"],
  ["torch.ShortStorage", "I16"],
  ["torch.CharStorage", "I8"],
  ["torch.ByteStorage", "U8"],
  ["torch.BoolStorage", "BOOL"],
]);

/** Largest deflate expansion ratio (a bound for a declared uncompressed size). */
const MAX_DEFLATE_RATIO = 1032;

interface StorageRef {
  readonly key: string;
  readonly dtype: string;
  readonly numel: number;
  readonly bytes: Uint8Array;
}

interface TensorRef {
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

function formatError(source: string, mustBe: string, current: string): CheckpointFormatError {
  return new CheckpointFormatError(
    `Cannot read ${source} as ${mustBe}: current value is ${current}`,
    source,
  );
}

function isIntTuple(value: PickleValue): value is readonly number[] {
  return Array.isArray(value) &&
    value.every((v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0);
}

function describe(value: PickleValue): string {
  if (value instanceof PickleOpaque) return `a ${value.tag}`;
  if (value instanceof PickleGlobal) return `global ${value}`;
  if (value instanceof Map) return "a dict";
  if (value instanceof Uint8Array) return "bytes";
  if (Array.isArray(value)) return `(${value.map((v) => describe(v)).join(", ")})`;
  return typeof value === "bigint" ? `${value}` : JSON.stringify(value);
}

/** Unzips only the entries a state dict needs, with bounds on declared sizes and entry count. */
function readZip(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  const wanted = /^[^/]+\/(data\.pkl|byteorder|data\/[^/]+)$/;
  const declared = new Map<string, number>();
  let seen = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter(file): boolean {
        // each central-directory record takes at least 46 bytes: more is a corrupt count
        if (++seen > bytes.length / 46) {
          throw formatError(source, "the zip entry count must fit in the file", `${seen}+ entries`);
        }
        if (!wanted.test(file.name)) return false;
        const { size, originalSize, compression } = file;
        const bounded = compression === 0
          ? size === originalSize && size <= bytes.length
          : compression === 8 && originalSize <= size * MAX_DEFLATE_RATIO + 64 &&
            originalSize < 2 ** 31;
        if (!bounded) {
          throw formatError(
            `${source}:${file.name}`,
            "a zip entry must be stored or deflated with consistent sizes",
            `method ${compression}, ${size} → ${originalSize} bytes`,
          );
        }
        declared.set(file.name, originalSize);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof CheckpointFormatError) throw error;
    throw formatError(
      source,
      "it must be a readable zip archive",
      `corrupt (${(error as Error).message})`,
    );
  }
  const crcs = centralDirectoryCrcs(bytes);
  const out = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(files)) {
    if (data.length !== declared.get(name)) {
      throw formatError(
        `${source}:${name}`,
        `the zip entry must hold its declared ${declared.get(name)} bytes`,
        `${data.length} bytes`,
      );
    }
    const expected = crcs.get(name);
    const actual = crc32(data);
    if (expected !== actual) {
      throw formatError(
        `${source}:${name}`,
        `the zip entry must match its declared CRC-32 ${expected?.toString(16) ?? "(missing)"}`,
        `${actual.toString(16)} (the file is corrupted)`,
      );
    }
    out.set(name, data);
  }
  return out;
}

/** The allow-list: everything a `torch.save(state_dict)` pickle references, nothing else. */
function torchGlobals(source: string): Map<string, PickleGlobalHandler> {
  const globals = new Map<string, PickleGlobalHandler>();
  for (const name of STORAGE_DTYPES.keys()) globals.set(name, {});
  globals.set("collections.OrderedDict", {
    call(args): PickleValue {
      const dict = new Map<PickleKey, PickleValue>();
      const items = args[0];
      if (args.length > 1 || (items !== undefined && !Array.isArray(items))) {
        throw formatError(source, "OrderedDict arguments must be () or (pairs,)", describe(args));
      }
      for (const pair of (items ?? []) as readonly PickleValue[]) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
          throw formatError(source, "OrderedDict items must be (str, value) pairs", describe(pair));
        }
        dict.set(pair[0] as string, pair[1] as PickleValue);
      }
      return dict;
    },
  });
  const rebuild = (args: readonly PickleValue[], min: number, max: number): PickleValue => {
    if (args.length < min || args.length > max) {
      throw formatError(
        source,
        `tensor rebuild arguments must number ${min}–${max}`,
        `${args.length}`,
      );
    }
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof PickleOpaque) || storage.tag !== "storage") {
      throw formatError(source, "a tensor must be backed by a storage", describe(storage!));
    }
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
      throw formatError(
        source,
        "a storage offset must be a non-negative integer",
        describe(offset!),
      );
    }
    if (!isIntTuple(size!) || !isIntTuple(stride!) || size.length !== stride.length) {
      throw formatError(
        source,
        "size and stride must be integer tuples of equal length",
        `${describe(size!)}, ${describe(stride!)}`,
      );
    }
    const ref: TensorRef = {
      storage: storage.value as StorageRef,
      offset,
      shape: size,
      stride,
    };
    return new PickleOpaque("tensor", ref);
  };
  globals.set("torch._utils._rebuild_tensor_v2", { call: (args) => rebuild(args, 6, 7) });
  globals.set("torch._utils._rebuild_tensor", { call: (args) => rebuild(args, 4, 4) });
  const parameter = (args: readonly PickleValue[]): PickleValue => {
    const data = args[0];
    if (!(data instanceof PickleOpaque) || data.tag !== "tensor") {
      throw formatError(source, "a parameter must wrap a tensor", describe(data ?? null));
    }
    return data;
  };
  globals.set("torch._utils._rebuild_parameter", { call: parameter });
  globals.set("torch._utils._rebuild_parameter_with_state", { call: parameter });
  return globals;
}

/** Materialises a (possibly strided) view of a storage as a row-major tensor. */
function materialise(name: string, ref: TensorRef, little: boolean, source: string): RawTensor {
  const { storage, offset, shape, stride } = ref;
  let numel = 1;
  let last = offset; // highest storage index the view touches
  for (let d = 0; d < shape.length; d++) {
    numel *= shape[d]!;
    if (shape[d]! > 0) last += (shape[d]! - 1) * stride[d]!;
  }
  if (!Number.isSafeInteger(numel) || (numel > 0 && last >= storage.numel)) {
    throw new CheckpointFormatError(
      `Cannot read tensor "${name}" in ${source} as its view must lie inside storage ${storage.key} (${storage.numel} elements): current value is offset ${offset}, size (${
        shape.join(", ")
      }), stride (${stride.join(", ")})`,
      source,
    );
  }
  const size = dtypeByteSize(storage.dtype)!;
  let contiguous = true;
  for (let d = shape.length - 1, expect = 1; d >= 0; d--) {
    if (shape[d]! !== 1 && stride[d]! !== expect) contiguous = false;
    expect *= shape[d]!;
  }
  const decode = (bytes: Uint8Array, dims: readonly number[]): RawTensor =>
    decodeTensorBytes(bytes, {
      dtype: storage.dtype,
      shape: dims,
      name,
      source,
      littleEndian: little,
    });
  if (numel === 0 || contiguous) {
    const begin = numel === 0 ? 0 : offset * size;
    return decode(storage.bytes.subarray(begin, begin + numel * size), shape);
  }
  // non-contiguous view: decode the storage span it touches, then gather row-major
  const span = decode(storage.bytes.subarray(offset * size, (last + 1) * size), [
    last + 1 - offset,
  ]);
  const out = span.data instanceof Float32Array ? new Float32Array(numel) : new Int32Array(numel);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let at = 0;
    for (let d = 0; d < shape.length; d++) at += index[d]! * stride[d]!;
    out[i] = span.data[at]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return Object.freeze({ shape: Object.freeze([...shape]), dtype: storage.dtype, data: out });
}

/**
 * Parses a `pytorch_model.bin` (torch zip format) into a state dict, completely or not at all.
 * Tensors may be float32/16, bfloat16, float64 (→ `Float32Array`) or int64/32/16/8, uint8, bool
 * (→ `Int32Array`); strided views and storage offsets are honoured (non-contiguous views are
 * copied). The pre-1.6 legacy format is refused with a message saying how to convert it.
 *
 * @param bytes The whole file.
 * @param source File path, used in error messages.
 * @returns Tensors by name, in pickle order.
 * @throws {CheckpointFormatError} A corrupt zip, a malformed or refused pickle (a global outside the
 *   allow-list is named), a missing storage, or a view outside its storage.
 * @throws {RangeError} An int64 tensor value outside the int32 range (names the tensor).
 *
 * @example Refusing bytes that are not a torch zip
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointFormatError } from "./safetensors.ts";
 * import { parsePytorchBin } from "./pytorch_bin.ts";
 *
 * assert.throws(
 *   () => parsePytorchBin(new Uint8Array([0x80, 0x02, 0x8a, 0x0a]), "old.bin"),
 *   (e: unknown) => e instanceof CheckpointFormatError && /legacy/.test(e.message),
 * );
 * ```
 */
export function parsePytorchBin(bytes: Uint8Array, source: string): StateDict {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    bytes[2] === 0x03 && bytes[3] === 0x04;
  if (!isZip) {
    const legacy = bytes[0] === 0x80 || (bytes.length > 262 &&
      new TextDecoder("latin1").decode(bytes.subarray(257, 262)) === "ustar");
    throw formatError(
      source,
      legacy
        ? "it must use the zip format of torch >= 1.6; the legacy format is not supported (re-save it with a current torch, or convert it to model.safetensors)"
        : "it must be a torch zip archive (starting with PK\\x03\\x04)",
      `a file starting with bytes ${
        [...bytes.subarray(0, 4)].map((b) => b.toString(16)).join(" ")
      }`,
    );
  }
  const entries = readZip(bytes, source);
  const pickles = [...entries.keys()].filter((n) => n.endsWith("/data.pkl"));
  if (pickles.length !== 1) {
    throw formatError(
      source,
      "the zip must hold exactly one <archive>/data.pkl",
      pickles.length === 0 ? "none" : pickles.join(", "),
    );
  }
  const prefix = pickles[0]!.slice(0, -"data.pkl".length);
  const byteorderBytes = entries.get(`${prefix}byteorder`);
  const byteorder = byteorderBytes === undefined
    ? "little"
    : new TextDecoder("latin1").decode(byteorderBytes).trim();
  if (byteorder !== "little" && byteorder !== "big") {
    throw formatError(`${source}:${prefix}byteorder`, `it must be "little" or "big"`, byteorder);
  }
  const pklSource = `${source}:${pickles[0]}`;
  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") {
      throw formatError(
        pklSource,
        "a persistent id must be ('storage', type, key, location, numel)",
        describe(pid),
      );
    }
    const [, type, key, , numel] = pid as readonly PickleValue[];
    const dtype = type instanceof PickleGlobal ? STORAGE_DTYPES.get(type.toString()) : undefined;
    if (dtype === undefined || typeof key !== "string") {
      throw formatError(
        pklSource,
        "a persistent id must name a storage type and key",
        describe(pid),
      );
    }
    if (typeof numel !== "number" || !Number.isSafeInteger(numel) || numel < 0) {
      throw formatError(
        pklSource,
        "a storage size must be a non-negative integer",
        describe(numel ?? null),
      );
    }
    let storage = storages.get(key);
    if (storage === undefined) {
      const name = `${prefix}data/${key}`;
      const data = entries.get(name);
      if (data === undefined) {
        throw formatError(
          `${source}:${name}`,
          "every referenced storage must be in the zip",
          "missing",
        );
      }
      if (data.length !== numel * dtypeByteSize(dtype)!) {
        throw formatError(
          `${source}:${name}`,
          `storage ${key} must hold ${numel} ${dtype} elements (${
            numel * dtypeByteSize(dtype)!
          } bytes)`,
          `${data.length} bytes`,
        );
      }
      storage = { key, dtype, numel, bytes: data };
      storages.set(key, storage);
    } else if (storage.dtype !== dtype || storage.numel !== numel) {
      throw formatError(
        pklSource,
        `storage ${key} must be referenced with one type and size`,
        describe(pid),
      );
    }
    return new PickleOpaque("storage", storage);
  };
  const root = unpickle(entries.get(pickles[0]!)!, {
    source: pklSource,
    globals: torchGlobals(pklSource),
    persistentLoad,
  });
  if (!(root instanceof Map)) {
    throw formatError(
      pklSource,
      "the pickled object must be a state dict (an OrderedDict)",
      describe(root),
    );
  }
  const out = new Map<string, RawTensor>();
  for (const [name, value] of root) {
    if (typeof name !== "string" || !(value instanceof PickleOpaque) || value.tag !== "tensor") {
      throw formatError(
        pklSource,
        "every state dict entry must map a str name to a tensor",
        `${describe(name)} → ${describe(value)}`,
      );
    }
    out.set(name, materialise(name, value.value as TensorRef, byteorder === "little", source));
  }
  return out;
}
