/**
 * A small writer of WebAssembly binaries: just the sections and instructions that
 * `ops/_relaxed_gemm.ts` needs (an imported memory, functions of `i32` parameters, `i32` and
 * `v128` locals, loops, calls, SIMD loads, stores and multiply-adds). Written against the
 * WebAssembly core specification's binary format (§5) and the relaxed-SIMD proposal's opcodes, so
 * the kernels are built at run time from TypeScript, with no build step and no binary in the tree.
 *
 * @internal
 * @module
 */

/** A value type of a local or parameter. */
export type ValType = "i32" | "v128";

const VALTYPE_BYTE: Readonly<Record<ValType, number>> = { i32: 0x7f, v128: 0x7b };

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  while (true) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const utf8 = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** The bytes of one function body, written instruction by instruction. */
export class FunctionBody {
  readonly #locals = new Map<string, number>();
  readonly #localTypes: ValType[] = [];
  readonly #code: number[] = [];

  /** A function whose parameters are named `params` (all `i32`). */
  constructor(readonly params: readonly string[]) {
    params.forEach((name, i) => this.#locals.set(name, i));
  }

  /** Declares a local; returns its name. */
  local(name: string, type: ValType): string {
    if (this.#locals.has(name)) throw new Error(`wasm writer: local ${name} declared twice`);
    this.#locals.set(name, this.params.length + this.#localTypes.length);
    this.#localTypes.push(type);
    return name;
  }

  #index(name: string): number {
    const i = this.#locals.get(name);
    if (i === undefined) throw new Error(`wasm writer: unknown local ${name}`);
    return i;
  }

  #op(...bytes: number[]): this {
    this.#code.push(...bytes);
    return this;
  }

  get(name: string): this {
    return this.#op(0x20, ...uleb(this.#index(name)));
  }
  set(name: string): this {
    return this.#op(0x21, ...uleb(this.#index(name)));
  }
  i32(n: number): this {
    return this.#op(0x41, ...sleb(n));
  }
  add(): this {
    return this.#op(0x6a);
  }
  sub(): this {
    return this.#op(0x6b);
  }
  mul(): this {
    return this.#op(0x6c);
  }
  shl(): this {
    return this.#op(0x74);
  }
  and(): this {
    return this.#op(0x71);
  }
  ne(): this {
    return this.#op(0x47);
  }
  eq(): this {
    return this.#op(0x46);
  }
  ltU(): this {
    return this.#op(0x49);
  }
  gtU(): this {
    return this.#op(0x4b);
  }
  geU(): this {
    return this.#op(0x4f);
  }
  /** `select`: the first operand if the condition is non-zero, else the second. */
  select(): this {
    return this.#op(0x1b);
  }
  block(): this {
    return this.#op(0x02, 0x40);
  }
  loop(): this {
    return this.#op(0x03, 0x40);
  }
  if(): this {
    return this.#op(0x04, 0x40);
  }
  else(): this {
    return this.#op(0x05);
  }
  end(): this {
    return this.#op(0x0b);
  }
  /** Branch to the enclosing label `depth` levels out (0: innermost). */
  br(depth: number): this {
    return this.#op(0x0c, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.#op(0x0d, ...uleb(depth));
  }
  call(functionIndex: number): this {
    return this.#op(0x10, ...uleb(functionIndex));
  }
  /** `f32.load` at the address on the stack plus `offset`. */
  f32Load(offset = 0): this {
    return this.#op(0x2a, 2, ...uleb(offset));
  }
  /** `f32.store` (address, value on the stack). */
  f32Store(offset = 0): this {
    return this.#op(0x38, 2, ...uleb(offset));
  }
  f32Add(): this {
    return this.#op(0x92);
  }
  /** `v128.load` at the address on the stack plus `offset` (4-byte alignment hint). */
  v128Load(offset = 0): this {
    return this.#op(0xfd, 0x00, 2, ...uleb(offset));
  }
  /** `v128.store` (address, value on the stack). */
  v128Store(offset = 0): this {
    return this.#op(0xfd, 0x0b, 2, ...uleb(offset));
  }
  /** `v128.load32_splat`: one float broadcast to four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.#op(0xfd, 0x09, 2, ...uleb(offset));
  }
  f32x4Add(): this {
    return this.#op(0xfd, ...uleb(0xe4));
  }
  f32x4Mul(): this {
    return this.#op(0xfd, ...uleb(0xe6));
  }
  /** `f32x4.relaxed_madd(a, b, c) = a·b + c`, fused where the machine has FMA. */
  f32x4RelaxedMadd(): this {
    return this.#op(0xfd, ...uleb(0x105));
  }

  /** The encoded body: its local declarations, code and the closing `end`. */
  bytes(): number[] {
    const groups: number[][] = this.#localTypes.map((t) => [1, VALTYPE_BYTE[t]]);
    const body = [...vec(groups), ...this.#code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/** One function of a module: its body and, if exported, its export name. */
export interface ModuleFunction {
  readonly body: FunctionBody;
  readonly exportName?: string;
}

/**
 * A module that imports its memory as `env.memory` and defines `functions` (all of `i32`
 * parameters and no results), in index order.
 */
export function writeModule(functions: readonly ModuleFunction[]): Uint8Array<ArrayBuffer> {
  const section = (id: number, content: number[]): number[] => [
    id,
    ...uleb(content.length),
    ...content,
  ];
  const arities = [...new Set(functions.map((f) => f.body.params.length))];
  const types = vec(arities.map((n) => [0x60, ...vec(Array(n).fill([0x7f])), 0]));
  const imports = vec([[...utf8("env"), ...utf8("memory"), 0x02, 0x00, 0x00]]);
  const declared = vec(functions.map((f) => uleb(arities.indexOf(f.body.params.length))));
  const exported = functions.flatMap((f, i) =>
    f.exportName === undefined ? [] : [[...utf8(f.exportName), 0x00, ...uleb(i)]]
  );
  const code = [...uleb(functions.length), ...functions.flatMap((f) => f.body.bytes())];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, declared),
    ...section(7, vec(exported)),
    ...section(10, code),
  ]);
}
