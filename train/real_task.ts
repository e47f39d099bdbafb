/**
 * The bridge between the CLIs and the real-data tasks: `createRealTask` turns `--task --model
 * --data` into a GLUE or SQuAD 2.0 {@linkcode TrainingTask}; `taskFromDescription` rebuilds a
 * task from the `taskInfo` a run recorded in `config.json`; `loadTrainedRun` rebuilds the
 * fine-tuned model of a run folder (task, base model, head and adapters from its latest
 * checkpoint) for `deno task eval` and `deno task export`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { DebertaModel } from "../model/deberta_v3.ts";
import { parseSafetensors, type RawTensor } from "../model/safetensors.ts";
import type { Adapter, AdapterMethod, TensorData } from "../ops/adapter.ts";
import { ensureBackend, initBackend } from "../ops/backend.ts";
import { createAdapter } from "../ops/registry.ts";
import {
  type AdapterModuleEntry,
  type CheckpointState,
  readFileNamed,
  readJsonNamed,
} from "./checkpoint.ts";
import { createGlueTask, type GlueTask, type GlueTaskOptions } from "./glue_task.ts";
import {
  FLAG_SPECS,
  HYPERPARAM_KEYS,
  type HyperParams,
  inFlagTerms,
  type TrainOptions,
  validateTrainOptions,
} from "./hyperparams.ts";
import { NonFiniteError, type TrainingTask } from "./loop.ts";
import type { ProgressWriter } from "./progress.ts";
import { type RunResult, runTraining, totalStepsFor, validateSchedules } from "./run.ts";
import { formatSeedSummary } from "./seed_summary.ts";
import { createPlantedTask, type PlantedTaskOptions } from "./planted/planted_task.ts";
import { readLatestCheckpointDir, runFolderPaths } from "./run_folder.ts";
import { findResumePoint, readResumeConfig, type ResumePoint } from "./run_resume.ts";
import { createSquadTask, type SquadTask, type SquadTaskOptions } from "./squad_task.ts";
import { resolveGlueTask } from "./tasks/glue_tasks.ts";
import { parallelSettings } from "./worker_pool.ts";
import {
  isOutOfMemory,
  outOfMemoryError,
  planStepMemory,
  type StepMemoryPlan,
  type StepMemoryRequest,
  stepMemoryRequest,
} from "./memory_plan.ts";
import { parseDebertaConfig } from "../model/config.ts";

/**
 * Options of {@linkcode createRealTask} (what the train CLI knows).
 *
 * @example An unknown task is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RealTaskOptions } from "./real_task.ts";
 * import { createRealTask } from "./real_task.ts";
 *
 * const options: RealTaskOptions = { task: "imdb", model: "m", data: "d", maxLength: 128 };
 * await assert.rejects(() => createRealTask(options), /imdb/);
 * ```
 */
export interface RealTaskOptions {
  /** `squad2` or a GLUE task name. */
  readonly task: string;
  /** Hugging Face model folder. */
  readonly model: string;
  /** Data folder or file. */
  readonly data: string;
  /** Maximum tokens per input (default: the paper's for the task). */
  readonly maxLength?: number;
  /** Skip malformed GLUE rows (`--skip-bad-rows`), reported in `skipped`. */
  readonly skipBadRows?: boolean;
  /** Tokenizer folder or `.model` file (default: the model folder). */
  readonly tokenizer?: string;
}

/**
 * Creates the real-data task of a `--task` name: SQuAD 2.0 for `squad2`, else the GLUE task.
 *
 * @param options Task name, model folder, data path, and optional length/tokenizer/skip settings.
 * @returns The task.
 * @throws {RangeError} On an unknown task name (or any error of the task constructors).
 *
 * @example Unknown task
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRealTask } from "./real_task.ts";
 *
 * await assert.rejects(() => createRealTask({ task: "imdb", model: "m", data: "d" }), RangeError);
 * ```
 */
