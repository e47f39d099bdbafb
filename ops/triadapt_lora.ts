/**
 * TriAdaptLoRA: `h = W0·x + b + s(r)·B·(L + U)·A·x` with triangular `L`, `U` that grow by blocks
 * (docs/METHOD.md §2, §3).
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
  makeVariable,
} from "./_internal.ts";
import { requireBackend } from "./_ready.ts";
import { assignFrom, checkSnapshot, readTensors } from "./_snapshot.ts";
import { skinnyChain } from "./_skinny.ts";

/**
 * The `eps` of `s(r) = alpha / (r + eps)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRIADAPT_SCALE_EPS } from "./triadapt_lora.ts";
 *
 * assert.equal(TRIADAPT_SCALE_EPS, 1e-5);
 * ```
 */
export const TRIADAPT_SCALE_EPS = 1e-5;

/**
 * How new entries are initialised at growth (docs/METHOD.md §3).
 *
 * @example `"preserving"` keeps the scale, `"paper"` shrinks it
 * ```ts
 * import type { GrowthInit } from "./triadapt_lora.ts";
 * import { TriAdaptLoraAdapter } from "./triadapt_lora.ts";
 * import assert from "node:assert/strict";
 *
 * const init: GrowthInit = "preserving";
 * const ad = new TriAdaptLoraAdapter({ name: "ex.gi", inFeatures: 3, outFeatures: 2, seed: 1, growthInit: init });
 * const before = ad.scale;
 * ad.grow(2);
 * assert.ok(Math.abs(ad.scale - before) < 1e-9);
 * ad.grow(1, "paper");
 * assert.ok(ad.scale < before);
 * ad.dispose();
 * ```
 */
export type GrowthInit = "paper" | "preserving";

/**
 * Options of a TriAdaptLoRA adapter.
 *
 * @example Rank and scale `s(r) = alpha/(r + 1e-5)` from the options
 * ```ts
 * import type { TriAdaptLoraOptions } from "./triadapt_lora.ts";
 * import { TriAdaptLoraAdapter } from "./triadapt_lora.ts";
 * import assert from "node:assert/strict";
 *
 * const options: TriAdaptLoraOptions = { name: "ex.triopt", inFeatures: 3, outFeatures: 2, seed: 1, alpha: 8, initialRank: 2 };
 * const ad = new TriAdaptLoraAdapter(options);
 * assert.equal(ad.rank, 2);
 * assert.ok(Math.abs(ad.scale - 8 / (2 + 1e-5)) < 1e-12);
 * ad.dispose();
 * ```
 */
export interface TriAdaptLoraOptions {
  /** Module path; variables are named `<name>.lora_A.<block>` etc. */
  readonly name: string;
  /** Input features `n`. */
  readonly inFeatures: number;
  /** Output features `d`. */
  readonly outFeatures: number;
  /** Seed of every random init (and of dropout). */
  readonly seed: number;
  /** `alpha` of `s(r) = alpha/(r + 1e-5)`; default 32. */
  readonly alpha?: number;
  /** Initial rank; default 1. */
  readonly initialRank?: number;
  /** Dropout on the adapter input; default 0. */
  readonly dropout?: number;
  /** Growth init; default `"paper"`. */
  readonly growthInit?: GrowthInit;
  /** Standard deviation of the normal init; default 0.02. */
  readonly initStd?: number;
}

interface TriBlock {
  readonly rank: number;
  readonly offset: number;
  readonly a: tf.Variable; // [rank, n]
  readonly b: tf.Variable; // [d, rank]
  readonly lDown: tf.Variable | null; // [rank, offset]
  readonly lAug: tf.Variable; // [rank, rank] lower incl. diagonal
  readonly uUp: tf.Variable | null; // [offset, rank]
  readonly uAug: tf.Variable; // [rank, rank] upper incl. diagonal
}

