/**
 * Step time and memory (issue part 3): one training step (forward + `tf.variableGrads` +
 * `GrowingAdamW.step`) of a randomly initialised DeBERTa-v3 encoder with a classification head,
 * batch 8 × 128 tokens, for: the frozen model alone (gradients w.r.t. the head only), + LoRA
 * r = 8, + TriAdaptLoRA at the same total rank (grown 1 → 5 → 8, three blocks), + AdaLoRA
 * (r_init = 12, the paper's setting for a target of 8), + IncreLoRA (grown 1 → 5 → 8, score
 * tracking on). Adapters sit on the paper's six families of every layer. Ratios are to the LoRA
 * row of the same run; tensor count and bytes are read after warm-up and after the timed steps
 * (50 steps on the small shape) and must be flat; the peak bytes of one profiled step are shown.
 *
 * Shapes: small (2 × 128) and base widths with 1 layer: inside `tf.variableGrads` tfjs keeps every
 * saved activation (about 1.2 GB per layer at batch 8 × 128), so no step of the 12-layer base
 * shape fits the 4 GB wasm heap. A backend comparison (wasm, cpu, tensorflow if
 * installed) runs on the small shape (quick: a tiny one).
 *
 * Standalone: `deno run -A bench/step_bench.ts [--quick]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { benchDebertaConfig, benchTokenIds, type EncoderShape } from "./_bench_model.ts";
import { createDebertaModel, type DebertaModel } from "../model/deberta_v3.ts";
import { injectAdapters } from "../model/inject.ts";
import { randomDebertaWeights } from "../model/random_weights.ts";
import {
  AdaLoraAdapter,
  type Adapter,
  type BackendName,
  createAdapter,
  describeAdapter,
  GrowingAdamW,
  IncreLoraAdapter,
  initBackend,
  orthogonalityPenalty,
} from "../ops/mod.ts";
import type { TriAdaptLoraAdapter } from "../ops/triadapt_lora.ts";
import { createLoraController } from "../train/controllers/lora.ts";
import { defaultHyperParams } from "../train/hyperparams.ts";
import { Trainer } from "../train/loop.ts";
import { profilePeakBytes } from "../train/profile_peak.ts";
import { createPlantedTask } from "../train/planted/planted_task.ts";
import { buildAdapters } from "../train/run.ts";
import { createWorkerPool, type WorkerPool } from "../train/worker_pool.ts";
import {
  type BenchContext,
  type BenchSectionResult,
  formatMiB,
  formatTiming,
  markdownTable,
  type MemorySnapshot,
  memorySnapshot,
  type RepeatOptions,
  summarise,
  timeAsync,
  type Timing,
} from "./_harness.ts";

export type { EncoderShape };

/** The small encoder: 2 layers, hidden 128, 4 heads, FFN 512 (M = 12), batch 8 × 128. */
export const SMALL_SHAPE: EncoderShape = Object.freeze({
  label: "small 2×128",
  layers: 2,
  hidden: 128,
  heads: 4,
  intermediate: 512,
  vocab: 1000,
  batch: 8,
  seq: 128,
});

/**
 * DeBERTa-v3-base shape: 12 layers, hidden 768, 12 heads, FFN 3072 (M = 72), batch 8 × 128.
 * The vocabulary is cut to 1000 rows: the embeddings are frozen and only gathered, so their size
 * changes memory (393 MB at 128100 rows, which the 4 GB wasm heap cannot spare), not step time.
 */
export const BASE_SHAPE: EncoderShape = Object.freeze({
  label: "base 12×768",
  layers: 12,
  hidden: 768,
  heads: 12,
  intermediate: 3072,
  vocab: 1000,
  batch: 8,
  seq: 128,
});

/**
 * DeBERTa-v3-base widths (hidden 768, 12 heads, FFN 3072; vocabulary 1000) with 1 of the 12
 * layers (M = 6): on wasm a training step with gradients through the encoder peaks at about
 * 1.2 GB per layer at batch 8 × 128, so 12 layers do not fit the 4 GB wasm heap, and in a long
 * run (fragmented heap) even 2 layers abort.
 */
export const BASE_WIDTH_SHAPE: EncoderShape = Object.freeze({
  ...BASE_SHAPE,
  label: "base-width 1×768",
  layers: 1,
});

/** A tiny encoder for the quick backend comparison: 2 layers, hidden 64, batch 2 × 32. */
const TINY_SHAPE: EncoderShape = Object.freeze({
  label: "tiny 2×64",
  layers: 2,
  hidden: 64,
  heads: 4,
  intermediate: 256,
  vocab: 1000,
  batch: 2,
  seq: 32,
});

/** What a step adds on top of the frozen encoder. */
export type StepMethod = "frozen" | "lora" | "triadaptlora" | "adalora" | "increlora";

/** The rows of the step table, in order. */
export const STEP_METHODS: readonly StepMethod[] = Object.freeze([
  "frozen",
  "lora",
  "triadaptlora",
  "adalora",
  "increlora",
]);

/** Weight of the orthogonality penalty in the adaptive methods' loss (docs/METHOD.md §9). */
const ORTH_WEIGHT = 0.1;

/** A model with its fixed batch, reused by every method row. */
export interface BenchModel {
  /** The encoder. */
  readonly model: DebertaModel;
  /** The shape it was built with. */
  readonly shape: EncoderShape;
  /** `[batch, seq]` int32 ids. */
  readonly inputIds: tf.Tensor2D;
  /** `[batch, seq]` int32 ones. */
  readonly attentionMask: tf.Tensor2D;
  /** `[batch, 2]` one-hot labels. */
  readonly labels: tf.Tensor2D;
  /** Seconds spent building it. */
  readonly buildSeconds: number;
  /** Disposes the model and the batch. */
  dispose(): void;
}

