/**
 * A restricted pickle reader: it interprets the opcodes a PyTorch state dict uses (protocols 2–5)
 * and builds plain values. It never runs code from the file. `GLOBAL`/`STACK_GLOBAL` may only
 * name allow-listed globals (anything else, e.g. `os.system`, is refused on sight with an error
 * naming it), and `REDUCE` only calls the TypeScript handler registered for an allow-listed global.
 * Opcodes that instantiate arbitrary classes (`INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `EXT*`) are
 * refused.
 *
 * Value mapping: `None` → `null`, bool → boolean, int → number (bigint beyond 2⁵³), float →
 * number, str → string, bytes → `Uint8Array`, list → array, tuple → frozen array, dict →
 * `Map`, an allow-listed global → {@linkcode PickleGlobal}, whatever a handler returns (often a
 * {@linkcode PickleOpaque}).
 *
 * @module
 */

import { CheckpointFormatError } from "./safetensors.ts";

/**
 * A value usable as a dict key.
 *
 * @example The keys of an unpickled dict
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PickleKey, PickleValue } from "./pickle.ts";
 * import { unpickle } from "./pickle.ts";
 *
 * // pickle.dumps({"a": 1}, protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
 * const dict = unpickle(bytes, { source: "mem", globals: new Map() }) as Map<PickleKey, PickleValue>;
 * const keys: PickleKey[] = [...dict.keys()];
 * assert.deepEqual(keys, ["a"]);
 * ```
 */
export type PickleKey = string | number | bigint | boolean | null;

/**
 * A value built by the unpickler.
 *
 * @example A dict becomes a `Map`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PickleValue } from "./pickle.ts";
 * import { unpickle } from "./pickle.ts";
 *
 * // pickle.dumps({"a": 1}, protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
 * const value: PickleValue = unpickle(bytes, { source: "mem", globals: new Map() });
 * assert.ok(value instanceof Map);
 * assert.equal(value.get("a"), 1);
 * ```
 */
export type PickleValue =
  | PickleKey
  | Uint8Array
  | PickleValue[]
  | readonly PickleValue[]
  | Map<PickleKey, PickleValue>
  | PickleGlobal
  | PickleOpaque;

/**
 * A reference to an allow-listed global (`module.name`), as pushed by `GLOBAL`.
 *
 * @example Naming a global
 * ```ts
 * import assert from "node:assert/strict";
 * import { PickleGlobal } from "./pickle.ts";
 *
 * assert.equal(`${new PickleGlobal("torch", "HalfStorage")}`, "torch.HalfStorage");
 * ```
 */