export async function createRealTask(options: RealTaskOptions): Promise<GlueTask | SquadTask> {
  const key = options.task.toLowerCase().replace(/[-_\s.]/g, "");
  const common = {
    model: options.model,
    data: options.data,
    ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
    ...(options.tokenizer === undefined ? {} : { tokenizer: options.tokenizer }),
  };
  if (key === "squad2" || key === "squadv2" || key === "squad20") {
    return await createSquadTask(common);
  }
  const spec = resolveGlueTask(options.task);
  return await createGlueTask({
    ...common,
    task: spec.name,
    ...(options.skipBadRows === undefined ? {} : { skipBadRows: options.skipBadRows }),
  });
}

/**
 * Overrides for rebuilding a recorded task (evaluation only).
 *
 * @example Loading a named checkpoint of a tiny run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RebuildOptions } from "./real_task.ts";
 * import { initBackend } from "../ops/backend.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 * import { loadTrainedRun } from "./real_task.ts";
 * import { runTraining } from "./run.ts";
 *
 * await initBackend("wasm");
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * const dir = `${await Deno.makeTempDir()}/run`;
 * await runTraining({
 *   task, hyper: { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0, refRank: 2 }, dir, progress: false,
 *   settings: { method: "lora", seed: 1, logEvery: 1, maxSteps: 2 },
 *   backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
 * });
 * const options: RebuildOptions = { checkpoint: "step-00000002" };
 * const run = await loadTrainedRun(dir, options);
 * assert.ok(run.checkpoint.endsWith("step-00000002"));
 * run.dispose();
 * task.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface RebuildOptions {
  /** Evaluation split (GLUE) to use instead of the recorded one. */
  readonly split?: string;
  /** Read the training data too (default false). */
  readonly loadTrain?: boolean;
  /**
   * A checkpoint of the run to load instead of the latest: its folder name under
   * `checkpoints/` (`step-00000200`), `best` (the best evaluation), `adapter` (the final
   * adapter folder) or a path.
   */
  readonly checkpoint?: string;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`Cannot read ${what} as it must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Rebuilds a task from the `taskInfo` that `runTraining` recorded (`task.describe()`): GLUE and
 * SQuAD from their recorded options, the planted task from its recorded sizes and seed.
 *
 * @param info The recorded description.
 * @param options Split and whether to read the training data.
 * @returns The task.
 * @throws {SyntaxError} When the description is not one this package writes.
 *
 * @example The planted task
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../ops/backend.ts";
 * import { taskFromDescription } from "./real_task.ts";
 *
 * await initBackend("wasm");
 * const task = await taskFromDescription({
 *   task: "planted", seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16,
 *   seqLength: 4, trainExamples: 4, evalExamples: 2, maxRank: 2, strength: 1,
 * });
 * assert.equal(task.name, "planted");
 * task.dispose();
 * ```
 */
export async function taskFromDescription(
  info: Readonly<Record<string, unknown>>,
  options: RebuildOptions = {},
): Promise<TrainingTask> {
  const loadTrain = options.loadTrain ?? false;
  if (info.kind === "glue") {
    const recorded = record(info.options, "taskInfo.options") as unknown as GlueTaskOptions;
    return await createGlueTask({
      ...recorded,
      loadTrain,
      ...(options.split === undefined ? {} : { evalSplit: options.split }),
    });
  }
  if (info.kind === "squad2") {
    const recorded = record(info.options, "taskInfo.options") as unknown as SquadTaskOptions;
    return await createSquadTask({ ...recorded, loadTrain });
  }
  if (info.task === "planted") {
    // The planted description is its resolved options plus derived facts; pass the options on
    // (every field but the derived ones), so options added later are rebuilt too.
    const { task: _t, modules: _m, plantedRanks: _p, baselineMse: _b, ...rest } = info;
    if (typeof rest.seed !== "number") {
      throw new SyntaxError(
        `Cannot rebuild the planted task as taskInfo.seed must be a number: current value is ${
          JSON.stringify(rest.seed)
        }`,
      );
    }
    return await createPlantedTask(rest as unknown as PlantedTaskOptions);
  }
  throw new SyntaxError(
    `Cannot rebuild the task as taskInfo.kind must be "glue" or "squad2" (or task "planted"): current value is ${
      JSON.stringify(info.kind ?? info.task)
    }`,
  );
}