/**
 * Builds a seeded random DeBERTa-v3 encoder of the given shape (classification head, 2 labels,
 * 256 position buckets, p2c|c2p, shared attention key) and a fixed batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createBenchModel } from "./step_bench.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend("wasm");
 *
 * const m = createBenchModel({ label: "t", layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 20, batch: 2, seq: 4 });
 * assert.equal(m.model.adaptableModules().length, 6);
 * assert.deepEqual(m.inputIds.shape, [2, 4]);
 * m.dispose();
 * ```
 *
 * @param shape Encoder shape and batch.
 * @returns The model and its batch; call `dispose()`.
 */
export function createBenchModel(shape: EncoderShape): BenchModel {
  const start = performance.now();
  const config = benchDebertaConfig(shape, `bench shape ${shape.label}`);
  const model = createDebertaModel(config, randomDebertaWeights(config, 1));
  const ids = benchTokenIds(shape);
  const inputIds = tf.tensor2d(ids, [shape.batch, shape.seq], "int32");
  const attentionMask = tf.ones([shape.batch, shape.seq], "int32") as tf.Tensor2D;
  const labels = tf.oneHot(
    tf.tensor1d(ids.map((_, b) => b % 2), "int32"),
    2,
  ).toFloat() as tf.Tensor2D;
  return {
    model,
    shape,
    inputIds,
    attentionMask,
    labels,
    buildSeconds: (performance.now() - start) / 1000,
    dispose(): void {
      model.dispose();
      tf.dispose([inputIds, attentionMask, labels]);
    },
  };
}

/** One method attached to a {@link BenchModel}, ready to step. */
export interface MethodRig {
  /** The method. */
  readonly method: StepMethod;
  /** The attached adapters (empty for `"frozen"`). */
  readonly adapters: readonly Adapter[];
  /** Trainable variables of the step (head + adapters). */
  readonly variables: readonly tf.Variable[];
  /** Puts this rig's adapters on the model (several rigs can share one model and take turns). */
  activate(): void;
  /**
   * One training step; resolves after the loss and an updated head variable were read.
   *
   * @returns The loss.
   */
  step(): Promise<number>;
  /** Detaches and disposes the adapters and the optimizer state. */
  dispose(): void;
}

function buildAdapter(
  method: Exclude<StepMethod, "frozen">,
  name: string,
  inFeatures: number,
  outFeatures: number,
): Adapter {
  const common = { name: `bench.${name}`, inFeatures, outFeatures, seed: 1 };
  switch (method) {
    case "lora":
      return createAdapter("lora", { ...common, rank: 8 });
    case "triadaptlora":
      return createAdapter("triadaptlora", common);
    case "adalora":
      return createAdapter("adalora", { ...common, initialRank: 12 });
    case "increlora":
      return createAdapter("increlora", common);
  }
}

/**
 * Attaches a method to the model (adapters on the six default families of every layer; the
 * growing methods are grown 1 → 5 → 8) and returns its training step: forward in training mode,
 * softmax cross-entropy (+ 0.1 × orthogonality penalty for TriAdaptLoRA, AdaLoRA, IncreLoRA),
 * `tf.variableGrads` over head + adapter variables, AdaLoRA's sensitivity update / IncreLoRA's
 * score update, one `GrowingAdamW` step (lr 1e-3).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachMethod, createBenchModel } from "./step_bench.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend("wasm");
 *
 * const m = createBenchModel({ label: "t", layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 20, batch: 2, seq: 4 });
 * const rig = attachMethod(m, "triadaptlora");
 * assert.equal(rig.adapters.length, 6);
 * assert.ok(rig.adapters.every((a) => a.rank === 8));
 * assert.ok(Number.isFinite(await rig.step()));
 * rig.dispose();
 * m.dispose();
 * ```
 *
 * @param bench The model and batch.
 * @param method The row to build.
 * @returns The rig (its adapters are active on return); `activate()` switches back to it after
 * another rig was attached; `dispose()` detaches every adapter from the model.
 */
export function attachMethod(bench: BenchModel, method: StepMethod): MethodRig {
  const { model } = bench;
  const attached = method === "frozen" ? new Map<string, Adapter>() : injectAdapters(
    model,
    (m) => buildAdapter(method, m.name, m.inFeatures, m.outFeatures),
  );
  const adapters: Adapter[] = [...attached.values()];
  for (const ad of adapters) {
    if (ad.method === "triadaptlora" || ad.method === "increlora") {
      const grower = ad as Adapter & { grow(deltaRank: number): unknown };
      grower.grow(4);
      grower.grow(3);
    }
  }
  const head = model.trainableVariables();
  const optimizer = new GrowingAdamW();
  optimizer.addBlock({ key: "head", variables: head });
  optimizer.syncBlocks(adapters.flatMap((a) => a.parameterBlocks()));
  const variables = [...head, ...adapters.flatMap((a) => a.trainableVariables())];
  const orth = method === "frozen" || method === "lora" ? 0 : ORTH_WEIGHT;
  const probe = head[head.length - 1]!;
  return {
    method,
    adapters,
    variables,
    activate(): void {
      for (const m of model.adaptableModules()) model.setAdapter(m.name, attached.get(m.name));
    },
    async step(): Promise<number> {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const out = model.forward(
              { inputIds: bench.inputIds, attentionMask: bench.attentionMask },
              { training: true },
            );
            const ce = tf.losses.softmaxCrossEntropy(bench.labels, out.logits) as tf.Scalar;
            return (orth === 0
              ? ce
              : ce.add(orthogonalityPenalty(adapters).mul(orth))) as tf.Scalar;
          }),
        variables as tf.Variable[],
      );
      for (const ad of adapters) {
        if (ad instanceof AdaLoraAdapter) ad.updateSensitivity(grads);
        else if (ad instanceof IncreLoraAdapter) ad.updateImportance();
      }
      optimizer.step(grads, 1e-3);
      const loss = (await value.data())[0]!;
      await probe.data();
      tf.dispose([value, grads]);
      return loss;
    },
    dispose(): void {
      for (const m of model.adaptableModules()) model.setAdapter(m.name, undefined);
      for (const ad of adapters) ad.dispose();
      optimizer.dispose();
    },
  };
}

