/**
 * Orchestration of one training run (and of `--seeds`): validate the schedules against T, build
 * model + adapters + controller, resume from the latest checkpoint if asked, run the loop with
 * logging, evaluation, best-checkpoint tracking and atomic checkpoints, then write the run
 * folder's summaries (`adapter/`, `rank-heatmap.svg`, `loss.svg`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { adaloraBudgetConfig } from "../core/adalora_budget.ts";
import {
  parseAdaLoraConfig,
  parseIncreLoraConfig,
  parseTriAdaptConfig,
  type TriAdaptConfig,
} from "../core/config.ts";
import type { DebertaModel } from "../model/deberta_v3.ts";
import { DEFAULT_TARGET_MODULES, injectAdapters } from "../model/inject.ts";
import type { AdaLoraAdapter } from "../ops/adalora.ts";
import type { Adapter } from "../ops/adapter.ts";
import type { BackendInfo } from "../ops/backend.ts";
import { GrowingAdamW } from "../ops/growing_adamw.ts";
import { ensureDefaultBackend } from "../ops/_ready.ts";
import type { IncreLoraAdapter } from "../ops/increlora.ts";
import { createAdapter } from "../ops/registry.ts";
import type { TriAdaptLoraAdapter } from "../ops/triadapt_lora.ts";
import { writeFileAtomic, writeJsonAtomic } from "./atomic_write.ts";
import { loadTrainerState, saveTrainerState, writeAdapterFolder } from "./checkpoint.ts";
import type { Controller } from "./controllers/controller.ts";
import { createAdaLoraController } from "./controllers/adalora.ts";
import { createIncreLoraController } from "./controllers/increlora.ts";
import { createLoraController } from "./controllers/lora.ts";
import { createTriAdaptController } from "./controllers/triadapt.ts";
import {
  defaultHyperParams,
  HYPERPARAM_KEYS,
  type HyperParams,
  type TrainMethod,
} from "./hyperparams.ts";
import { NonFiniteError, type TaskEvaluation, Trainer, type TrainingTask } from "./loop.ts";
import { ProgressBar, type ProgressWriter } from "./progress.ts";
import {
  appendJsonLine,
  appendMetrics,
  appendRankEvent,
  checkpointStep,
  createRunFolder,
  openRunFolder,
  readJsonLines,
  readLatestCheckpointDir,
  type RunFolder,
  writeCheckpoint,
  writeRunConfig,
} from "./run_folder.ts";
import { lossChartSvg } from "./svg/line_chart.ts";
import { createWorkerPool, type WorkerPool } from "./worker_pool.ts";
import { rankHeatmapSvg } from "./svg/rank_heatmap.ts";

/**
 * Run-level settings (the non-hyper-parameter part of `TrainOptions`).
 *
 * @example `maxSteps` sets T
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunSettings } from "./run.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { totalStepsFor } from "./run.ts";
 *
 * const settings: RunSettings = { method: "lora", seed: 0, logEvery: 10, maxSteps: 20 };
 * assert.equal(totalStepsFor(2490, defaultHyperParams(), settings.maxSteps), 20);
 * ```
 */
export interface RunSettings {
  /** The adapter method. */
  readonly method: TrainMethod;
  /** Run seed. */
  readonly seed: number;
  /** Stop after this many steps; it then is T. */
  readonly maxSteps?: number;
  /** Also evaluate every N steps (every epoch end is evaluated in any case). */
  readonly evalEvery?: number;
  /** Log a metrics line every N steps. */
  readonly logEvery: number;
  /** Checkpoint every N steps (absent: after every evaluation). */
  readonly checkpointEvery?: number;
  /**
   * Examples per micro-batch: one optimizer step accumulates the gradients of its micro-batches
   * (absent: the whole batch at once, or one share per worker).
   */
  readonly microBatch?: number;
  /**
   * Data-parallel gradient workers (absent or 1: in-process). Needs a task whose `describe()`
   * `taskFromDescription` can rebuild (GLUE, SQuAD 2.0, planted).
   */
  readonly workers?: number;
  /**
   * Activation recomputation (docs/METHOD.md §22): `true`, each encoder layer keeps only its
   * input for the backward pass and is run again inside its gradient (about one more forward of
   * compute); `"selective"`, each layer keeps its linears' inputs and outputs and only the
   * attention core, LayerNorms and GELU run again. Same gradients up to float32 round-off, far
   * less memory than `false`. Absent: off.
   */
  readonly recompute?: boolean | "selective";
}

/**
 * Options of {@linkcode runTraining}.
 *
 * @example Options checked before any work
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunTrainingOptions } from "./run.ts";
 * import type { TrainingTask } from "./loop.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { runTraining } from "./run.ts";
 *
 * const options: RunTrainingOptions = {
 *   task: { name: "t", numTrainExamples: 10 } as TrainingTask,
 *   hyper: { ...defaultHyperParams(), epochs: 1, batchSize: 10 }, // T = 1 < t0: refused
 *   settings: { method: "triadapt", seed: 0, logEvery: 1 }, dir: "/nonexistent/x", progress: false,
 *   backend: { name: "cpu", requested: "cpu", tfjsVersion: "", packageName: "", summary: "" },
 * };
 * await assert.rejects(() => runTraining(options), RangeError);
 * ```
 */