/**
 * A TriAdaptLoRA adapter. Parameters are kept per growth block (one block per `grow` call),
 * so old entries stay the very same variables after growth and the optimizer can keep
 * per-block state. The forward pass is the skinny chain `(x·Aᵀ)·(s·B·D)ᵀ` (`D = L + U` and
 * `s(r)` folded into the `d×r` side); the `d×n` update is only formed by `deltaWeight()`.
 *
 * @example Identity at init, growth keeps old entries
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { TriAdaptLoraAdapter } from "./triadapt_lora.ts";
 *
 * const ad = new TriAdaptLoraAdapter({ name: "ex.tri", inFeatures: 3, outFeatures: 2, seed: 1 });
 * const y = ad.delta(tf.ones([4, 3]), false);
 * assert.deepEqual(Array.from(await y.data()), new Array(8).fill(0)); // B = 0
 * ad.grow(2);
 * assert.equal(ad.rank, 3);
 * y.dispose();
 * ad.dispose();
 * ```
 */
export class TriAdaptLoraAdapter implements Adapter {
  /** Method name. */
  readonly method = "triadaptlora" as const;
  /** Module path. */
  readonly name: string;
  /** Input features `n`. */
  readonly inFeatures: number;
  /** Output features `d`. */
  readonly outFeatures: number;
  /** `alpha` of the scale. */
  readonly alpha: number;
  /** Dropout rate on the adapter input. */
  readonly dropout: number;
  /** Growth init mode. */
  readonly growthInit: GrowthInit;
  #seed: number;
  #initStd: number;
  #blocks: TriBlock[] = [];
  #scaleFactor = 1;
  #dropoutCalls = 0;
  #masks = new Map<number, { lower: tf.Tensor2D; upper: tf.Tensor2D }>();

  /**
   * Creates the adapter at its initial rank: `A, L, U ~ N(0, std²)` (triangles masked), `B = 0`.
   *
   * @param options Adapter options.
   */
  constructor(options: TriAdaptLoraOptions) {
    assertAdapterShape(options);
    requireBackend(`create adapter ${options.name}`);
    const { alpha, dropout } = alphaAndDropout(options);
    const initialRank = options.initialRank ?? 1;
    assertPositiveInt("initialRank", initialRank);
    const initStd = options.initStd ?? 0.02;
    assertPositive("initStd", initStd);
    const growthInit = options.growthInit ?? "paper";
    if (growthInit !== "paper" && growthInit !== "preserving") {
      throw new TypeError(
        `Cannot create adapter as growthInit must be "paper" or "preserving": current value is ${growthInit}`,
      );
    }
    this.name = options.name;
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.alpha = alpha;
    this.dropout = dropout;
    this.growthInit = growthInit;
    this.#seed = options.seed;
    this.#initStd = initStd;
    this.#addBlock(initialRank, true, false);
  }

  /** Current rank `r` (sum of block ranks). */
  get rank(): number {
    return this.#blocks.reduce((sum, b) => sum + b.rank, 0);
  }

  /** Rank of each block in creation order. */
  get blockRanks(): number[] {
    return this.#blocks.map((b) => b.rank);
  }

  /** Current scale `s(r) = alpha/(r + 1e-5)` (times the preserving-growth factor, 1 by default). */
  get scale(): number {
    return this.#scaleFactor * this.alpha / (this.rank + TRIADAPT_SCALE_EPS);
  }

  /**
   * Sets the dropout call counter, so a resumed run draws the same masks.
   *
   * @param calls Number of training-mode `delta` calls made so far.
   */
  setDropoutStep(calls: number): void {
    assertPositiveInt("dropout step + 1", calls + 1);
    this.#dropoutCalls = calls;
  }