/**
 * One row of the trainer-path table (issue 12): the real `Trainer` step on the planted task at a
 * shape, in-process or across gradient workers, with or without micro-batches and recompute.
 */
export interface TrainerRowSpec {
  /** Row label. */
  readonly label: string;
  /** Adapter method (TriAdaptLoRA is grown 1 → 5 → 8 like the step table's row). */
  readonly method: "lora" | "triadapt";
  /** Examples per micro-batch (absent: whole batch, or one share per worker). */
  readonly microBatch?: number;
  /**
   * Gradient workers: 0 computes in-process; N ≥ 1 starts a pool of N (each its own wasm heap;
   * a row that runs out of memory there fails alone and is reported).
   */
  readonly workers: number;
  /**
   * Activation recompute in the encoder: applied through the model's `setRecompute(mode)` where
   * the model has it (issue 12 point 1; `"selective"`: docs/METHOD.md §22); absent: the model's
   * default. Rows report `n/a` when asked for recompute on a model without it.
   */
  readonly recompute?: boolean | "selective";
}

/** Model dropout of the trainer rows: DeBERTa-v3's `hidden_dropout_prob` and attention dropout. */
const TRAINER_DROPOUT = 0.1;

/** A measured trainer-path row. */
export interface TrainerRow {
  /** The spec. */
  readonly spec: TrainerRowSpec;
  /** Step timing (ms; `Trainer.runStep`, clock stopped when the step's loss was read). */
  readonly timing: Timing;
  /** Recompute as applied: `on`, `selective`, `off`, `default`, or `n/a` (asked, model lacks it). */
  readonly recompute: "on" | "selective" | "off" | "default" | "n/a";
  /** Main thread's tensor count unchanged over the timed steps. */
  readonly mainFlat: boolean;
  /** Every worker's tensor count unchanged over the timed steps (true without workers). */
  readonly workersFlat: boolean;
  /** Peak tensor bytes of one profiled step per heap: main first, then each worker. */
  readonly peakBytes: readonly number[];
  /** wasm heap size per heap after the row (its high-water mark; -1 on other backends). */
  readonly heapBytes: readonly number[];
  /** Why the row failed (e.g. a worker ran out of memory); timing is empty then. */
  readonly error?: string;
}

function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length ?? -1;
}

/**
 * Measures trainer-path rows on one shape: the planted task (random base weights, MSE to a
 * planted teacher; 32 position buckets where the v3 config has 256) through `Trainer.runStep`,
 * so micro-batches and workers run exactly as in training. Each row builds its own model,
 * adapters and worker pool, and disposes them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { measureTrainerSteps } from "./step_bench.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend("wasm");
 *
 * const shape = { label: "t", layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 20, batch: 4, seq: 4 };
 * const rows = await measureTrainerSteps(shape, [
 *   { label: "in-process", method: "lora", workers: 0 },
 *   { label: "micro 2", method: "triadapt", workers: 0, microBatch: 2 },
 *   { label: "1 worker", method: "lora", workers: 1 },
 * ], { warmup: 1, repeats: 2, memorySteps: 3 });
 * assert.equal(rows.length, 3);
 * assert.ok(rows.every((r) => r.mainFlat && r.workersFlat));
 * // one peak per heap: the main thread's, then each worker's
 * assert.deepEqual(rows.map((r) => r.peakBytes.length), [1, 1, 2]);
 * ```
 *
 * @param shape Encoder shape and batch.
 * @param specs Rows to run.
 * @param plan Warm-up and timed steps (`memorySteps` is not used: flatness is read over the
 *   timed steps).
 * @param log Progress sink.
 * @returns The rows.
 */
