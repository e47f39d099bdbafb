/**
 * The built-in synthetic task (`--task planted`), needing no downloads: a frozen, seeded
 * DeBERTa-v3-shaped base built in memory; a teacher = the base plus a planted low-rank update
 * `ΔW_m = σ · U_m V_mᵀ` in every adapted matrix, with heterogeneous true ranks (many zero, a few
 * large, concentrated in the upper layers and in a few weight families); seeded random token
 * sequences as inputs. The student (base + adapters) learns to match the teacher's final hidden
 * states, or every layer's output with `target: "all-layers"` (MSE divided by the base model's
 * MSE, so it starts near 1). The metric is that relative
 * MSE on held-out sequences (lower is better); the evaluation also reports the
 * Spearman correlation between the allocated and the planted ranks.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type DebertaConfig, parseDebertaConfig } from "../../model/config.ts";
import { createDebertaModel, type DebertaModel } from "../../model/deberta_v3.ts";
import { DEFAULT_TARGET_MODULES, selectTargetModules } from "../../model/inject.ts";
import { randomDebertaWeights } from "../../model/random_weights.ts";
import type { RawTensor } from "../../model/safetensors.ts";
import { spearman } from "../metrics/correlation.ts";
import type { EvalContext, TaskEvaluation, TrainingTask } from "../loop.ts";
import { mulberry32 } from "../../model/_prng.ts";
import { ensureDefaultBackend } from "../../ops/_ready.ts";

/**
 * Sizes and seeds of the planted task.
 *
 * @example Only the seed is required
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PlantedTaskOptions } from "./planted_task.ts";
 * import { resolvePlantedOptions } from "./planted_task.ts";
 *
 * const options: PlantedTaskOptions = { seed: 7, layers: 2, target: "all-layers" };
 * const resolved = resolvePlantedOptions(options);
 * assert.deepEqual([resolved.layers, resolved.heads, resolved.target], [2, 4, "all-layers"]);
 * ```
 */
export interface PlantedTaskOptions {
  /** Seed of the base weights, the planted updates and the data. */
  readonly seed: number;
  /** Encoder layers (default 4). */
  readonly layers?: number;
  /** Hidden width (default 64). */
  readonly hidden?: number;
  /** Attention heads (default 4). */
  readonly heads?: number;
  /** Intermediate (FFN) width (default 128). */
  readonly intermediate?: number;
  /** Vocabulary size (default 256). */
  readonly vocab?: number;
  /** Tokens per sequence (default 32). */
  readonly seqLength?: number;
  /** Training sequences (default 512). */
  readonly trainExamples?: number;
  /** Held-out sequences (default 128). */
  readonly evalExamples?: number;
  /** Largest planted rank (default 8). */
  readonly maxRank?: number;
  /** Singular value of every planted direction (default 1). */
  readonly strength?: number;
  /**
   * What the student matches: `"last"` (default) the final hidden states, or `"all-layers"`
   * every encoder layer's output (localises the planted updates by layer).
   */
  readonly target?: "last" | "all-layers";
  /**
   * The student model's hidden and attention-probability dropout in training (default 0; a real
   * DeBERTa-v3 run uses 0.1 for both, so step benchmarks can match its cost).
   */
  readonly dropout?: number;
}

/**
 * The resolved sizes (every field set).
 *
 * @example The defaults
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ResolvedPlantedOptions } from "./planted_task.ts";
 * import { resolvePlantedOptions } from "./planted_task.ts";
 *
 * const r: ResolvedPlantedOptions = resolvePlantedOptions({ seed: 0 });
 * assert.deepEqual([r.layers, r.hidden, r.maxRank, r.strength, r.target], [4, 64, 8, 1, "last"]);
 * ```
 */
export type ResolvedPlantedOptions = Required<PlantedTaskOptions>;

/**
 * The planted rank of every adapted module.
 *
 * @example Ranks from the seeded pattern
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PlantedRanks } from "./planted_task.ts";
 * import { plantedRankPattern } from "./planted_task.ts";
 *
 * const modules = ["enc.layer.0.dense", "enc.layer.1.dense"];
 * const planted: PlantedRanks = { modules, ranks: plantedRankPattern(modules, 2, 4, 0) };
 * assert.equal(planted.ranks.length, planted.modules.length);
 * assert.ok(planted.ranks.every((r) => Number.isInteger(r) && r >= 0 && r <= 4));
 * ```
 */
