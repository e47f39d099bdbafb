/**
 * AdamW (decoupled weight decay) whose state grows with its parameters: one step counter,
 * bias correction and learning-rate schedule per parameter block (docs/METHOD.md §10).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { EntryRegion, ParameterBlock, TensorData } from "./adapter.ts";
import { requireBackend } from "./_ready.ts";
import { grewFrom, regionShape } from "./_internal.ts";

/**
 * Options of `GrowingAdamW`.
 *
 * @example Unset options take their defaults
 * ```ts
 * import type { GrowingAdamWOptions } from "./growing_adamw.ts";
 * import { GrowingAdamW } from "./growing_adamw.ts";
 * import assert from "node:assert/strict";
 *
 * const options: GrowingAdamWOptions = { weightDecay: 0.01, clipNorm: 1 };
 * const opt = new GrowingAdamW(options);
 * assert.deepEqual([opt.beta1, opt.beta2, opt.epsilon], [0.9, 0.999, 1e-8]);
 * assert.deepEqual([opt.weightDecay, opt.clipNorm], [0.01, 1]);
 * ```
 */
export interface GrowingAdamWOptions {
  /** β1; default 0.9. */
  readonly beta1?: number;
  /** β2; default 0.999. */
  readonly beta2?: number;
  /** ε added to `√v̂`; default 1e-8 (torch). */
  readonly epsilon?: number;
  /** Decoupled weight decay; default 0. */
  readonly weightDecay?: number;
  /** Clip gradients to this global L2 norm (torch `clip_grad_norm_`); default none. */
  readonly clipNorm?: number;
}

/**
 * What a learning-rate callback sees for one block.
 *
 * @example The learning-rate callback sees each block's steps
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { BlockStepInfo } from "./growing_adamw.ts";
 * import { GrowingAdamW } from "./growing_adamw.ts";
 * import assert from "node:assert/strict";
 *
 * const p = tf.variable(tf.tensor([1]), true, "ex.bsi.p");
 * const opt = new GrowingAdamW();
 * opt.addBlock({ key: "b0", variables: [p] });
 * const seen: BlockStepInfo[] = [];
 * opt.step({ "ex.bsi.p": tf.tensor([0.5]) }, (info) => (seen.push(info), 0.1));
 * assert.deepEqual(seen, [{ key: "b0", blockStep: 1, globalStep: 1, birthStep: 0 }]);
 * opt.dispose();
 * p.dispose();
 * ```
 */
export interface BlockStepInfo {
  /** Block key. */
  readonly key: string;
  /** The block's own step for this update, 1-based (used for bias correction). */
  readonly blockStep: number;
  /** Global optimizer step for this update, 1-based. */
  readonly globalStep: number;
  /** Global step at which the block was added (0 for blocks present from the start). */
  readonly birthStep: number;
}

/**
 * Serialisable optimizer state of one block.
 *
 * @example A new block starts with zero moments
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { BlockStateData } from "./growing_adamw.ts";
 * import { GrowingAdamW } from "./growing_adamw.ts";
 * import assert from "node:assert/strict";
 *
 * const p = tf.variable(tf.tensor([1, 2]), true, "ex.bsd.p");
 * const opt = new GrowingAdamW();
 * opt.addBlock({ key: "b0", variables: [p] });
 * const state: BlockStateData = await opt.blockState("b0");
 * assert.deepEqual(state, { step: 0, birthStep: 0, m: [{ shape: [2], data: new Float32Array(2) }], v: [{ shape: [2], data: new Float32Array(2) }] });
 * opt.dispose();
 * p.dispose();
 * ```
 */
export interface BlockStateData {
  /** Updates applied to the block so far. */
  readonly step: number;
  /** Global step at which it was added. */
  readonly birthStep: number;
  /** First moments, one per part (variable or region) in block order. */
  readonly m: readonly TensorData[];
  /** Second moments, one per part in block order. */
  readonly v: readonly TensorData[];
}

/** One piece of a block: a whole variable, or a rectangle of a 2-D one (by name). */
interface Part {
  readonly name: string;
  readonly region: EntryRegion | null;
}

interface BlockState {
  readonly key: string;
  readonly parts: readonly Part[];
  birthStep: number;
  step: number;
}