/**
 * A run folder's fine-tuned model, rebuilt.
 *
 * @example Rebuilding a tiny run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainedRun } from "./real_task.ts";
 * import { initBackend } from "../ops/backend.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 * import { loadTrainedRun } from "./real_task.ts";
 * import { runTraining } from "./run.ts";
 *
 * await initBackend("wasm");
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * const dir = `${await Deno.makeTempDir()}/run`;
 * await runTraining({
 *   task, hyper: { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0, refRank: 2 }, dir, progress: false,
 *   settings: { method: "lora", seed: 1, logEvery: 1, maxSteps: 2 },
 *   backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
 * });
 * const run: TrainedRun = await loadTrainedRun(dir);
 * assert.equal(run.step, 2);
 * assert.equal(run.ranks.size, run.adapters.length);
 * run.dispose();
 * task.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface TrainedRun {
  /** The run folder. */
  readonly dir: string;
  /** Its `config.json`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The checkpoint read. */
  readonly checkpoint: string;
  /** Optimizer steps of that checkpoint. */
  readonly step: number;
  /** The task (evaluation data only unless asked). */
  readonly task: TrainingTask;
  /** The model: base weights, trained head, adapters attached. */
  readonly model: DebertaModel;
  /** The adapters, module order. */
  readonly adapters: readonly Adapter[];
  /** Rank per module. */
  readonly ranks: ReadonlyMap<string, number>;
  /** Disposes adapters, model and task. */
  dispose(): void;
}

function tensorData(
  tensors: ReadonlyMap<string, RawTensor>,
  key: string,
  source: string,
): TensorData {
  const t = tensors.get(key);
  if (t === undefined || !(t.data instanceof Float32Array)) {
    throw new SyntaxError(
      `Cannot read ${source} as tensor ${key} must be present and float32: current value is ${
        t === undefined ? "missing" : t.dtype
      }`,
    );
  }
  return { shape: [...t.shape], data: t.data };
}

function adapterFor(entry: AdapterModuleEntry, alpha: number): Adapter {
  const common = {
    name: entry.name,
    inFeatures: entry.inFeatures,
    outFeatures: entry.outFeatures,
    seed: 0,
    alpha,
  };
  const first = entry.blockRanks[0] ?? entry.rank;
  const method: AdapterMethod = entry.method;
  switch (method) {
    case "lora":
      return createAdapter("lora", { ...common, rank: first });
    case "triadaptlora":
      return createAdapter("triadaptlora", { ...common, initialRank: first });
    case "adalora":
      return createAdapter("adalora", { ...common, initialRank: first });
    case "increlora":
      return createAdapter("increlora", { ...common, initialRank: first });
    default:
      throw new SyntaxError(
        `Cannot rebuild adapter ${entry.name} as its method must be known: current value is ${
          JSON.stringify(method)
        }`,
      );
  }
}

/**
 * Rebuilds the fine-tuned model of a run folder from its latest checkpoint (for a finished run:
 * the final step; `options.checkpoint` picks another): the task from `config.json` `taskInfo`, a fresh model with the run's seed,
 * the head from `head.safetensors` and every adapter from `adapters.safetensors` (grown to its
 * saved blocks).
 *
 * @param dir The run folder.
 * @param options Split, checkpoint, and whether to read the training data.
 * @returns The rebuilt run (call `dispose()`).
 * @throws {Deno.errors.NotFound} When the folder, its `config.json` or every checkpoint is missing.
 * @throws {SyntaxError} When `config.json` or the checkpoint is not what `deno task train` writes.
 *
 * @example Missing run folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTrainedRun } from "./real_task.ts";
 *
 * await assert.rejects(() => loadTrainedRun("/nonexistent-run"), Deno.errors.NotFound);
 * ```
 */
