/**
 * AdamW (decoupled weight decay) whose state grows with its parameters: one step counter,
 * bias correction and learning-rate schedule per parameter block (docs/METHOD.md §10).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ParameterBlock, TensorData } from "./adapter.ts";
import { requireBackend } from "./_ready.ts";

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
  /** First moments, one per variable in block order. */
  readonly m: readonly TensorData[];
  /** Second moments, one per variable in block order. */
  readonly v: readonly TensorData[];
}

interface BlockState {
  readonly key: string;
  readonly variables: readonly tf.Variable[];
  birthStep: number;
  step: number;
}

/**
 * The flat layout of every registered variable (blocks in registration order, variables in block
 * order): moments are stored as one vector each, so an update is a constant number of tensor ops
 * whatever the number of blocks (docs/METHOD.md §21).
 */
interface FlatLayout {
  readonly variables: readonly tf.Variable[];
  /** Block index (registration order) of each variable. */
  readonly blockOfVariable: readonly number[];
  /** Entry offset of each variable in the flat vectors; one more entry: the total. */
  readonly offsets: readonly number[];
  /** Block index of each entry (int32), for per-block step sizes. */
  readonly blockOfEntry: tf.Tensor1D;
  /** Variable index of each entry (int32), for partial updates. */
  readonly variableOfEntry: tf.Tensor1D;
}

function checkNumber(what: string, value: number, lo: number, hiOpen: number): void {
  if (!Number.isFinite(value) || value < lo || value >= hiOpen) {
    throw new RangeError(
      `Cannot create optimizer as ${what} must be in [${lo}, ${hiOpen}): current value is ${value}`,
    );
  }
}

/**
 * The message for gradients of variables the optimizer does not know: most often an adapter grew
 * (`grow()`) and its new block was never registered, so it names the call that registers it.
 */