export async function measureTrainerSteps(
  shape: EncoderShape,
  specs: readonly TrainerRowSpec[],
  plan: StepPlan,
  log: (message: string) => void = () => {},
): Promise<TrainerRow[]> {
  const task = await createPlantedTask({
    seed: 1,
    layers: shape.layers,
    hidden: shape.hidden,
    heads: shape.heads,
    intermediate: shape.intermediate,
    vocab: shape.vocab,
    seqLength: shape.seq,
    trainExamples: shape.batch,
    evalExamples: 1,
    maxRank: 8,
    strength: 1,
    // DeBERTa-v3's own hidden and attention-probability dropout, as in a real GLUE step.
    dropout: TRAINER_DROPOUT,
  });
  const rows: TrainerRow[] = [];
  try {
    for (const spec of specs) {
      log(`step: ${shape.label} trainer row ${spec.label}`);
      const hyper = {
        ...defaultHyperParams(),
        batchSize: shape.batch,
        refRank: 8,
        initRank: 1,
        dropout: 0,
        warmupSteps: 0,
        orthRegWeight: spec.method === "lora" ? 0 : ORTH_WEIGHT,
      };
      const model = task.buildModel(1);
      const withRecompute = model as DebertaModel & {
        setRecompute?: (mode: boolean | "selective") => void;
      };
      let recompute: TrainerRow["recompute"] = "default";
      if (spec.recompute !== undefined) {
        if (withRecompute.setRecompute === undefined) recompute = "n/a";
        else {
          withRecompute.setRecompute(spec.recompute);
          recompute = spec.recompute === "selective" ? "selective" : spec.recompute ? "on" : "off";
        }
      }
      const adapters = buildAdapters(model, spec.method, hyper, 1);
      if (spec.method === "triadapt") {
        for (const a of adapters as TriAdaptLoraAdapter[]) {
          a.grow(4);
          a.grow(3);
        }
      }
      let pool: WorkerPool | undefined;
      let trainer: Trainer | undefined;
      try {
        if (spec.workers >= 1) {
          pool = await createWorkerPool({
            backend: tf.getBackend() as BackendName,
            taskInfo: task.describe(),
            method: spec.method,
            hyper,
            seed: 1,
            orthRegWeight: hyper.orthRegWeight,
            ...(spec.recompute === undefined ? {} : { recompute: spec.recompute }),
          }, spec.workers);
        }
        trainer = new Trainer({
          task,
          model,
          adapters,
          controller: createLoraController(adapters),
          hyper,
          totalSteps: 1_000_000,
          seed: 1,
          ...(spec.microBatch === undefined ? {} : { microBatch: spec.microBatch }),
          ...(pool === undefined ? {} : { gradients: pool }),
        });
        for (let i = 0; i < plan.warmup; i++) await trainer.runStep();
        const mainBefore = tf.memory().numTensors;
        const workersBefore = [...(pool?.workerTensors ?? [])];
        const times: number[] = [];
        for (let i = 0; i < plan.repeats; i++) {
          const t0 = performance.now();
          await trainer.runStep();
          times.push(performance.now() - t0);
        }
        const mainFlat = tf.memory().numTensors === mainBefore;
        const workersFlat = (pool?.workerTensors ?? []).every((n, w) => n === workersBefore[w]);
        pool?.profileNextStep();
        const t = trainer;
        const peak = await profilePeakBytes(() => t.runStep());
        rows.push({
          spec,
          timing: summarise(times),
          recompute,
          mainFlat,
          workersFlat,
          peakBytes: [peak, ...(pool?.workerMemory ?? []).map((m) => m.peakBytes)],
          heapBytes: [wasmHeapBytes(), ...(pool?.workerMemory ?? []).map((m) => m.heapBytes)],
        });
      } catch (error) {
        if (spec.workers === 0) throw error; // the main heap may be broken: stop
        const message = (error as Error).message.split("\n")[0] ?? String(error);
        log(`step: ${spec.label} failed: ${message}`);
        rows.push({
          spec,
          timing: { median: NaN, min: NaN, max: NaN, samples: [] },
          recompute,
          mainFlat: true,
          workersFlat: true,
          peakBytes: [],
          heapBytes: [],
          error: message,
        });
      } finally {
        await pool?.dispose();
        if (trainer !== undefined) trainer.dispose();
        else {
          for (const a of adapters) a.dispose();
          model.dispose();
        }
      }
    }
  } finally {
    task.dispose();
  }
  return rows;
}

/**
 * The issue-12 rows on a shape: LoRA and TriAdaptLoRA (grown to r = 8) with 1 and 2 gradient
 * workers, with micro-batches, and with recompute (rows say `n/a` where the model lacks it); with
 * `recompute`, the whole-batch rows again with selective recompute.
 * `inProcess` adds in-process rows (small shapes; at the base shape a step that runs out of
 * memory aborts the process, so there every row runs in workers, whose heaps fail alone).
 *
 * @param shape The shape (its batch sizes the micro-batches).
 * @param options `recompute`: ask for it; `inProcess`: add in-process rows.
 * @returns Row specs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BASE_SHAPE, trainerRowSpecs } from "./step_bench.ts";
 *
 * const specs = trainerRowSpecs(BASE_SHAPE, { recompute: true, inProcess: false });
 * assert.ok(specs.every((s) => s.workers >= 1));
 * assert.ok(specs.some((s) => s.workers === 2) && specs.some((s) => s.microBatch === 1));
 * ```
 */
export function trainerRowSpecs(
  shape: EncoderShape,
  options: { readonly recompute: boolean; readonly inProcess: boolean },
): TrainerRowSpec[] {
  const half = Math.max(1, Math.floor(shape.batch / 2));
  const rc = { recompute: options.recompute };
  const inProcess: TrainerRowSpec[] = options.inProcess
    ? [
      { label: "LoRA r=8, in-process", method: "lora", workers: 0, ...rc },
      { label: "TriAdaptLoRA r=8, in-process", method: "triadapt", workers: 0, ...rc },
      {
        label: "TriAdaptLoRA r=8, in-process, micro-batch 1",
        method: "triadapt",
        workers: 0,
        microBatch: 1,
        ...rc,
      },
    ]
    : [];
  return [
    ...inProcess,
    {
      label: "LoRA r=8, 1 worker, micro-batch 1",
      method: "lora",
      workers: 1,
      microBatch: 1,
      ...rc,
    },
    {
      label: "TriAdaptLoRA r=8, 1 worker, micro-batch 1",
      method: "triadapt",
      workers: 1,
      microBatch: 1,
      ...rc,
    },
    {
      label: "TriAdaptLoRA r=8, 2 workers, micro-batch 1",
      method: "triadapt",
      workers: 2,
      microBatch: 1,
      ...rc,
    },
    {
      label: `TriAdaptLoRA r=8, 1 worker, whole batch ${shape.batch}`,
      method: "triadapt",
      workers: 1,
      ...rc,
    },
    {
      label: `TriAdaptLoRA r=8, 2 workers, ${half} example${half === 1 ? "" : "s"} each`,
      method: "triadapt",
      workers: 2,
      ...rc,
    },
    ...(options.recompute
      ? ([
        {
          label: `TriAdaptLoRA r=8, 1 worker, whole batch ${shape.batch}, selective`,
          method: "triadapt",
          workers: 1,
          recompute: "selective",
        },
        {
          label: `LoRA r=8, 2 workers, ${half} example${half === 1 ? "" : "s"} each, selective`,
          method: "lora",
          workers: 2,
          recompute: "selective",
        },
        {
          label: `TriAdaptLoRA r=8, 2 workers, ${half} example${
            half === 1 ? "" : "s"
          } each, selective`,
          method: "triadapt",
          workers: 2,
          recompute: "selective",
        },
      ] as const)
      : []),
  ];
}

