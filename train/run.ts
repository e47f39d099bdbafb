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
import { injectAdapters } from "../model/inject.ts";
import type { AdaLoraAdapter } from "../ops/adalora.ts";
import type { Adapter } from "../ops/adapter.ts";
import type { BackendInfo } from "../ops/backend.ts";
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
import type { HyperParams, TrainMethod } from "./hyperparams.ts";
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
  });
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
  const triadapt = validateSchedules(settings.method, hyper, totalSteps);
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
  const model = task.buildModel(settings.seed);
  let trainer: Trainer | undefined;
  let pool: WorkerPool | undefined;
  try {
    const adapters = buildAdapters(model, settings.method, hyper, settings.seed);
    const controller = await buildController(
      settings.method,
      adapters,
      hyper,
      totalSteps,
      triadapt,
    );
    const orthRegWeight = settings.method === "lora" ? 0 : hyper.orthRegWeight;
    if ((settings.workers ?? 1) > 1) {
      pool = await createWorkerPool({
        backend: options.backend.requested,
        taskInfo: task.describe(),
        method: settings.method,
        hyper,
        seed: settings.seed,
        orthRegWeight,
      }, settings.workers as number);
    }
    trainer = new Trainer({
      task,
      model,
      adapters,
      controller,
      hyper: { ...hyper, orthRegWeight },
      totalSteps,
      seed: settings.seed,
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
    windowLoss: 0,
    windowSteps: 0,
    windowMs: 0,
    best: undefined,
    final: undefined,
  };
  if (options.resume) {
    const latest = await readLatestCheckpointDir(folder);
    const step = latest === undefined ? 0 : checkpointStep(latest);
    if (latest !== undefined) Object.assign(loop, await loadTrainerState(latest, trainer));
    await truncateJsonl(folder.metricsPath, step);
    await truncateJsonl(folder.ranksPath, step);
  }
  const perEpoch = trainer.stepsPerEpoch;
  const bar = options.progress === false ? undefined : new ProgressBar({
    total: totalSteps,
    start: trainer.step,
    ...(options.progress === undefined ? {} : { writer: options.progress }),
    label: options.label ?? `${task.name} ${settings.method} seed ${settings.seed}`,
  });
  const checkpoint = async (): Promise<void> => {
    const state = { ...loop };
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
        await writeBest(folder, trainer, ev, step, loop);
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
    await writeSummaries(folder, trainer, ranks, options);
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
  };
}

async function writeBest(
  folder: RunFolder,
  trainer: Trainer,
  ev: TaskEvaluation,
  step: number,
  loop: LoopState,
): Promise<void> {
  // Temp folder, then rename: the previous best stays valid until the new one is complete.
  // Besides the adapter format it holds a full checkpoint (head included), so eval and export
  // take `--checkpoint best` after its own checkpoint has been rotated away.
  const dir = join(folder.dir, "best");
  const tmp = `${dir}.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await writeAdapterFolder(tmp, trainer.adapters, { step, metric: ev.metric, value: ev.value });
  await saveTrainerState(tmp, trainer, { ...loop });
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, dir);
}

async function writeSummaries(
  folder: RunFolder,
  trainer: Trainer,
  ranks: Readonly<Record<string, number>>,
  options: RunTrainingOptions,
): Promise<void> {
  await writeAdapterFolder(join(folder.dir, "adapter"), trainer.adapters, {
    task: options.task.name,
    method: options.settings.method,
    alpha: options.hyper.alpha,
    step: trainer.step,
  });
  // The trained head and the state eval/export read (`--checkpoint adapter`), next to the adapters.
  await saveTrainerState(join(folder.dir, "adapter"), trainer, {});
  const grid = rankGrid(ranks);
  if (grid.layers.length > 0) {
    await writeFileAtomic(
      folder.heatmapPath,
      rankHeatmapSvg({
        ...grid,
        title:
          `Final ranks: ${options.task.name}, ${options.settings.method}, seed ${options.settings.seed}`,
      }),
    );
  }
  const lines = (await readJsonLines(folder.metricsPath)) as {
    kind: string;
    step: number;
    loss?: number;
    metric?: number;
    metricName?: string;
  }[];
  const train = lines.filter((l) => l.kind === "train");
  const evals = lines.filter((l) => l.kind === "eval");
  await writeFileAtomic(
    folder.lossChartPath,
    lossChartSvg({
      title: `${options.task.name} ${options.settings.method} seed ${options.settings.seed}`,
      series: [
        { name: "train loss", points: train.map((l) => [l.step, l.loss ?? NaN] as const) },
        ...(evals.length === 0 ? [] : [{
          name: `eval ${evals[0]?.metricName ?? "metric"}`,
          points: evals.map((l) => [l.step, l.metric ?? NaN] as const),
          axis: "right" as const,
        }]),
      ],
      rightLabel: evals[0]?.metricName ?? "eval metric",
    }),
  );
  await writeJsonAtomic(join(folder.dir, "summary.json"), {
    step: trainer.step,
    ranks,
    events: trainer.controller.events,
  });
}