export interface RunTrainingOptions {
  /** The task (owned by the caller; not disposed here). */
  readonly task: TrainingTask;
  /** Hyper-parameters. */
  readonly hyper: HyperParams;
  /** Run settings. */
  readonly settings: RunSettings;
  /** Run folder. */
  readonly dir: string;
  /** Continue the run in `dir` from its latest checkpoint. */
  readonly resume?: boolean;
  /** With `resume`: the checkpoint folder to continue from (default: the latest). */
  readonly resumeFrom?: string;
  /** Writes one-line notes (e.g. `resumed from step 8 of 12`); default none. */
  readonly log?: (line: string) => void;
  /**
   * A reference rank pattern drawn next to the final ranks on the same colour scale (the
   * planted task's planted ranks): written to `file` in the run folder with `title`.
   */
  readonly referenceRanks?: {
    readonly file: string;
    readonly title: string;
    readonly ranks: Readonly<Record<string, number>>;
  };
  /** How the method is named in chart titles (default the method key, e.g. `triadapt`). */
  readonly methodLabel?: string;
  /** The active backend (recorded in `config.json`). */
  readonly backend: BackendInfo;
  /** Extra fields for `config.json` (CLI options, versions). */
  readonly configExtra?: Readonly<Record<string, unknown>>;
  /** Progress writer (default stderr); `false` for none. */
  readonly progress?: ProgressWriter | false;
  /** Stop after this step without finishing the run (tests: simulate a kill). */
  readonly stopAfterStep?: number;
  /** Label of the progress bar. */
  readonly label?: string;
  /** Extra JSON files written into a new run folder (e.g. `planted.json`), name → value. */
  readonly extraFiles?: Readonly<Record<string, unknown>>;
}

/**
 * What a run reports.
 *
 * @example Two LoRA steps on a tiny planted task
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunResult } from "./run.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 * import { runTraining } from "./run.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * const dir = `${await Deno.makeTempDir()}/run`;
 * const result: RunResult = await runTraining({
 *   task, hyper: { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0, refRank: 2 }, dir, progress: false,
 *   settings: { method: "lora", seed: 1, logEvery: 1, maxSteps: 2 },
 *   backend: { name: "cpu", requested: "cpu", tfjsVersion: "", packageName: "", summary: "" },
 * });
 * assert.equal(result.step, 2);
 * assert.ok(result.finished && result.final !== undefined);
 * task.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface RunResult {
  /** The run folder. */
  readonly dir: string;
  /** Steps done. */
  readonly step: number;
  /** T. */
  readonly totalSteps: number;
  /** Whether the run reached T (false when stopped early by `stopAfterStep`). */
  readonly finished: boolean;
  /** The last evaluation. */
  readonly final: TaskEvaluation | undefined;
  /** Best main metric and its step. */
  readonly best: { readonly value: number; readonly step: number } | undefined;
  /** Final rank per module. */
  readonly ranks: Readonly<Record<string, number>>;
  /** Sum of final ranks. */
  readonly ranksTotal: number;
  /** The method's budget (`r_ref · M`). */
  readonly budget: number;
  /** Allocation events. */
  readonly events: number;
  /** Loud warnings (e.g. the allocator never fired). */
  readonly warnings: readonly string[];
  /** Wall time of this invocation, seconds. */
  readonly seconds: number;
  /** The step this invocation resumed from (absent for a fresh run). */
  readonly resumedFrom?: number;
}

const ADAPTER_METHOD = {
  triadapt: "triadaptlora",
  lora: "lora",
  adalora: "adalora",
  increlora: "increlora",
} as const;

/**
 * The total step count `T = ceil(N / batch) × epochs`, or `maxSteps` when given.
 *
 * @param examples Training examples N.
 * @param hyper `batchSize`, `epochs`.
 * @param maxSteps Optional cap that replaces T.
 * @returns T.
 * @throws {RangeError} When T would be < 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { totalStepsFor } from "./run.ts";
 *
 * assert.equal(totalStepsFor(2490, { batchSize: 32, epochs: 50 }), 3900);
 * assert.equal(totalStepsFor(2490, { batchSize: 32, epochs: 50 }, 10), 10);
 * ```
 */
export function totalStepsFor(
  examples: number,
  hyper: Pick<HyperParams, "batchSize" | "epochs">,
  maxSteps?: number,
): number {
  const t = maxSteps ?? Math.ceil(examples / hyper.batchSize) * hyper.epochs;
  if (!Number.isSafeInteger(t) || t < 1) {
    throw new RangeError(
      `Cannot plan training as the total step count must be an integer >= 1: current value is ${t}`,
    );
  }
  return t;
}

/**
 * Validates every schedule of the method against T before anything is built (AdaLoRA's
 * `tinit + tfinal < T`, TriAdaptLoRA/IncreLoRA `initWarmup < T`, …).
 *
 * @param method The method.
 * @param hyper Hyper-parameters.
 * @param totalSteps T.
 * @returns The parsed TriAdaptLoRA config when the method is `triadapt`.
 * @throws {RangeError} On an inconsistent schedule (one-line message).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { validateSchedules } from "./run.ts";
 *
 * const hyper = defaultHyperParams();
 * assert.throws(() => validateSchedules("triadapt", hyper, 50), /initWarmup|t0|totalSteps/);
 * assert.equal(validateSchedules("triadapt", hyper, 3900)?.totalSteps, 3900);
 * ```
 */
export function validateSchedules(
  method: TrainMethod,
  hyper: HyperParams,
  totalSteps: number,
): TriAdaptConfig | undefined {
  switch (method) {
    case "triadapt":
      return parseTriAdaptConfig({
        initRank: hyper.initRank,
        refRank: hyper.refRank,
        deltaRank: hyper.deltaRank,
        initWarmup: hyper.initWarmup,
        interval: hyper.interval,
        totalSteps,
        threshold: hyper.threshold,
        ...(hyper.threshold === "fixed" ? { topH: hyper.topH } : {}),
        rounding: hyper.rounding,
        allowOvershoot: hyper.allowOvershoot,
        normalisation: hyper.normalisation,
        loraAlpha: hyper.alpha,
        dropout: hyper.dropout,
        orthRegWeight: hyper.orthRegWeight,
        growthInit: hyper.growthInit,
        score: hyper.score,
        grants: hyper.grants,
      });
    case "adalora":
      parseAdaLoraConfig(adaloraInput(hyper, totalSteps));
      return undefined;
    case "increlora":
      parseIncreLoraConfig(increloraInput(hyper, totalSteps));
      return undefined;
    case "lora":
      return undefined;
  }
}

