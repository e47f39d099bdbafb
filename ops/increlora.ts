/**
 * IncreLoRA: AdaLoRA's SVD form `ΔW = s·B·(A ⊙ E)` starting at rank 1 and growing by blocks,
 * with the per-matrix score `Σ|ΔW ⊙ ∂L/∂ΔW| / √(d·n)` smoothed by β1/β2 (docs/METHOD.md §13).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Adapter, AdapterSnapshot, ParameterBlock } from "./adapter.ts";
import {
  adapterDropout,
  alphaAndDropout,
  assertAdapterShape,
  assertInput,
  assertPositive,
  assertPositiveInt,
  deriveSeed,
  emaBetas,
  makeVariable,
} from "./_internal.ts";
import { requireBackend } from "./_ready.ts";
import { assignFrom, checkSnapshot, readTensors } from "./_snapshot.ts";
import { updateEma } from "./_internal.ts";
import { skinnyChain } from "./_skinny.ts";

/**
 * Options of an IncreLoRA adapter.
 *
 * @example Rank and scale from the options
 * ```ts
 * import type { IncreLoraOptions } from "./increlora.ts";
 * import { IncreLoraAdapter } from "./increlora.ts";
 * import assert from "node:assert/strict";
 *
 * const options: IncreLoraOptions = { name: "ex.incopt", inFeatures: 4, outFeatures: 3, seed: 1, initialRank: 2, alpha: 4, trackScore: false };
 * const ad = new IncreLoraAdapter(options);
 * assert.equal(ad.rank, 2);
 * assert.ok(Math.abs(ad.scale - 4 / (2 + 1e-5)) < 1e-12);
 * ad.dispose();
 * ```
 */
export interface IncreLoraOptions {
  /** Module path. */
  readonly name: string;
  /** Input features `n`. */
  readonly inFeatures: number;
  /** Output features `d`. */
  readonly outFeatures: number;
  /** Seed of every init and of dropout. */
  readonly seed: number;
  /** Initial rank; default 1. */
  readonly initialRank?: number;
  /** `alpha` of `s = alpha/(r + 1e-5)` (r = current rank); default 32. */
  readonly alpha?: number;
  /** Dropout on the adapter input; default 0. */
  readonly dropout?: number;
  /** EMA factor of the score; default 0.85. */
  readonly beta1?: number;
  /** EMA factor of the uncertainty; default 0.85. */
  readonly beta2?: number;
  /** Standard deviation of the normal init of `A`, `B`; default 0.02. */
  readonly initStd?: number;
  /**
   * Accumulate the score in training-mode backward passes; default true. The score forms the
   * `d×n` product `ΔW ⊙ (dyᵀ·x)` (O(rows·d·n)), so switch it off once the budget is spent.
   */
  readonly trackScore?: boolean;
}

interface SvdBlock {
  readonly rank: number;
  readonly a: tf.Variable; // [rank, n]
  readonly b: tf.Variable; // [d, rank]
  readonly e: tf.Variable; // [rank, 1]
}

/**
 * An IncreLoRA adapter. New blocks get `A, B ~ N(0, std²)` and `E = 0`, so a new block adds
 * nothing until trained; the scale `alpha/(r + 1e-5)` follows the current rank.
 * The score needs `∂L/∂ΔW = dyᵀ·x`; the training-mode forward uses a backward hook that, in
 * the backward pass only, forms `ΔW ⊙ (dyᵀ·x)` and accumulates its scaled L1 norm (the `d×n`
 * product is never formed in the forward pass; `trackScore = false` skips it).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { IncreLoraAdapter } from "./increlora.ts";
 *
 * const ad = new IncreLoraAdapter({ name: "ex.incre", inFeatures: 4, outFeatures: 3, seed: 1 });
 * assert.equal(ad.rank, 1);
 * ad.grow(2);
 * assert.equal(ad.rank, 3);
 * ad.dispose();
 * ```
 */