function trainerTable(rows: readonly TrainerRow[]): string {
  const lora = rows.find((r) => r.spec.method === "lora" && r.error === undefined)?.timing.median;
  return markdownTable(
    [
      "row",
      "recompute",
      "median ms (min–max)",
      "× first LoRA row",
      "tensors flat (main / workers)",
      "peak MiB per heap (main, workers…)",
      "wasm heap MiB (main, workers…)",
    ],
    rows.map((r) =>
      r.error !== undefined
        ? [r.spec.label, r.recompute, `failed: ${r.error}`, "–", "–", "–", "–"]
        : [
          r.spec.label,
          r.recompute,
          formatTiming(r.timing),
          lora === undefined ? "–" : (r.timing.median / lora).toFixed(2),
          `${r.mainFlat ? "yes" : "**no**"} / ${
            r.spec.workers >= 1 ? (r.workersFlat ? "yes" : "**no**") : "–"
          }`,
          r.peakBytes.map(formatMiB).join(", "),
          r.heapBytes.map((b) => (b < 0 ? "–" : formatMiB(b))).join(", "),
        ]
    ),
  );
}

/** One row of the step table. */
export interface StepRow {
  /** Method. */
  readonly method: StepMethod;
  /** Step timing (ms). */
  readonly timing: Timing;
  /** Median relative to the LoRA row (`null` when LoRA did not run). */
  readonly ratioToLora: number | null;
  /** Trainable parameters (head + adapters). */
  readonly trainableParams: number;
  /** Tensors and bytes this row holds (adapters, optimizer and score state) after its warm-up. */
  readonly afterWarmup: MemorySnapshot;
  /** The same after its last step (its own steps' net change added). */
  readonly afterSteps: MemorySnapshot;
  /** Steps run in total (warm-up included) when `afterSteps` was read. */
  readonly steps: number;
  /** Whether count and bytes are unchanged between the two reads. */
  readonly flat: boolean;
  /** Peak tensor bytes during one (extra, profiled) step, weights included. */
  readonly peakBytes: number;
}

/** Plan of one step measurement. */
export interface StepPlan {
  /** Untimed warm-up steps. */
  readonly warmup: number;
  /** Timed steps. */
  readonly repeats: number;
  /** Total steps before the second memory read (≥ warmup + repeats; extra steps are untimed). */
  readonly memorySteps: number;
}

/**
 * Measures the step of every method on one model (built once, methods attached in turn).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { measureSteps } from "./step_bench.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend("wasm");
 *
 * const shape = { label: "t", layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 20, batch: 2, seq: 4 };
 * const { rows } = await measureSteps(shape, ["frozen", "lora"], { warmup: 1, repeats: 2, memorySteps: 4 });
 * assert.equal(rows.length, 2);
 * assert.equal(rows[1]!.ratioToLora, 1);
 * assert.ok(rows.every((r) => r.flat));
 * ```
 *
 * @param shape Encoder shape and batch.
 * @param methods Rows to run.
 * @param plan Warm-up, repeats and steps before the memory check.
 * @param log Progress sink.
 * @returns The rows and the model build time.
 */
export async function measureSteps(
  shape: EncoderShape,
  methods: readonly StepMethod[],
  plan: StepPlan,
  log: (message: string) => void = () => {},
): Promise<{ rows: StepRow[]; buildSeconds: number; model: MemorySnapshot }> {
  const bench = createBenchModel(shape);
  // One LoRA step first: the first backward through the encoder makes the model's kept
  // transposed weights, which belong to the model, not to the first row that trains.
  const first = attachMethod(bench, "lora");
  first.activate();
  await first.step();
  first.dispose();
  const model = memorySnapshot();
  const rigs: MethodRig[] = [];
  const own: { numTensors: number; numBytes: number }[] = [];
  const net = (): { numTensors: number; numBytes: number } => ({ numTensors: 0, numBytes: 0 });
  // Runs one step of rig k with the clock around it and adds its net memory change to `into`.
  const step = async (k: number, into: { numTensors: number; numBytes: number }) => {
    rigs[k]!.activate();
    const before = memorySnapshot();
    const t0 = performance.now();
    await rigs[k]!.step();
    const ms = performance.now() - t0;
    const after = memorySnapshot();
    into.numTensors += after.numTensors - before.numTensors;
    into.numBytes += after.numBytes - before.numBytes;
    return ms;
  };
  try {
    for (const method of methods) {
      const before = memorySnapshot();
      rigs.push(attachMethod(bench, method));
      const after = memorySnapshot();
      own.push({
        numTensors: after.numTensors - before.numTensors,
        numBytes: after.numBytes - before.numBytes,
      });
    }
    for (let k = 0; k < rigs.length; k++) {
      log(`step: ${shape.label} ${tf.getBackend()} ${methods[k]} warm-up`);
      for (let i = 0; i < plan.warmup; i++) await step(k, own[k]!);
    }
    // Timed steps round-robin over the rows, so machine drift hits every row alike.
    log(`step: ${shape.label} ${tf.getBackend()} ${plan.repeats} timed rounds`);
    const times: number[][] = rigs.map(() => []);
    const drift = rigs.map(net);
    const steps = Math.max(plan.memorySteps, plan.warmup + plan.repeats);
    for (let round = plan.warmup; round < steps; round++) {
      for (let k = 0; k < rigs.length; k++) {
        const ms = await step(k, drift[k]!);
        if (round < plan.warmup + plan.repeats) times[k]!.push(ms);
      }
    }
    const raw: Omit<StepRow, "ratioToLora">[] = [];
    for (let k = 0; k < rigs.length; k++) {
      const rig = rigs[k]!;
      rig.activate();
      const peakBytes = await profilePeakBytes(() => rig.step());
      const timing = summarise(times[k]!);
      raw.push({
        method: rig.method,
        timing,
        trainableParams: rig.variables.reduce((n, v) => n + v.size, 0),
        afterWarmup: own[k]!,
        afterSteps: {
          numTensors: own[k]!.numTensors + drift[k]!.numTensors,
          numBytes: own[k]!.numBytes + drift[k]!.numBytes,
        },
        steps,
        flat: drift[k]!.numTensors === 0 && drift[k]!.numBytes === 0,
        peakBytes,
      });
      cacheReference(shape, rig.method, timing);
    }
    const lora = raw.find((r) => r.method === "lora")?.timing.median;
    const rows = raw.map((r) => ({
      ...r,
      ratioToLora: lora === undefined ? null : r.timing.median / lora,
    }));
    return { rows, buildSeconds: bench.buildSeconds, model };
  } finally {
    for (const rig of rigs) rig.dispose();
    bench.dispose();
  }
}

