/**
 * A bounds-checked reader and a small writer for the safetensors format
 * (https://huggingface.co/docs/safetensors), plus the dtype decoding shared by the checkpoint
 * readers. Every tensor is converted to `Float32Array` (floats) or `Int32Array` (ints, bool).
 *
 * File layout: `u64 LE header length N`, `N` bytes of UTF-8 JSON
 * `{ "__metadata__"?: {string: string}, name: { dtype, shape, data_offsets: [begin, end] } }`,
 * then the data buffer; offsets are relative to the start of the data buffer. As in the reference
 * Rust reader, the buffer must be covered exactly: no overlaps, no holes, nothing out of range.
 *
 * @module
 */

/**
 * A decoded checkpoint tensor: row-major data plus the dtype it was stored with.
 *
 * @example Decoding two int64 values
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RawTensor } from "./safetensors.ts";
 * import { decodeTensorBytes } from "./safetensors.ts";
 *
 * const bytes = new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
 * const t: RawTensor = decodeTensorBytes(bytes, { dtype: "I64", shape: [2], name: "ids", source: "mem" });
 * assert.equal(t.dtype, "I64");
 * assert.ok(t.data instanceof Int32Array);
 * assert.deepEqual([...t.data], [7, 1]);
 * ```
 */
export interface RawTensor {
  /** Dimensions, outermost first (`[]` for a scalar). */
  readonly shape: readonly number[];
  /** Source dtype in safetensors spelling, e.g. `"F32"`, `"F16"`, `"BF16"`, `"I64"`. */
  readonly dtype: string;
  /** Row-major values: floats as `Float32Array`, ints and bools as `Int32Array`. */
  readonly data: Float32Array | Int32Array;
}

/**
 * Tensors by name, in file order.
 *
 * @example Reading a two-tensor file
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StateDict } from "./safetensors.ts";
 * import { parseSafetensors, writeSafetensors } from "./safetensors.ts";
 *
 * const f32 = (v: number[]) => ({ shape: [v.length], dtype: "F32", data: new Float32Array(v) });
 * const sd: StateDict = parseSafetensors(writeSafetensors({ b: f32([1]), a: f32([2, 3]) }), "mem");
 * assert.deepEqual([...sd.keys()], ["a", "b"]); // the writer sorts keys
 * assert.deepEqual(sd.get("a")?.shape, [2]);
 * ```
 */
export type StateDict = ReadonlyMap<string, RawTensor>;

/**
 * A checkpoint file is malformed (truncated, inconsistent, unknown dtype, refused pickle global…).
 * Callers may catch it to tell a bad file from a bug; the message names the file and entry.
 *
 * @example Catching a malformed checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointFormatError, parseSafetensors } from "./safetensors.ts";
 *
 * assert.throws(() => parseSafetensors(new Uint8Array(3), "x.safetensors"), CheckpointFormatError);
 * ```
 */
export class CheckpointFormatError extends SyntaxError {
  /** The file (or other source) the problem was found in. */
  readonly source: string;
  /**
   * Builds the error.
   *
   * @param message The full message (std grammar, naming the file and entry).
   * @param source The file the problem was found in.
   */
  constructor(message: string, source: string) {
    super(message);
    this.name = "CheckpointFormatError";
    this.source = source;
  }
}

/** Bytes per element of each supported dtype (safetensors spelling). */
const DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/** Header size limit of the reference reader (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

const FLOAT_DTYPES: ReadonlySet<string> = new Set(["F64", "F32", "F16", "BF16"]);

const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let halfTable: Float32Array | undefined;

/** float16 bit pattern → float32 value, for all 65536 patterns (built once, 256 KiB). */
function halfToFloatTable(): Float32Array {
  if (halfTable !== undefined) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  halfTable = table;
  return table;
}

/**
 * Options for {@linkcode decodeTensorBytes}.
 *
 * @example Big-endian float32
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DecodeOptions } from "./safetensors.ts";
 * import { decodeTensorBytes } from "./safetensors.ts";
 *
 * const options: DecodeOptions = { dtype: "F32", shape: [1], name: "w", source: "mem", littleEndian: false };
 * const t = decodeTensorBytes(new Uint8Array([0x3f, 0x80, 0, 0]), options);
 * assert.deepEqual([...t.data], [1]);
 * ```
 */
