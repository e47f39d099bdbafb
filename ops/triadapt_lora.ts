/**
 * TriAdaptLoRA: `h = W0·x + b + s(r)·B·(L + U)·A·x` with triangular `L`, `U` that grow by blocks
 * (docs/METHOD.md §2, §3).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type {
  Adapter,
  AdapterGradients,
  AdapterSnapshot,
  EntryRegion,
  ParameterBlock,
  TensorData,
} from "./adapter.ts";
import {
  adapterDropout,
  alphaAndDropout,
  assertAdapterShape,
  assertInput,
  assertPositive,
  assertPositiveInt,
  deriveSeed,
  makeVariable,
  recordGrowth,
  regionShape,
} from "./_internal.ts";
import { requireBackend } from "./_ready.ts";
import { checkSnapshot, readTensors, snapshotData } from "./_snapshot.ts";
import { product, skinnyChain, skinnyChainBackward } from "./_skinny.ts";

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

/** Variable name suffixes of `A`, `B`, `L`, `U`: `<module>.lora_A` etc. */
const FACTOR_NAMES = ["lora_A", "lora_B", "lora_L", "lora_U"] as const;

/** Lower and upper `size×size` triangle masks (0/1), diagonal in both. */
interface Triangles {
  readonly lower: tf.Tensor2D;
  readonly upper: tf.Tensor2D;
}

/** The forward's masks at the current rank: the triangles, and the triangles times `s(r)`. */
interface Masks extends Triangles {
  readonly lowerScaled: tf.Tensor2D;
  readonly upperScaled: tf.Tensor2D;
}