const referenceCache = new Map<string, Timing>();

function cacheKey(shape: EncoderShape, method: StepMethod): string {
  return `${tf.getBackend()}|${shape.label}|${method}`;
}

function cacheReference(shape: EncoderShape, method: StepMethod, timing: Timing): void {
  referenceCache.set(cacheKey(shape, method), timing);
}

/**
 * The step time of one method on a shape and the active backend: the value measured earlier in
 * this process (by {@linkcode measureSteps}), or a fresh measurement.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceStep } from "./step_bench.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend("wasm");
 *
 * const shape = { label: "ref", layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 20, batch: 2, seq: 4 };
 * const plan = { warmup: 1, repeats: 1, memorySteps: 2 };
 * const first = await referenceStep(shape, "lora", plan);
 * assert.equal(first.reused, false);
 * assert.equal((await referenceStep(shape, "lora", plan)).reused, true);
 * ```
 *
 * @param shape Encoder shape and batch.
 * @param method The row to time.
 * @param plan Used when measuring.
 * @param log Progress sink.
 * @returns The timing and whether it was reused.
 */
export async function referenceStep(
  shape: EncoderShape,
  method: StepMethod,
  plan: StepPlan,
  log: (message: string) => void = () => {},
): Promise<{ timing: Timing; reused: boolean }> {
  const cached = referenceCache.get(cacheKey(shape, method));
  if (cached !== undefined) return { timing: cached, reused: true };
  const { rows } = await measureSteps(shape, [method], plan, log);
  return { timing: rows[0]!.timing, reused: false };
}

/**
 * Times the eval-mode forward (no tape) of a model of the given shape: a lower bound of any
 * training step of that model, and the only full-base measurement that fits the wasm heap.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { measureForward } from "./step_bench.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend("wasm");
 *
 * const shape = { label: "fw", layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 20, batch: 2, seq: 4 };
 * const t = await measureForward(shape, { warmup: 1, repeats: 2 });
 * assert.equal(t.samples.length, 2);
 * ```
 *
 * @param shape Encoder shape and batch.
 * @param repeats Warm-up and timed runs.
 * @param log Progress sink.
 * @returns The forward timing (clock stopped after `await` of the logits).
 */
export async function measureForward(
  shape: EncoderShape,
  repeats: RepeatOptions,
  log: (message: string) => void = () => {},
): Promise<Timing> {
  log(`forward: ${shape.label} ${tf.getBackend()}`);
  const bench = createBenchModel(shape);
  try {
    return await timeAsync(async () => {
      const out = bench.model.forward({
        inputIds: bench.inputIds,
        attentionMask: bench.attentionMask,
      });
      await out.logits.data();
      tf.dispose([out.logits, out.lastHiddenState]);
    }, repeats);
  } finally {
    bench.dispose();
  }
}

function stepTable(rows: readonly StepRow[]): string {
  return markdownTable(
    [
      "step",
      "median ms (min–max)",
      "× LoRA",
      "trainable params",
      "own tensors after warm-up → after",
      "own MiB after warm-up → after",
      "flat",
      "peak MiB in a step",
    ],
    rows.map((r) => [
      r.method === "frozen" ? "frozen fwd+bwd (head only)" : `+ ${LABELS[r.method]}`,
      formatTiming(r.timing),
      r.ratioToLora === null ? "–" : r.ratioToLora.toFixed(2),
      r.trainableParams.toLocaleString("en-US"),
      `${r.afterWarmup.numTensors} → ${r.afterSteps.numTensors} (${r.steps} steps)`,
      `${formatMiB(r.afterWarmup.numBytes)} → ${formatMiB(r.afterSteps.numBytes)}`,
      r.flat ? "yes" : "**no**",
      formatMiB(r.peakBytes),
    ]),
  );
}

const LABELS: Readonly<Record<StepMethod, string>> = {
  frozen: "frozen",
  lora: "LoRA r=8",
  triadaptlora: "TriAdaptLoRA r=8 (1+4+3)",
  adalora: "AdaLoRA r_init=12",
  increlora: "IncreLoRA r=8 (1+4+3), score on",
};

/** Options of {@link runStepBench}. */
export interface StepBenchOptions {
  /** Small shape only, fewer steps. */
  readonly quick: boolean;
  /** Backends for the comparison (the first that is active is the default); default wasm, cpu, tensorflow. */
  readonly backends?: readonly BackendName[];
  /**
   * The trainer-path rows (micro-batches, workers, recompute; issue 12): `also` (default) after
   * the step table, `only` without the other tables, `none` to skip them.
   */
  readonly trainer?: "also" | "only" | "none";
  /** Shape of the trainer-path rows; default the 12-layer base shape (quick: the tiny shape). */
  readonly trainerShape?: EncoderShape;
  /** Plan of the trainer-path rows; default 1 warm-up + 3 timed steps (quick: 1 + 2). */
  readonly trainerPlan?: StepPlan;
  /** Only the trainer-path rows whose label contains this text (default: every row). */
  readonly trainerRow?: string;
}