export interface PlantedRanks {
  /** Module names in model order. */
  readonly modules: readonly string[];
  /** True rank of `ΔW_m`, same order. */
  readonly ranks: readonly number[];
}

function normals(n: number, next: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - next()));
    const phi = 2 * Math.PI * next();
    out[i] = r * Math.cos(phi);
    if (i + 1 < n) out[i + 1] = r * Math.sin(phi);
  }
  return out;
}

function checkInt(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Cannot build planted task as ${name} must be an integer >= ${min}: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Fills in the defaults of the planted task and validates every size.
 *
 * @param options Partial sizes and the seed.
 * @returns Every field set.
 * @throws {RangeError} When a size is not a positive integer or heads do not divide hidden.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolvePlantedOptions } from "./planted_task.ts";
 *
 * assert.equal(resolvePlantedOptions({ seed: 0 }).hidden, 64);
 * assert.throws(() => resolvePlantedOptions({ seed: 0, heads: 3 }), RangeError);
 * ```
 */
export function resolvePlantedOptions(options: PlantedTaskOptions): ResolvedPlantedOptions {
  const r: ResolvedPlantedOptions = {
    seed: options.seed,
    layers: options.layers ?? 4,
    hidden: options.hidden ?? 64,
    heads: options.heads ?? 4,
    intermediate: options.intermediate ?? 128,
    vocab: options.vocab ?? 256,
    seqLength: options.seqLength ?? 32,
    trainExamples: options.trainExamples ?? 512,
    evalExamples: options.evalExamples ?? 128,
    maxRank: options.maxRank ?? 8,
    strength: options.strength ?? 1,
    target: options.target ?? "last",
    dropout: options.dropout ?? 0,
  };
  if (!Number.isSafeInteger(r.seed)) {
    throw new RangeError(
      `Cannot build planted task as seed must be a safe integer: current value is ${r.seed}`,
    );
  }
  for (const key of ["layers", "hidden", "heads", "intermediate", "seqLength"] as const) {
    checkInt(key, r[key], 1);
  }
  checkInt("vocab", r.vocab, 4);
  checkInt("trainExamples", r.trainExamples, 1);
  checkInt("evalExamples", r.evalExamples, 1);
  checkInt("maxRank", r.maxRank, 1);
  if (r.hidden % r.heads !== 0) {
    throw new RangeError(
      `Cannot build planted task as heads must divide hidden: current values are ${r.heads} and ${r.hidden}`,
    );
  }
  if (!(Number.isFinite(r.dropout) && r.dropout >= 0 && r.dropout < 1)) {
    throw new RangeError(
      `Cannot build planted task as dropout must be in [0, 1): current value is ${r.dropout}`,
    );
  }
  if (r.target !== "last" && r.target !== "all-layers") {
    throw new RangeError(
      `Cannot build planted task as target must be "last" or "all-layers": current value is ${
        JSON.stringify(r.target)
      }`,
    );
  }
  if (!(Number.isFinite(r.strength) && r.strength > 0)) {
    throw new RangeError(
      `Cannot build planted task as strength must be finite and > 0: current value is ${r.strength}`,
    );
  }
  return Object.freeze(r);
}

/**
 * The DeBERTa-v3-shaped config of the planted base (relative attention, p2c|c2p, shared keys,
 * no absolute positions).
 *
 * @param options Resolved sizes.
 * @returns The config.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plantedConfig, resolvePlantedOptions } from "./planted_task.ts";
 *
 * const config = plantedConfig(resolvePlantedOptions({ seed: 0, layers: 2 }));
 * assert.equal(config.numHiddenLayers, 2);
 * assert.equal(config.relativeAttention, true);
 * ```
 */
export function plantedConfig(options: ResolvedPlantedOptions): DebertaConfig {
  return parseDebertaConfig({
    model_type: "deberta-v2",
    vocab_size: options.vocab,
    hidden_size: options.hidden,
    num_hidden_layers: options.layers,
    num_attention_heads: options.heads,
    intermediate_size: options.intermediate,
    max_position_embeddings: Math.max(64, options.seqLength),
    relative_attention: true,
    position_buckets: Math.max(4, Math.min(32, options.seqLength)),
    pos_att_type: "p2c|c2p",
    share_att_key: true,
    norm_rel_ebd: "layer_norm",
    position_biased_input: false,
    type_vocab_size: 0,
    num_labels: 2,
  }, "planted task");
}

