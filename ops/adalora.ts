/**
 * AdaLoRA: `ΔW = B·(A ⊙ E)·alpha/(r_init + eps)` with element-wise sensitivity EMAs, triplet
 * scores and budget masking of `E` (docs/METHOD.md §12).
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
import { skinnyChain } from "./_skinny.ts";
import { type Ema, updateEma } from "./_internal.ts";

/**
 * Options of an AdaLoRA adapter.
 *
 * @example Rank and scale from the options
 * ```ts
 * import type { AdaLoraOptions } from "./adalora.ts";
 * import { AdaLoraAdapter } from "./adalora.ts";
 * import assert from "node:assert/strict";
 *
 * const options: AdaLoraOptions = { name: "ex.adaopt", inFeatures: 4, outFeatures: 3, seed: 1, initialRank: 3, alpha: 6 };
 * const ad = new AdaLoraAdapter(options);
 * assert.equal(ad.rank, 3);
 * assert.ok(Math.abs(ad.scale - 6 / (3 + 1e-5)) < 1e-12);
 * ad.dispose();
 * ```
 */
export interface AdaLoraOptions {
  /** Module path. */
  readonly name: string;
  /** Input features `n`. */
  readonly inFeatures: number;
  /** Output features `d`. */
  readonly outFeatures: number;
  /** Seed of the init and of dropout. */
  readonly seed: number;
  /** Initial rank `r_init`; default 12. */
  readonly initialRank?: number;
  /** `alpha`; default 32. */
  readonly alpha?: number;
  /** Dropout on the adapter input; default 0. */
  readonly dropout?: number;
  /** EMA factor of the sensitivity; default 0.85. */
  readonly beta1?: number;
  /** EMA factor of the uncertainty; default 0.85. */
  readonly beta2?: number;
  /** Standard deviation of the normal init of `A`, `B`; default 0.02. */
  readonly initStd?: number;
}

/**
 * An AdaLoRA adapter in SVD form: `A [r,n]`, `B [d,r] ~ N(0, std²)`, `E [r,1] = 0`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { AdaLoraAdapter } from "./adalora.ts";
 *
 * const ad = new AdaLoraAdapter({ name: "ex.ada", inFeatures: 4, outFeatures: 3, seed: 1 });
 * assert.equal(ad.rank, 12);
 * const y = ad.delta(tf.ones([2, 4]), false);
 * assert.deepEqual(Array.from(await y.data()), [0, 0, 0, 0, 0, 0]); // E = 0
 * ad.dispose();
 * ```
 */
export class AdaLoraAdapter implements Adapter {
  /** Method name. */
  readonly method = "adalora" as const;
  /** Module path. */
  readonly name: string;
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Initial (= allocated) rank `r_init`. */
  readonly rank: number;
  /** Scale `alpha/(r_init + 1e-5)`. */
  readonly scale: number;
  /** Dropout rate. */
  readonly dropout: number;
  /** EMA factors. */
  readonly beta1: number;
  /** EMA factors. */
  readonly beta2: number;
  #seed: number;
  #a: tf.Variable;
  #b: tf.Variable;
  #e: tf.Variable;
  #ema: { a: Ema; b: Ema; e: Ema };
  #dropoutCalls = 0;