export interface DecodeOptions {
  /** Source dtype in safetensors spelling (`"F32"`, `"F16"`, `"BF16"`, `"I64"`, `"BOOL"`, …). */
  readonly dtype: string;
  /** Tensor shape; its product times the dtype size must equal the byte length. */
  readonly shape: readonly number[];
  /** Tensor name, for messages. */
  readonly name: string;
  /** File the bytes came from, for messages. */
  readonly source: string;
  /** Byte order of the stored values (default `true`, as in safetensors and torch on x86/ARM). */
  readonly littleEndian?: boolean;
}

/**
 * Returns the size in bytes of one element of a dtype, or `undefined` for an unsupported dtype.
 *
 * @param dtype Dtype in safetensors spelling, e.g. `"BF16"`.
 * @returns Bytes per element, or `undefined` when the dtype is not supported.
 *
 * @example Sizes
 * ```ts
 * import assert from "node:assert/strict";
 * import { dtypeByteSize } from "./safetensors.ts";
 *
 * assert.equal(dtypeByteSize("BF16"), 2);
 * assert.equal(dtypeByteSize("F8_E4M3"), undefined);
 * ```
 */
export function dtypeByteSize(dtype: string): number | undefined {
  return Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype] : undefined;
}

/**
 * Decodes the raw bytes of one tensor to float32 (floats) or int32 (ints, bools). 64-bit and
 * unsigned 32-bit values outside the int32 range are refused with a `RangeError` naming the tensor.
 *
 * @param bytes Exactly the tensor's bytes, row-major.
 * @param options Dtype, shape, tensor name, source file, byte order.
 * @returns The decoded tensor (a fresh copy; `bytes` is not retained).
 *
 * @example Decoding float16
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTensorBytes } from "./safetensors.ts";
 *
 * // 1.0 and -2.0 in float16, little-endian
 * const t = decodeTensorBytes(new Uint8Array([0x00, 0x3c, 0x00, 0xc0]), {
 *   dtype: "F16", shape: [2], name: "w", source: "mem",
 * });
 * assert.deepEqual([...t.data], [1, -2]);
 * ```
 */
export function decodeTensorBytes(bytes: Uint8Array, options: DecodeOptions): RawTensor {
  const { dtype, shape, name, source } = options;
  const little = options.littleEndian ?? true;
  const size = dtypeByteSize(dtype);
  if (size === undefined) {
    throw new CheckpointFormatError(
      `Cannot decode tensor "${name}" in ${source} as dtype must be one of ${
        Object.keys(DTYPE_BYTES).join(", ")
      }: current value is ${JSON.stringify(dtype)}`,
      source,
    );
  }
  const count = checkedElementCount(shape, name, source);
  if (count * size !== bytes.length) {
    throw new CheckpointFormatError(
      `Cannot decode tensor "${name}" in ${source} as its byte length must be ${
        count * size
      } (shape [${shape.join(", ")}] × ${size} bytes): current value is ${bytes.length}`,
      source,
    );
  }
  const frozenShape = Object.freeze([...shape]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (FLOAT_DTYPES.has(dtype)) {
    let out: Float32Array;
    if (dtype === "F32") {
      if (little === HOST_LITTLE_ENDIAN) {
        out = new Float32Array(bytes.slice().buffer);
      } else {
        out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, little);
      }
    } else if (dtype === "F16" || dtype === "BF16") {
      // 16-bit patterns in host order (a copy, so alignment never matters)
      const half = new Uint16Array(count);
      if (little === HOST_LITTLE_ENDIAN) new Uint8Array(half.buffer).set(bytes);
      else for (let i = 0; i < count; i++) half[i] = view.getUint16(i * 2, little);
      if (dtype === "F16") {
        const table = halfToFloatTable();
        out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = table[half[i]!]!;
      } else {
        const bits = new Uint32Array(count);
        for (let i = 0; i < count; i++) bits[i] = half[i]! << 16;
        out = new Float32Array(bits.buffer);
      }
    } else {
      out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, little);
    }
    return Object.freeze({ shape: frozenShape, dtype, data: out });
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * size;
    let value: number;
    switch (dtype) {
      case "I64":
      case "U64": {
        const big = dtype === "I64" ? view.getBigInt64(at, little) : view.getBigUint64(at, little);
        if (big < -2147483648n || big > 2147483647n) throw int32Range(name, source, i, big);
        value = Number(big);
        break;
      }
      case "U32":
        value = view.getUint32(at, little);
        if (value > 2147483647) throw int32Range(name, source, i, value);
        break;
      case "I32":
        value = view.getInt32(at, little);
        break;
      case "I16":
        value = view.getInt16(at, little);
        break;
      case "U16":
        value = view.getUint16(at, little);
        break;
      case "I8":
        value = view.getInt8(at);
        break;
      default: // U8, BOOL
        value = view.getUint8(at);
    }
    out[i] = value;
  }
  return Object.freeze({ shape: frozenShape, dtype, data: out });
}