/**
 * The planted rank of every module, seeded: two "hot" weight families (of six) and the upper half
 * of the layers carry most of the rank; most other matrices get rank 0.
 *
 * @param modules Adapted module names (`…layer.<i>.<family>`), model order.
 * @param layers Number of layers.
 * @param maxRank Largest rank.
 * @param seed Seed.
 * @returns Rank per module, same order.
 *
 * @example Heterogeneous and seeded
 * ```ts
 * import assert from "node:assert/strict";
 * import { plantedRankPattern } from "./planted_task.ts";
 *
 * const names = Array.from({ length: 24 }, (_, i) =>
 *   `deberta.encoder.layer.${Math.floor(i / 6)}.f${i % 6}`);
 * const ranks = plantedRankPattern(names, 4, 8, 0);
 * assert.deepEqual(ranks, plantedRankPattern(names, 4, 8, 0));
 * assert.ok(ranks.filter((r) => r === 0).length >= 8);
 * assert.ok(Math.max(...ranks) >= 4);
 * ```
 */
export function plantedRankPattern(
  modules: readonly string[],
  layers: number,
  maxRank: number,
  seed: number,
): number[] {
  const next = mulberry32(seed ^ 0x5eed);
  const families = [...new Set(modules.map(familyOf))];
  // Two hot families, chosen by the seed among those that act on the residual stream directly
  // (query/key only reshape near-uniform attention in a random base, so their updates barely
  // show in the outputs).
  const direct = families.filter((f) => !/query_proj|key_proj/.test(f));
  const pool = direct.length >= 2 ? direct : families;
  const order = pool.map((f) => ({ f, u: next() })).sort((a, b) => a.u - b.u);
  const hot = new Set(order.slice(0, Math.min(2, pool.length)).map((e) => e.f));
  return modules.map((name) => {
    const layer = layerOf(name);
    const depth = layers <= 1 ? 1 : layer / (layers - 1); // 0 bottom … 1 top
    const weight = (hot.has(familyOf(name)) ? 1 : 0.25) * (0.25 + 0.75 * depth);
    const u = next();
    const x = weight * (0.5 + u);
    if (x < 0.45) return 0;
    return Math.max(1, Math.min(maxRank, Math.round(maxRank * x * x)));
  });
}

function layerOf(name: string): number {
  const m = /layer\.(\d+)\./.exec(name);
  return m === null ? 0 : Number(m[1]);
}

function familyOf(name: string): string {
  return name.replace(/^.*layer\.\d+\./, "");
}

/**
 * The planted task: a {@linkcode TrainingTask} plus the planted ranks and its sizes.
 *
 * @example A tiny task's sizes and ranks
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PlantedTask } from "./planted_task.ts";
 * import { createPlantedTask } from "./planted_task.ts";
 *
 * const task: PlantedTask = await createPlantedTask({ seed: 2, layers: 1, hidden: 8, heads: 2,
 *   intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 2, evalExamples: 1 });
 * assert.equal(task.options.hidden, 8);
 * assert.equal(task.config.numHiddenLayers, 1);
 * assert.equal(task.planted.ranks.length, task.planted.modules.length);
 * task.dispose();
 * ```
 */
export interface PlantedTask extends TrainingTask {
  /** Resolved sizes. */
  readonly options: ResolvedPlantedOptions;
  /** The model config. */
  readonly config: DebertaConfig;
  /** The planted rank of every adapted module. */
  readonly planted: PlantedRanks;
}

function addPlanted(
  w: RawTensor,
  rank: number,
  strength: number,
  next: () => number,
): RawTensor {
  const [out, inn] = w.shape as [number, number];
  const data = new Float32Array(w.data);
  if (rank === 0) return { ...w, data };
  // Orthonormal-ish directions: Gram–Schmidt on Gaussian vectors.
  const orth = (dim: number): Float64Array[] => {
    const vs: Float64Array[] = [];
    while (vs.length < rank) {
      const v = normals(dim, next);
      for (const u of vs) {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += (v[i] as number) * (u[i] as number);
        for (let i = 0; i < dim; i++) v[i] = (v[i] as number) - dot * (u[i] as number);
      }
      let norm = 0;
      for (let i = 0; i < dim; i++) norm += (v[i] as number) ** 2;
      norm = Math.sqrt(norm);
      if (norm < 1e-6) continue;
      for (let i = 0; i < dim; i++) v[i] = (v[i] as number) / norm;
      vs.push(v);
    }
    return vs;
  };
  const us = orth(out);
  const vs = orth(inn);
  for (let k = 0; k < rank; k++) {
    const u = us[k] as Float64Array;
    const v = vs[k] as Float64Array;
    for (let i = 0; i < out; i++) {
      const ui = strength * (u[i] as number);
      for (let j = 0; j < inn; j++) {
        data[i * inn + j] = (data[i * inn + j] as number) + ui * (v[j] as number);
      }
    }
  }
  return { ...w, data };
}