/** Plans: small shape (memory after 50 steps), base shape (few repeats: seconds per step on wasm). */
const SMALL_PLAN: StepPlan = { warmup: 2, repeats: 10, memorySteps: 50 };
const QUICK_PLAN: StepPlan = { warmup: 1, repeats: 3, memorySteps: 6 };
/** Base width (1 layer): seconds per step with the encoder in the gradient path. */
const BASE_WIDTH_PLAN: StepPlan = { warmup: 2, repeats: 5, memorySteps: 8 };
const COMPARE_PLAN: StepPlan = { warmup: 1, repeats: 3, memorySteps: 4 };

/**
 * Runs part 3 (step time and memory) on the active backend, then the backend comparison, and
 * returns the section (markdown + data). The active backend is restored before returning.
 *
 * @example
 * ```ts ignore
 * import { runStepBench } from "./step_bench.ts";
 *
 * console.log((await runStepBench({ quick: true }, { quick: true, backend: "wasm", log: console.error })).markdown);
 * ```
 *
 * @param options Quick mode and backends to compare.
 * @param ctx Runner context (progress log).
 * @returns The section.
 */
export async function runStepBench(
  options: StepBenchOptions,
  ctx: BenchContext,
): Promise<BenchSectionResult> {
  const active = tf.getBackend() as BackendName;
  const shapes: [EncoderShape, StepPlan, readonly StepMethod[]][] = options.quick
    ? [[SMALL_SHAPE, QUICK_PLAN, STEP_METHODS]]
    : [
      // Largest first: the wasm heap never shrinks, and later large blocks can fail to fit.
      [BASE_WIDTH_SHAPE, BASE_WIDTH_PLAN, STEP_METHODS],
      [SMALL_SHAPE, SMALL_PLAN, STEP_METHODS],
    ];
  const md: string[] = ["## Step time and memory", ""];
  const data: Record<string, unknown> = { backend: active, shapes: [] as unknown[] };
  const shapeData = data["shapes"] as unknown[];
  const trainer = options.trainer ?? "also";
  for (const [shape, plan, methods] of trainer === "only" ? [] : shapes) {
    const { rows, buildSeconds, model } = await measureSteps(shape, methods, plan, ctx.log);
    md.push(
      `### ${shape.label} (${shape.layers} layers, hidden ${shape.hidden}, FFN ${shape.intermediate}, M = ${
        6 * shape.layers
      }), batch ${shape.batch} × ${shape.seq}, backend \`${active}\``,
      "",
      `${plan.warmup} warm-up + ${plan.repeats} timed steps per row, timed round-robin over the rows (one model; each row's adapters are switched in before its step; clock stopped after \`await\` of the loss and an updated head variable). Memory: the tensors and bytes each row holds (adapters, optimizer moments, score state) after its warm-up and after ${plan.memorySteps} steps (each step's net change added); the model and batch hold ${model.numTensors} tensors, ${
        formatMiB(model.numBytes)
      } MiB. Peak: one extra profiled step (\`tf.profile\`), weights included. Random weights built in ${
        buildSeconds.toFixed(1)
      } s.`,
      "",
      stepTable(rows),
      "",
      ...(plan.memorySteps >= 50 ? [] : [
        options.quick
          ? `Quick mode: memory read after ${plan.memorySteps} steps (the full run reads it after 50).`
          : `Few steps here: a ${shape.label} step takes seconds on wasm, so this shape gets ${plan.repeats} timed steps and its memory is read after ${plan.memorySteps}; the 50-step flatness check runs on the small shape.`,
        "",
      ]),
      ...shapeNote(shape, rows),
    );
    shapeData.push({ shape, plan, buildSeconds, rows });
  }
  if (trainer !== "none") {
    const shape = options.trainerShape ?? (options.quick ? TINY_SHAPE : BASE_SHAPE);
    const plan = options.trainerPlan ??
      (options.quick
        ? { warmup: 1, repeats: 2, memorySteps: 3 }
        : { warmup: 1, repeats: 3, memorySteps: 4 });
    const all = trainerRowSpecs(shape, { recompute: true, inProcess: shape !== BASE_SHAPE });
    // Quick: in-process and 2-worker rows only (each worker pool takes seconds to start).
    const picked = options.quick ? all.filter((r) => r.workers !== 1) : all;
    const specs = options.trainerRow === undefined
      ? picked
      : picked.filter((r) => r.label.includes(options.trainerRow!));
    if (specs.length === 0) {
      throw new RangeError(
        `Cannot run the trainer rows as none has "${options.trainerRow}" in its label: the labels are ${
          picked.map((r) => r.label).join("; ")
        }`,
      );
    }
    const rows = await measureTrainerSteps(shape, specs, plan, ctx.log);
    md.push(...trainerSection(shape, plan, rows));
    data["trainer"] = { shape, plan, rows };
  }
  if (trainer !== "only") {
    const comparison = await backendComparison(options, active, ctx);
    md.push(...comparison.markdown);
    data["backendComparison"] = comparison.data;
  }
  return { markdown: md.join("\n"), data };
}

function trainerSection(
  shape: EncoderShape,
  plan: StepPlan,
  rows: readonly TrainerRow[],
): string[] {
  return [
    `### Training step through \`Trainer\`: micro-batches, workers, recompute (${shape.label}, ${shape.layers} layers, batch ${shape.batch} × ${shape.seq}, backend \`${tf.getBackend()}\`)`,
    "",
    `The planted task at this shape (random weights; 32 position buckets where v3-base has 256, so c2p/p2c cost a little less than in a real step; model dropout ${TRAINER_DROPOUT} on the hidden states and attention probabilities, as DeBERTa-v3's config sets it) through \`Trainer.runStep\`: ${plan.warmup} warm-up + ${plan.repeats} timed steps per row, then one profiled step. Workers: each holds its own replica and wasm heap; the main thread sums their gradients and runs AdamW. Peak: \`tf.profile\` of one step per heap (main first); heap: the wasm memory size (its high-water mark). Recompute \`n/a\`: the encoder has no \`setRecompute\` in this build. Navigator cores: ${navigator.hardwareConcurrency}.`,
    "",
    trainerTable(rows),
    "",
  ];
}