  /**
   * The `size×size` lower and upper triangle masks (0/1). Only the current rank's pair is kept
   * (replaced at growth, so a growth adds no mask tensor); other sizes are made in the caller's
   * scope.
   */
  #mask(size: number): { lower: tf.Tensor2D; upper: tf.Tensor2D } {
    const cached = this.#masks.get(size);
    if (cached !== undefined) return cached;
    return tf.tidy(() => {
      const ones = tf.ones([size, size]) as tf.Tensor2D;
      return {
        lower: tf.linalg.bandPart(ones, -1, 0),
        upper: tf.linalg.bandPart(ones, 0, -1),
      };
    });
  }

  #cacheMask(size: number): void {
    if (this.#masks.has(size)) return;
    const made = this.#mask(size);
    // Kept: an adapter may be built or grown inside a caller's `tf.tidy`.
    const m = { lower: tf.keep(made.lower), upper: tf.keep(made.upper) };
    for (const old of this.#masks.values()) tf.dispose([old.lower, old.upper]);
    this.#masks.clear();
    this.#masks.set(size, m);
  }

  #addBlock(rank: number, isInit: boolean, preserving: boolean): void {
    const k = this.#blocks.length;
    const offset = this.rank;
    const n = this.inFeatures;
    const d = this.outFeatures;
    const std = this.#initStd;
    const seedOf = (p: string): number => deriveSeed(this.#seed, `${this.name}/${p}/${k}`);
    const normal = (shape: [number, number], p: string): tf.Tensor2D =>
      tf.randomNormal(shape, 0, std, "float32", seedOf(p));
    const base = this.name;
    const block: TriBlock = {
      rank,
      offset,
      a: makeVariable(normal([rank, n], "A"), `${base}.lora_A.${k}`),
      b: makeVariable(
        isInit || preserving ? tf.zeros([d, rank]) : normal([d, rank], "B"),
        `${base}.lora_B.${k}`,
      ),
      lDown: offset > 0
        ? makeVariable(normal([rank, offset], "L_down"), `${base}.lora_L_down.${k}`)
        : null,
      lAug: makeVariable(
        tf.tidy(() => normal([rank, rank], "L_aug").mul(this.#mask(rank).lower)),
        `${base}.lora_L_aug.${k}`,
      ),
      uUp: offset > 0
        ? makeVariable(
          preserving ? tf.zeros([offset, rank]) : normal([offset, rank], "U_up"),
          `${base}.lora_U_up.${k}`,
        )
        : null,
      uAug: makeVariable(
        tf.tidy(() => normal([rank, rank], "U_aug").mul(this.#mask(rank).upper)),
        `${base}.lora_U_aug.${k}`,
      ),
    };
    this.#blocks.push(block);
    // The r×r triangle masks of `factors()`, made now so tensors only change at growth.
    this.#cacheMask(this.rank);
  }

  /**
   * Appends `deltaRank` ranks (docs/METHOD.md §3, eqs. 6–9): `A` gains rows, `B` columns, `L` a dense
   * bottom block and a lower-triangular corner, `U` a dense right block and an upper-triangular
   * corner. Old entries are untouched (they are the same variables).
   * `"paper"`: every new entry ~ N(0, std²), new `B` columns included, so the function changes and
   * `s(r)` shrinks. `"preserving"` [ours]: new `B` columns and `U_up` start at 0 and the scale is
   * frozen at its pre-growth value (a factor `(r'+eps)/(r+eps)`), so the output is unchanged.
   *
   * @param deltaRank Number of ranks to add (≥ 1).
   * @param growthInit Override of the adapter's growth init for this call.
   * @returns The new parameter block (register it with the optimizer).
   */
  grow(deltaRank: number, growthInit: GrowthInit = this.growthInit): ParameterBlock {
    assertPositiveInt("deltaRank", deltaRank);
    const before = this.rank;
    const preserving = growthInit === "preserving";
    this.#addBlock(deltaRank, false, preserving);
    if (preserving) {
      this.#scaleFactor *= (before + deltaRank + TRIADAPT_SCALE_EPS) /
        (before + TRIADAPT_SCALE_EPS);
    }
    return this.parameterBlocks()[this.#blocks.length - 1] as ParameterBlock;
  }

  /**
   * The full factors: `A [r,n]`, `B [d,r]`, `L [r,r]` (lower), `U [r,r]` (upper). Call inside
   * `tf.tidy` or dispose them.
   *
   * @returns New tensors.
   */
  factors(): { a: tf.Tensor2D; b: tf.Tensor2D; l: tf.Tensor2D; u: tf.Tensor2D } {
    return tf.tidy(() => {
      const { a, b } = this.#ab();
      const r = this.rank;
      const blocks = this.#blocks;
      // Row block k of L is [L_down | L_aug | 0] and column block k of U is [U_up; U_aug; 0]; the
      // triangles come from one mask product on the assembled r×r matrix (the same values and
      // gradients as masking each corner, with fewer kernels per growth block).
      const lRows = blocks.map((blk) => {
        const aug = blk.lAug as tf.Tensor2D;
        const row = blk.lDown === null ? aug : tf.concat([blk.lDown as tf.Tensor2D, aug], 1);
        const right = r - blk.offset - blk.rank;
        return right > 0 ? tf.pad(row, [[0, 0], [0, right]]) : row;
      });
      const uCols = blocks.map((blk) => {
        const aug = blk.uAug as tf.Tensor2D;
        const col = blk.uUp === null ? aug : tf.concat([blk.uUp as tf.Tensor2D, aug], 0);
        const below = r - blk.offset - blk.rank;
        return below > 0 ? tf.pad(col, [[0, below], [0, 0]]) : col;
      });
      const mask = this.#mask(r);
      const l = (lRows.length === 1 ? lRows[0]! : tf.concat(lRows, 0)).mul(
        mask.lower,
      ) as tf.Tensor2D;
      const u = (uCols.length === 1 ? uCols[0]! : tf.concat(uCols, 1)).mul(
        mask.upper,
      ) as tf.Tensor2D;
      return { a, b, l, u };
    });
  }

  /** `A` and `B` alone (the orthogonality penalty needs no `L`, `U`). */
  #ab(): { a: tf.Tensor2D; b: tf.Tensor2D } {
    // `tf.concat` of one tensor is a copy: callers own (and may dispose) what they get.
    const blocks = this.#blocks;
    return {
      a: tf.concat(blocks.map((blk) => blk.a), 0) as tf.Tensor2D,
      b: tf.concat(blocks.map((blk) => blk.b), 1) as tf.Tensor2D,
    };
  }

  /**
   * The adapter path `s(r)·((x·Aᵀ)·Dᵀ)·Bᵀ`, evaluated as `(x·Aᵀ)·(s·B·D)ᵀ`; dropout on `x`
   * when training.
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
      const { a, b, l, u } = this.factors();
      const xd = adapterDropout(x, this.dropout, training, seed);
      // (x·Aᵀ)·(B·D·s)ᵀ: the r×r factor is folded into the small d×r side, d×n never formed.
      return skinnyChain(xd, a, tf.matMul(b, l.add(u)).mul(this.scale) as tf.Tensor2D);
    });
  }

  /**
   * `‖L + U‖_F` as a scalar tensor (use `frobeniusNormsOfD` to read many at once).
   *
   * @returns A scalar owned by the caller.
   */
  normOfD(): tf.Scalar {
    return tf.tidy(() => {
      const { l, u } = this.factors();
      return tf.norm(l.add(u)) as tf.Scalar;
    });
  }

  /**
   * `ΔW = s(r)·B·(L+U)·A` `[out, in]`, for merging and export only.
   *
   * @returns A new tensor.
   */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => {
      const { a, b, l, u } = this.factors();
      return tf.matMul(tf.matMul(b, l.add(u)), a).mul(this.scale) as tf.Tensor2D;
    });
  }

  /**
   * PEFT factors (docs/METHOD.md §14): `lora_A = A`, `lora_B = B·D·s(r)`.
   *
   * @returns New tensors.
   */
  peftFactors(): { loraA: tf.Tensor2D; loraB: tf.Tensor2D } {
    return tf.tidy(() => {
      const { a, b, l, u } = this.factors();
      return { loraA: a, loraB: tf.matMul(b, l.add(u)).mul(this.scale) as tf.Tensor2D };
    });
  }

  /**
   * `A` and `B` for the orthogonality penalty.
   *
   * @returns Tensors in the caller's scope.
   */
  orthogonalityFactors(): { a: tf.Tensor2D; b: tf.Tensor2D } {
    return tf.tidy(() => {
      return this.#ab();
    });
  }

  /**
   * Trainable variables (all blocks).
   *
   * @returns The variables.
   */
  trainableVariables(): tf.Variable[] {
    return this.parameterBlocks().flatMap((b) => [...b.variables]);
  }

  /**
   * One parameter block per init/growth.
   *
   * @returns The blocks.
   */
  parameterBlocks(): ParameterBlock[] {
    return this.#blocks.map((blk, k) => ({
      key: `${this.name}.block${k}`,
      variables: [blk.a, blk.b, blk.lDown, blk.lAug, blk.uUp, blk.uAug].filter(
        (v): v is tf.Variable => v !== null,
      ),
    }));
  }

  #named(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    this.#blocks.forEach((blk, k) => {
      out[`lora_A.${k}`] = blk.a;
      out[`lora_B.${k}`] = blk.b;
      if (blk.lDown !== null) out[`lora_L_down.${k}`] = blk.lDown;
      out[`lora_L_aug.${k}`] = blk.lAug;
      if (blk.uUp !== null) out[`lora_U_up.${k}`] = blk.uUp;
      out[`lora_U_aug.${k}`] = blk.uAug;
    });
    return out;
  }

  /**
   * Reads every tensor to plain data.
   *
   * @returns The snapshot.
   */
  async snapshot(): Promise<AdapterSnapshot> {
    return {
      method: this.method,
      name: this.name,
      blockRanks: this.blockRanks,
      scalars: { scaleFactor: this.#scaleFactor, dropoutCalls: this.#dropoutCalls },
      tensors: await readTensors(this.#named()),
    };
  }

  /**
   * Restores a snapshot, growing first to its block ranks. Triangles are checked: values outside
   * the triangle must be 0.
   *
   * @param snapshot A TriAdaptLoRA snapshot of this module.
   */
  restore(snapshot: AdapterSnapshot): void {
    checkSnapshot(snapshot, this.method, this.name);
    const mine = this.blockRanks;
    const theirs = snapshot.blockRanks;
    const prefixOk = mine.length <= theirs.length && mine.every((r, i) => r === theirs[i]);
    if (!prefixOk) {
      throw new TypeError(
        `Cannot restore adapter ${this.name} as snapshot block ranks must extend [${mine}]: current value is [${theirs}]`,
      );
    }
    for (let k = mine.length; k < theirs.length; k++) {
      this.#addBlock(theirs[k] as number, false, false);
    }
    for (const [key, v] of Object.entries(this.#named())) assignFrom(snapshot, key, v);
    for (const blk of this.#blocks) {
      const off = tf.tidy(() => {
        const m = this.#mask(blk.rank);
        return tf.abs(blk.lAug.mul(tf.sub(1, m.lower))).sum().add(
          tf.abs(blk.uAug.mul(tf.sub(1, m.upper))).sum(),
        );
      });
      const bad = off.dataSync()[0] !== 0;
      off.dispose();
      if (bad) {
        throw new TypeError(
          `Cannot restore adapter ${this.name} as L_aug and U_aug must be triangular: current values are nonzero outside the triangle`,
        );
      }
    }
    this.#scaleFactor = snapshot.scalars["scaleFactor"] ?? 1;
    this.#dropoutCalls = snapshot.scalars["dropoutCalls"] ?? 0;
  }

  /** Disposes every variable and mask. */
  dispose(): void {
    for (const v of Object.values(this.#named())) v.dispose();
    for (const m of this.#masks.values()) {
      m.lower.dispose();
      m.upper.dispose();
    }
    this.#blocks = [];
    this.#masks.clear();
  }
}

/**
 * `‖D_m‖_F` for many modules at once, read with a single `await data()`; plain numbers for `core/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { frobeniusNormsOfD, TriAdaptLoraAdapter } from "./triadapt_lora.ts";
 *
 * const ad = new TriAdaptLoraAdapter({ name: "ex.norm", inFeatures: 4, outFeatures: 4, seed: 3 });
 * const [norm] = await frobeniusNormsOfD([ad]);
 * assert.ok(norm !== undefined && norm > 0 && norm < 0.2); // r = 1: |L11 + U11|
 * ad.dispose();
 * ```
 *
 * @param adapters TriAdaptLoRA adapters, in module order.
 * @returns `‖L + U‖_F` per adapter, same order.
 */
export async function frobeniusNormsOfD(
  adapters: readonly TriAdaptLoraAdapter[],
): Promise<number[]> {
  if (adapters.length === 0) return [];
  const stacked = tf.tidy(() => tf.stack(adapters.map((a) => a.normOfD())));
  const values = await stacked.data();
  stacked.dispose();
  return Array.from(values);
}