/** A registered variable: the object now holding it and the shape its moments have. */
interface Slot {
  variable: tf.Variable;
  shape: readonly number[];
  /** Its shape before its last growth: a gradient of that shape was taken before the growth. */
  grownFrom: readonly number[] | null;
}

/**
 * The flat layout of every registered variable (in registration order): moments are stored as one
 * vector each, so an update is a constant number of tensor ops whatever the number of blocks or
 * parts (docs/METHOD.md §21).
 */
interface FlatLayout {
  readonly variables: readonly tf.Variable[];
  /** Entry offset of each variable in the flat vectors; one more entry: the total. */
  readonly offsets: readonly number[];
  /** Block index (registration order) of each entry; entries of no block get the index
   * `blocks.length`, whose step size is 0 (they never move). Kept in JavaScript: expanding a
   * per-block vector to entries is a loop here, where wasm's `GatherV2` took about 70 ns an entry
   * (`bench/optimizer_step.ts`: a step at 1.7 M entries, 324 → 38 ms). */
  readonly blockOfEntry: Int32Array;
}

/** `[rows, cols]` of a part (the region's, or the whole variable's shape). */
function partShape(part: Part, slot: Slot): number[] {
  return part.region === null ? [...slot.shape] : regionShape(part.region);
}

/** Calls `fill(start, end)` for each row-major run of a part's entries within its variable. */
function forEachRun(
  part: Part,
  shape: readonly number[],
  fill: (start: number, end: number) => void,
): void {
  if (part.region === null) return fill(0, shape.reduce((a, b) => a * b, 1));
  const { rows, cols } = part.region;
  const width = shape[1]!;
  for (let i = rows[0]; i < rows[1]; i++) fill(i * width + cols[0], i * width + cols[1]);
}

/** Flat indices (within its variable, row-major) of a part's entries, in row-major part order. */
function partIndices(part: Part, slot: Slot): Int32Array {
  const out = new Int32Array(partShape(part, slot).reduce((x, y) => x * y, 1));
  let at = 0;
  forEachRun(part, slot.shape, (start, end) => {
    for (let e = start; e < end; e++) out[at++] = e;
  });
  return out;
}

function checkNumber(what: string, value: number, lo: number, hiOpen: number): void {
  if (!Number.isFinite(value) || value < lo || value >= hiOpen) {
    throw new RangeError(
      `Cannot create optimizer as ${what} must be in [${lo}, ${hiOpen}): current value is ${value}`,
    );
  }
}

/**
 * The message for gradients of variables the optimizer does not know, or knows in another shape:
 * most often an adapter grew (`grow()`: larger variables of the same names) and its new block was
 * never registered, so it names the call that registers it.
 */
function unregisteredMessage(names: readonly string[], keys: readonly string[]): string {
  const shown = (xs: readonly string[]): string =>
    xs.length <= 6 ? xs.join(", ") : `${xs.slice(0, 6).join(", ")}, … (${xs.length} in all)`;
  return `Cannot apply gradient as ${names.length === 1 ? "variable" : "variables"} ${
    shown(names)
  } must belong to a registered block in their current shapes: current blocks are ${
    keys.length === 0 ? "none" : shown(keys)
  }. After an adapter grows outside a Trainer, register its new blocks with \`optimizer.syncBlocks(adapters.flatMap((a) => a.parameterBlocks()))\` (a Trainer's optimizer: \`trainer.optimizer.syncBlocks(...)\`); for any other variable, \`optimizer.addBlock({ key, variables })\``;
}

/**
 * Global L2 norm of a set of gradients.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { globalNorm } from "./growing_adamw.ts";
 *
 * const n = globalNorm([tf.tensor([3]), tf.tensor([4])]);
 * assert.equal((await n.data())[0], 5);
 * ```
 *
 * @param grads Gradients.
 * @returns A scalar owned by the caller.
 */