function randomIds(
  count: number,
  seqLength: number,
  vocab: number,
  next: () => number,
): Int32Array {
  const ids = new Int32Array(count * seqLength);
  // Ids 0…3 are reserved (pad and specials), so tokens are drawn from 4…vocab-1.
  for (let i = 0; i < ids.length; i++) ids[i] = 4 + Math.floor(next() * (vocab - 4));
  return ids;
}

/**
 * Builds the planted task: base and teacher weights, planted ranks, seeded token sequences and the
 * teacher's final hidden states for every sequence (computed once).
 *
 * @param options Sizes and seed (see {@linkcode PlantedTaskOptions}).
 * @returns The task (dispose it when done).
 *
 * @example A tiny task
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPlantedTask } from "./planted_task.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 4, evalExamples: 2,
 * });
 * assert.equal(task.planted.modules.length, 6);
 * assert.equal(task.numTrainExamples, 4);
 * const model = task.buildModel(0);
 * const loss = task.loss(model, [0, 1], { training: false, seed: 0 });
 * assert.ok((await loss.data())[0]! >= 0);
 * loss.dispose();
 * model.dispose();
 * task.dispose();
 * ```
 */
export async function createPlantedTask(options: PlantedTaskOptions): Promise<PlantedTask> {
  const opts = resolvePlantedOptions(options);
  const config = plantedConfig(opts);
  const base = randomDebertaWeights(config, opts.seed, { head: "none" });
  const names = selectTargetModules(
    [...base.keys()].filter((k) => k.endsWith(".weight")).map((k) => k.slice(0, -7)),
    DEFAULT_TARGET_MODULES,
  ).filter((n) => n.includes(".encoder.layer."));
  const ranks = plantedRankPattern(names, opts.layers, opts.maxRank, opts.seed);
  const next = mulberry32((opts.seed * 2654435761) ^ 0x7ea);
  const teacherWeights = new Map(base);
  names.forEach((name, i) => {
    const key = `${name}.weight`;
    const w = base.get(key) as RawTensor;
    teacherWeights.set(key, addPlanted(w, ranks[i] as number, opts.strength, next));
  });
  const dataNext = mulberry32((opts.seed * 40503) ^ 0xda7a);
  const trainIds = randomIds(opts.trainExamples, opts.seqLength, opts.vocab, dataNext);
  const evalIds = randomIds(opts.evalExamples, opts.seqLength, opts.vocab, dataNext);
  const L = opts.seqLength;
  const H = opts.hidden;
  // Targets per sequence: the last hidden state only, or every encoder layer's output.
  const K = opts.target === "all-layers" ? opts.layers : 1;
  const S = K * L * H; // floats per sequence
  const statesOf = (
    o: { lastHiddenState: tf.Tensor3D; hiddenStates?: tf.Tensor3D[] },
  ): tf.Tensor => {
    if (K === 1) return o.lastHiddenState;
    return tf.stack((o.hiddenStates ?? []).slice(1), 1); // [n, K, L, H]
  };

  await ensureDefaultBackend();
  const teacher = createDebertaModel(config, teacherWeights, { head: "none" });
  const targetsOf = async (
    source: DebertaModel,
    ids: Int32Array,
    count: number,
  ): Promise<Float32Array> => {
    const out = new Float32Array(count * S);
    const chunk = 64;
    for (let s = 0; s < count; s += chunk) {
      const n = Math.min(chunk, count - s);
      const h = tf.tidy(() => {
        const input = tf.tensor2d(ids.subarray(s * L, (s + n) * L), [n, L], "int32");
        const o = source.forward({ inputIds: input }, { outputHiddenStates: K > 1 });
        tf.dispose(o.logits);
        return statesOf(o);
      });
      out.set(await h.data() as Float32Array, s * S);
      h.dispose();
    }
    return out;
  };
  let trainTargets: Float32Array;
  let evalTargets: Float32Array;
  try {
    trainTargets = await targetsOf(teacher, trainIds, opts.trainExamples);
    evalTargets = await targetsOf(teacher, evalIds, opts.evalExamples);
  } finally {
    teacher.dispose();
  }
  // The planted effect on the final hidden states is small next to the residual stream, so
  // every MSE is divided by the base model's MSE (base vs teacher, on the training set): the
  // loss starts near 1 and 0 means the planted updates were recovered.
  const baseline = await (async (): Promise<number> => {
    const baseModel = createDebertaModel(config, base, { head: "none" });
    try {
      const out = await targetsOf(baseModel, trainIds, opts.trainExamples);
      let sum = 0;
      for (let i = 0; i < out.length; i++) {
        sum += ((out[i] as number) - (trainTargets[i] as number)) ** 2;
      }
      return sum / out.length;
    } finally {
      baseModel.dispose();
    }
  })();
  if (!(baseline > 0)) {
    throw new RangeError(
      `Cannot build planted task as the planted updates must change the teacher: current base MSE is ${baseline}`,
    );
  }
  const gather = (
    ids: Int32Array,
    targets: Float32Array,
    indices: readonly number[],
  ): { input: tf.Tensor2D; target: tf.Tensor } => {
    const n = indices.length;
    const idBuf = new Int32Array(n * L);
    const tBuf = new Float32Array(n * S);
    indices.forEach((ex, row) => {
      idBuf.set(ids.subarray(ex * L, (ex + 1) * L), row * L);
      tBuf.set(targets.subarray(ex * S, (ex + 1) * S), row * S);
    });
    return {
      input: tf.tensor2d(idBuf, [n, L], "int32"),
      target: tf.tensor(tBuf, K === 1 ? [n, L, H] : [n, K, L, H]),
    };
  };
  const mse = (
    model: DebertaModel,
    input: tf.Tensor2D,
    target: tf.Tensor,
    training: boolean,
    seed: number,
  ): tf.Scalar =>
    tf.tidy(() => {
      const o = model.forward({ inputIds: input }, { training, seed, outputHiddenStates: K > 1 });
      tf.dispose(o.logits);
      return tf.mean(tf.squaredDifference(statesOf(o), target)).div(baseline) as tf.Scalar;
    });

  const task: PlantedTask = {
    name: "planted",
    metricName: "heldout_mse",
    metricHigherIsBetter: false,
    numTrainExamples: opts.trainExamples,
    options: opts,
    config,
    planted: Object.freeze({ modules: Object.freeze(names), ranks: Object.freeze(ranks) }),
    buildModel(seed: number): DebertaModel {
      return createDebertaModel(config, base, {
        head: "none",
        seed,
        hiddenDropout: opts.dropout,
        attentionDropout: opts.dropout,
      });
    },
    loss(model, indices, lossOptions): tf.Scalar {
      return tf.tidy(() => {
        const { input, target } = gather(trainIds, trainTargets, indices);
        return mse(model, input, target, lossOptions.training, lossOptions.seed);
      });
    },
    async evaluate(model: DebertaModel, context: EvalContext): Promise<TaskEvaluation> {
      const chunk = 64;
      let sum = 0;
      for (let s = 0; s < opts.evalExamples; s += chunk) {
        const indices = Array.from(
          { length: Math.min(chunk, opts.evalExamples - s) },
          (_, i) => s + i,
        );
        const l = tf.tidy(() => {
          const { input, target } = gather(evalIds, evalTargets, indices);
          return mse(model, input, target, false, 0).mul(indices.length);
        });
        sum += (await l.data())[0] as number;
        l.dispose();
      }
      const value = sum / opts.evalExamples; // relative to the base model's MSE
      const allocated = names.map((n) => context.ranks.get(n) ?? 0);
      const constant = allocated.every((r) => r === allocated[0]);
      const rho = constant ? 0 : spearman(ranks, allocated);
      return {
        metric: "heldout_mse",
        value,
        all: { heldout_mse: value, heldout_mse_abs: value * baseline, rank_spearman: rho },
      };
    },
    describe(): Record<string, unknown> {
      return {
        task: "planted",
        ...opts,
        modules: names.length,
        baselineMse: baseline,
        plantedRanks: Object.fromEntries(names.map((n, i) => [n, ranks[i]])),
      };
    },
    dispose(): void {},
  };
  return task;
}