export async function loadTrainedRun(
  dir: string,
  options: RebuildOptions = {},
): Promise<TrainedRun> {
  // Read only: eval and export leave the run folder as it is until they write their result.
  const folder = runFolderPaths(dir);
  let config: Record<string, unknown>;
  try {
    config = record(await readJsonNamed(folder.configPath), folder.configPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Deno.errors.NotFound(
      `Cannot load run ${dir} as it must be a run folder with config.json: ${folder.configPath} is missing`,
    );
  }
  let checkpoint: string | undefined;
  if (options.checkpoint !== undefined) {
    // `best` and `adapter` are the run folder's own full-state folders; other names are
    // checkpoints under `checkpoints/`; anything with a slash is a path.
    const named = options.checkpoint === "best" || options.checkpoint === "adapter"
      ? join(folder.dir, options.checkpoint)
      : join(folder.checkpointsDir, options.checkpoint);
    checkpoint = /[\\/]/.test(options.checkpoint) ? options.checkpoint : named;
    try {
      await Deno.stat(join(checkpoint, "state.json"));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new Deno.errors.NotFound(
        `Cannot load checkpoint ${options.checkpoint} of run ${dir} as it must hold state.json: ${checkpoint} has none`,
      );
    }
  } else {
    checkpoint = await readLatestCheckpointDir(folder);
  }
  if (checkpoint === undefined) {
    throw new Deno.errors.NotFound(
      `Cannot load run ${dir} as it must hold a checkpoint: current folder has none (the run stopped before its first evaluation)`,
    );
  }
  const statePath = join(checkpoint, "state.json");
  const state = await readJsonNamed(statePath) as CheckpointState;
  if (!Array.isArray(state?.adapters)) {
    throw new SyntaxError(`Cannot read ${statePath} as adapters must be a list`);
  }
  const hyper = record(config.hyper ?? {}, `${folder.configPath} hyper`);
  const alpha = typeof hyper.alpha === "number" ? hyper.alpha : 32;
  const seed = typeof config.seed === "number" ? config.seed : 0;
  const task = await taskFromDescription(
    record(config.taskInfo, `${folder.configPath} taskInfo`),
    options,
  );
  await ensureBackend();
  let model: DebertaModel | undefined;
  const adapters: Adapter[] = [];
  try {
    model = task.buildModel(seed);
    const headPath = join(checkpoint, "head.safetensors");
    const head = parseSafetensors(await readFileNamed(headPath), headPath);
    for (const [name, v] of model.namedTrainableVariables()) {
      const t = tensorData(head, name, headPath);
      tf.tidy(() => v.assign(tf.tensor(t.data, [...t.shape], "float32")));
    }
    const adapterPath = join(checkpoint, "adapters.safetensors");
    const tensors = parseSafetensors(await readFileNamed(adapterPath), adapterPath);
    for (const entry of state.adapters) {
      const adapter = adapterFor(entry, alpha);
      adapters.push(adapter);
      adapter.restore({
        method: entry.method,
        name: entry.name,
        blockRanks: [...entry.blockRanks],
        scalars: { ...entry.scalars },
        tensors: Object.fromEntries(
          entry.tensors.map((
            k: string,
          ) => [k, tensorData(tensors, `${entry.name}::${k}`, adapterPath)]),
        ),
      });
      model.setAdapter(entry.name, adapter);
    }
  } catch (error) {
    for (const a of adapters) a.dispose();
    model?.dispose();
    task.dispose();
    throw error;
  }
  const built = model;
  const ranks = new Map<string, number>();
  const controller = record(state.controller ?? {}, `${statePath} controller`);
  const saved = Array.isArray(controller.ranks) ? controller.ranks as unknown[] : undefined;
  adapters.forEach((a, i) => {
    const r = saved?.[i];
    ranks.set(a.name, typeof r === "number" ? r : a.rank);
  });
  return {
    dir,
    config,
    checkpoint,
    step: state.step,
    task,
    model: built,
    adapters,
    ranks,
    dispose(): void {
      for (const a of adapters) built.setAdapter(a.name, undefined);
      for (const a of adapters) a.dispose();
      built.dispose();
      task.dispose();
    },
  };
}

/**
 * Writers of {@linkcode runRealTraining}.
 *
 * @example Capturing the error message
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RealTrainingIo } from "./real_task.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { runRealTraining } from "./real_task.ts";
 *
 * let err = "";
 * const io: RealTrainingIo = {
 *   stdout: { writeSync: (b) => b.length },
 *   stderr: { writeSync: (b) => (err += new TextDecoder().decode(b), b.length) },
 *   progress: false,
 * };
 * const options = {
 *   ...defaultHyperParams(), model: "/nonexistent-model", task: "rte", data: "/nonexistent-data",
 *   method: "triadapt", preset: "none", seeds: [0], seed: 0, backend: "cpu", logEvery: 10,
 * } as const;
 * assert.equal(await runRealTraining(options, io), 1);
 * assert.ok(err.length > 0);
 * ```
 */
export interface RealTrainingIo {
  /** Summary output (default stdout). */
  readonly stdout?: ProgressWriter;
  /** Progress, notes and errors (default stderr). */
  readonly stderr?: ProgressWriter;
  /** Show the progress bar (default true). */
  readonly progress?: boolean;
}

/**
 * Settings of the train CLI that the hyper-parameter schema does not hold.
 *
 * @example `--skip-bad-rows` does not excuse missing data
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RealTrainingExtra } from "./real_task.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { runRealTraining } from "./real_task.ts";
 *
 * const sink = { writeSync: (b: Uint8Array) => b.length };
 * const options = {
 *   ...defaultHyperParams(), model: "/nonexistent-model", task: "rte", data: "/nonexistent-data",
 *   method: "triadapt", preset: "none", seeds: [0], seed: 0, backend: "cpu", logEvery: 10,
 * } as const;
 * const extra: RealTrainingExtra = { skipBadRows: true };
 * assert.equal(await runRealTraining(options, { stdout: sink, stderr: sink }, extra), 1);
 * ```
 */
export interface RealTrainingExtra {
  /** `--skip-bad-rows`: skip malformed GLUE rows and report how many. */
  readonly skipBadRows?: boolean;
  /** With `options.resume`: the checkpoint folder to continue from (default: the latest). */
  readonly resumeFrom?: string;
}

/**
 * Checks `--model` before anything is read: it must be a folder holding `config.json`.
 *
 * @param model The `--model` value.
 * @returns Resolves when the folder looks like a Hugging Face model folder.
 * @throws {RangeError} One line naming `--model` and what is wrong with the folder.
 *
 * @example A folder that does not exist
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkModelFolder } from "./real_task.ts";
 *
 * await assert.rejects(() => checkModelFolder("/nonexistent"), /--model must be a DeBERTa-v3 folder with config\.json and spm\.model: \/nonexistent does not exist/);
 * ```
 */
export async function checkModelFolder(model: string): Promise<void> {
  const must =
    "Cannot start training as --model must be a DeBERTa-v3 folder with config.json and spm.model";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(model);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new RangeError(`${must}: ${model} does not exist`);
    }
    throw new RangeError(`${must}: ${model} cannot be read (${(error as Error).name})`);
  }
  if (!info.isDirectory) throw new RangeError(`${must}: ${model} is not a folder`);
  for (const file of ["config.json", "spm.model"]) {
    try {
      await Deno.stat(join(model, file));
    } catch {
      throw new RangeError(`${must}: ${model} has no ${file}`);
    }
  }
}