export class IncreLoraAdapter implements Adapter {
  /** Method name. */
  readonly method = "increlora" as const;
  /** Module path. */
  readonly name: string;
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** `alpha`. */
  readonly alpha: number;
  /** Dropout rate. */
  readonly dropout: number;
  /** EMA factor of the score. */
  readonly beta1: number;
  /** EMA factor of the uncertainty. */
  readonly beta2: number;
  /** Whether training-mode backward passes accumulate the score (switch off when growth ends). */
  trackScore: boolean;
  #seed: number;
  #std: number;
  #blocks: SvdBlock[] = [];
  /**
   * When true, training-mode backward passes sum `(∂L/∂ΔW)ᵀ` (`[n, d]`) instead of scoring each
   * pass; `finishScoreGradient()` scores the sum once per optimizer step. The trainer switches it
   * on for micro-batches and workers, so the step's score uses the accumulated gradient
   * (docs/METHOD.md, "per step" under accumulation).
   */
  accumulateScoreGradient = false;
  #pending: tf.Scalar | null = null;
  /** Summed `(∂L/∂ΔW)ᵀ` per call site of the forward (DeBERTa calls Wq/Wk twice). */
  #pendingGrads: (tf.Tensor2D | null)[] = [];
  #site = 0;
  #ema: { mean: tf.Tensor; unc: tf.Tensor };
  #dropoutCalls = 0;

  /**
   * Creates the adapter at its initial rank.
   *
   * @param options Adapter options.
   */
  constructor(options: IncreLoraOptions) {
    assertAdapterShape(options);
    requireBackend(`create adapter ${options.name}`);
    const { alpha, dropout } = alphaAndDropout(options);
    const initialRank = options.initialRank ?? 1;
    assertPositiveInt("initialRank", initialRank);
    const std = options.initStd ?? 0.02;
    assertPositive("initStd", std);
    const { beta1, beta2 } = emaBetas(options);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.name = options.name;
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.alpha = alpha;
    this.dropout = dropout;
    this.#seed = options.seed;
    this.#std = std;
    this.trackScore = options.trackScore ?? true;
    this.#ema = { mean: tf.scalar(0), unc: tf.scalar(0) };
    this.#addBlock(initialRank);
  }

  /** Current rank. */
  get rank(): number {
    return this.#blocks.reduce((s, b) => s + b.rank, 0);
  }

  /** Rank of each block. */
  get blockRanks(): number[] {
    return this.#blocks.map((b) => b.rank);
  }

  /** Scale `alpha/(r + 1e-5)`. */
  get scale(): number {
    return this.alpha / (this.rank + 1e-5);
  }

  #addBlock(rank: number): void {
    const k = this.#blocks.length;
    const seed = (p: string): number => deriveSeed(this.#seed, `${this.name}/${p}/${k}`);
    const n = this.inFeatures;
    const d = this.outFeatures;
    this.#blocks.push({
      rank,
      a: makeVariable(
        tf.randomNormal([rank, n], 0, this.#std, "float32", seed("A")),
        `${this.name}.lora_A.${k}`,
      ),
      b: makeVariable(
        tf.randomNormal([d, rank], 0, this.#std, "float32", seed("B")),
        `${this.name}.lora_B.${k}`,
      ),
      e: makeVariable(tf.zeros([rank, 1]), `${this.name}.lora_E.${k}`),
    });
  }