function int32Range(
  name: string,
  source: string,
  index: number,
  value: bigint | number,
): RangeError {
  return new RangeError(
    `Cannot decode tensor "${name}" in ${source} as its integers must fit in int32: current value at index ${index} is ${value}`,
  );
}

/** Product of a shape after checking every dimension is a safe non-negative integer. */
function checkedElementCount(shape: readonly number[], name: string, source: string): number {
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new CheckpointFormatError(
        `Cannot decode tensor "${name}" in ${source} as shape dimensions must be non-negative integers: current shape is ${
          JSON.stringify(shape)
        }`,
        source,
      );
    }
    count *= d;
  }
  if (!Number.isSafeInteger(count)) {
    throw new CheckpointFormatError(
      `Cannot decode tensor "${name}" in ${source} as its element count must be a safe integer: current shape is ${
        JSON.stringify(shape)
      }`,
      source,
    );
  }
  return count;
}

interface HeaderEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

function fail(source: string, what: string, mustBe: string, current: string): never {
  throw new CheckpointFormatError(
    `Cannot read ${what} in ${source} as ${mustBe}: current value is ${current}`,
    source,
  );
}

/**
 * Parses a safetensors file completely or not at all. Checks the header length, the JSON header,
 * every dtype, shape and offset pair, that tensors neither overlap nor leave holes, and that the
 * data buffer ends where the last tensor ends.
 *
 * @param bytes The whole file.
 * @param source File path, used in error messages.
 * @returns Decoded tensors in header order (floats → float32, ints/bool → int32).
 * @throws {CheckpointFormatError} Malformed file (message names the file and tensor).
 * @throws {RangeError} An I64 value outside the int32 range (names the tensor).
 *
 * @example Round trip through the writer
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSafetensors, writeSafetensors } from "./safetensors.ts";
 *
 * const bytes = writeSafetensors({ w: { shape: [2], dtype: "F32", data: new Float32Array([1, 2]) } });
 * const sd = parseSafetensors(bytes, "mem.safetensors");
 * assert.deepEqual([...sd.get("w")!.data], [1, 2]);
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source: string): StateDict {
  if (bytes.length < 8) {
    fail(
      source,
      "the header length",
      "the file must hold at least 8 bytes",
      `${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail(
      source,
      "the header",
      `the header length must be at most the ${bytes.length - 8} bytes after it`,
      `${headerLength}`,
    );
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    fail(
      source,
      "the header",
      `the header length must be at most ${MAX_HEADER_BYTES} bytes`,
      `${headerLength}`,
    );
  }
  const n = Number(headerLength);
  const dataStart = 8 + n;
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)),
    );
  } catch (error) {
    fail(source, "the header", "it must be UTF-8 JSON", `unparsable (${(error as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail(source, "the header", "it must be a JSON object", JSON.stringify(header));
  }
  const dataLength = bytes.length - dataStart;
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      checkMetadata(value, source);
      continue;
    }
    entries.push(checkEntry(name, value, dataLength, source));
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) {
      fail(
        source,
        `tensor "${e.name}"`,
        `its data_offsets must not overlap another tensor's`,
        `[${e.begin}, ${e.end}] (previous tensor ends at ${cursor})`,
      );
    }
    if (e.begin > cursor) {
      fail(
        source,
        `tensor "${e.name}"`,
        "the data buffer must have no holes",
        `[${e.begin}, ${e.end}] (previous tensor ends at ${cursor})`,
      );
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    fail(
      source,
      "the data buffer",
      `its length must equal the end of the last tensor (${cursor})`,
      `${dataLength}`,
    );
  }
  const out = new Map<string, RawTensor>();
  for (const e of entries) {
    out.set(
      e.name,
      decodeTensorBytes(bytes.subarray(dataStart + e.begin, dataStart + e.end), {
        dtype: e.dtype,
        shape: e.shape,
        name: e.name,
        source,
      }),
    );
  }
  return out;
}

function checkMetadata(value: unknown, source: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(source, "__metadata__", "it must be an object of strings", JSON.stringify(value));
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      fail(source, `__metadata__.${k}`, "it must be a string", JSON.stringify(v));
    }
  }
}

function checkEntry(name: string, value: unknown, dataLength: number, source: string): HeaderEntry {
  const what = `tensor "${name}"`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(source, what, "its header entry must be an object", JSON.stringify(value));
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== "string" || dtypeByteSize(dtype) === undefined) {
    fail(
      source,
      what,
      `dtype must be one of ${Object.keys(DTYPE_BYTES).join(", ")}`,
      JSON.stringify(dtype),
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(source, what, "shape must be an array of non-negative integers", JSON.stringify(shape));
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(source, what, "data_offsets must be two non-negative integers", JSON.stringify(offsets));
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) {
    fail(
      source,
      what,
      `data_offsets must satisfy begin <= end <= ${dataLength} (the data length)`,
      `[${begin}, ${end}]`,
    );
  }
  const count = checkedElementCount(shape as number[], name, source);
  const expected = count * dtypeByteSize(dtype)!;
  if (end - begin !== expected) {
    fail(
      source,
      what,
      `data_offsets must span ${expected} bytes for shape [${
        (shape as number[]).join(", ")
      }] ${dtype}`,
      `[${begin}, ${end}]`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/**
 * Serialises float32/int32 tensors as safetensors (keys sorted, header padded with spaces to a
 * multiple of 8 bytes, as the reference writer does). `Float32Array` data is written as `F32` and
 * `Int32Array` data as `I32`, whatever the tensor's `dtype` says.
 *
 * @param tensors Tensors by name (a `Map` or a plain record).
 * @param metadata Optional `__metadata__` string map.
 * @returns The file bytes.
 * @throws {TypeError} A name is empty or `__metadata__`, or a shape does not match its data.
 *
 * @example Writing one tensor with metadata
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSafetensors, writeSafetensors } from "./safetensors.ts";
 *
 * const bytes = writeSafetensors(
 *   new Map([["ids", { shape: [1, 3], dtype: "I32", data: new Int32Array([1, 5, 2]) }]]),
 *   { format: "pt" },
 * );
 * assert.equal(bytes.length % 8, 4); // 8-byte length + padded header + 12 data bytes
 * assert.deepEqual(parseSafetensors(bytes, "mem").get("ids")!.shape, [1, 3]);
 * ```
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries: [string, RawTensor][] = tensors instanceof Map
    ? [...(tensors as ReadonlyMap<string, RawTensor>).entries()]
    : Object.entries(tensors as Record<string, RawTensor>);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new TypeError(
          `Cannot write safetensors as metadata values must be strings: current value of "${k}" is ${typeof v}`,
        );
      }
    }
    header["__metadata__"] = { ...metadata };
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "" || name === "__metadata__") {
      throw new TypeError(
        `Cannot write safetensors as tensor names must be non-empty and not "__metadata__": current value is ${
          JSON.stringify(name)
        }`,
      );
    }
    const isFloat = t.data instanceof Float32Array;
    if (!isFloat && !(t.data instanceof Int32Array)) {
      throw new TypeError(
        `Cannot write tensor "${name}" as its data must be a Float32Array or Int32Array`,
      );
    }
    let count = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new TypeError(
          `Cannot write tensor "${name}" as shape dimensions must be non-negative integers: current shape is ${
            JSON.stringify(t.shape)
          }`,
        );
      }
      count *= d;
    }
    if (count !== t.data.length) {
      throw new TypeError(
        `Cannot write tensor "${name}" as its shape [${
          t.shape.join(", ")
        }] must hold ${count} values: current data length is ${t.data.length}`,
      );
    }
    const end = offset + t.data.length * 4;
    header[name] = {
      dtype: isFloat ? "F32" : "I32",
      shape: [...t.shape],
      data_offsets: [offset, end],
    };
    offset = end;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    json += " ".repeat(padded - headerBytes.length);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    const src = t.data;
    if (src instanceof Float32Array) {
      for (let i = 0; i < src.length; i++, at += 4) view.setFloat32(at, src[i]!, true);
    } else {
      for (let i = 0; i < src.length; i++, at += 4) view.setInt32(at, src[i]!, true);
    }
  }
  return out;
}