/**
 * Checks `--data` before anything is read: the path must exist (a folder or a file).
 *
 * @param data The `--data` value.
 * @returns Resolves when the path exists.
 * @throws {RangeError} One line naming `--data`.
 *
 * @example A path that does not exist
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDataPath } from "./real_task.ts";
 *
 * await assert.rejects(() => checkDataPath("/nonexistent-data"), /--data must be .*: \/nonexistent-data does not exist/);
 * ```
 */
export async function checkDataPath(data: string): Promise<void> {
  try {
    await Deno.stat(data);
  } catch (error) {
    throw new RangeError(
      `Cannot start training as --data must be a GLUE task folder or file, or the SQuAD 2.0 folder or file: ${data} ${
        error instanceof Deno.errors.NotFound
          ? "does not exist"
          : `cannot be read (${(error as Error).name})`
      }`,
    );
  }
}

const encoder = new TextEncoder();

function writeText(w: ProgressWriter, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
}

function isInputError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError ||
    error instanceof SyntaxError || error instanceof Deno.errors.NotFound;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, "");
}

/**
 * `deno task train` on real data (GLUE task or `squad2`): builds the task from `--model --data`,
 * checks the schedules against T, then runs one training per seed into the run folder (or
 * `seed-<n>/` sub-folders with `--seeds`), printing a summary per run. `--resume <dir>` takes
 * every option from the run's `config.json`.
 *
 * @param options Validated training options (`parseTrainArgs`).
 * @param io Writers.
 * @param extra `skipBadRows`.
 * @returns The exit status: 0 ok, 1 bad input (flags, data errors: the reader's message names the
 *   file and line), 2 runtime failure.
 *
 * @example A data folder that does not exist exits 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { runRealTraining } from "./real_task.ts";
 *
 * const sink = { writeSync: (b: Uint8Array) => b.length };
 * const options = {
 *   ...defaultHyperParams(), model: "/nonexistent-model", task: "rte", data: "/nonexistent-data",
 *   method: "triadapt", preset: "none", seeds: [0], seed: 0, backend: "cpu", logEvery: 10,
 * } as const;
 * assert.equal(await runRealTraining(options, { stdout: sink, stderr: sink }), 1);
 * ```
 */