  /**
   * Creates the adapter.
   *
   * @param options Adapter options.
   */
  constructor(options: AdaLoraOptions) {
    assertAdapterShape(options);
    requireBackend(`create adapter ${options.name}`);
    const rank = options.initialRank ?? 12;
    assertPositiveInt("initialRank", rank);
    const { alpha, dropout } = alphaAndDropout(options);
    const std = options.initStd ?? 0.02;
    assertPositive("initStd", std);
    const { beta1, beta2 } = emaBetas(options);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.name = options.name;
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.rank = rank;
    this.dropout = dropout;
    this.scale = alpha / (rank + 1e-5);
    this.#seed = options.seed;
    const seed = (p: string): number => deriveSeed(options.seed, `${this.name}/${p}/0`);
    const n = options.inFeatures;
    const d = options.outFeatures;
    this.#a = makeVariable(
      tf.randomNormal([rank, n], 0, std, "float32", seed("A")),
      `${this.name}.lora_A`,
    );
    this.#b = makeVariable(
      tf.randomNormal([d, rank], 0, std, "float32", seed("B")),
      `${this.name}.lora_B`,
    );
    this.#e = makeVariable(tf.zeros([rank, 1]), `${this.name}.lora_E`);
    const zeroEma = (shape: number[]): Ema => ({ mean: tf.zeros(shape), unc: tf.zeros(shape) });
    this.#ema = { a: zeroEma([rank, n]), b: zeroEma([d, rank]), e: zeroEma([rank, 1]) };
  }

  /**
   * The counter a training `delta` advances: `[dropout index]`.
   *
   * @returns The counter.
   */
  forwardState(): readonly number[] {
    return [this.#dropoutCalls];
  }

  /**
   * Sets the counter back to a value of `forwardState()` (layer recomputation).
   *
   * @param state `[dropout index]`.
   */
  restoreForwardState(state: readonly number[]): void {
    this.#dropoutCalls = state[0] ?? this.#dropoutCalls;
  }

  /**
   * Sets the dropout call counter (the trainer's per-step, per-micro-batch dropout index), so
   * dropout masks derive from the step, not from how many forwards this replica ran (no-op
   * when the adapter has no dropout).
   *
   * @param calls The counter value.
   */
  setDropoutStep(calls: number): void {
    // The counter only seeds dropout: without dropout the state stays as it was.
    if (this.dropout > 0) this.#dropoutCalls = calls;
  }

  /**
   * The adapter path `(x·(A⊙E)ᵀ)·(s·B)ᵀ`.
   *
   * @param x Input `[rows, in]`.
   * @param training Apply dropout.
   * @returns `[rows, out]`.
   */
  delta(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    assertInput(x, this.inFeatures, this.name);
    const seed = `${this.#seed}/${this.name}/dropout/${this.#dropoutCalls}`;
    if (training && this.dropout > 0) this.#dropoutCalls++;
    return tf.tidy(() => {
      const xd = adapterDropout(x, this.dropout, training, seed);
      return skinnyChain(
        xd,
        this.#a.mul(this.#e) as tf.Tensor2D,
        this.#b.mul(this.scale) as tf.Tensor2D,
      );
    });
  }

  /**
   * Updates the sensitivity EMAs from this step's gradients: `I = |p ⊙ ∇p|`,
   * `Ī ← β1·Ī + (1−β1)·I`, `Ū ← β2·Ū + (1−β2)·|I − Ī|`.
   *
   * @param grads Gradients keyed by variable name (as `tf.variableGrads` returns them); the
   * adapter's own entries must be present.
   */
  updateSensitivity(grads: tf.NamedTensorMap): void {
    const pairs = [[this.#a, this.#ema.a], [this.#b, this.#ema.b], [this.#e, this.#ema.e]] as const;
    for (const [p, ema] of pairs) {
      const g = grads[p.name];
      if (g === undefined) {
        throw new TypeError(
          `Cannot update AdaLoRA sensitivity as grads must contain ${p.name}: current keys are ${
            Object.keys(grads).join(", ")
          }`,
        );
      }
      const instant = tf.tidy(() => tf.abs(p.mul(g)));
      updateEma(ema, instant, this.beta1, this.beta2);
      instant.dispose();
    }
  }

  /**
   * Triplet scores `S_i = s(E_i) + mean_j s(A_ij) + mean_k s(B_ki)` with `s = Ī·Ū`.
   *
   * @returns `[r]`, owned by the caller.
   */
  tripletScores(): tf.Tensor1D {
    return tf.tidy(() => {
      const sa = this.#ema.a.mean.mul(this.#ema.a.unc).mean(1);
      const sb = this.#ema.b.mean.mul(this.#ema.b.unc).mean(0);
      const se = this.#ema.e.mean.mul(this.#ema.e.unc).reshape([this.rank]);
      return se.add(sa).add(sb) as tf.Tensor1D;
    });
  }

  /**
   * Multiplies `E` by a 0/1 keep mask (called by `maskAdaLoraToBudget`).
   *
   * @param keep `[r]` of 0/1.
   */
  applyMask(keep: tf.Tensor1D): void {
    tf.tidy(() => this.#e.assign(this.#e.mul(keep.reshape([this.rank, 1]))));
  }

  /**
   * Number of non-zero entries of `E` (the rank pattern entry).
   *
   * @returns The effective rank.
   */
  async effectiveRank(): Promise<number> {
    const e = Array.from(await this.#e.data());
    return e.filter((v) => v !== 0).length;
  }

  /**
   * `ΔW = s·B·(A⊙E)`.
   *
   * @returns A new tensor.
   */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.#b, this.#a.mul(this.#e)).mul(this.scale));
  }

  /**
   * PEFT factors `lora_A = A⊙E`, `lora_B = s·B` (masked triplets give zero rows; `exportPeft`
   * drops them).
   *
   * @returns New tensors.
   */
  peftFactors(): { loraA: tf.Tensor2D; loraB: tf.Tensor2D } {
    return tf.tidy(() => ({
      loraA: this.#a.mul(this.#e) as tf.Tensor2D,
      loraB: this.#b.mul(this.scale) as tf.Tensor2D,
    }));
  }

  /**
   * `A` and `B` for the orthogonality penalty.
   *
   * @returns The variables.
   */
  orthogonalityFactors(): { a: tf.Tensor2D; b: tf.Tensor2D } {
    return { a: this.#a as tf.Tensor2D, b: this.#b as tf.Tensor2D };
  }

  /**
   * Trainable variables `[A, B, E]`.
   *
   * @returns The variables.
   */
  trainableVariables(): tf.Variable[] {
    return [this.#a, this.#b, this.#e];
  }

  /**
   * A single block.
   *
   * @returns The block.
   */
  parameterBlocks(): ParameterBlock[] {
    return [{ key: `${this.name}.block0`, variables: [this.#a, this.#b, this.#e] }];
  }

  /**
   * Reads parameters and EMA state.
   *
   * @returns The snapshot.
   */
  async snapshot(): Promise<AdapterSnapshot> {
    return {
      method: this.method,
      name: this.name,
      blockRanks: [this.rank],
      scalars: { dropoutCalls: this.#dropoutCalls },
      tensors: await readTensors({
        lora_A: this.#a,
        lora_B: this.#b,
        lora_E: this.#e,
        ipt_A: this.#ema.a.mean,
        unc_A: this.#ema.a.unc,
        ipt_B: this.#ema.b.mean,
        unc_B: this.#ema.b.unc,
        ipt_E: this.#ema.e.mean,
        unc_E: this.#ema.e.unc,
      }),
    };
  }

  /**
   * Restores parameters and EMA state.
   *
   * @param snapshot An AdaLoRA snapshot of this module.
   */
  restore(snapshot: AdapterSnapshot): void {
    checkSnapshot(snapshot, this.method, this.name);
    assignFrom(snapshot, "lora_A", this.#a);
    assignFrom(snapshot, "lora_B", this.#b);
    assignFrom(snapshot, "lora_E", this.#e);
    for (const [k, ema] of [["A", this.#ema.a], ["B", this.#ema.b], ["E", this.#ema.e]] as const) {
      for (const [prefix, field] of [["ipt", "mean"], ["unc", "unc"]] as const) {
        const entry = snapshot.tensors[`${prefix}_${k}`];
        if (entry !== undefined) {
          ema[field].dispose();
          ema[field] = tf.tensor(entry.data, [...entry.shape], "float32");
        }
      }
    }
    this.#dropoutCalls = snapshot.scalars["dropoutCalls"] ?? 0;
  }

  /** Disposes variables and EMA state. */
  dispose(): void {
    this.#a.dispose();
    this.#b.dispose();
    this.#e.dispose();
    for (const ema of [this.#ema.a, this.#ema.b, this.#ema.e]) {
      ema.mean.dispose();
      ema.unc.dispose();
    }
  }
}

/**
 * Result of one AdaLoRA masking event.
 *
 * @example A budget equal to the total masks nothing
 * ```ts
 * import type { AdaLoraMaskResult } from "./adalora.ts";
 * import { AdaLoraAdapter, maskAdaLoraToBudget } from "./adalora.ts";
 * import assert from "node:assert/strict";
 *
 * const ad = new AdaLoraAdapter({ name: "ex.amr", inFeatures: 2, outFeatures: 2, seed: 1, initialRank: 2 });
 * const result: AdaLoraMaskResult = await maskAdaLoraToBudget([ad], 2);
 * assert.deepEqual(result, { threshold: -Infinity, rankPattern: { "ex.amr": 2 }, keepPattern: { "ex.amr": [true, true] } });
 * ad.dispose();
 * ```
 */
export interface AdaLoraMaskResult {
  /** Score threshold (the `k`-th smallest triplet score), or `-Infinity` when nothing is masked. */
  readonly threshold: number;
  /** Module name → number of kept triplets. */
  readonly rankPattern: Readonly<Record<string, number>>;
  /**
   * Module name → kept (`true`) or masked (`false`) per triplet. PEFT freezes this pattern at
   * step `T − tfinal` and re-applies it every later step: pass it to `maskAdaLoraToPattern`.
   */
  readonly keepPattern: Readonly<Record<string, readonly boolean[]>>;
}

/**
 * Masks the lowest `Σ r_init − budget` triplets across all modules by zeroing their `E` entries
 * (PEFT `mask_to_budget`: every triplet with score `≤` the `k`-th smallest is masked). The budget
 * comes from `core/` (cubic schedule); call every `deltaT` steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaLoraAdapter, maskAdaLoraToBudget } from "./adalora.ts";
 *
 * const ad = new AdaLoraAdapter({ name: "ex.mask", inFeatures: 4, outFeatures: 4, seed: 2, initialRank: 3 });
 * const res = await maskAdaLoraToBudget([ad], 3); // budget = total: nothing masked
 * assert.equal(res.rankPattern["ex.mask"], 3);
 * ad.dispose();
 * ```
 *
 * @param adapters The AdaLoRA adapters, in module order.
 * @param budget Total number of triplets to keep.
 * @returns The threshold, the rank pattern and the keep pattern.
 */
export async function maskAdaLoraToBudget(
  adapters: readonly AdaLoraAdapter[],
  budget: number,
): Promise<AdaLoraMaskResult> {
  const total = adapters.reduce((n, a) => n + a.rank, 0);
  if (!Number.isInteger(budget) || budget < 0 || budget > total) {
    throw new RangeError(
      `Cannot mask AdaLoRA to budget as budget must be an integer in [0, ${total}]: current value is ${budget}`,
    );
  }
  const k = total - budget;
  if (k === 0) {
    const rankPattern: Record<string, number> = {};
    const keepPattern: Record<string, boolean[]> = {};
    for (const a of adapters) {
      rankPattern[a.name] = a.rank;
      keepPattern[a.name] = new Array<boolean>(a.rank).fill(true);
    }
    return { threshold: -Infinity, rankPattern, keepPattern };
  }
  const all = tf.tidy(() => tf.concat(adapters.map((a) => a.tripletScores())));
  const scores = await all.data();
  all.dispose();
  const sorted = Float32Array.from(scores).sort();
  const threshold = sorted[k - 1] as number;
  const rankPattern: Record<string, number> = {};
  const keepPattern: Record<string, boolean[]> = {};
  let offset = 0;
  for (const a of adapters) {
    const keep: boolean[] = [];
    for (let i = 0; i < a.rank; i++) keep.push((scores[offset + i] as number) > threshold);
    applyKeep(a, keep);
    rankPattern[a.name] = keep.filter(Boolean).length;
    keepPattern[a.name] = keep;
    offset += a.rank;
  }
  return { threshold, rankPattern, keepPattern };
}

function applyKeep(adapter: AdaLoraAdapter, keep: readonly boolean[]): void {
  const keepT = tf.tensor1d(keep.map((k) => (k ? 1 : 0)));
  adapter.applyMask(keepT);
  keepT.dispose();
}

/**
 * Re-applies a frozen keep pattern (PEFT `mask_using_rank_pattern`, the final phase
 * `step > T − tfinal`): zeroes `E` of every masked triplet, whatever the scores are now, so the
 * rank pattern fixed at `T − tfinal` stays the final one.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { AdaLoraAdapter, maskAdaLoraToPattern } from "./adalora.ts";
 *
 * const ad = new AdaLoraAdapter({ name: "ex.pat", inFeatures: 2, outFeatures: 2, seed: 1, initialRank: 2 });
 * const [, , e] = ad.trainableVariables();
 * e!.assign(tf.tensor2d([[0.5], [0.25]]));
 * maskAdaLoraToPattern([ad], { "ex.pat": [false, true] });
 * assert.deepEqual(Array.from(await e!.data()), [0, 0.25]);
 * ad.dispose();
 * ```
 *
 * @param adapters The AdaLoRA adapters.
 * @param keepPattern `keepPattern` of the masking event at `T − tfinal`.
 */
export function maskAdaLoraToPattern(
  adapters: readonly AdaLoraAdapter[],
  keepPattern: Readonly<Record<string, readonly boolean[]>>,
): void {
  for (const a of adapters) {
    const keep = keepPattern[a.name];
    if (keep === undefined || keep.length !== a.rank) {
      throw new TypeError(
        `Cannot mask AdaLoRA adapter ${a.name} to a pattern as its keep pattern must have ${a.rank} entries: current value is ${
          keep === undefined ? "missing" : `[${keep}]`
        }`,
      );
    }
  }
  for (const a of adapters) applyKeep(a, keepPattern[a.name] as readonly boolean[]);
}