/**
 * A TriAdaptLoRA adapter. Each factor is one variable (`A [r,n]`, `B [d,r]`, `L [r,r]`,
 * `U [r,r]`): a growth replaces it by a larger variable of the same name whose old entries sit at
 * the same rows and columns, so the forward is the same few ops whatever the number of growths.
 * The blocks of the method (one per init/growth: `A` rows, `B` columns, `L_down`/`L_aug`,
 * `U_up`/`U_aug`) are regions of those variables (`parameterBlocks()`), and the optimizer keeps a
 * step counter and learning rate per block. The forward pass is the skinny chain
 * `(x·Aᵀ)·(B·D_s)ᵀ` with `D_s = s(r)·(L + U)` (the triangle masks carry `s(r)`); the `d×n` update
 * is only formed by `deltaWeight()`.
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
 * assert.equal(ad.trainableVariables().length, 4);
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
  #blockRanks: number[] = [];
  #a: tf.Variable | null = null; // [r, n]
  #b: tf.Variable | null = null; // [d, r]
  #l: tf.Variable | null = null; // [r, r], lower incl. diagonal
  #u: tf.Variable | null = null; // [r, r], upper incl. diagonal
  #scaleFactor = 1;
  #dropoutCalls = 0;
  #masks: Masks | null = null;

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
    this.#refreshMasks();
  }

  /** Current rank `r` (sum of block ranks). */
  get rank(): number {
    return this.#blockRanks.reduce((sum, r) => sum + r, 0);
  }

  /** Rank of each block in creation order. */
  get blockRanks(): number[] {
    return [...this.#blockRanks];
  }

  /** Current scale `s(r) = alpha/(r + 1e-5)` (times the preserving-growth factor, 1 by default). */
  get scale(): number {
    return this.#scaleFactor * this.alpha / (this.rank + TRIADAPT_SCALE_EPS);
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
   * Sets the dropout call counter, so a resumed run draws the same masks.
   *
   * @param calls Number of training-mode `delta` calls made so far.
   */
  setDropoutStep(calls: number): void {
    assertPositiveInt("dropout step + 1", calls + 1);
    this.#dropoutCalls = calls;
  }

  /** The four variables (present from construction to `dispose()`). */
  #vars(): { a: tf.Variable; b: tf.Variable; l: tf.Variable; u: tf.Variable } {
    if (this.#a === null || this.#b === null || this.#l === null || this.#u === null) {
      throw new Error(`Cannot use adapter ${this.name} as it must not be disposed`);
    }
    return { a: this.#a, b: this.#b, l: this.#l, u: this.#u };
  }

  /** New `size×size` triangle masks in the caller's scope. */
  static #triangles(size: number): Triangles {
    return tf.tidy(() => {
      const ones = tf.ones([size, size]) as tf.Tensor2D;
      return { lower: tf.linalg.bandPart(ones, -1, 0), upper: tf.linalg.bandPart(ones, 0, -1) };
    });
  }

  /**
   * Rebuilds the forward's masks for the current rank and scale (after init, growth and restore
   * only, so the tensor count changes only then). Kept: an adapter may be built or grown inside a
   * caller's `tf.tidy`.
   */
  #refreshMasks(): void {
    const s = this.scale;
    const made = tf.tidy(() => {
      const t = TriAdaptLoraAdapter.#triangles(this.rank);
      return [t.lower, t.upper, t.lower.mul(s), t.upper.mul(s)] as tf.Tensor2D[];
    });
    const [lower, upper, lowerScaled, upperScaled] = made.map((t) => tf.keep(t)) as [
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor2D,
    ];
    this.#disposeMasks();
    this.#masks = { lower, upper, lowerScaled, upperScaled };
  }

  #disposeMasks(): void {
    const m = this.#masks;
    if (m !== null) tf.dispose([m.lower, m.upper, m.lowerScaled, m.upperScaled]);
    this.#masks = null;
  }

  #maskSet(): Masks {
    if (this.#masks === null) throw new Error(`Cannot use adapter ${this.name} as it is disposed`);
    return this.#masks;
  }

  /**
   * Appends a block of `rank` ranks: the new entries are drawn block by block, each from its own
   * seeded stream (`<name>/<piece>/<block>`), and the four variables are replaced by larger ones
   * of the same names holding the old entries at the same rows and columns.
   */
  #addBlock(rank: number, isInit: boolean, preserving: boolean): void {
    const k = this.#blockRanks.length;
    const offset = this.rank;
    const n = this.inFeatures;
    const d = this.outFeatures;
    const std = this.#initStd;
    const seedOf = (p: string): number => deriveSeed(this.#seed, `${this.name}/${p}/${k}`);
    const normal = (shape: [number, number], p: string): tf.Tensor2D =>
      tf.randomNormal(shape, 0, std, "float32", seedOf(p));
    const values = tf.tidy(() => {
      const tri = TriAdaptLoraAdapter.#triangles(rank);
      const aNew = normal([rank, n], "A");
      const bNew = isInit || preserving ? tf.zeros([d, rank]) : normal([d, rank], "B");
      const lAug = normal([rank, rank], "L_aug").mul(tri.lower) as tf.Tensor2D;
      const uAug = normal([rank, rank], "U_aug").mul(tri.upper) as tf.Tensor2D;
      if (offset === 0) return [aNew, bNew, lAug, uAug];
      const old = this.#vars();
      const lDown = normal([rank, offset], "L_down");
      const uUp = preserving ? tf.zeros([offset, rank]) : normal([offset, rank], "U_up");
      return [
        tf.concat([old.a, aNew], 0),
        tf.concat([old.b, bNew], 1),
        tf.concat([
          tf.pad(old.l, [[0, 0], [0, rank]]),
          tf.concat([lDown, lAug], 1),
        ], 0),
        tf.concat([
          tf.concat([old.u, uUp], 1),
          tf.pad(uAug, [[0, 0], [offset, 0]]),
        ], 0),
      ];
    }) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    // Kept: an adapter may be built or grown inside a caller's `tf.tidy`.
    for (const t of values) tf.keep(t);
    const previous = [this.#a, this.#b, this.#l, this.#u];
    // The old variables go first, so the grown ones take their names.
    const names = previous.map((v, i) => v?.name ?? `${this.name}.${FACTOR_NAMES[i]}`);
    for (const v of previous) v?.dispose();
    const make = (i: number): tf.Variable => makeVariable(values[i]!, names[i]!);
    this.#a = make(0);
    this.#b = make(1);
    this.#l = make(2);
    this.#u = make(3);
    const next = [this.#a, this.#b, this.#l, this.#u];
    previous.forEach((v, i) => v !== null && recordGrowth(next[i]!, v));
    this.#blockRanks.push(rank);
  }

  /**
   * Appends `deltaRank` ranks (docs/METHOD.md §3, eqs. 6–9): `A` gains rows, `B` columns, `L` a dense
   * bottom block and a lower-triangular corner, `U` a dense right block and an upper-triangular
   * corner. Old entries keep their values, rows and columns; the variables are replaced by larger
   * ones of the same names (register the returned block, or `syncBlocks`, with the optimizer:
   * it moves the old entries' moments along).
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
    this.#refreshMasks();
    return this.parameterBlocks()[this.#blockRanks.length - 1] as ParameterBlock;
  }

  /**
   * The full factors: `A [r,n]`, `B [d,r]`, `L [r,r]` (lower), `U [r,r]` (upper). Call inside
   * `tf.tidy` or dispose them.
   *
   * @returns New tensors.
   */
  factors(): { a: tf.Tensor2D; b: tf.Tensor2D; l: tf.Tensor2D; u: tf.Tensor2D } {
    const { a, b, l, u } = this.#vars();
    const m = this.#maskSet();
    return tf.tidy(() => ({
      a: a.clone() as tf.Tensor2D,
      b: b.clone() as tf.Tensor2D,
      l: l.mul(m.lower) as tf.Tensor2D,
      u: u.mul(m.upper) as tf.Tensor2D,
    }));
  }

  /**
   * The adapter path `s(r)·((x·Aᵀ)·Dᵀ)·Bᵀ`, evaluated as `(x·Aᵀ)·(B·D_s)ᵀ` with
   * `D_s = L⊙(s·lower) + U⊙(s·upper)`; dropout on `x` when training. A constant number of ops
   * whatever the number of growths.
   *
   * @param x Input `[rows, in]`.
   * @param training Apply dropout.
   * @returns `[rows, out]`.
   */
  delta(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    assertInput(x, this.inFeatures, this.name);
    const seed = `${this.#seed}/${this.name}/dropout/${this.#dropoutCalls}`;
    if (training && this.dropout > 0) this.#dropoutCalls++;
    const { a, b, l, u } = this.#vars();
    const m = this.#maskSet();
    return tf.tidy(() => {
      const xd = adapterDropout(x, this.dropout, training, seed);
      const ds = l.mul(m.lowerScaled).add(u.mul(m.upperScaled));
      // (x·Aᵀ)·(B·D_s)ᵀ: the r×r factor is folded into the small d×r side, d×n never formed.
      return skinnyChain(xd, a as tf.Tensor2D, tf.matMul(b, ds) as tf.Tensor2D);
    });
  }

  /**
   * The vector-Jacobian product of {@link TriAdaptLoraAdapter.delta} by hand (selective
   * recomputation, docs/METHOD.md §22): with `D_s` and `Q = B·D_s` as in `delta`, `dA` and `dQ`
   * from the skinny chain, `dB = dQ·D_sᵀ`, `dD_s = Bᵀ·dQ`, `dL = dD_s ⊙ (s·lower)` and
   * `dU = dD_s ⊙ (s·upper)`. `undefined` while adapter dropout is on (the caller differentiates
   * `delta` then).
   *
   * @param x The input `delta` saw, `[rows, in]`.
   * @param dy The update's gradient, `[rows, out]`.
   * @param training Whether `delta` ran in training mode.
   * @param wantInput Whether to return `∂x`.
   * @returns The gradients of `A`, `B`, `L`, `U` (and `x`), or `undefined`.
   */
  deltaBackward(
    x: tf.Tensor2D,
    dy: tf.Tensor2D,
    training: boolean,
    wantInput: boolean,
  ): AdapterGradients | undefined {
    if (training && this.dropout > 0) return undefined;
    assertInput(x, this.inFeatures, this.name);
    const { a, b, l, u } = this.#vars();
    const m = this.#maskSet();
    const g = tf.tidy(() => {
      const ds = l.mul(m.lowerScaled).add(u.mul(m.upperScaled)) as tf.Tensor2D;
      const chain = skinnyChainBackward(x, a as tf.Tensor2D, tf.matMul(b, ds), dy, wantInput);
      const dds = product(b as tf.Tensor2D, chain.dq, true, false);
      return {
        ...chain,
        db: product(chain.dq, ds, false, true),
        dl: tf.mul(dds, m.lowerScaled),
        du: tf.mul(dds, m.upperScaled),
      };
    });
    g.dq.dispose();
    return {
      ...(g.dx === undefined ? {} : { input: g.dx }),
      variables: new Map<tf.Variable, tf.Tensor>([[a, g.dp], [b, g.db], [l, g.dl], [u, g.du]]),
    };
  }

  /**
   * `‖L + U‖_F` as a scalar tensor (use `frobeniusNormsOfD` to read many at once).
   *
   * @returns A scalar owned by the caller.
   */
  normOfD(): tf.Scalar {
    const { l, u } = this.#vars();
    const m = this.#maskSet();
    return tf.tidy(() => tf.norm(l.mul(m.lower).add(u.mul(m.upper))) as tf.Scalar);
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
   * @returns The variables as tensors (not to be disposed).
   */
  orthogonalityFactors(): { a: tf.Tensor2D; b: tf.Tensor2D } {
    const { a, b } = this.#vars();
    return { a: a as tf.Tensor2D, b: b as tf.Tensor2D };
  }

  /**
   * Trainable variables `[A, B, L, U]`.
   *
   * @returns The variables.
   */
  trainableVariables(): tf.Variable[] {
    const { a, b, l, u } = this.#vars();
    return [a, b, l, u];
  }

  /**
   * One parameter block per init/growth: block `k` (offset `o`, rank `r_k`) owns rows
   * `o..o+r_k` of `A`, those columns of `B`, `L_down` and `L_aug` (its rows of `L`) and `U_up` and
   * `U_aug` (its columns of `U`), as regions, in that order.
   *
   * @returns The blocks.
   */
  parameterBlocks(): ParameterBlock[] {
    const vars = this.#vars();
    return blockPieces(this.#blockRanks, this.inFeatures, this.outFeatures).map((pieces, k) => ({
      key: `${this.name}.block${k}`,
      variables: pieces.map((p) => vars[p.of]),
      regions: pieces.map((p) => p.region),
    }));
  }

  /**
   * Reads every tensor to plain data, one tensor per block piece (`lora_A.<k>`, `lora_B.<k>`,
   * `lora_L_down.<k>`, `lora_L_aug.<k>`, `lora_U_up.<k>`, `lora_U_aug.<k>`).
   *
   * @returns The snapshot.
   */
  async snapshot(): Promise<AdapterSnapshot> {
    const { a, b, l, u } = this.#vars();
    const whole = await readTensors({ a, b, l, u });
    const tensors: Record<string, TensorData> = {};
    blockPieces(this.#blockRanks, this.inFeatures, this.outFeatures).forEach((pieces, k) => {
      for (const p of pieces) tensors[`${p.name}.${k}`] = cutRegion(whole[p.of]!, p.region);
    });
    return {
      method: this.method,
      name: this.name,
      blockRanks: this.blockRanks,
      scalars: { scaleFactor: this.#scaleFactor, dropoutCalls: this.#dropoutCalls },
      tensors,
    };
  }

  /**
   * Restores a snapshot, growing first to its block ranks. Every tensor is checked (present,
   * shape, and values outside the triangle of `L_aug`/`U_aug` must be 0) before anything is
   * written.
   *
   * @param snapshot A TriAdaptLoRA snapshot of this module.
   */
  restore(snapshot: AdapterSnapshot): void {
    checkSnapshot(snapshot, this.method, this.name);
    const mine = this.#blockRanks;
    const theirs = snapshot.blockRanks;
    const prefixOk = mine.length <= theirs.length && mine.every((r, i) => r === theirs[i]);
    if (!prefixOk) {
      throw new TypeError(
        `Cannot restore adapter ${this.name} as snapshot block ranks must extend [${mine}]: current value is [${theirs}]`,
      );
    }
    const total = theirs.reduce((s, r) => s + r, 0);
    const shapes = {
      a: [total, this.inFeatures],
      b: [this.outFeatures, total],
      l: [total, total],
      u: [total, total],
    } as const;
    const whole = {
      a: new Float32Array(total * this.inFeatures),
      b: new Float32Array(this.outFeatures * total),
      l: new Float32Array(total * total),
      u: new Float32Array(total * total),
    };
    blockPieces(theirs, this.inFeatures, this.outFeatures).forEach((pieces, k) => {
      const r = theirs[k]!;
      for (const { name, of, region } of pieces) {
        const key = `${name}.${k}`;
        const data = snapshotData(snapshot, key, regionShape(region));
        if (name === "lora_L_aug" || name === "lora_U_aug") {
          const lower = name === "lora_L_aug";
          const bad = data.some((v, e) =>
            v !== 0 && (lower ? e % r > Math.floor(e / r) : e % r < Math.floor(e / r))
          );
          if (bad) {
            throw new TypeError(
              `Cannot restore adapter ${this.name} as L_aug and U_aug must be triangular: current values of ${key} are nonzero outside the triangle`,
            );
          }
        }
        pasteRegion(whole[of], shapes[of][1], region, data);
      }
    });
    // Everything checked: grow to the snapshot's blocks, then write.
    for (let k = mine.length; k < theirs.length; k++) {
      this.#addBlock(theirs[k] as number, false, false);
    }
    const { a, b, l, u } = this.#vars();
    tf.tidy(() => {
      a.assign(tf.tensor2d(whole.a, [...shapes.a]));
      b.assign(tf.tensor2d(whole.b, [...shapes.b]));
      l.assign(tf.tensor2d(whole.l, [...shapes.l]));
      u.assign(tf.tensor2d(whole.u, [...shapes.u]));
    });
    this.#scaleFactor = snapshot.scalars["scaleFactor"] ?? 1;
    this.#dropoutCalls = snapshot.scalars["dropoutCalls"] ?? 0;
    this.#refreshMasks();
  }

  /** Disposes every variable and mask. */
  dispose(): void {
    for (const v of [this.#a, this.#b, this.#l, this.#u]) v?.dispose();
    this.#a =
      this.#b =
      this.#l =
      this.#u =
        null;
    this.#disposeMasks();
  }
}

/** One piece of a growth block: its snapshot name, the factor it lives in, its rectangle there. */
interface BlockPiece {
  readonly name: "lora_A" | "lora_B" | "lora_L_down" | "lora_L_aug" | "lora_U_up" | "lora_U_aug";
  readonly of: "a" | "b" | "l" | "u";
  readonly region: EntryRegion;
}

/**
 * The pieces of every growth block, in block order: block `k` at offset `o` with rank `r` owns
 * rows `o..o+r` of `A [r_total, n]`, those columns of `B [d, r_total]`, `L_down` (its rows,
 * columns `0..o`) and `L_aug` of `L`, and `U_up` (rows `0..o`, its columns) and `U_aug` of `U`;
 * block 0 has no `L_down` or `U_up`.
 */
function blockPieces(blockRanks: readonly number[], n: number, d: number): BlockPiece[][] {
  let o = 0;
  return blockRanks.map((r) => {
    const rows = [o, o + r] as const;
    const pieces: BlockPiece[] = [
      { name: "lora_A", of: "a", region: { rows, cols: [0, n] } },
      { name: "lora_B", of: "b", region: { rows: [0, d], cols: rows } },
    ];
    if (o > 0) pieces.push({ name: "lora_L_down", of: "l", region: { rows, cols: [0, o] } });
    pieces.push({ name: "lora_L_aug", of: "l", region: { rows, cols: rows } });
    if (o > 0) pieces.push({ name: "lora_U_up", of: "u", region: { rows: [0, o], cols: rows } });
    pieces.push({ name: "lora_U_aug", of: "u", region: { rows, cols: rows } });
    o += r;
    return pieces;
  });
}

/** The values of a rectangle of a row-major 2-D tensor. */
function cutRegion(t: TensorData, region: EntryRegion): TensorData {
  const width = t.shape[1]!;
  const [r0, r1] = region.rows, [c0, c1] = region.cols;
  const w = c1 - c0;
  const data = new Float32Array((r1 - r0) * w);
  for (let i = r0; i < r1; i++) {
    data.set(t.data.subarray(i * width + c0, i * width + c1), (i - r0) * w);
  }
  return { shape: [r1 - r0, w], data };
}

/** Writes a rectangle's row-major values into a row-major 2-D array of `width` columns. */
function pasteRegion(
  target: Float32Array,
  width: number,
  region: EntryRegion,
  data: Float32Array,
): void {
  const [r0, r1] = region.rows, [c0, c1] = region.cols;
  const w = c1 - c0;
  for (let i = r0; i < r1; i++) {
    target.set(data.subarray((i - r0) * w, (i - r0 + 1) * w), i * width + c0);
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