export function globalNorm(grads: readonly tf.Tensor[]): tf.Scalar {
  if (grads.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * AdamW over an explicit list of parameter blocks. Each block has its own moments (zero at
 * creation), its own step counter for bias correction and its own learning rate (callback), so
 * a block appended by growth starts fresh while old blocks' state is untouched. Only variables of
 * registered blocks are ever updated: base weights are never registered.
 *
 * Per variable with gradient `g` (block step `t`, learning rate `lr`), as torch AdamW:
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
 * `p ← p·(1 − lr·wd) − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)`.
 *
 * @example One step on a 1-element parameter
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { GrowingAdamW } from "./growing_adamw.ts";
 *
 * const p = tf.variable(tf.tensor([1]), true, "ex.adamw.p");
 * const opt = new GrowingAdamW();
 * opt.addBlock({ key: "b0", variables: [p] });
 * opt.step({ "ex.adamw.p": tf.tensor([0.5]) }, 0.1);
 * // first step: m̂/√v̂ = sign(g) = 1, so p = 1 − 0.1 (up to ε)
 * assert.ok(Math.abs((await p.data())[0]! - 0.9) < 1e-6);
 * opt.dispose();
 * p.dispose();
 * ```
 */
export class GrowingAdamW {
  /** β1. */
  readonly beta1: number;
  /** β2. */
  readonly beta2: number;
  /** ε. */
  readonly epsilon: number;
  /** Weight decay. */
  readonly weightDecay: number;
  /** Global-norm clip, or `undefined`. */
  readonly clipNorm: number | undefined;
  #blocks = new Map<string, BlockState>();
  /** Registered variables by name, in registration (= flat layout) order. */
  #slots = new Map<string, Slot>();
  #globalStep = 0;
  /** First and second moments of every registered variable, flat in layout order. */
  #m: tf.Tensor1D | null = null;
  #v: tf.Tensor1D | null = null;
  #layout: FlatLayout | null = null;

  /**
   * Creates an optimizer with no blocks.
   *
   * @param options Hyper-parameters.
   */
  constructor(options: GrowingAdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    checkNumber("beta1", this.beta1, 0, 1);
    checkNumber("beta2", this.beta2, 0, 1);
    checkNumber("epsilon", this.epsilon, 0, Infinity);
    checkNumber("weightDecay", this.weightDecay, 0, Infinity);
    if (options.clipNorm !== undefined) {
      if (!(Number.isFinite(options.clipNorm) && options.clipNorm > 0)) {
        throw new RangeError(
          `Cannot create optimizer as clipNorm must be finite and > 0: current value is ${options.clipNorm}`,
        );
      }
    }
    this.clipNorm = options.clipNorm;
  }

  /** Number of `step` calls so far. */
  get globalStep(): number {
    return this.#globalStep;
  }

  /** Keys of the registered blocks, in registration order. */
  get blockKeys(): string[] {
    return [...this.#blocks.keys()];
  }

  /**
   * Registers a block with zero moments and its own step counter. A part whose variable has the
   * name of a registered one but is a new, larger object (the adapter grew it) takes its place:
   * every old entry keeps its moments at the same row and column, new entries start at zero.
   *
   * @param block The block (from an adapter's `parameterBlocks()` or `grow()`, or a head).
   * @param birthStep Global step at which it appears; default the current global step.
   */
  addBlock(block: ParameterBlock, birthStep: number = this.#globalStep): void {
    this.#add(block, birthStep);
    this.#flatLayout();
  }

  /** The parts of a block as the optimizer keeps them, checked against the variables. */
  #partsOf(block: ParameterBlock): Part[] {
    const { key, variables, regions } = block;
    if (regions !== undefined && regions.length !== variables.length) {
      throw new TypeError(
        `Cannot add optimizer block ${key} as it must have one region per variable: current counts are ${regions.length} regions, ${variables.length} variables`,
      );
    }
    return variables.map((v, i) => {
      const region = regions?.[i] ?? null;
      if (region !== null) {
        const [r0, r1] = region.rows, [c0, c1] = region.cols;
        const ok = v.shape.length === 2 && Number.isInteger(r0) && Number.isInteger(r1) &&
          Number.isInteger(c0) && Number.isInteger(c1) && 0 <= r0 && r0 <= r1 &&
          r1 <= v.shape[0]! && 0 <= c0 && c0 <= c1 && c1 <= v.shape[1]!;
        if (!ok) {
          throw new TypeError(
            `Cannot add optimizer block ${key} as the region of ${v.name} must lie inside its shape [${v.shape}]: current region is rows [${region.rows}], cols [${region.cols}]`,
          );
        }
      }
      return { name: v.name, region };
    });
  }

  /**
   * Whether `v` is a grown form of the registered variable of its name (an adapter's `grow()`
   * recorded it with `recordGrowth`), checked to keep every registered entry; `false` when it is the
   * registered object itself.
   */
  #isGrowth(v: tf.Variable, key: string): boolean {
    const slot = this.#slots.get(v.name);
    if (slot === undefined || slot.variable === v) return false;
    const old = slot.shape;
    const keeps = old.length === 2 && v.shape.length === 2 &&
      old[0]! <= v.shape[0]! && old[1]! <= v.shape[1]!;
    if (!keeps || !grewFrom(v, slot.variable)) {
      throw new TypeError(
        `Cannot add optimizer block ${key} as variable ${v.name} must be the registered variable or its growth (2-D, same rows and columns kept, made by an adapter's grow()): current shape is [${v.shape}], registered [${old}]`,
      );
    }
    return true;
  }

  /**
   * Takes grown variables in place of the registered ones, in one pass over the moments: every old
   * entry keeps its moments at the same row and column, new entries start at zero.
   */
  #replace(grown: ReadonlyMap<string, tf.Variable>): void {
    if (grown.size === 0) return;
    const slots = [...this.#slots.values()];
    if (this.#m !== null && this.#v !== null) {
      const regrow = (t: tf.Tensor1D): tf.Tensor1D =>
        tf.tidy(() => {
          let at = 0;
          const pieces = slots.map((slot) => {
            const size = slot.shape.reduce((x, y) => x * y, 1);
            const piece = t.slice(at, size);
            at += size;
            const next = grown.get(slot.variable.name);
            if (next === undefined) return piece;
            const [r0, c0] = slot.shape as [number, number];
            return piece.reshape([r0, c0])
              .pad([[0, next.shape[0]! - r0], [0, next.shape[1]! - c0]])
              .reshape([-1]) as tf.Tensor1D;
          });
          return (pieces.length === 1 ? pieces[0]! : tf.concat(pieces)) as tf.Tensor1D;
        });
      const m = regrow(this.#m), v = regrow(this.#v);
      tf.dispose([this.#m, this.#v]);
      this.#m = m;
      this.#v = v;
    }
    for (const [name, v] of grown) {
      const slot = this.#slots.get(name)!;
      slot.grownFrom = slot.shape;
      slot.variable = v;
      slot.shape = [...v.shape];
    }
    this.#dropLayout();
  }

  /**
   * Which block (index in registration order, -1 none) owns each entry of each variable, with the
   * shapes of `shapes` where given (a check before a growth is applied).
   */
  #ownership(shapes?: ReadonlyMap<string, readonly number[]>): Map<string, Int32Array> {
    const owner = new Map<string, Int32Array>();
    for (const [name, slot] of this.#slots) {
      const shape = shapes?.get(name) ?? slot.shape;
      owner.set(name, new Int32Array(shape.reduce((a, b) => a * b, 1)).fill(-1));
    }
    [...this.#blocks.values()].forEach((b, k) => {
      for (const part of b.parts) {
        const own = owner.get(part.name)!;
        const shape = shapes?.get(part.name) ?? this.#slots.get(part.name)!.shape;
        forEachRun(part, shape, (start, end) => own.fill(k, start, end));
      }
    });
    return owner;
  }

  /** The grown variables among the blocks' variables (checked), by name. */
  #growths(blocks: readonly ParameterBlock[]): Map<string, tf.Variable> {
    const grown = new Map<string, tf.Variable>();
    for (const { key, variables } of blocks) {
      for (const v of variables) {
        const seen = grown.get(v.name);
        if (seen !== undefined && seen !== v) {
          throw new TypeError(
            `Cannot add optimizer block ${key} as variable name ${v.name} must name one variable: current blocks pass two`,
          );
        }
        if (this.#isGrowth(v, key)) grown.set(v.name, v);
      }
    }
    return grown;
  }

  #add(block: ParameterBlock, birthStep: number): void {
    requireBackend(`add optimizer block ${block.key}`);
    if (this.#blocks.has(block.key)) {
      throw new TypeError(
        `Cannot add optimizer block as key must be unique: current value is ${block.key}`,
      );
    }
    // Everything is checked first (parts, growths, overlaps); nothing changes on an error.
    const parts = this.#partsOf(block);
    const grown = this.#growths([block]);
    const owner = this.#ownership(new Map([...grown].map(([n, v]) => [n, v.shape])));
    const keys = [...this.#blocks.keys()];
    parts.forEach((part, i) => {
      const v = block.variables[i]!;
      let own = owner.get(part.name);
      if (own === undefined) owner.set(part.name, own = new Int32Array(v.size).fill(-1));
      forEachRun(part, v.shape, (start, end) => {
        for (let e = start; e < end; e++) {
          if (own[e] !== -1) {
            const other = own[e] === -2 ? block.key : keys[own[e]!]!;
            throw new TypeError(
              `Cannot add optimizer block ${block.key} as variable ${part.name} must not be in another block: current owner is ${other}`,
            );
          }
        }
        own.fill(-2, start, end);
      });
    });
    this.#replace(grown);
    this.#blocks.set(block.key, { key: block.key, parts, birthStep, step: 0 });
    let size = 0;
    for (const v of block.variables) {
      if (this.#slots.has(v.name)) continue;
      this.#slots.set(v.name, { variable: v, shape: [...v.shape], grownFrom: null });
      size += v.size;
    }
    if (size > 0) {
      const grow = (old: tf.Tensor1D | null): tf.Tensor1D => {
        const z = tf.zeros([size]) as tf.Tensor1D;
        if (old === null) return z;
        const out = tf.concat([old, z]) as tf.Tensor1D;
        tf.dispose([old, z]);
        return out;
      };
      this.#m = grow(this.#m);
      this.#v = grow(this.#v);
    }
    this.#dropLayout();
  }

  #dropLayout(): void {
    this.#layout = null;
  }

  #flatLayout(): FlatLayout {
    if (this.#layout !== null) return this.#layout;
    const slots = [...this.#slots.values()];
    const offsets: number[] = [0];
    for (const s of slots) offsets.push(offsets[offsets.length - 1]! + s.variable.size);
    const total = offsets[offsets.length - 1]!;
    const blockIdx = new Int32Array(total).fill(this.#blocks.size);
    const blocks = [...this.#blocks.values()];
    const offsetOf = new Map(slots.map((s, i) => [s.variable.name, offsets[i]!]));
    blocks.forEach((b, k) => {
      for (const part of b.parts) {
        const base = offsetOf.get(part.name)!;
        const shape = this.#slots.get(part.name)!.shape;
        forEachRun(part, shape, (start, end) => blockIdx.fill(k, base + start, base + end));
      }
    });
    this.#layout = {
      variables: slots.map((s) => s.variable),
      offsets,
      blockOfEntry: blockIdx,
    };
    return this.#layout;
  }

  /** Flat indices (in the moment vectors) of each part of a block, in part order. */
  #partEntries(b: BlockState): Int32Array[] {
    const layout = this.#flatLayout();
    return b.parts.map((part) => {
      const at = layout.variables.findIndex((v) => v.name === part.name);
      const base = layout.offsets[at]!;
      return partIndices(part, this.#slots.get(part.name)!).map((i) => i + base);
    });
  }

  /**
   * Registers every block not yet known (e.g. after a growth event), and takes grown variables in
   * place of the registered ones (their moments kept at the same rows and columns).
   *
   * @param blocks Blocks, e.g. `adapters.flatMap((a) => a.parameterBlocks())`.
   * @param birthStep Global step at which new ones appear; default the current global step.
   * @returns The number of blocks added.
   */
  syncBlocks(blocks: readonly ParameterBlock[], birthStep: number = this.#globalStep): number {
    // Growths of registered blocks' variables first (checked, then one pass over the moments).
    const known = blocks.filter((b) => this.#blocks.has(b.key));
    this.#replace(this.#growths(known));
    let added = 0;
    for (const b of blocks) {
      if (!this.#blocks.has(b.key)) {
        this.#add(b, birthStep);
        added++;
      }
    }
    // The index tensors are rebuilt here, once, so the tensor count only changes at registration.
    this.#flatLayout();
    return added;
  }

  /**
   * Removes a block and disposes its state (not its variables). A variable no other block has a
   * part of leaves the optimizer with its moments.
   *
   * @param key Block key.
   */
  removeBlock(key: string): void {
    const b = this.#blocks.get(key);
    if (b === undefined) return;
    const layout = this.#flatLayout();
    this.#blocks.delete(key);
    const kept = new Set([...this.#blocks.values()].flatMap((x) => x.parts.map((p) => p.name)));
    const gone = layout.variables.map((v) => !kept.has(v.name));
    for (const v of layout.variables) if (!kept.has(v.name)) this.#slots.delete(v.name);
    this.#dropLayout();
    if (gone.some(Boolean) && this.#m !== null && this.#v !== null) {
      const cut = (t: tf.Tensor1D): tf.Tensor1D | null => {
        const pieces = layout.variables.flatMap((_, i) =>
          gone[i] || layout.offsets[i + 1] === layout.offsets[i]
            ? []
            : [[layout.offsets[i]!, layout.offsets[i + 1]! - layout.offsets[i]!] as const]
        );
        if (pieces.length === 0) return null;
        return tf.tidy(() => tf.concat(pieces.map(([s, n]) => t.slice(s, n))) as tf.Tensor1D);
      };
      const m = cut(this.#m), v = cut(this.#v);
      tf.dispose([this.#m, this.#v]);
      this.#m = m;
      this.#v = v;
    }
    this.#flatLayout();
  }

  /**
   * Applies one AdamW update. Gradients for variables not in any block are rejected (base weights
   * are never trainable). Blocks without any gradient are skipped and keep their step counter.
   *
   * @param grads Variable name → gradient (as `tf.variableGrads` returns); not disposed here.
   * @param learningRate A number, or a callback giving each block its rate (e.g. base rate times
   * the per-block multiplier from `core/`).
   */
  step(grads: tf.NamedTensorMap, learningRate: number | ((block: BlockStepInfo) => number)): void {
    // Unknown names, or a shape that is neither the registered one nor the one before the
    // variable's last growth (a growth not synced). A gradient of the pre-growth shape was taken
    // before the variable grew (growth between backward and update, the reference order): it
    // covers the old entries, at the top left.
    const unknown = Object.entries(grads).filter(([name, g]) => {
      const slot = this.#slots.get(name);
      if (slot === undefined) return true;
      const same = (shape: readonly number[] | null) =>
        shape !== null && shape.length === g.shape.length &&
        shape.every((n, i) => n === g.shape[i]);
      return !same(slot.shape) && !same(slot.grownFrom);
    }).map(([name]) => name);
    // A registered variable that was disposed (an adapter grew it and the growth was never
    // registered): nothing may change, whatever gradients came.
    for (const [name, slot] of this.#slots) {
      if (slot.variable.isDisposed && !unknown.includes(name)) unknown.push(name);
    }
    if (unknown.length > 0) throw new TypeError(unregisteredMessage(unknown, this.blockKeys));
    /** The rectangle of a variable its gradient covers (null: no gradient). */
    const covered = (name: string): readonly [number, number] | null => {
      const g = grads[name];
      if (g === undefined) return null;
      return g.shape.length === 2 ? [g.shape[0]!, g.shape[1]!] : [1, g.size];
    };
    const touches = (part: Part): boolean => {
      const c = covered(part.name);
      if (c === null) return false;
      if (part.region === null) return true;
      const { rows, cols } = part.region;
      return rows[0] < Math.min(rows[1], c[0]) && cols[0] < Math.min(cols[1], c[1]);
    };
    this.#globalStep++;
    const globalStep = this.#globalStep;
    const clip = this.clipNorm;
    const clipFactor: tf.Scalar | null = clip === undefined ? null : tf.tidy(() => {
      const norm = globalNorm(Object.values(grads));
      return tf.minimum(tf.scalar(1), tf.div(clip, norm.add(1e-6))) as tf.Scalar;
    });
    const { beta1, beta2, epsilon, weightDecay } = this;
    const layout = this.#flatLayout();
    const blocks = [...this.#blocks.values()];
    // Per block: step size lr/(1−β1ᵗ), √(1−β2ᵗ) and the decay factor 1 − lr·wd (float32, as the
    // scalars a per-variable update would broadcast); a block without gradient keeps everything.
    // One more slot for entries of no block (structural zeros): step 0, decay 1, so they stay.
    const stepSizes = new Float32Array(blocks.length + 1);
    const bc2Sqrts = new Float32Array(blocks.length + 1).fill(1);
    const decays = new Float32Array(blocks.length + 1).fill(1);
    const active = layout.variables.map((p) => grads[p.name] !== undefined);
    const whole = layout.variables.map((p) =>
      grads[p.name] !== undefined && grads[p.name]!.size === p.size
    );
    blocks.forEach((block, k) => {
      if (!block.parts.some(touches)) return;
      block.step++;
      const t = block.step;
      const lr = typeof learningRate === "number" ? learningRate : learningRate({
        key: block.key,
        blockStep: t,
        globalStep,
        birthStep: block.birthStep,
      });
      if (!Number.isFinite(lr) || lr < 0) {
        clipFactor?.dispose();
        throw new RangeError(
          `Cannot apply gradient to block ${block.key} as learning rate must be finite and >= 0: current value is ${lr}`,
        );
      }
      stepSizes[k] = lr / (1 - Math.pow(beta1, t));
      bc2Sqrts[k] = Math.sqrt(1 - Math.pow(beta2, t));
      decays[k] = 1 - lr * weightDecay;
    });
    if (active.some(Boolean) && this.#m !== null && this.#v !== null) {
      const mOld = this.#m, vOld = this.#v;
      const allActive = whole.every(Boolean);
      const [m, v] = tf.tidy(() => {
        const flat = (i: number, t: tf.Tensor | undefined): tf.Tensor1D => {
          if (t === undefined) return tf.zeros([layout.offsets[i + 1]! - layout.offsets[i]!]);
          const full = layout.variables[i]!.shape;
          if (t.size === layout.variables[i]!.size) return t.reshape([-1]) as tf.Tensor1D;
          // A gradient from before the variable grew: zeros at the new entries.
          return t.pad([[0, full[0]! - t.shape[0]!], [0, full[1]! - t.shape[1]!]])
            .reshape([-1]) as tf.Tensor1D;
        };
        const gs = layout.variables.map((p, i) => flat(i, grads[p.name]));
        const g0 = gs.length === 1 ? gs[0]! : tf.concat(gs) as tf.Tensor1D;
        const g = clipFactor === null ? g0 : g0.mul(clipFactor);
        const ps = layout.variables.map((p, i) => flat(i, p));
        const p0 = ps.length === 1 ? ps[0]! : tf.concat(ps) as tf.Tensor1D;
        const perEntry = (values: Float32Array): tf.Tensor1D => {
          const index = layout.blockOfEntry;
          const out = new Float32Array(index.length);
          for (let i = 0; i < out.length; i++) out[i] = values[index[i]!]!;
          return tf.tensor1d(out, "float32");
        };
        let m1 = mOld.mul(beta1).add(g.mul(1 - beta1));
        let v1 = vOld.mul(beta2).add(g.square().mul(1 - beta2));
        const denom = v1.sqrt().div(perEntry(bc2Sqrts)).add(epsilon);
        const decayed = weightDecay === 0 ? p0 : p0.mul(perEntry(decays));
        let p1 = decayed.sub(m1.div(denom).mul(perEntry(stepSizes)));
        if (!allActive) {
          // Entries with a gradient: whole variables, or the old rectangle of a grown one.
          const mask = new Uint8Array(layout.offsets[layout.offsets.length - 1]!);
          layout.variables.forEach((p, i) => {
            const c = covered(p.name);
            if (c === null) return;
            const start = layout.offsets[i]!;
            if (whole[i]) return void mask.fill(1, start, layout.offsets[i + 1]!);
            const width = p.shape[1]!;
            for (let r = 0; r < c[0]; r++) {
              mask.fill(1, start + r * width, start + r * width + c[1]);
            }
          });
          const on = tf.tensor1d(mask, "bool");
          m1 = tf.where(on, m1, mOld);
          v1 = tf.where(on, v1, vOld);
          p1 = tf.where(on, p1, p0);
        }
        const sizes = layout.variables.map((_, i) => layout.offsets[i + 1]! - layout.offsets[i]!);
        const parts = sizes.length === 1 ? [p1] : tf.split(p1, sizes);
        layout.variables.forEach((p, i) => {
          if (active[i]) p.assign(parts[i]!.reshape(p.shape));
        });
        return [m1, v1];
      });
      tf.dispose([mOld, vOld]);
      this.#m = m as tf.Tensor1D;
      this.#v = v as tf.Tensor1D;
    }
    clipFactor?.dispose();
  }

  /**
   * Reads one block's state (moments as plain data).
   *
   * @param key Block key.
   * @returns The state.
   */
  async blockState(key: string): Promise<BlockStateData> {
    const b = this.#blocks.get(key);
    if (b === undefined) {
      throw new RangeError(
        `Cannot read optimizer block as key must be registered: current value is ${key}`,
      );
    }
    const entries = this.#partEntries(b);
    const shapes = b.parts.map((p) => partShape(p, this.#slots.get(p.name)!));
    const read = async (t: tf.Tensor1D | null): Promise<TensorData[]> => {
      const all = t === null ? new Float32Array(0) : await t.data() as Float32Array;
      return entries.map((idx, i) => ({
        shape: shapes[i]!,
        data: Float32Array.from(idx, (e) => all[e]!),
      }));
    };
    return { step: b.step, birthStep: b.birthStep, m: await read(this.#m), v: await read(this.#v) };
  }

  /**
   * Reads the whole state for a checkpoint.
   *
   * @returns Global step and block key → state.
   */
  async snapshot(): Promise<{ globalStep: number; blocks: Record<string, BlockStateData> }> {
    const blocks: Record<string, BlockStateData> = {};
    for (const key of this.#blocks.keys()) blocks[key] = await this.blockState(key);
    return { globalStep: this.#globalStep, blocks };
  }

  /**
   * Restores the state of blocks already registered (register them first, in the same shapes).
   *
   * @param state A value from `snapshot()`.
   */
  restore(state: { globalStep: number; blocks: Readonly<Record<string, BlockStateData>> }): void {
    for (const [key, data] of Object.entries(state.blocks)) {
      const b = this.#blocks.get(key);
      if (b === undefined) {
        throw new RangeError(
          `Cannot restore optimizer block as key must be registered: current value is ${key}`,
        );
      }
      const load = (ds: readonly TensorData[]): void => {
        if (ds.length !== b.parts.length) {
          throw new TypeError(
            `Cannot restore optimizer block ${key} as it must have ${b.parts.length} moments: current count is ${ds.length}`,
          );
        }
        ds.forEach((d, i) => {
          const part = b.parts[i]!;
          const o = partShape(part, this.#slots.get(part.name)!);
          if (d.shape.length !== o.length || d.shape.some((x, j) => x !== o[j])) {
            throw new TypeError(
              `Cannot restore optimizer block ${key} as moment ${i} must have shape [${o}]: current shape is [${d.shape}]`,
            );
          }
          const size = o.reduce((x, y) => x * y, 1);
          if (d.data.length !== size) {
            throw new TypeError(
              `Cannot restore optimizer block ${key} as moment ${i} must hold ${size} values: current length is ${d.data.length}`,
            );
          }
        });
      };
      load(data.m);
      load(data.v);
    }
    // Everything checked: write the moments into the flat vectors, then the counters.
    const entries = new Map(
      Object.keys(state.blocks).map((key) => [key, this.#partEntries(this.#blocks.get(key)!)]),
    );
    const write = (t: tf.Tensor1D | null, which: "m" | "v"): tf.Tensor1D | null => {
      if (t === null) return null;
      const all = new Float32Array(t.dataSync());
      for (const [key, data] of Object.entries(state.blocks)) {
        const idx = entries.get(key)!;
        data[which].forEach((d, i) => idx[i]!.forEach((e, j) => (all[e] = d.data[j]!)));
      }
      t.dispose();
      return tf.tensor1d(all, "float32");
    };
    this.#m = write(this.#m, "m");
    this.#v = write(this.#v, "v");
    for (const [key, data] of Object.entries(state.blocks)) {
      const b = this.#blocks.get(key)!;
      b.step = data.step;
      b.birthStep = data.birthStep;
    }
    this.#globalStep = state.globalStep;
  }

  /** Disposes all optimizer state (never the variables). */
  dispose(): void {
    this.#dropLayout();
    tf.dispose([this.#m, this.#v].filter((t): t is tf.Tensor1D => t !== null));
    this.#m = null;
    this.#v = null;
    this.#blocks.clear();
    this.#slots.clear();
  }
}
