/**
 * Plain LoRA (and rsLoRA): `ΔW = s·B·A`, `s = alpha/r` or `alpha/√r` (docs/METHOD.md §11).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Adapter, AdapterGradients, AdapterSnapshot, ParameterBlock } from "./adapter.ts";
import {
  adapterDropout,
  alphaAndDropout,
  assertAdapterShape,
  assertInput,
  assertPositiveInt,
  deriveSeed,
  makeVariable,
} from "./_internal.ts";
import { requireBackend } from "./_ready.ts";
import { assignFrom, checkSnapshot, readTensors } from "./_snapshot.ts";
import { skinnyChain, skinnyChainBackward } from "./_skinny.ts";

/**
 * Options of a LoRA adapter.
 *
 * @example rsLoRA scales by `alpha/√r`
 * ```ts
 * import type { LoraOptions } from "./lora.ts";
 * import { LoraAdapter } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const options: LoraOptions = { name: "ex.loraopt", inFeatures: 4, outFeatures: 3, seed: 1, rank: 4, useRsLora: true };
 * const ad = new LoraAdapter(options);
 * assert.deepEqual([ad.rank, ad.scale], [4, 16]); // 32 / √4
 * ad.dispose();
 * ```
 */
export interface LoraOptions {
  /** Module path. */
  readonly name: string;
  /** Input features `n`. */
  readonly inFeatures: number;
  /** Output features `d`. */
  readonly outFeatures: number;
  /** Seed of the init and of dropout. */
  readonly seed: number;
  /** Fixed rank `r`; default 8. */
  readonly rank?: number;
  /** `alpha`; default 32. */
  readonly alpha?: number;
  /** Dropout on the adapter input; default 0. */
  readonly dropout?: number;
  /** rsLoRA scale `alpha/√r` instead of `alpha/r`; default false. */
  readonly useRsLora?: boolean;
}

/**
 * A fixed-rank LoRA adapter: `A [r,n]` kaiming-uniform `U(±1/√n)`, `B [d,r] = 0`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { LoraAdapter } from "./lora.ts";
 *
 * const ad = new LoraAdapter({ name: "ex.lora", inFeatures: 4, outFeatures: 3, seed: 1, rank: 2 });
 * assert.equal(ad.scale, 16); // alpha 32 (default) / rank 2
 * const y = ad.delta(tf.ones([2, 4]), false);
 * assert.deepEqual(y.shape, [2, 3]);
 * y.dispose();
 * ad.dispose();
 * ```
 */
export class LoraAdapter implements Adapter {
  /** Method name. */
  readonly method = "lora" as const;
  /** Module path. */
  readonly name: string;
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Rank. */
  readonly rank: number;
  /** Scale `alpha/r` (or `alpha/√r`). */
  readonly scale: number;
  /** Dropout rate. */
  readonly dropout: number;
  #seed: number;
  #a: tf.Variable;
  #b: tf.Variable;
  #dropoutCalls = 0;