function adaloraInput(hyper: HyperParams, totalSteps: number): Record<string, unknown> {
  return {
    initRank: hyper.adaloraInitRank,
    targetRank: hyper.refRank,
    tinit: hyper.tinit,
    tfinal: hyper.tfinal,
    deltaT: hyper.deltaT,
    totalSteps,
    beta1: hyper.beta1,
    beta2: hyper.beta2,
    loraAlpha: hyper.alpha,
    dropout: hyper.dropout,
    orthRegWeight: hyper.orthRegWeight,
  };
}

function increloraInput(hyper: HyperParams, totalSteps: number): Record<string, unknown> {
  return {
    initRank: hyper.initRank,
    refRank: hyper.refRank,
    deltaRank: hyper.deltaRank,
    topH: hyper.topH,
    initWarmup: hyper.initWarmup,
    interval: hyper.interval,
    totalSteps,
    beta1: hyper.beta1,
    beta2: hyper.beta2,
    loraAlpha: hyper.alpha,
    dropout: hyper.dropout,
    orthRegWeight: hyper.orthRegWeight,
  };
}

/**
 * Builds and injects the adapters of a run (module order), seeded from the run seed and the
 * module index — `runTraining` and every data-parallel worker build them the same way.
 *
 * @param trainerModel The model to inject into.
 * @param method The adapter method.
 * @param hyper Hyper-parameters (rank, alpha, dropout, EMA factors).
 * @param seed Run seed.
 * @returns The adapters in module order.
 *
 * @example LoRA on a tiny planted model
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 * import { buildAdapters } from "./run.ts";
 *
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
 *   trainExamples: 8, evalExamples: 2,
 * });
 * const model = task.buildModel(1);
 * const adapters = buildAdapters(model, "lora", { ...defaultHyperParams(), refRank: 2 }, 1);
 * assert.ok(adapters.length > 0 && adapters.every((a) => a.rank === 2));
 * for (const a of adapters) a.dispose();
 * model.dispose();
 * task.dispose();
 * ```
 */
export function buildAdapters(
  trainerModel: ReturnType<TrainingTask["buildModel"]>,
  method: TrainMethod,
  hyper: HyperParams,
  seed: number,
  targets: readonly string[] | RegExp = DEFAULT_TARGET_MODULES,
): Adapter[] {
  let index = 0;
  const adapters = injectAdapters(trainerModel, (m) => {
    // Adapter init seeds: run seed and module index (the adapters also mix in their name).
    const s = seed * 4096 + index++;
    const common = { name: m.name, inFeatures: m.inFeatures, outFeatures: m.outFeatures, seed: s };
    switch (method) {
      case "triadapt":
        return createAdapter(ADAPTER_METHOD.triadapt, {
          ...common,
          alpha: hyper.alpha,
          initialRank: hyper.initRank,
          dropout: hyper.dropout,
          growthInit: hyper.growthInit,
        }) as Adapter;
      case "lora":
        return createAdapter("lora", {
          ...common,
          rank: hyper.refRank,
          alpha: hyper.alpha,
          dropout: hyper.dropout,
        }) as Adapter;
      case "adalora":
        return createAdapter("adalora", {
          ...common,
          initialRank: hyper.adaloraInitRank,
          alpha: hyper.alpha,
          dropout: hyper.dropout,
          beta1: hyper.beta1,
          beta2: hyper.beta2,
        }) as Adapter;
      case "increlora":
        return createAdapter("increlora", {
          ...common,
          initialRank: hyper.initRank,
          alpha: hyper.alpha,
          dropout: hyper.dropout,
          beta1: hyper.beta1,
          beta2: hyper.beta2,
        }) as Adapter;
    }
  }, targets);
  return [...adapters.values()];
}

async function buildController(
  method: TrainMethod,
  adapters: readonly Adapter[],
  hyper: HyperParams,
  totalSteps: number,
  triadapt: TriAdaptConfig | undefined,
): Promise<Controller> {
  switch (method) {
    case "triadapt":
      return await createTriAdaptController(adapters as TriAdaptLoraAdapter[], {
        config: triadapt as TriAdaptConfig,
        initRank: hyper.initRank,
        refRank: hyper.refRank,
        score: (triadapt as TriAdaptConfig).score,
      });
    case "lora":
      return createLoraController(adapters);
    case "adalora":
      return createAdaLoraController(
        adapters as AdaLoraAdapter[],
        adaloraBudgetConfig(parseAdaLoraConfig(adaloraInput(hyper, totalSteps)), adapters.length),
      );
    case "increlora":
      return createIncreLoraController(adapters as IncreLoraAdapter[], {
        initWarmup: hyper.initWarmup,
        interval: hyper.interval,
        totalSteps,
        topH: hyper.topH,
        deltaRank: hyper.deltaRank,
        initRank: hyper.initRank,
        refRank: hyper.refRank,
      });
  }
}

/**
 * What {@linkcode adaptModel} needs: the method, the run length T (every schedule is checked
 * against it) and any hyper-parameter to override (the rest take the schema defaults of
 * `defaultHyperParams()`: the paper's RTE row, `alpha` 32, `refRank` 8, linear threshold, …).
 *
 * @example A TriAdaptLoRA budget of `r_ref = 4` per matrix, grown by 2 every 10 steps
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdaptConfig } from "./run.ts";
 *
 * const config: AdaptConfig = {
 *   method: "triadapt", totalSteps: 100, refRank: 4, initRank: 1, deltaRank: 2,
 *   initWarmup: 20, interval: 10, threshold: "linear", alpha: 32,
 *   targets: ["query_proj", "value_proj"],
 * };
 * assert.equal(config.method, "triadapt");
 * ```
 */