function unregisteredMessage(names: readonly string[], keys: readonly string[]): string {
  const shown = (xs: readonly string[]): string =>
    xs.length <= 6 ? xs.join(", ") : `${xs.slice(0, 6).join(", ")}, … (${xs.length} in all)`;
  return `Cannot apply gradient as ${names.length === 1 ? "variable" : "variables"} ${
    shown(names)
  } must belong to a registered block: current blocks are ${
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
  #owner = new Map<string, string>(); // variable name → block key
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
   * Registers a block with zero moments and its own step counter.
   *
   * @param block The block (from an adapter's `parameterBlocks()` or `grow()`, or a head).
   * @param birthStep Global step at which it appears; default the current global step.
   */
  addBlock(block: ParameterBlock, birthStep: number = this.#globalStep): void {
    this.#add(block, birthStep);
    this.#flatLayout();
  }

  #add(block: ParameterBlock, birthStep: number): void {
    requireBackend(`add optimizer block ${block.key}`);
    if (this.#blocks.has(block.key)) {
      throw new TypeError(
        `Cannot add optimizer block as key must be unique: current value is ${block.key}`,
      );
    }
    for (const v of block.variables) {
      const owner = this.#owner.get(v.name);
      if (owner !== undefined) {
        throw new TypeError(
          `Cannot add optimizer block ${block.key} as variable ${v.name} must not be in another block: current owner is ${owner}`,
        );
      }
    }
    for (const v of block.variables) this.#owner.set(v.name, block.key);
    this.#blocks.set(block.key, {
      key: block.key,
      variables: [...block.variables],
      birthStep,
      step: 0,
    });
    const size = block.variables.reduce((n, v) => n + v.size, 0);
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
    if (this.#layout !== null) {
      tf.dispose([this.#layout.blockOfEntry, this.#layout.variableOfEntry]);
      this.#layout = null;
    }
  }

  #flatLayout(): FlatLayout {
    if (this.#layout !== null) return this.#layout;
    const variables: tf.Variable[] = [];
    const blockOfVariable: number[] = [];
    const offsets: number[] = [0];
    let k = 0;
    for (const b of this.#blocks.values()) {
      for (const v of b.variables) {
        variables.push(v);
        blockOfVariable.push(k);
        offsets.push(offsets[offsets.length - 1]! + v.size);
      }
      k++;
    }
    const total = offsets[offsets.length - 1]!;
    const blockIdx = new Int32Array(total);
    const varIdx = new Int32Array(total);
    variables.forEach((_, i) => {
      blockIdx.fill(blockOfVariable[i]!, offsets[i]!, offsets[i + 1]!);
      varIdx.fill(i, offsets[i]!, offsets[i + 1]!);
    });
    this.#layout = {
      variables,
      blockOfVariable,
      offsets,
      blockOfEntry: tf.tensor1d(blockIdx, "int32"),
      variableOfEntry: tf.tensor1d(varIdx, "int32"),
    };
    return this.#layout;
  }

  /** Entry range `[start, end)` of each block's variables in the flat vectors, by key. */
  #ranges(): Map<string, { start: number; ends: number[] }> {
    const out = new Map<string, { start: number; ends: number[] }>();
    let at = 0;
    for (const b of this.#blocks.values()) {
      const start = at;
      const ends = b.variables.map((v) => (at += v.size));
      out.set(b.key, { start, ends });
    }
    return out;
  }

  /**
   * Registers every block not yet known (e.g. after a growth event).
   *
   * @param blocks Blocks, e.g. `adapters.flatMap((a) => a.parameterBlocks())`.
   * @param birthStep Global step at which new ones appear; default the current global step.
   * @returns The number of blocks added.
   */
  syncBlocks(blocks: readonly ParameterBlock[], birthStep: number = this.#globalStep): number {
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
   * Removes a block and disposes its state (not its variables).
   *
   * @param key Block key.
   */
  removeBlock(key: string): void {
    const b = this.#blocks.get(key);
    if (b === undefined) return;
    for (const v of b.variables) this.#owner.delete(v.name);
    const range = this.#ranges().get(key)!;
    const end = range.ends.length === 0 ? range.start : range.ends[range.ends.length - 1]!;
    this.#blocks.delete(key);
    this.#dropLayout();
    this.#flatLayout();
    if (end > range.start && this.#m !== null && this.#v !== null) {
      const cut = (t: tf.Tensor1D): tf.Tensor1D | null => {
        const total = t.size;
        if (total === end - range.start) return null;
        return tf.tidy(() => {
          const parts: tf.Tensor1D[] = [];
          if (range.start > 0) parts.push(t.slice(0, range.start));
          if (end < total) parts.push(t.slice(end, total - end));
          return (parts.length === 1 ? parts[0]!.clone() : tf.concat(parts)) as tf.Tensor1D;
        });
      };
      const m = cut(this.#m), v = cut(this.#v);
      tf.dispose([this.#m, this.#v]);
      this.#m = m;
      this.#v = v;
    }
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
    const unknown = Object.keys(grads).filter((name) => !this.#owner.has(name));
    if (unknown.length > 0) throw new TypeError(unregisteredMessage(unknown, this.blockKeys));
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
    const stepSizes = new Float32Array(blocks.length);
    const bc2Sqrts = new Float32Array(blocks.length).fill(1);
    const decays = new Float32Array(blocks.length).fill(1);
    const active = layout.variables.map((p) => grads[p.name] !== undefined);
    blocks.forEach((block, k) => {
      if (!block.variables.some((p) => grads[p.name] !== undefined)) return;
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
      const allActive = active.every(Boolean);
      const [m, v] = tf.tidy(() => {
        const flat = (i: number, t: tf.Tensor | undefined): tf.Tensor1D =>
          t === undefined
            ? tf.zeros([layout.offsets[i + 1]! - layout.offsets[i]!])
            : t.reshape([-1]) as tf.Tensor1D;
        const gs = layout.variables.map((p, i) => flat(i, grads[p.name]));
        const g0 = gs.length === 1 ? gs[0]! : tf.concat(gs) as tf.Tensor1D;
        const g = clipFactor === null ? g0 : g0.mul(clipFactor);
        const ps = layout.variables.map((p, i) => flat(i, p));
        const p0 = ps.length === 1 ? ps[0]! : tf.concat(ps) as tf.Tensor1D;
        const perEntry = (values: Float32Array): tf.Tensor1D =>
          tf.gather(tf.tensor1d(values, "float32"), layout.blockOfEntry);
        let m1 = mOld.mul(beta1).add(g.mul(1 - beta1));
        let v1 = vOld.mul(beta2).add(g.square().mul(1 - beta2));
        const denom = v1.sqrt().div(perEntry(bc2Sqrts)).add(epsilon);
        const decayed = weightDecay === 0 ? p0 : p0.mul(perEntry(decays));
        let p1 = decayed.sub(m1.div(denom).mul(perEntry(stepSizes)));
        if (!allActive) {
          const on = tf.gather(
            tf.tensor1d(Int32Array.from(active, (x) => (x ? 1 : 0)), "int32"),
            layout.variableOfEntry,
          ).cast("bool");
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
    const range = this.#ranges().get(key)!;
    const read = async (t: tf.Tensor1D | null): Promise<TensorData[]> => {
      const all = t === null ? new Float32Array(0) : await t.data() as Float32Array;
      let at = range.start;
      return b.variables.map((v, i) => {
        const data = all.slice(at, range.ends[i]!);
        at = range.ends[i]!;
        return { shape: [...v.shape], data };
      });
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
        if (ds.length !== b.variables.length) {
          throw new TypeError(
            `Cannot restore optimizer block ${key} as it must have ${b.variables.length} moments: current count is ${ds.length}`,
          );
        }
        ds.forEach((d, i) => {
          const o = b.variables[i]!;
          if (d.shape.length !== o.shape.length || d.shape.some((x, j) => x !== o.shape[j])) {
            throw new TypeError(
              `Cannot restore optimizer block ${key} as moment ${i} must have shape [${o.shape}]: current shape is [${d.shape}]`,
            );
          }
        });
      };
      load(data.m);
      load(data.v);
    }
    // Everything checked: write the moments into the flat vectors, then the counters.
    const ranges = this.#ranges();
    const write = (t: tf.Tensor1D | null, which: "m" | "v"): tf.Tensor1D | null => {
      if (t === null) return null;
      const all = new Float32Array(t.dataSync());
      for (const [key, data] of Object.entries(state.blocks)) {
        const r = ranges.get(key)!;
        let at = r.start;
        data[which].forEach((d) => {
          all.set(d.data, at);
          at += d.data.length;
        });
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
    this.#owner.clear();
  }
}