export async function runRealTraining(
  options: TrainOptions,
  io: RealTrainingIo = {},
  extra: RealTrainingExtra = {},
): Promise<number> {
  const stdout = io.stdout ?? Deno.stdout;
  const stderr = io.stderr ?? Deno.stderr;
  let opts = options;
  let skipBadRows = extra.skipBadRows ?? options.skipBadRows ?? false;
  let task: GlueTask | SquadTask;
  let out: string;
  let memoryRequest: StepMemoryRequest;
  let memory: StepMemoryPlan;
  try {
    if (options.resume !== undefined) {
      const config = await readResumeConfig(options.resume);
      const cli = record(config.cli, `${options.resume}/config.json cli`);
      // The recorded options, but flags that cannot change the results take the new value.
      const changes = Object.fromEntries(
        FLAG_SPECS.filter((spec) => spec.resumeMayChange && options[spec.key] !== undefined)
          .map((spec) => [spec.key, options[spec.key]]),
      );
      opts = validateTrainOptions({
        ...record(cli.options, `${options.resume}/config.json cli.options`),
        ...changes,
      });
      skipBadRows = cli.skipBadRows === true || opts.skipBadRows === true;
      out = options.resume;
    } else {
      out = options.out ?? join("runs", `${options.task}-${options.method}-${stamp()}`);
    }
    await checkModelFolder(opts.model);
    await checkDataPath(opts.data);
    // The step's memory is planned from config.json before any weight is read (METHOD §22).
    const configPath = join(opts.model, "config.json");
    const encoder = parseDebertaConfig(JSON.parse(await Deno.readTextFile(configPath)), configPath);
    memoryRequest = stepMemoryRequest(encoder, opts, parallelSettings(opts).workers);
    memory = planStepMemory(memoryRequest);
    task = await createRealTask({
      task: opts.task,
      model: opts.model,
      data: opts.data,
      maxLength: opts.maxLength,
      skipBadRows,
    });
  } catch (error) {
    writeText(stderr, `error: ${(error as Error).message ?? String(error)}\n`);
    return isInputError(error) ? 1 : 2;
  }
  try {
    if ("skipped" in task && skipBadRows) {
      writeText(
        stderr,
        `triadapt train: skipped ${task.skipped.train} malformed training row(s) and ${task.skipped.eval} evaluation row(s) (--skip-bad-rows)\n`,
      );
    }
    try {
      validateSchedules(
        opts.method,
        opts,
        totalStepsFor(task.numTrainExamples, opts, opts.maxSteps),
      );
    } catch (error) {
      writeText(stderr, `error: ${inFlagTerms((error as Error).message, opts.method)}\n`);
      return 1;
    }
    const backend = await initBackend(opts.backend);
    writeText(stderr, `triadapt train: ${backend.summary}\n`);
    const resume = options.resume !== undefined;
    const seeds = resume ? [opts.seed] : opts.seeds;
    const results: RunResult[] = [];
    for (const seed of seeds) {
      const dir = seeds.length > 1 ? join(out, `seed-${seed}`) : out;
      const result = await runTraining({
        task,
        // Only the hyper-parameters (runTraining refuses the CLI's other fields).
        hyper: Object.fromEntries(
          HYPERPARAM_KEYS.map((k) => [k, opts[k]]),
        ) as unknown as HyperParams,
        settings: {
          method: opts.method,
          seed,
          logEvery: opts.logEvery,
          ...(opts.maxSteps === undefined ? {} : { maxSteps: opts.maxSteps }),
          ...(opts.evalEvery === undefined ? {} : { evalEvery: opts.evalEvery }),
          ...(opts.checkpointEvery === undefined ? {} : { checkpointEvery: opts.checkpointEvery }),
          ...parallelSettings(opts),
          recompute: memory.recompute,
        },
        dir,
        resume,
        ...(extra.resumeFrom === undefined ? {} : { resumeFrom: extra.resumeFrom }),
        log: (line) => writeText(stderr, `triadapt train: ${line}\n`),
        backend,
        configExtra: { cli: { options: { ...opts, seed, seeds: [seed] }, skipBadRows } },
        ...(io.progress === false ? { progress: false as const } : { progress: stderr }),
        label: `${task.name} ${opts.method} seed ${seed}`,
      });
      results.push(result);
      const fmt = (v: number | undefined): string => v === undefined ? "–" : v.toFixed(4);
      writeText(
        stdout,
        [
          `task ${task.name}  method ${opts.method}  seed ${seed}  steps ${result.step}/${result.totalSteps}`,
          `${task.metricName} final ${fmt(result.final?.value)}  best ${
            result.best === undefined ? "–" : `${fmt(result.best.value)} @ ${result.best.step}`
          }`,
          `ranks ${result.ranksTotal} / budget ${result.budget}  events ${result.events}  ${
            result.seconds.toFixed(1)
          } s`,
          `run folder ${result.dir}`,
          "",
        ].join("\n"),
      );
      for (const w of result.warnings) writeText(stderr, `\n${w}\n\n`);
    }
    if (results.length > 1) {
      const table = formatSeedSummary(
        results.map((r, i) => ({
          method: opts.method,
          task: task.name,
          seed: seeds[i] as number,
          value: r.final?.value ?? NaN,
        })),
        { scale: 100, digits: 2 },
      );
      await Deno.writeTextFile(join(out, "summary.md"), table);
      writeText(stdout, `\n${task.metricName} over seeds (×100):\n${table}`);
    }
    return 0;
  } catch (error) {
    if (isOutOfMemory(error)) {
      writeText(stderr, `error: ${outOfMemoryError(error, memoryRequest).message}\n`);
      return 1;
    }
    writeText(stderr, `error: ${(error as Error).message ?? String(error)}\n`);
    const input = isInputError(error) && !(error instanceof NonFiniteError) &&
      !(error instanceof Deno.errors.NotFound);
    return input ? 1 : 2;
  } finally {
    task.dispose();
  }
}