export interface AdaptConfig extends Partial<HyperParams> {
  /** `triadapt` (TriAdaptLoRA), `lora`, `adalora` or `increlora`. */
  readonly method: TrainMethod;
  /** Total optimizer steps T of the run (schedules, budget and learning-rate decay use it). */
  readonly totalSteps: number;
  /** Seed of the adapter initialisation (and of the Trainer's sampler); default 0. */
  readonly seed?: number;
  /**
   * Modules to adapt: name suffixes (default `DEFAULT_TARGET_MODULES`: the six linears of every
   * layer) or a regular expression over the full module names.
   */
  readonly targets?: readonly string[] | RegExp;
}

/**
 * A model made trainable by {@linkcode adaptModel}. Its fields are exactly what a
 * {@linkcode Trainer} takes besides the task, so `new Trainer({ task, ...adapted })` works;
 * `optimizer` and `controller` also drive a hand-written loop (`await controller.beforeUpdate?.(step,
 * grads, optimizer)`, `optimizer.step(grads, lr)`, then `await controller.afterStep(step, grads,
 * optimizer)`).
 *
 * @example A LoRA model's parts
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdaptedModel } from "./run.ts";
 * import { adaptModel } from "./run.ts";
 * import { createDebertaModel, parseDebertaConfig, randomDebertaWeights } from "../model/mod.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend();
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const adapted: AdaptedModel = await adaptModel(model, { method: "lora", totalSteps: 10, refRank: 2 });
 * assert.equal(adapted.adapters.length, 6);
 * assert.equal(adapted.controller.targetBudget, 12);
 * assert.equal(adapted.hyper.orthRegWeight, 0); // LoRA has no orthogonality term
 * adapted.dispose();
 * model.dispose();
 * ```
 */
export interface AdaptedModel {
  /** The model, adapters attached. */
  readonly model: DebertaModel;
  /** The adapters, module order. */
  readonly adapters: readonly Adapter[];
  /** The method's allocation logic (grows, masks, or does nothing for LoRA). */
  readonly controller: Controller;
  /** The growing AdamW, every adapter block and the head already registered (birth step 0). */
  readonly optimizer: GrowingAdamW;
  /** The resolved hyper-parameters the parts were built with (LoRA: `orthRegWeight` 0). */
  readonly hyper: HyperParams;
  /** The method. */
  readonly method: TrainMethod;
  /** T. */
  readonly totalSteps: number;
  /** The seed. */
  readonly seed: number;
  /**
   * Detaches and disposes the adapters, the controller and the optimizer state; the model itself
   * stays (base weights and head), owned by the caller. A `Trainer` built from these parts
   * disposes all of them and the model instead.
   */
  dispose(): void;
}

const ADAPT_KEYS: ReadonlySet<string> = new Set<string>([
  ...HYPERPARAM_KEYS,
  "method",
  "totalSteps",
  "seed",
  "targets",
]);

const METHODS: readonly TrainMethod[] = ["triadapt", "lora", "adalora", "increlora"];