function shapeNote(shape: EncoderShape, rows: readonly StepRow[]): string[] {
  if (shape !== BASE_WIDTH_SHAPE) return [];
  const peak = (m: StepMethod): string =>
    formatMiB(rows.find((r) => r.method === m)?.peakBytes ?? 0);
  return [
    `Base widths with 1 of the 12 layers (M = 6). Inside \`tf.variableGrads\` tfjs keeps every saved activation until the backward pass ends, so a step peaks at ${
      peak("lora")
    } MiB with LoRA (${
      peak("frozen")
    } MiB frozen) here, about 1.2 GB per layer at batch 8 × 128: without activation recomputation the 12-layer base shape does not fit the 4 GB wasm heap, not even the frozen row. These rows (plain \`tf.variableGrads\`) are therefore measured on one layer; the 12-layer training step, with recompute, is in the \`Trainer\` table below and the 12-layer forward in the encoder section.`,
    "",
  ];
}

/**
 * The backend comparison alone (frozen, LoRA, TriAdaptLoRA step times; quick: the tiny shape),
 * e.g. for the webgpu rows of `deno task bench --only webgpu`. A webgpu row names its adapter
 * (`software adapter` for llvmpipe). The active backend is restored.
 *
 * @example
 * ```ts ignore
 * import { runBackendComparison } from "./step_bench.ts";
 *
 * const ctx = { quick: true, backend: "wasm", log: console.error };
 * console.log((await runBackendComparison(["webgpu"], true, ctx)).markdown.join("\n"));
 * ```
 *
 * @param backends Backends, in row order.
 * @param quick The tiny shape instead of the small one.
 * @param ctx Runner context (progress log).
 * @returns Markdown lines and the rows' data.
 */
export function runBackendComparison(
  backends: readonly BackendName[],
  quick: boolean,
  ctx: BenchContext,
): Promise<{ markdown: string[]; data: unknown[] }> {
  return backendComparison({ quick, backends }, tf.getBackend() as BackendName, ctx);
}

async function backendComparison(
  options: StepBenchOptions,
  active: BackendName,
  ctx: BenchContext,
): Promise<{ markdown: string[]; data: unknown[] }> {
  const backends = options.backends ?? ["wasm", "cpu", "tensorflow"];
  // The pure-JS cpu backend takes seconds per small step: quick mode compares on a tiny shape.
  const shape = options.quick ? TINY_SHAPE : SMALL_SHAPE;
  const methods: StepMethod[] = ["frozen", "lora", "triadaptlora"];
  const rows: string[][] = [];
  const data: unknown[] = [];
  const notes: string[] = [];
  try {
    for (const name of backends) {
      let label = `\`${name}\``;
      try {
        const info = await initBackend(name);
        if (info.adapter !== undefined) label += ` (${describeAdapter(info.adapter)})`;
      } catch (e) {
        notes.push(`\`${name}\`: not available (${(e as Error).message.split(":")[0]})`);
        continue;
      }
      const plan = COMPARE_PLAN;
      const { rows: r } = await measureSteps(shape, methods, plan, ctx.log);
      data.push({ backend: name, shape, plan, rows: r });
      rows.push([
        label,
        ...r.map((x) => formatTiming(x.timing)),
        `${plan.warmup} + ${plan.repeats}`,
      ]);
    }
  } finally {
    await initBackend(active);
  }
  const markdown = [
    `### Backend comparison (${shape.label}, batch ${shape.batch} × ${shape.seq})`,
    "",
    markdownTable(
      [
        "backend",
        "frozen ms",
        "+ LoRA r=8 ms",
        "+ TriAdaptLoRA r=8 ms",
        "warm-up + timed",
      ],
      rows,
    ),
    "",
    ...(notes.length === 0 ? [] : [notes.join("; "), ""]),
  ];
  return { markdown, data };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      // `--trainer only --shape base|small|tiny`: the issue-12 rows alone
      // (`--row "2 workers, 4"`: only the rows whose label contains that text).
      trainer: { type: "string", default: "also" },
      row: { type: "string" },
      shape: { type: "string" },
      repeats: { type: "string" },
    },
  });
  const trainer = values.trainer as "also" | "only" | "none";
  if (!["also", "only", "none"].includes(trainer)) {
    throw new TypeError(`--trainer must be also, only or none: current value is ${trainer}`);
  }
  const shapes: Record<string, EncoderShape> = {
    base: BASE_SHAPE,
    small: SMALL_SHAPE,
    tiny: TINY_SHAPE,
  };
  const trainerShape = values.shape === undefined ? undefined : shapes[values.shape];
  if (values.shape !== undefined && trainerShape === undefined) {
    throw new TypeError(`--shape must be base, small or tiny: current value is ${values.shape}`);
  }
  const repeats = values.repeats === undefined ? undefined : Number(values.repeats);
  await initBackend("wasm");
  const result = await runStepBench({
    quick: values.quick ?? false,
    trainer,
    ...(trainerShape === undefined ? {} : { trainerShape }),
    ...(repeats === undefined ? {} : { trainerPlan: { warmup: 1, repeats, memorySteps: 0 } }),
    ...(values.row === undefined ? {} : { trainerRow: values.row }),
  }, {
    quick: values.quick ?? false,
    backend: "wasm",
    log: (m) => console.error(m),
  });
  console.log(result.markdown);
}
