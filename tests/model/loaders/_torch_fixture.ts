/**
 * Builds `torch.save`-style zip checkpoints byte by byte for tests, mimicking the pickles torch
 * writes: protocol 2 with `GLOBAL` and `BINPUT` (torch 1.x, as in the golden file) or protocol 4/5
 * with `FRAME`, `STACK_GLOBAL` and `MEMOIZE` (newer torch).
 *
 * @module
 */

import { type Zippable, zipSync } from "fflate";

/** One tensor entry of a synthetic state dict. */
export interface FixtureTensor {
  readonly name: string;
  /** torch storage class name, e.g. `"HalfStorage"`. */
  readonly storageType: string;
  readonly key: string;
  /** Elements of the storage. */
  readonly numel: number;
  readonly offset: number;
  readonly size: readonly number[];
  readonly stride: readonly number[];
}

/** Emits pickle opcodes. */
export class PickleWriter {
  readonly #bytes: number[] = [];
  readonly protocol: number;
  #memo = 0;
  constructor(protocol: number) {
    this.protocol = protocol;
  }
  op(...codes: number[]): this {
    this.#bytes.push(...codes);
    return this;
  }
  u32(n: number): this {
    return this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  memo(): this {
    if (this.protocol >= 4) return this.op(0x94);
    const index = this.#memo++;
    return index < 256 ? this.op(0x71, index) : this.op(0x72).u32(index);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    if (this.protocol >= 4 && b.length < 256) this.op(0x8c, b.length);
    else this.op(0x58).u32(b.length);
    return this.op(...b).memo();
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    return this.op(0x4a).u32(n);
  }
  global(module: string, name: string): this {
    if (this.protocol >= 4) {
      return this.str(module).str(name).op(0x93).memo();
    }
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`)).memo();
  }
  tuple(emit: (() => void)[]): this {
    if (emit.length === 0) return this.op(0x29);
    if (emit.length <= 3) {
      emit.forEach((e) => e());
      return this.op([0x85, 0x86, 0x87][emit.length - 1]!).memo();
    }
    this.op(0x28);
    emit.forEach((e) => e());
    return this.op(0x74).memo();
  }
  bytes(): Uint8Array {
    const body = new Uint8Array(this.#bytes);
    if (this.protocol < 4) return body;
    // PROTO n is already the first opcode; insert a FRAME covering the rest, as CPython does
    const out = new Uint8Array(body.length + 9);
    out.set(body.subarray(0, 2));
    out[2] = 0x95;
    new DataView(out.buffer).setBigUint64(3, BigInt(body.length - 2), true);
    out.set(body.subarray(2), 11);
    return out;
  }
}

/** The pickle torch writes for an `OrderedDict` state dict of these tensors. */
export function stateDictPickle(tensors: readonly FixtureTensor[], protocol: number): Uint8Array {
  const w = new PickleWriter(protocol);
  w.op(0x80, protocol);
  w.global("collections", "OrderedDict").op(0x29, 0x52).memo();
  w.op(0x28); // MARK for SETITEMS
  for (const t of tensors) {
    w.str(t.name);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op(0x28); // args MARK
    w.tuple([
      () => w.str("storage"),
      () => w.global("torch", t.storageType),
      () => w.str(t.key),
      () => w.str("cpu"),
      () => w.int(t.numel),
    ]);
    w.op(0x51); // BINPERSID
    w.int(t.offset);
    w.tuple(t.size.map((d) => () => w.int(d)));
    w.tuple(t.stride.map((d) => () => w.int(d)));
    w.op(0x89); // requires_grad False
    w.global("collections", "OrderedDict").op(0x29, 0x52).memo(); // backward_hooks
    w.op(0x74).memo(); // TUPLE
    w.op(0x52).memo(); // REDUCE
  }
  w.op(0x75); // SETITEMS
  // state = {"_metadata": OrderedDict([("", {"version": 1})])}, applied with BUILD
  w.op(0x7d).memo().str("_metadata");
  w.global("collections", "OrderedDict").op(0x29, 0x52).memo();
  w.str("").op(0x7d).memo().str("version").int(1).op(0x73).op(0x73);
  w.op(0x73); // SETITEM on the state dict
  w.op(0x62); // BUILD
  w.op(0x2e); // STOP
  return w.bytes();
}

/** Zips a pickle and storages the way torch does (plus the extra entries newer torch writes). */
export function torchZip(
  pickle: Uint8Array,
  storages: Readonly<Record<string, Uint8Array>>,
  options: { archive?: string; level?: 0 | 6; byteorder?: string; extras?: boolean } = {},
): Uint8Array {
  const archive = options.archive ?? "archive";
  const level = options.level ?? 0;
  const files: Zippable = { [`${archive}/data.pkl`]: [pickle, { level }] };
  if (options.byteorder !== undefined) {
    files[`${archive}/byteorder`] = [new TextEncoder().encode(options.byteorder), { level: 0 }];
  }
  for (const [key, bytes] of Object.entries(storages)) {
    files[`${archive}/data/${key}`] = [bytes, { level }];
  }
  files[`${archive}/version`] = [new TextEncoder().encode("3\n"), { level: 0 }];
  if (options.extras ?? true) {
    files[`${archive}/.format_version`] = [new TextEncoder().encode("1"), { level: 0 }];
    files[`${archive}/.storage_alignment`] = [new TextEncoder().encode("64"), { level: 0 }];
    files[`${archive}/.data/serialization_id`] = [new TextEncoder().encode("123"), { level: 0 }];
  }
  return zipSync(files);
}