function resolveConfig(config: AdaptConfig): { hyper: HyperParams; seed: number } {
  if (typeof config !== "object" || config === null) {
    throw new TypeError(
      `Cannot adapt model as config must be an object: current value is ${String(config)}`,
    );
  }
  for (const key of Object.keys(config)) {
    if (!ADAPT_KEYS.has(key)) {
      throw new TypeError(
        `Cannot adapt model as every config field must be known (method, totalSteps, seed, targets or a HyperParams field): current field is ${key}`,
      );
    }
  }
  if (!METHODS.includes(config.method)) {
    throw new RangeError(
      `Cannot adapt model as method must be one of ${METHODS.join(", ")}: current value is ${
        JSON.stringify(config.method)
      }`,
    );
  }
  if (!Number.isSafeInteger(config.totalSteps) || config.totalSteps < 1) {
    throw new RangeError(
      `Cannot adapt model as totalSteps must be an integer >= 1: current value is ${config.totalSteps}`,
    );
  }
  const seed = config.seed ?? 0;
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`Cannot adapt model as seed must be an integer: current value is ${seed}`);
  }
  const defaults = defaultHyperParams();
  const merged: Record<string, unknown> = {};
  for (const key of HYPERPARAM_KEYS) {
    const value = config[key];
    if (value !== undefined && typeof value !== typeof defaults[key]) {
      throw new TypeError(
        `Cannot adapt model as ${key} must be a ${typeof defaults[key]}: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new RangeError(
        `Cannot adapt model as ${key} must be finite: current value is ${value}`,
      );
    }
    merged[key] = value ?? defaults[key];
  }
  const hyper = merged as unknown as HyperParams;
  if (hyper.initRank > hyper.refRank && config.method !== "lora") {
    throw new RangeError(
      `Cannot adapt model as initRank must be <= refRank: current values are ${hyper.initRank} > ${hyper.refRank}`,
    );
  }
  if (config.method === "adalora" && hyper.adaloraInitRank < hyper.refRank) {
    throw new RangeError(
      `Cannot adapt model as adaloraInitRank must be >= refRank: current values are ${hyper.adaloraInitRank} < ${hyper.refRank}`,
    );
  }
  // LoRA has no orthogonality term (its factors are not meant to be orthogonal).
  const resolved = config.method === "lora" ? { ...hyper, orthRegWeight: 0 } : hyper;
  return { hyper: Object.freeze(resolved), seed };
}

/**
 * Turns a DeBERTa model into a trainable adaptive model, as PEFT's `get_peft_model(model,
 * config)` does: checks the method's schedules against `totalSteps`, injects one adapter per
 * target module (TriAdaptLoRA, LoRA, AdaLoRA or IncreLoRA, with the config's ranks, `alpha` and
 * dropout), builds the method's controller (growth, masking, or nothing for LoRA) and a growing
 * AdamW with every adapter block and the head registered. Initialises the default backend
 * (`wasm`) first when none is active. `runTraining` and `deno task train` build their runs with
 * this same function.
 *
 * After a growth the controller registers the new blocks with the optimizer; an adapter grown by
 * hand needs `optimizer.syncBlocks(adapters.flatMap((a) => a.parameterBlocks()))` (the optimizer
 * throws, naming that call, when it meets a gradient of an unregistered block).
 *
 * @param model A model from `loadModel` or `createDebertaModel` (no adapters attached yet).
 * @param config Method, T and any hyper-parameter override (see {@linkcode AdaptConfig}).
 * @returns The adapted parts (see {@linkcode AdaptedModel}).
 * @throws {TypeError} On an unknown config field or a field of the wrong type.
 * @throws {RangeError} On an unknown method or an inconsistent schedule, before any tensor is made.
 *
 * @example Adapt a small random model with TriAdaptLoRA and train it two steps
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { adaptModel } from "./run.ts";
 * import { createDebertaModel, parseDebertaConfig, randomDebertaWeights } from "../model/mod.ts";
 * import { initBackend } from "../ops/backend.ts";
 *
 * await initBackend();
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const model = createDebertaModel(config, randomDebertaWeights(config, 1));
 * const adapted = await adaptModel(model, {
 *   method: "triadapt", totalSteps: 3, refRank: 2, initRank: 1, deltaRank: 1, initWarmup: 1,
 *   interval: 1,
 * });
 * const { optimizer, controller } = adapted;
 * for (let step = 1; step <= 3; step++) {
 *   const vars = [...adapted.adapters.flatMap((a) => a.trainableVariables()), ...model.trainableVariables()];
 *   const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
 *     const out = model.forward({ inputIds: [[1, 5, 6, 2]] }, { training: true, seed: step });
 *     tf.dispose(out.lastHiddenState);
 *     return tf.losses.softmaxCrossEntropy(tf.tensor2d([[0, 1]]), out.logits) as tf.Scalar;
 *   }), vars);
 *   await controller.beforeUpdate?.(step, grads, optimizer); // TriAdaptLoRA grows here
 *   optimizer.step(grads, 1e-3);
 *   await controller.afterStep(step, grads, optimizer); // AdaLoRA and IncreLoRA act here
 *   tf.dispose([value, ...Object.values(grads)]);
 * }
 * assert.equal(controller.events, 1);
 * assert.ok(adapted.adapters.some((a) => a.rank > 1));
 * adapted.dispose();
 * model.dispose();
 * ```
 */
export async function adaptModel(model: DebertaModel, config: AdaptConfig): Promise<AdaptedModel> {
  const { hyper, seed } = resolveConfig(config);
  const { method, totalSteps } = config;
  const triadapt = validateSchedules(method, hyper, totalSteps);
  await ensureDefaultBackend();
  const adapters: Adapter[] = [];
  let controller: Controller | undefined;
  let optimizer: GrowingAdamW | undefined;
  try {
    adapters.push(...buildAdapters(model, method, hyper, seed, config.targets));
    controller = await buildController(method, adapters, hyper, totalSteps, triadapt);
    optimizer = new GrowingAdamW({
      beta1: hyper.adamBeta1,
      beta2: hyper.adamBeta2,
      epsilon: hyper.adamEpsilon,
      weightDecay: hyper.weightDecay,
      ...(hyper.clipNorm > 0 ? { clipNorm: hyper.clipNorm } : {}),
    });
    optimizer.syncBlocks(adapters.flatMap((a) => a.parameterBlocks()), 0);
    const head = model.trainableVariables();
    if (head.length > 0) optimizer.addBlock({ key: "head", variables: head }, 0);
  } catch (error) {
    optimizer?.dispose();
    controller?.dispose();
    for (const a of adapters) model.setAdapter(a.name, undefined);
    for (const a of adapters) a.dispose();
    throw error;
  }
  const parts = { controller, optimizer };
  return {
    model,
    adapters,
    controller,
    optimizer,
    hyper,
    method,
    totalSteps,
    seed,
    dispose(): void {
      parts.optimizer.dispose();
      parts.controller.dispose();
      for (const a of adapters) model.setAdapter(a.name, undefined);
      for (const a of adapters) a.dispose();
    },
  };
}

const FAMILY_LABELS: readonly (readonly [string, string])[] = [
  ["attention.self.query_proj", "Wq"],
  ["attention.self.key_proj", "Wk"],
  ["attention.self.value_proj", "Wv"],
  ["attention.output.dense", "Wo"],
  ["intermediate.dense", "Wf1"],
  ["output.dense", "Wf2"],
];

/**
 * Arranges per-module ranks as the heatmap's `ranks[layer][family]` grid (families Wq, Wk, Wv,
 * Wo, Wf1, Wf2; modules that do not fit the grid are ignored).
 *
 * @param ranks Rank by module name.
 * @returns Layer labels (1-based), family labels and the grid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankGrid } from "./run.ts";
 *
 * const grid = rankGrid({
 *   "deberta.encoder.layer.0.attention.self.query_proj": 3,
 *   "deberta.encoder.layer.1.output.dense": 5,
 * });
 * assert.deepEqual(grid.layers, ["1", "2"]);
 * assert.equal(grid.ranks[1]![grid.families.indexOf("Wf2")], 5);
 * ```
 */
export function rankGrid(
  ranks: Readonly<Record<string, number>>,
): { layers: string[]; families: string[]; ranks: number[][] } {
  let maxLayer = -1;
  const cells: { layer: number; family: number; rank: number }[] = [];
  for (const [name, rank] of Object.entries(ranks)) {
    const m = /layer\.(\d+)\.(.+)$/.exec(name);
    if (m === null) continue;
    const family = FAMILY_LABELS.findIndex(([suffix]) => m[2] === suffix);
    if (family < 0) continue;
    const layer = Number(m[1]);
    maxLayer = Math.max(maxLayer, layer);
    cells.push({ layer, family, rank });
  }
  const grid = Array.from({ length: maxLayer + 1 }, () => FAMILY_LABELS.map(() => 0));
  for (const c of cells) (grid[c.layer] as number[])[c.family] = c.rank;
  return {
    layers: grid.map((_, i) => String(i + 1)),
    families: FAMILY_LABELS.map(([, label]) => label),
    ranks: grid,
  };
}

async function truncateJsonl(path: string, maxStep: number): Promise<void> {
  let lines: unknown[];
  try {
    lines = await readJsonLines(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const kept = lines.filter((l) => Number((l as { step?: number }).step ?? 0) <= maxStep);
  await writeFileAtomic(path, kept.map((l) => JSON.stringify(l) + "\n").join(""));
}

interface LoopState {
  /** Wall time of the run before this invocation (all earlier invocations), ms. */
  elapsedMs: number;
  windowLoss: number;
  windowSteps: number;
  windowMs: number;
  best: { value: number; step: number } | undefined;
  final: TaskEvaluation | undefined;
}

/**
 * Runs (or resumes) one training run into its run folder. Validation errors (inconsistent
 * schedules, existing folder) throw `RangeError`/`TypeError` before training starts; a
 * non-finite loss or gradient throws {@linkcode NonFiniteError} after writing a `failure` line to
 * `metrics.jsonl` (the last good checkpoint stays).
 *
 * @param options Task, hyper-parameters, settings, folder, backend.
 * @returns The run's summary.
 *
 * @example Rejecting an inconsistent schedule before any work
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { runTraining } from "./run.ts";
 * import type { TrainingTask } from "./loop.ts";
 *
 * const task = { name: "t", numTrainExamples: 10 } as TrainingTask;
 * await assert.rejects(
 *   () => runTraining({
 *     task, hyper: { ...defaultHyperParams(), epochs: 1, batchSize: 10 },
 *     settings: { method: "triadapt", seed: 0, logEvery: 1 }, dir: "/nonexistent/x",
 *     backend: { name: "cpu", requested: "cpu", tfjsVersion: "", packageName: "", summary: "" },
 *   }),
 *   RangeError,
 * );
 * ```
 */
export async function runTraining(options: RunTrainingOptions): Promise<RunResult> {
  const started = performance.now();
  const { task, hyper, settings } = options;
  const totalSteps = totalStepsFor(task.numTrainExamples, hyper, settings.maxSteps);
  validateSchedules(settings.method, hyper, totalSteps);
  const folder: RunFolder = options.resume
    ? await openRunFolder(options.dir)
    : await createRunFolder(options.dir);
  if (!options.resume) {
    await writeRunConfig(folder, {
      task: task.name,
      method: settings.method,
      seed: settings.seed,
      totalSteps,
      hyper,
      settings,
      backend: options.backend,
      versions: { tfjs: tf.version_core, deno: Deno.version.deno, triadapt: "0.1.0" },
      taskInfo: task.describe(),
      ...options.configExtra,
    });
    for (const [name, value] of Object.entries(options.extraFiles ?? {})) {
      await writeJsonAtomic(join(folder.dir, name), value);
    }
  }
  await ensureDefaultBackend();
  const model = task.buildModel(settings.seed);
  model.setRecompute(settings.recompute ?? false);
  let trainer: Trainer | undefined;
  let pool: WorkerPool | undefined;
  try {
    // The one wiring of adapters, controller and optimizer, shared with library users.
    const adapted = await adaptModel(model, {
      ...hyper,
      method: settings.method,
      totalSteps,
      seed: settings.seed,
    });
    if ((settings.workers ?? 1) > 1) {
      pool = await createWorkerPool({
        backend: options.backend.requested,
        taskInfo: task.describe(),
        method: settings.method,
        hyper,
        seed: settings.seed,
        orthRegWeight: adapted.hyper.orthRegWeight,
        ...(settings.recompute === undefined ? {} : { recompute: settings.recompute }),
      }, settings.workers as number);
    }
    trainer = new Trainer({
      task,
      ...adapted,
      ...(settings.microBatch === undefined ? {} : { microBatch: settings.microBatch }),
      ...(pool === undefined ? {} : { gradients: pool }),
    });
    return await drive(trainer, folder, options, totalSteps, started);
  } finally {
    await pool?.dispose();
    if (trainer !== undefined) trainer.dispose();
    else model.dispose();
  }
}

async function drive(
  trainer: Trainer,
  folder: RunFolder,
  options: RunTrainingOptions,
  totalSteps: number,
  started: number,
): Promise<RunResult> {
  const { task, settings } = options;
  const loop: LoopState = {
    elapsedMs: 0,
    windowLoss: 0,
    windowSteps: 0,
    windowMs: 0,
    best: undefined,
    final: undefined,
  };
  let resumedFrom: number | undefined;
  if (options.resume) {
    const from = options.resumeFrom ?? await readLatestCheckpointDir(folder);
    const step = from === undefined ? 0 : checkpointStep(from);
    if (from !== undefined) {
      const saved = await loadTrainerState(from, trainer);
      Object.assign(loop, saved);
      if (typeof saved.elapsedMs !== "number") loop.elapsedMs = 0;
    }
    await truncateJsonl(folder.metricsPath, step);
    await truncateJsonl(folder.ranksPath, step);
    resumedFrom = step;
    options.log?.(
      `resumed from step ${step} of ${totalSteps}${
        from === undefined ? " (no checkpoint yet)" : ` (${from})`
      }`,
    );
  }
  const elapsedMs = (): number => loop.elapsedMs + (performance.now() - started);
  const perEpoch = trainer.stepsPerEpoch;
  const bar = options.progress === false ? undefined : new ProgressBar({
    total: totalSteps,
    start: trainer.step,
    ...(options.progress === undefined ? {} : { writer: options.progress }),
    label: options.label ?? `${task.name} ${settings.method} seed ${settings.seed}`,
  });
  const checkpoint = async (): Promise<void> => {
    const state = { ...loop, elapsedMs: elapsedMs() };
    await writeCheckpoint(folder, trainer.step, (dir) => saveTrainerState(dir, trainer, state));
  };
  const ranksTotal = (): number => trainer.controller.ranks().reduce((a, b) => a + b, 0);
  const stopAt = Math.min(totalSteps, options.stopAfterStep ?? totalSteps);
  while (trainer.step < stopAt) {
    const t0 = performance.now();
    let report;
    try {
      report = await trainer.runStep();
    } catch (error) {
      if (error instanceof NonFiniteError) {
        await appendJsonLine(folder.metricsPath, {
          kind: "failure",
          step: error.step,
          what: error.what,
          message: error.message,
        });
      }
      throw error;
    }
    const step = report.step;
    loop.windowLoss += report.loss;
    loop.windowSteps++;
    loop.windowMs += performance.now() - t0;
    if (report.event !== undefined) await appendRankEvent(folder, report.event);
    if (step % settings.logEvery === 0 || step === totalSteps) {
      await appendMetrics(folder, {
        kind: "train",
        step,
        epoch: step / perEpoch,
        loss: loop.windowLoss / loop.windowSteps,
        lr: report.lr,
        ranksTotal: ranksTotal(),
        budgetLeft: trainer.controller.budgetLeft(),
        stepMs: loop.windowMs / loop.windowSteps,
      });
      loop.windowLoss = 0;
      loop.windowSteps = 0;
      loop.windowMs = 0;
    }
    bar?.update(step, report.loss);
    // Every epoch, and also every N steps when asked (`--eval-every N`).
    const evalDue = step % perEpoch === 0 ||
      (settings.evalEvery !== undefined && step % settings.evalEvery === 0);
    let wroteCheckpoint = false;
    if (evalDue || step === totalSteps) {
      const ev = await trainer.evaluate();
      loop.final = ev;
      await appendMetrics(folder, {
        kind: "eval",
        step,
        epoch: step / perEpoch,
        metric: ev.value,
        metricName: ev.metric,
        metrics: ev.all,
        ranksTotal: ranksTotal(),
        budgetLeft: trainer.controller.budgetLeft(),
      });
      const better = loop.best === undefined ||
        (task.metricHigherIsBetter ? ev.value > loop.best.value : ev.value < loop.best.value);
      if (better) {
        loop.best = { value: ev.value, step };
        await writeBest(folder, trainer, ev, step, { ...loop, elapsedMs: elapsedMs() });
      }
      if (settings.checkpointEvery === undefined) {
        await checkpoint();
        wroteCheckpoint = true;
      }
    }
    if (
      !wroteCheckpoint && settings.checkpointEvery !== undefined &&
      (step % settings.checkpointEvery === 0 || step === totalSteps)
    ) {
      await checkpoint();
    }
  }
  bar?.done();
  const finished = trainer.step >= totalSteps;
  const ranks: Record<string, number> = {};
  const values = trainer.controller.ranks();
  trainer.adapters.forEach((a, i) => (ranks[a.name] = values[i] ?? a.rank));
  const warnings: string[] = [];
  if (finished) {
    await writeSummaries(folder, trainer, ranks, options, {
      final: loop.final,
      best: loop.best,
      totalSteps,
      wallSeconds: elapsedMs() / 1000,
    });
    if (trainer.controller.expectsEvents && trainer.controller.events === 0) {
      warnings.push(
        `WARNING: the ${settings.method} allocator never fired in ${totalSteps} steps although ${trainer.controller.budgetLeft()} rank units of budget were left: check --init-warmup, --interval (or --tinit/--tfinal/--delta-t) against T = ${totalSteps}`,
      );
    }
  }
  return {
    dir: folder.dir,
    step: trainer.step,
    totalSteps,
    finished,
    final: loop.final,
    best: loop.best,
    ranks,
    ranksTotal: Object.values(ranks).reduce((a, b) => a + b, 0),
    budget: trainer.controller.targetBudget,
    events: trainer.controller.events,
    warnings,
    seconds: (performance.now() - started) / 1000,
    ...(resumedFrom === undefined ? {} : { resumedFrom }),
  };
}

async function writeBest(
  folder: RunFolder,
  trainer: Trainer,
  ev: TaskEvaluation,
  step: number,
  loop: Readonly<Record<string, unknown>>,
): Promise<void> {
  // Temp folder, then rename: the previous best stays valid until the new one is complete.
  // Besides the adapter format it holds a full checkpoint (head included), so eval and export
  // take `--checkpoint best` after its own checkpoint has been rotated away.
  const dir = join(folder.dir, "best");
  const tmp = `${dir}.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await writeAdapterFolder(tmp, trainer.adapters, { step, metric: ev.metric, value: ev.value });
  await saveTrainerState(tmp, trainer, loop);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, dir);
}

interface SummaryFacts {
  readonly final: TaskEvaluation | undefined;
  readonly best: { readonly value: number; readonly step: number } | undefined;
  readonly totalSteps: number;
  readonly wallSeconds: number;
}

const METRIC_NAMES: Readonly<Record<string, string>> = {
  heldout_mse: "held-out rel. MSE",
  accuracy: "accuracy",
  matthews_corrcoef: "Matthews corr.",
  pearson: "Pearson r",
  spearman: "Spearman ρ",
  f1: "F1",
  exact: "exact match",
};

/**
 * The axis name of an evaluation metric: its readable name and direction (`held-out rel. MSE
 * (lower is better; 1.0 = frozen base)`, `accuracy (higher is better)`).
 *
 * @param metric The metric key as `metrics.jsonl` records it (`metricName`).
 * @param higherIsBetter Its direction.
 * @returns The label.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricAxisLabel } from "./run.ts";
 *
 * assert.equal(metricAxisLabel("heldout_mse", false), "held-out rel. MSE (lower is better; 1.0 = frozen base)");
 * assert.equal(metricAxisLabel("matthews_corrcoef", true), "Matthews corr. (higher is better)");
 * ```
 */
export function metricAxisLabel(metric: string, higherIsBetter: boolean): string {
  const name = METRIC_NAMES[metric] ?? metric.replaceAll("_", " ");
  const direction = higherIsBetter ? "higher is better" : "lower is better";
  return metric === "heldout_mse"
    ? `${name} (${direction}; 1.0 = frozen base)`
    : `${name} (${direction})`;
}

async function writeSummaries(
  folder: RunFolder,
  trainer: Trainer,
  ranks: Readonly<Record<string, number>>,
  options: RunTrainingOptions,
  facts: SummaryFacts,
): Promise<void> {
  const { task, settings } = options;
  const method = options.methodLabel ?? settings.method;
  await writeAdapterFolder(join(folder.dir, "adapter"), trainer.adapters, {
    task: task.name,
    method: settings.method,
    alpha: options.hyper.alpha,
    step: trainer.step,
  });
  // The trained head and the state eval/export read (`--checkpoint adapter`), next to the adapters.
  await saveTrainerState(join(folder.dir, "adapter"), trainer, {});
  const grid = rankGrid(ranks);
  const reference = options.referenceRanks;
  const refGrid = reference === undefined ? undefined : rankGrid(reference.ranks);
  // One colour scale for the final and the reference heatmap, so colours compare.
  const scaleMax = Math.max(1, ...grid.ranks.flat(), ...(refGrid?.ranks.flat() ?? []));
  const shared = reference === undefined ? "" : `; same colours as ${reference.file}`;
  if (grid.layers.length > 0) {
    await writeFileAtomic(
      folder.heatmapPath,
      rankHeatmapSvg({
        ...grid,
        min: 0,
        max: scaleMax,
        title: `Allocated ranks: ${task.name}, ${method}, seed ${settings.seed}`,
        caption: `Cell: the final rank of one weight matrix (row) in one layer${shared}`,
      }),
    );
  }
  if (reference !== undefined && refGrid !== undefined && refGrid.layers.length > 0) {
    await writeFileAtomic(
      join(folder.dir, reference.file),
      rankHeatmapSvg({
        ...refGrid,
        min: 0,
        max: scaleMax,
        title: reference.title,
        caption:
          "Cell: the planted rank of one weight matrix (row) in one layer; same colours as rank-heatmap.svg",
      }),
    );
  }
  const lines = (await readJsonLines(folder.metricsPath)) as {
    kind: string;
    step: number;
    loss?: number;
    metric?: number;
    metricName?: string;
    ranksTotal?: number;
  }[];
  const train = lines.filter((l) => l.kind === "train");
  const evals = lines.filter((l) => l.kind === "eval");
  const events = ((await readJsonLines(folder.ranksPath).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  })) as { step?: number }[]).map((e) => Number(e.step)).filter(Number.isFinite);
  const metricName = evals[0]?.metricName ?? facts.final?.metric ?? "metric";
  const metricLabel = metricAxisLabel(metricName, task.metricHigherIsBetter);
  const who = `${task.name}, ${method}, seed ${settings.seed}`;
  await writeFileAtomic(
    folder.lossChartPath,
    lossChartSvg({
      title: `Training curve: ${who}`,
      series: [
        {
          name: "train loss (mean per logged window)",
          points: train.map((l) => [l.step, l.loss ?? NaN] as const),
        },
        ...(evals.length === 0 ? [] : [{
          name: `eval: ${METRIC_NAMES[metricName] ?? metricName}`,
          points: evals.map((l) => [l.step, l.metric ?? NaN] as const),
          axis: "right" as const,
        }]),
      ],
      leftLabel: "train loss",
      rightLabel: metricLabel,
      events,
      eventLabel: "rank-allocation event",
    }),
  );
  const budget = trainer.controller.targetBudget;
  await writeFileAtomic(
    join(folder.dir, "rank-total.svg"),
    lossChartSvg({
      title: `Total rank over steps: ${who}`,
      series: [
        {
          name: "total rank (sum over adapted matrices)",
          points: train.map((l) => [l.step, l.ranksTotal ?? NaN] as const),
        },
        {
          name: `budget ${budget}`,
          points: train.length === 0
            ? []
            : [[train[0]?.step ?? 0, budget], [train.at(-1)?.step ?? 0, budget]],
          colour: "#555555",
          dashed: true,
        },
      ],
      leftLabel: "total rank",
      leftFloor: 0,
      events,
      eventLabel: "rank-allocation event",
      height: 280,
    }),
  );
  await writeJsonAtomic(join(folder.dir, "summary.json"), {
    task: task.name,
    method: settings.method,
    seed: settings.seed,
    step: trainer.step,
    totalSteps: facts.totalSteps,
    wallSeconds: Math.round(facts.wallSeconds * 1000) / 1000,
    metric: { name: metricName, label: metricLabel, higherIsBetter: task.metricHigherIsBetter },
    final: facts.final === undefined
      ? null
      : { step: trainer.step, value: facts.final.value, all: facts.final.all },
    best: facts.best === undefined ? null : { step: facts.best.step, value: facts.best.value },
    ranks,
    ranksTotal: Object.values(ranks).reduce((a, b) => a + b, 0),
    budget,
    events: trainer.controller.events,
  });
}