export class PickleGlobal {
  /** Python module, e.g. `"torch._utils"`. */
  readonly module: string;
  /** Attribute name, e.g. `"_rebuild_tensor_v2"`. */
  readonly name: string;
  /**
   * Builds a global reference.
   *
   * @param module Python module.
   * @param name Attribute name.
   */
  constructor(module: string, name: string) {
    this.module = module;
    this.name = name;
    Object.freeze(this);
  }
  /**
   * The dotted name.
   *
   * @returns `module.name`.
   */
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * A value a handler built that is not a plain pickle value (a tensor, a storage, …).
 *
 * @example A handler returning an opaque value
 * ```ts
 * import assert from "node:assert/strict";
 * import { PickleOpaque, unpickle } from "./pickle.ts";
 *
 * // GLOBAL 'torch device', then REDUCE with ("cpu",), STOP
 * const text = "ctorch\ndevice\nX\x03\x00\x00\x00cpu\x85R.";
 * const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
 * const globals = new Map([["torch.device", { call: (args: readonly unknown[]) => new PickleOpaque("device", args[0]) }]]);
 * const value = unpickle(bytes, { source: "mem", globals });
 * assert.ok(value instanceof PickleOpaque);
 * assert.equal(value.value, "cpu");
 * ```
 */
export class PickleOpaque {
  /** What it is, e.g. `"tensor"`. */
  readonly tag: string;
  /** The payload. */
  readonly value: unknown;
  /**
   * Wraps a payload.
   *
   * @param tag What it is.
   * @param value The payload.
   */
  constructor(tag: string, value: unknown) {
    this.tag = tag;
    this.value = value;
    Object.freeze(this);
  }
}

/**
 * How an allow-listed global may be used: `call` handles `REDUCE` with the argument tuple
 * (absent: the global may be referenced, e.g. as a storage type, but not called).
 *
 * @example Calling an allow-listed global, and referencing one without `call`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PickleGlobalHandler } from "./pickle.ts";
 * import { unpickle } from "./pickle.ts";
 *
 * // GLOBAL 'torch device', then REDUCE with ("cpu",), STOP
 * const bytes = Uint8Array.from("ctorch\ndevice\nX\x03\x00\x00\x00cpu\x85R.", (c) => c.charCodeAt(0));
 * const device: PickleGlobalHandler = { call: (args) => `device:${String(args[0])}` };
 * assert.equal(unpickle(bytes, { source: "mem", globals: new Map([["torch.device", device]]) }), "device:cpu");
 * assert.throws(() => unpickle(bytes, { source: "mem", globals: new Map([["torch.device", {}]]) }), /must be callable/);
 * ```
 */
export interface PickleGlobalHandler {
  /** Builds the result of calling the global; throw to refuse the arguments. */
  readonly call?: (args: readonly PickleValue[]) => PickleValue;
}

/**
 * Options for {@linkcode unpickle}.
 *
 * @example An empty allow-list refuses every global
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UnpickleOptions } from "./pickle.ts";
 * import { unpickle } from "./pickle.ts";
 *
 * // GLOBAL 'torch device', then REDUCE with ("cpu",), STOP
 * const bytes = Uint8Array.from("ctorch\ndevice\nX\x03\x00\x00\x00cpu\x85R.", (c) => c.charCodeAt(0));
 * const options: UnpickleOptions = { source: "model.bin:archive/data.pkl", globals: new Map() };
 * assert.throws(() => unpickle(bytes, options), /torch\.device/);
 * ```
 */
export interface UnpickleOptions {
  /** The file (and entry) being read, for messages, e.g. `"model.bin:archive/data.pkl"`. */
  readonly source: string;
  /** Allow-list: dotted name (`"collections.OrderedDict"`) → handler. Everything else is refused. */
  readonly globals: ReadonlyMap<string, PickleGlobalHandler>;
  /** Resolves `BINPERSID` ids (absent: persistent ids are refused). */
  readonly persistentLoad?: (pid: PickleValue) => PickleValue;
}

const MARK: unique symbol = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x69: "INST",
  0x6f: "OBJ",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x50: "PERSID",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

function isKey(value: PickleValue): value is PickleKey {
  return value === null || ["string", "number", "bigint", "boolean"].includes(typeof value);
}

/**
 * Reads one pickle (up to its `STOP`) with a restricted set of globals.
 *
 * @param bytes The pickle bytes.
 * @param options Source label, allow-listed globals and the persistent-id resolver.
 * @returns The value left by `STOP`.
 * @throws {CheckpointFormatError} Truncated or malformed pickle, an unsupported opcode, or a global
 *   outside the allow-list (the message names it).
 *
 * @example A protocol-2 dict, and a refused global
 * ```ts
 * import assert from "node:assert/strict";
 * import { unpickle } from "./pickle.ts";
 *
 * // pickle.dumps({"a": 1}, protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
 * const value = unpickle(bytes, { source: "mem", globals: new Map() });
 * assert.deepEqual(value, new Map([["a", 1]]));
 *
 * const evil = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
 * assert.throws(() => unpickle(evil, { source: "mem", globals: new Map() }), /os\.system/);
 * ```
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PickleValue {
  const { source, globals, persistentLoad } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;

  const fail = (mustBe: string, current: string): never => {
    throw new CheckpointFormatError(
      `Cannot unpickle ${source} as ${mustBe}: current value is ${current}`,
      source,
    );
  };
  const need = (n: number, what: string): number => {
    if (n < 0 || pos + n > bytes.length) {
      fail(
        `${what} must fit in the pickle`,
        `${n} bytes at offset ${pos} of ${bytes.length}`,
      );
    }
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => bytes[need(1, "an operand")]!;
  const u16 = (): number => view.getUint16(need(2, "an operand"), true);
  const i32 = (): number => view.getInt32(need(4, "an operand"), true);
  const u32 = (): number => view.getUint32(need(4, "an operand"), true);
  const u64 = (): number => {
    const big = view.getBigUint64(need(8, "an operand"), true);
    if (big > BigInt(bytes.length)) fail("a length must fit in the pickle", `${big}`);
    return Number(big);
  };
  const raw = (n: number): Uint8Array => {
    const at = need(n, "a string or bytes operand");
    return bytes.subarray(at, at + n);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("a text operand must end with a newline", `unterminated at offset ${pos}`);
    const text = new TextDecoder("latin1").decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(b);
    } catch {
      return fail("a str operand must be UTF-8", `invalid bytes at offset ${pos - b.length}`);
    }
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail("the stack must hold a value", `empty at offset ${pos - 1}`);
    if (stack[stack.length - 1] === MARK) {
      fail("the stack must hold a value above the mark", `a mark at offset ${pos - 1}`);
    }
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    const v = pop();
    stack.push(v);
    return v;
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) fail("a mark must precede this opcode", `none at offset ${pos - 1}`);
    const items = stack.splice(m!) as PickleValue[];
    return items;
  };
  const asInt = (big: bigint): number | bigint =>
    big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big;
  const long = (n: number): number | bigint => {
    const b = raw(n);
    let big = 0n;
    for (let i = b.length - 1; i >= 0; i--) big = (big << 8n) | BigInt(b[i]!);
    if (n > 0 && b[n - 1]! & 0x80) big -= 1n << BigInt(8 * n);
    return asInt(big);
  };
  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    const dotted = `${module}.${name}`;
    if (!globals.has(dotted)) {
      fail(
        `global ${dotted} must be allow-listed (${[...globals.keys()].join(", ")})`,
        `a reference to ${dotted} at offset ${pos}`,
      );
    }
    return new PickleGlobal(module, name);
  };
  const setItem = (dict: PickleValue, key: PickleValue, value: PickleValue): void => {
    if (!(dict instanceof Map)) fail("SETITEM(S) must target a dict", typeName(dict));
    if (!isKey(key)) fail("a dict key must be a str, int, float, bool or None", typeName(key));
    (dict as Map<PickleKey, PickleValue>).set(key as PickleKey, value);
  };
  const append = (list: PickleValue, items: PickleValue[]): void => {
    if (!Array.isArray(list) || Object.isFrozen(list)) {
      fail("APPEND(S) must target a list", typeName(list));
    }
    (list as PickleValue[]).push(...items);
  };
  const memoGet = (index: number): PickleValue => {
    if (!memo.has(index)) fail("a memo index must have been stored", `${index} at offset ${pos}`);
    return memo.get(index)!;
  };

  while (pos < bytes.length) {
    const opAt = pos;
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: { // PROTO
        const version = u8();
        if (version > 5) fail("the protocol must be at most 5", `${version}`);
        break;
      }
      case 0x95: // FRAME: frames are inline, the length is only a hint
        u64();
        break;
      case 0x2e: { // STOP
        const result = pop();
        if (stack.length !== 0 || marks.length !== 0) {
          fail("the stack must be empty at STOP", `${stack.length} items left`);
        }
        return result;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(Object.freeze([]));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x74: // TUPLE
        stack.push(Object.freeze(popMark().slice(1)));
        break;
      case 0x85: // TUPLE1
        stack.push(Object.freeze([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push(Object.freeze([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(Object.freeze([pop(), b, c]));
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark().slice(1));
        break;
      case 0x64: { // DICT
        const items = popMark().slice(1);
        if (items.length % 2 !== 0) fail("DICT must have key/value pairs", `${items.length} items`);
        const dict = new Map<PickleKey, PickleValue>();
        for (let i = 0; i < items.length; i += 2) setItem(dict, items[i]!, items[i + 1]!);
        stack.push(dict);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark().slice(1);
        if (items.length % 2 !== 0) {
          fail("SETITEMS must have key/value pairs", `${items.length} items`);
        }
        const dict = top();
        for (let i = 0; i < items.length; i += 2) setItem(dict, items[i]!, items[i + 1]!);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        append(top(), [value]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark().slice(1);
        append(top(), items);
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(u8()));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail("a LONG4 length must be non-negative", `${n}`);
        stack.push(long(n));
        break;
      }
      case 0x49: { // INT (text)
        const text = line();
        if (text === "01") stack.push(true);
        else if (text === "00") stack.push(false);
        else if (/^[+-]?\d+$/.test(text)) stack.push(asInt(BigInt(text)));
        else fail("an INT operand must be decimal", JSON.stringify(text));
        break;
      }
      case 0x4c: { // LONG (text)
        const text = line().replace(/L$/, "");
        if (!/^[+-]?\d+$/.test(text)) fail("a LONG operand must be decimal", JSON.stringify(text));
        stack.push(asInt(BigInt(text)));
        break;
      }
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8, "an operand"), false));
        break;
      case 0x46: { // FLOAT (text)
        const text = line();
        const value = Number(text);
        if (text.trim() === "" || Number.isNaN(value) && !/nan/i.test(text)) {
          fail("a FLOAT operand must be a number", JSON.stringify(text));
        }
        stack.push(value);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(raw(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(raw(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(raw(u64())));
        break;
      case 0x54: { // BINSTRING (Python 2 str)
        const n = i32();
        stack.push(new TextDecoder("latin1").decode(raw(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(new TextDecoder("latin1").decode(raw(u8())));
        break;
      case 0x53: { // STRING (text, quoted)
        const text = line();
        const m = /^(['"])(.*)\1$/.exec(text);
        if (!m) fail("a STRING operand must be quoted", JSON.stringify(text));
        stack.push(m![2]!);
        break;
      }
      case 0x42: // BINBYTES
        stack.push(raw(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(raw(u64()).slice());
        break;
      case 0x51: { // BINPERSID
        const pid = pop();
        if (persistentLoad === undefined) {
          fail("persistent ids must not occur here", typeName(pid));
        }
        stack.push(persistentLoad!(pid));
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("STACK_GLOBAL operands must be strings", `${typeName(module)}, ${typeName(name)}`);
        }
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PickleGlobal)) {
          fail("REDUCE must call an allow-listed global", typeName(callable));
        }
        const g = callable as PickleGlobal;
        const handler = globals.get(g.toString());
        if (handler?.call === undefined) {
          fail(`global ${g} must be callable`, "a reference that may not be called");
        }
        if (!Array.isArray(args)) fail("REDUCE arguments must be a tuple", typeName(args));
        stack.push(handler!.call!(args as readonly PickleValue[]));
        break;
      }
      case 0x62: { // BUILD: state is dropped (torch puts `_metadata` on OrderedDict here)
        pop();
        const target = top();
        if (!(target instanceof Map) && !(target instanceof PickleOpaque)) {
          fail("BUILD must target a dict or an allow-listed object", typeName(target));
        }
        break;
      }
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: { // GET (text)
        const text = line();
        if (!/^\d+$/.test(text)) fail("a GET operand must be decimal", JSON.stringify(text));
        stack.push(memoGet(Number(text)));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: { // PUT (text)
        const text = line();
        if (!/^\d+$/.test(text)) fail("a PUT operand must be decimal", JSON.stringify(text));
        memo.set(Number(text), top());
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x30: // POP
        if (stack[stack.length - 1] === MARK) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default:
        fail(
          "every opcode must be one a state dict uses",
          `${OPCODE_NAMES[op] ?? "opcode"} 0x${op.toString(16).padStart(2, "0")} at offset ${opAt}`,
        );
    }
  }
  return fail("the pickle must end with STOP", `end of data at offset ${pos}`);
}

function typeName(value: PickleValue): string {
  if (value === null) return "None";
  if (Array.isArray(value)) return Object.isFrozen(value) ? "a tuple" : "a list";
  if (value instanceof Map) return "a dict";
  if (value instanceof Uint8Array) return "bytes";
  if (value instanceof PickleGlobal) return `global ${value}`;
  if (value instanceof PickleOpaque) return `a ${value.tag}`;
  return `a ${typeof value}`;
}