  /**
   * Creates the adapter.
   *
   * @param options Adapter options.
   */
  constructor(options: LoraOptions) {
    assertAdapterShape(options);
    requireBackend(`create adapter ${options.name}`);
    const rank = options.rank ?? 8;
    assertPositiveInt("rank", rank);
    const { alpha, dropout } = alphaAndDropout(options);
    this.name = options.name;
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.rank = rank;
    this.dropout = dropout;
    this.scale = options.useRsLora === true ? alpha / Math.sqrt(rank) : alpha / rank;
    this.#seed = options.seed;
    const bound = 1 / Math.sqrt(options.inFeatures);
    this.#a = makeVariable(
      tf.randomUniform(
        [rank, options.inFeatures],
        -bound,
        bound,
        "float32",
        deriveSeed(options.seed, `${this.name}/A/0`),
      ),
      `${this.name}.lora_A`,
    );
    this.#b = makeVariable(tf.zeros([options.outFeatures, rank]), `${this.name}.lora_B`);
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
   * The adapter path `(x·Aᵀ)·(s·B)ᵀ`, dropout on `x` when training.
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
      return skinnyChain(xd, this.#a as tf.Tensor2D, this.#b.mul(this.scale) as tf.Tensor2D);
    });
  }

  /**
   * The vector-Jacobian product of {@link LoraAdapter.delta} by hand (selective recomputation):
   * the skinny chain's `dA`, `dQ` with `Q = s·B`, so `dB = s·dQ`. `undefined` while adapter
   * dropout is on.
   *
   * @param x The input `delta` saw, `[rows, in]`.
   * @param dy The update's gradient, `[rows, out]`.
   * @param training Whether `delta` ran in training mode.
   * @param wantInput Whether to return `∂x`.
   * @returns The gradients of `A` and `B` (and `x`), or `undefined`.
   */
  deltaBackward(
    x: tf.Tensor2D,
    dy: tf.Tensor2D,
    training: boolean,
    wantInput: boolean,
  ): AdapterGradients | undefined {
    if (training && this.dropout > 0) return undefined;
    assertInput(x, this.inFeatures, this.name);
    const g = tf.tidy(() => {
      const chain = skinnyChainBackward(
        x,
        this.#a as tf.Tensor2D,
        this.#b.mul(this.scale) as tf.Tensor2D,
        dy,
        wantInput,
      );
      return { ...chain, db: tf.mul(chain.dq, this.scale) as tf.Tensor2D };
    });
    g.dq.dispose();
    return {
      ...(g.dx === undefined ? {} : { input: g.dx }),
      variables: new Map<tf.Variable, tf.Tensor>([[this.#a, g.dp], [this.#b, g.db]]),
    };
  }

  /**
   * `ΔW = s·B·A` `[out, in]`.
   *
   * @returns A new tensor.
   */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.#b, this.#a).mul(this.scale));
  }

  /**
   * PEFT factors: `lora_A = A`, `lora_B = s·B`.
   *
   * @returns New tensors.
   */
  peftFactors(): { loraA: tf.Tensor2D; loraB: tf.Tensor2D } {
    return tf.tidy(() => ({
      loraA: this.#a.clone() as tf.Tensor2D,
      loraB: this.#b.mul(this.scale) as tf.Tensor2D,
    }));
  }

  /**
   * `A` and `B` for the orthogonality penalty.
   *
   * @returns The variables as tensors.
   */
  orthogonalityFactors(): { a: tf.Tensor2D; b: tf.Tensor2D } {
    return { a: this.#a as tf.Tensor2D, b: this.#b as tf.Tensor2D };
  }

  /**
   * Trainable variables `[A, B]`.
   *
   * @returns The variables.
   */
  trainableVariables(): tf.Variable[] {
    return [this.#a, this.#b];
  }

  /**
   * A single parameter block.
   *
   * @returns The block.
   */
  parameterBlocks(): ParameterBlock[] {
    return [{ key: `${this.name}.block0`, variables: [this.#a, this.#b] }];
  }

  /**
   * Reads the tensors.
   *
   * @returns The snapshot.
   */
  async snapshot(): Promise<AdapterSnapshot> {
    return {
      method: this.method,
      name: this.name,
      blockRanks: [this.rank],
      scalars: { dropoutCalls: this.#dropoutCalls },
      tensors: await readTensors({ lora_A: this.#a, lora_B: this.#b }),
    };
  }

  /**
   * Restores tensors of the same shapes.
   *
   * @param snapshot A LoRA snapshot of this module.
   */
  restore(snapshot: AdapterSnapshot): void {
    checkSnapshot(snapshot, this.method, this.name);
    assignFrom(snapshot, "lora_A", this.#a);
    assignFrom(snapshot, "lora_B", this.#b);
    this.#dropoutCalls = snapshot.scalars["dropoutCalls"] ?? 0;
  }

  /** Disposes the variables. */
  dispose(): void {
    this.#a.dispose();
    this.#b.dispose();
  }
}

/**
 * Re-imports exported PEFT factors as a plain LoRA adapter with `alpha = r` (scaling 1), so
 * `delta(x) = x·lora_Aᵀ·lora_Bᵀ`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { loraFromPeft } from "./lora.ts";
 *
 * const ad = loraFromPeft("ex.peft", tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
 * const y = ad.delta(tf.tensor2d([[1, 1]]), false);
 * assert.deepEqual(Array.from(await y.data()), [9, 12]);
 * ad.dispose();
 * ```
 *
 * @param name Module path.
 * @param loraA `[r, in]`.
 * @param loraB `[out, r]` with the scale folded in.
 * @returns A LoRA adapter holding copies of the factors.
 */
export function loraFromPeft(name: string, loraA: tf.Tensor2D, loraB: tf.Tensor2D): LoraAdapter {
  const [rank, inFeatures] = loraA.shape;
  const [outFeatures, rankB] = loraB.shape;
  if (rank !== rankB) {
    throw new TypeError(
      `Cannot import PEFT LoRA ${name} as lora_B must have ${rank} columns: current shape is [${loraB.shape}]`,
    );
  }
  const ad = new LoraAdapter({ name, inFeatures, outFeatures, seed: 0, rank, alpha: rank });
  const [a, b] = ad.trainableVariables() as [tf.Variable, tf.Variable];
  a.assign(loraA);
  b.assign(loraB);
  return ad;
}