/**
 * `deno task train --resume <run dir>` with no other flag: continues a real-data run with the
 * options recorded in its `config.json` (`deno task train --resume <dir>` sends a planted run to
 * the planted path of `train/cli.ts` before this is reached).
 *
 * @param dir The run folder.
 * @param io Writers.
 * @returns The exit status of {@linkcode runRealTraining} (1 when the folder holds no such run).
 *
 * @example Missing run folder exits 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeRealTraining } from "./real_task.ts";
 *
 * const sink = { writeSync: (b: Uint8Array) => b.length };
 * assert.equal(await resumeRealTraining("/nonexistent-run", { stdout: sink, stderr: sink }), 1);
 * ```
 */
export async function resumeRealTraining(dir: string, io: RealTrainingIo = {}): Promise<number> {
  const stderr = io.stderr ?? Deno.stderr;
  let options: TrainOptions;
  let point: ResumePoint | undefined;
  try {
    const path = join(dir, "config.json");
    const config = await readResumeConfig(dir);
    if (config.task === "planted") {
      throw new RangeError(
        `Cannot resume ${dir} here as it must hold a real-data run: current task is planted (run deno task train --resume ${dir})`,
      );
    }
    const cli = record(config.cli, `${path} cli`);
    options = validateTrainOptions({ ...record(cli.options, `${path} cli.options`), resume: dir });
    // The checkpoint must be intact before anything is built (the error names the file).
    point = await findResumePoint(dir);
  } catch (error) {
    writeText(stderr, `error: ${(error as Error).message.split("\n")[0]}\n`);
    return 1;
  }
  return await runRealTraining(options, io, point === undefined ? {} : { resumeFrom: point.dir });
}