  /**
   * Appends `deltaRank` ranks (new block: `A, B ~ N(0, std²)`, `E = 0`).
   *
   * @param deltaRank Ranks to add.
   * @returns The new parameter block.
   */
  grow(deltaRank: number): ParameterBlock {
    assertPositiveInt("deltaRank", deltaRank);
    this.#addBlock(deltaRank);
    return this.parameterBlocks()[this.#blocks.length - 1] as ParameterBlock;
  }

  #factors(): { a: tf.Tensor2D; b: tf.Tensor2D; e: tf.Tensor2D } {
    return tf.tidy(() => {
      const cat = (vs: tf.Variable[], axis: number): tf.Tensor2D =>
        (vs.length === 1 ? (vs[0] as tf.Tensor).clone() : tf.concat(vs, axis)) as tf.Tensor2D;
      return {
        a: cat(this.#blocks.map((b) => b.a), 0),
        b: cat(this.#blocks.map((b) => b.b), 1),
        e: cat(this.#blocks.map((b) => b.e), 0),
      };
    });
  }

  /**
   * The adapter path `(x·(A⊙E)ᵀ)·(s·B)ᵀ`. In training mode the backward pass also accumulates
   * the importance `Σ|ΔW ⊙ ∂L/∂ΔW|/√(d·n)` for `updateImportance()`.
   *
   * @param x Input `[rows, in]`.
   * @param training Apply dropout and track the score.
   * @returns `[rows, out]`.
   */
  delta(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    assertInput(x, this.inFeatures, this.name);
    const seed = `${this.#seed}/${this.name}/dropout/${this.#dropoutCalls}`;
    if (training && this.dropout > 0) this.#dropoutCalls++;
    const s = this.scale;
    const norm = Math.sqrt(this.inFeatures * this.outFeatures);
    return tf.tidy(() => {
      const xd = adapterDropout(x, this.dropout, training, seed);
      const { a, b, e } = this.#factors();
      const p = a.mul(e) as tf.Tensor2D;
      const q = b.mul(s) as tf.Tensor2D;
      if (!training || !this.trackScore) return skinnyChain(xd, p, q);
      // The score sums over the forward's call sites (as a single backward pass does), so
      // accumulation keeps one gradient sum per site.
      const site = this.#site++;
      return skinnyChain(xd, p, q, (dy, xs, ps, qs) => {
        if (this.accumulateScoreGradient) {
          const g = tf.matMul(tf.transpose(xs), dy) as tf.Tensor2D;
          const before = this.#pendingGrads[site] ?? null;
          this.#pendingGrads[site] = tf.keep(before === null ? g : before.add(g));
          before?.dispose();
          return;
        }
        // Backward only: ΔWᵀ = Pᵀ·Qᵀ and (∂L/∂ΔW)ᵀ = xᵀ·dy, both [n, d].
        const deltaWT = tf.matMul(tf.transpose(ps), tf.transpose(qs));
        const gradWT = tf.matMul(tf.transpose(xs), dy);
        const score = tf.abs(deltaWT.mul(gradWT)).sum().div(norm) as tf.Scalar;
        const previous = this.#pending;
        this.#pending = tf.keep(previous === null ? score : previous.add(score));
        previous?.dispose();
      });
    });
  }

  /**
   * Marks the start of a training forward: call sites are numbered from 0 again, so the site
   * sums of several micro-batches line up.
   */
  beginScoreForward(): void {
    this.#site = 0;
  }

  /**
   * Removes and returns the `(∂L/∂ΔW)ᵀ` summed per call site since the last call (`[n, d]`
   * each, owned by the caller; empty when no backward pass ran in accumulation mode).
   *
   * @returns The summed gradient of each call site, in site order.
   */
  takeScoreGradient(): tf.Tensor2D[] {
    const gs = this.#pendingGrads.map((g) => g ?? tf.zeros([this.inFeatures, this.outFeatures]));
    this.#pendingGrads = [];
    return gs as tf.Tensor2D[];
  }

  /**
   * Adds a `(∂L/∂ΔW)ᵀ` computed elsewhere (a data-parallel worker) to the sum of a call site.
   *
   * @param site The call site (position in `takeScoreGradient()`'s list).
   * @param gradWT `[n, d]`; copied, the caller keeps ownership.
   */
  addScoreGradient(site: number, gradWT: tf.Tensor2D): void {
    if (gradWT.shape[0] !== this.inFeatures || gradWT.shape[1] !== this.outFeatures) {
      throw new TypeError(
        `Cannot add a score gradient to ${this.name} as its shape must be [${this.inFeatures}, ${this.outFeatures}]: current shape is [${gradWT.shape}]`,
      );
    }
    const before = this.#pendingGrads[site] ?? null;
    this.#pendingGrads[site] = tf.keep(before === null ? gradWT.clone() : before.add(gradWT));
    before?.dispose();
  }

  /**
   * Scores the summed gradients once: adds `Σ_sites Σ|ΔW ⊙ ∂L/∂ΔW|/√(d·n)` with the current
   * `ΔW` to the pending score and clears the sums. Call it after the step's last backward pass
   * and before the optimizer changes `ΔW`. No-op when nothing was summed.
   */
  finishScoreGradient(): void {
    const gs = this.#pendingGrads.filter((g): g is tf.Tensor2D => g !== null);
    this.#pendingGrads = [];
    if (gs.length === 0) return;
    const norm = Math.sqrt(this.inFeatures * this.outFeatures);
    const s = this.scale;
    const score = tf.tidy(() => {
      const { a, b, e } = this.#factors();
      const deltaWT = tf.matMul(tf.transpose(a.mul(e)), tf.transpose(b.mul(s)));
      return tf.addN(gs.map((g) => tf.abs(deltaWT.mul(g)).sum().div(norm))) as tf.Scalar;
    });
    tf.dispose(gs);
    const previous = this.#pending;
    this.#pending = previous === null ? score : tf.tidy(() => previous.add(score));
    if (previous !== null) {
      previous.dispose();
      score.dispose();
    }
  }

  /**
   * The counters a training `delta` advances: `[dropout index, call site]`.
   *
   * @returns The counters.
   */
  forwardState(): readonly number[] {
    return [this.#dropoutCalls, this.#site];
  }

  /**
   * Sets the counters back to a value of `forwardState()` (layer recomputation).
   *
   * @param state `[dropout index, call site]`.
   */
  restoreForwardState(state: readonly number[]): void {
    this.#dropoutCalls = state[0] ?? this.#dropoutCalls;
    this.#site = state[1] ?? this.#site;
  }

  /**
   * Sets the dropout call counter (the trainer's per-slice dropout index), so dropout masks
   * derive from the step and micro-batch, not from how many forwards this replica ran (no-op
   * when the adapter has no dropout).
   *
   * @param calls The counter value.
   */
  setDropoutStep(calls: number): void {
    // The counter only seeds dropout: without dropout the state stays as it was.
    if (this.dropout > 0) this.#dropoutCalls = calls;
  }

  /**
   * Folds the score accumulated by the last backward pass(es) into the EMAs:
   * `Ī ← β1·Ī + (1−β1)·s`, `Ū ← β2·Ū + (1−β2)·|s − Ī|`. No-op when nothing was accumulated.
   */
  updateImportance(): void {
    const instant = this.#pending;
    if (instant === null) return;
    updateEma(this.#ema, instant, this.beta1, this.beta2);
    instant.dispose();
    this.#pending = null;
  }

  /**
   * The smoothed score `Ī·Ū`.
   *
   * @returns A scalar owned by the caller.
   */
  importance(): tf.Scalar {
    return tf.tidy(() => this.#ema.mean.mul(this.#ema.unc) as tf.Scalar);
  }

  /**
   * `ΔW = s·B·(A⊙E)`.
   *
   * @returns A new tensor.
   */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => {
      const { a, b, e } = this.#factors();
      return tf.matMul(b, a.mul(e)).mul(this.scale) as tf.Tensor2D;
    });
  }

  /**
   * PEFT factors `lora_A = A⊙E`, `lora_B = s·B`.
   *
   * @returns New tensors.
   */
  peftFactors(): { loraA: tf.Tensor2D; loraB: tf.Tensor2D } {
    return tf.tidy(() => {
      const { a, b, e } = this.#factors();
      return { loraA: a.mul(e) as tf.Tensor2D, loraB: b.mul(this.scale) as tf.Tensor2D };
    });
  }

  /**
   * `A` and `B` for the orthogonality penalty.
   *
   * @returns Tensors in the caller's scope.
   */
  orthogonalityFactors(): { a: tf.Tensor2D; b: tf.Tensor2D } {
    return tf.tidy(() => {
      const { a, b } = this.#factors();
      return { a, b };
    });
  }

  /**
   * Trainable variables of every block.
   *
   * @returns The variables.
   */
  trainableVariables(): tf.Variable[] {
    return this.#blocks.flatMap((b) => [b.a, b.b, b.e]);
  }

  /**
   * One block per init/growth.
   *
   * @returns The blocks.
   */
  parameterBlocks(): ParameterBlock[] {
    return this.#blocks.map((b, k) => ({
      key: `${this.name}.block${k}`,
      variables: [b.a, b.b, b.e],
    }));
  }

  #named(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    this.#blocks.forEach((b, k) => {
      out[`lora_A.${k}`] = b.a;
      out[`lora_B.${k}`] = b.b;
      out[`lora_E.${k}`] = b.e;
    });
    return out;
  }

  /**
   * Reads parameters and the score EMAs.
   *
   * @returns The snapshot.
   */
  async snapshot(): Promise<AdapterSnapshot> {
    const [mean, unc] = [await this.#ema.mean.data(), await this.#ema.unc.data()];
    return {
      method: this.method,
      name: this.name,
      blockRanks: this.blockRanks,
      scalars: { ipt: mean[0] ?? 0, unc: unc[0] ?? 0, dropoutCalls: this.#dropoutCalls },
      tensors: await readTensors(this.#named()),
    };
  }

  /**
   * Restores a snapshot, growing first to its block ranks.
   *
   * @param snapshot An IncreLoRA snapshot of this module.
   */
  restore(snapshot: AdapterSnapshot): void {
    checkSnapshot(snapshot, this.method, this.name);
    const mine = this.blockRanks;
    const theirs = snapshot.blockRanks;
    if (!(mine.length <= theirs.length && mine.every((r, i) => r === theirs[i]))) {
      throw new TypeError(
        `Cannot restore adapter ${this.name} as snapshot block ranks must extend [${mine}]: current value is [${theirs}]`,
      );
    }
    for (let k = mine.length; k < theirs.length; k++) this.#addBlock(theirs[k] as number);
    for (const [key, v] of Object.entries(this.#named())) {
      assignFrom(snapshot, key, v as tf.Variable);
    }
    this.#ema.mean.dispose();
    this.#ema.unc.dispose();
    this.#ema = {
      mean: tf.scalar(snapshot.scalars["ipt"] ?? 0),
      unc: tf.scalar(snapshot.scalars["unc"] ?? 0),
    };
    this.#dropoutCalls = snapshot.scalars["dropoutCalls"] ?? 0;
  }

  /** Disposes every variable and the score state. */
  dispose(): void {
    for (const b of this.#blocks) {
      b.a.dispose();
      b.b.dispose();
      b.e.dispose();
    }
    this.#blocks = [];
    this.#pending?.dispose();
    this.#pending = null;
    tf.dispose(this.#pendingGrads.filter((g): g is tf.Tensor2D => g !== null));
    this.#pendingGrads = [];
    this.#ema.mean.dispose();
    this.#ema.unc.dispose();
  }
}

/**
 * Smoothed IncreLoRA scores of many modules, read with one `await data()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IncreLoraAdapter, increLoraScores } from "./increlora.ts";
 *
 * const ad = new IncreLoraAdapter({ name: "ex.scores", inFeatures: 2, outFeatures: 2, seed: 1 });
 * assert.deepEqual(await increLoraScores([ad]), [0]);
 * ad.dispose();
 * ```
 *
 * @param adapters IncreLoRA adapters, in module order.
 * @returns `Ī·Ū` per adapter.
 */
export async function increLoraScores(adapters: readonly IncreLoraAdapter[]): Promise<number[]> {
  if (adapters.length === 0) return [];
  const t = tf.tidy(() => tf.stack(adapters.map((a) => a.importance())));
  const values = await t.data();
  t.dispose();
  return Array.from(values);
}
