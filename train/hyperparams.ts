/**
 * The training options: one typed schema for every flag of `deno task train`, with defaults,
 * validation and the grouped `--help` text generated from the same table, so help and parsing
 * never drift apart.
 *
 * Defaults (no `--preset`) are the paper's RTE row of docs/METHOD.md §16 (RTE is the smallest GLUE
 * task and the one the examples use); `--preset paper` replaces them with the row of the chosen
 * task (see `presets.ts`), and flags given explicitly always win.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type GrantRule,
  type Normalisation,
  type Rounding,
  SCORE_KINDS,
  type ScoreKind,
  type ThresholdMode,
} from "../core/mod.ts";
import type { GrowthInit } from "../ops/mod.ts";
import { backendHelp } from "../ops/backend.ts";
import { applyPreset } from "./presets.ts";
import { argsErrorMessage, attachNegativeValues, formatHelp, HELP_ENTRY } from "./_cli_text.ts";

/**
 * A fine-tuning task: the eight GLUE tasks of Table I and SQuAD 2.0.
 *
 * @example A task name from the CLI
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainTask } from "./hyperparams.ts";
 * import { normaliseTaskName } from "./hyperparams.ts";
 *
 * const task: TrainTask = normaliseTaskName("STS-B");
 * assert.equal(task, "stsb");
 * ```
 */
export type TrainTask =
  | "mnli"
  | "sst2"
  | "cola"
  | "qqp"
  | "qnli"
  | "rte"
  | "mrpc"
  | "stsb"
  | "squad2";

/**
 * The adapter method: TriAdaptLoRA or one of its baselines (docs/METHOD.md §11–§13).
 *
 * @example The method of a parsed command
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainMethod } from "./hyperparams.ts";
 * import { parseTrainArgs } from "./hyperparams.ts";
 *
 * const parsed = parseTrainArgs(["--model", "m", "--task", "rte", "--data", "d", "--method", "lora"]);
 * assert.ok("options" in parsed);
 * const method: TrainMethod = parsed.options.method;
 * assert.equal(method, "lora");
 * ```
 */
export type TrainMethod = "triadapt" | "lora" | "adalora" | "increlora";

export type { GrowthInit, Normalisation, Rounding, ThresholdMode };

/**
 * The tfjs backend to train on.
 *
 * @example The default backend is wasm
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainBackend } from "./hyperparams.ts";
 * import { parseTrainArgs } from "./hyperparams.ts";
 *
 * const parsed = parseTrainArgs(["--model", "m", "--task", "rte", "--data", "d"]);
 * assert.ok("options" in parsed);
 * const backend: TrainBackend = parsed.options.backend;
 * assert.equal(backend, "wasm");
 * ```
 */
export type TrainBackend = "wasm" | "cpu" | "webgpu" | "tensorflow" | "tensorflow-gpu";

/**
 * A named set of hyper-parameters: `paper` is docs/METHOD.md §16, `none` the schema defaults.
 *
 * @example `none` leaves the explicit flags alone
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PresetName } from "./hyperparams.ts";
 * import { applyPreset } from "./presets.ts";
import { argsErrorMessage, attachNegativeValues, formatHelp, HELP_ENTRY } from "./_cli_text.ts";
 *
 * const preset: PresetName = "none";
 * assert.deepEqual(applyPreset(preset, "rte", "triadapt", { lr: 1e-4 }), { lr: 1e-4 });
 * ```
 */
export type PresetName = "paper" | "none";

/**
 * The task names accepted by `--task`, in Table I order.
 *
 * @example GLUE tasks and SQuAD 2.0
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRAIN_TASKS } from "./hyperparams.ts";
 *
 * assert.equal(TRAIN_TASKS[0], "mnli");
 * assert.ok(TRAIN_TASKS.includes("rte") && TRAIN_TASKS.includes("squad2"));
 * ```
 */
export const TRAIN_TASKS: readonly TrainTask[] = Object.freeze([
  "mnli",
  "sst2",
  "cola",
  "qqp",
  "qnli",
  "rte",
  "mrpc",
  "stsb",
  "squad2",
]);

/**
 * The methods accepted by `--method`.
 *
 * @example TriAdaptLoRA and its baselines
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRAIN_METHODS } from "./hyperparams.ts";
 *
 * assert.deepEqual([...TRAIN_METHODS], ["triadapt", "lora", "adalora", "increlora"]);
 * ```
 */
export const TRAIN_METHODS: readonly TrainMethod[] = Object.freeze([
  "triadapt",
  "lora",
  "adalora",
  "increlora",
]);

/**
 * Every numeric or categorical hyper-parameter a preset may set. Symbols in brackets are the
 * paper's; the reference harness's flag name follows where it differs.
 *
 * @example The schema defaults are the paper's RTE row
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HyperParams } from "./hyperparams.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 *
 * const hp: HyperParams = defaultHyperParams();
 * assert.equal(hp.lr, 1.2e-3);
 * assert.equal(hp.alpha, 32);
 * assert.equal(hp.refRank, 8);
 * ```
 */
export interface HyperParams {
  /** TriAdaptLoRA threshold schedule (linear k = R·α, nonlinear k = R^α, fixed k = topH). */
  readonly threshold: ThresholdMode;
  /** Training epochs; the total step count T is epochs × steps per epoch unless maxSteps is set. */
  readonly epochs: number;
  /** Examples per optimizer step. */
  readonly batchSize: number;
  /** Peak learning rate of AdamW (after warm-up, decays linearly to 0 at T). */
  readonly lr: number;
  /** Decoupled AdamW weight decay. */
  readonly weightDecay: number;
  /** AdamW β1. */
  readonly adamBeta1: number;
  /** AdamW β2. */
  readonly adamBeta2: number;
  /** AdamW ε. */
  readonly adamEpsilon: number;
  /** Linear learning-rate warm-up steps (`warmup_steps`). */
  readonly warmupSteps: number;
  /** Global gradient-norm clipping (`max_grad_norm`); 0 disables it. */
  readonly clipNorm: number;
  /** Adapter scale numerator α (`lora_alpha`): s(r) = α / (r + 1e-5). */
  readonly alpha: number;
  /** Dropout on the adapter input path only (`lora_dropout`). */
  readonly dropout: number;
  /** Maximum tokens per (pair of) sequence(s) (`max_seq_length`). */
  readonly maxLength: number;
  /** Weight of the orthogonality penalty of eq. 10 (`reg_orth_coef`). */
  readonly orthRegWeight: number;
  /** Average rank the budget allows per matrix, r_ref (`target_rank`); LoRA's fixed rank. */
  readonly refRank: number;
  /** Starting rank of TriAdaptLoRA and IncreLoRA matrices (`lora_r`). */
  readonly initRank: number;
  /** Rank added to a matrix each time it grows, Δr (`incre_rank_num`). */
  readonly deltaRank: number;
  /** Steps before the first allocation event, t0 (`init_warmup`). */
  readonly initWarmup: number;
  /** Steps between allocation events (`incre_interval`). */
  readonly interval: number;
  /** Rounding of k. */
  readonly rounding: Rounding;
  /** Let an event spend more than the remaining budget, as the reference code can. */
  readonly allowOvershoot: boolean;
  /** Importance normalisation N(r). */
  readonly normalisation: Normalisation;
  /** Initialisation of grown entries. */
  readonly growthInit: GrowthInit;
  /** TriAdaptLoRA allocation score (docs/METHOD.md §20). */
  readonly score: ScoreKind;
  /** How TriAdaptLoRA shares an event's rank units (docs/METHOD.md §20). */
  readonly grants: GrantRule;
  /** Matrices grown per event for IncreLoRA and TriAdaptLoRA fixed-k (`top_h`). */
  readonly topH: number;
  /** AdaLoRA: steps at the initial budget (`init_warmup`, tinit). */
  readonly tinit: number;
  /** AdaLoRA: final steps at the target budget (`final_warmup`, tfinal). */
  readonly tfinal: number;
  /** AdaLoRA: steps between masking events (`mask_interval`, ΔT). */
  readonly deltaT: number;
  /** AdaLoRA: initial rank of every matrix (`lora_r`). */
  readonly adaloraInitRank: number;
  /** AdaLoRA / IncreLoRA: EMA coefficient of the sensitivity Ī. */
  readonly beta1: number;
  /** AdaLoRA / IncreLoRA: EMA coefficient of the uncertainty Ū. */
  readonly beta2: number;
}

/**
 * The resolved, validated options of one training command.
 *
 * @example Options resolved from flags
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainOptions } from "./hyperparams.ts";
 * import { parseTrainArgs } from "./hyperparams.ts";
 *
 * const parsed = parseTrainArgs(["--model", "m", "--task", "rte", "--data", "d", "--max-steps", "5"]);
 * assert.ok("options" in parsed);
 * const options: TrainOptions = parsed.options;
 * assert.equal(options.maxSteps, 5);
 * assert.equal(options.seed, options.seeds[0]);
 * ```
 */
export interface TrainOptions extends HyperParams {
  /** Hugging Face model folder (config.json, weights, spm.model). */
  readonly model: string;
  /** The task to fine-tune on. */
  readonly task: TrainTask;
  /** GLUE task folder or file (TSV, parquet, JSONL), or the SQuAD 2.0 folder/file. */
  readonly data: string;
  /** The adapter method. */
  readonly method: TrainMethod;
  /** The preset that was applied under the explicit flags. */
  readonly preset: PresetName;
  /** The seeds to run, in order (one run per seed); `seed` is the first. */
  readonly seeds: readonly number[];
  /** The first (or only) seed. */
  readonly seed: number;
  /** The tfjs backend. */
  readonly backend: TrainBackend;
  /** The run folder; absent: the CLI picks `runs/<task>-<method>-<timestamp>`. */
  readonly out?: string;
  /** A run folder to resume from its latest checkpoint. */
  readonly resume?: string;
  /** With `resume`: the checkpoint to continue from (a name under `checkpoints/`). */
  readonly checkpoint?: string;
  /** Stop after this many optimizer steps; it then also is T for every schedule. */
  readonly maxSteps?: number;
  /** Also evaluate every N steps; every epoch end is evaluated in any case. */
  readonly evalEvery?: number;
  /** Log a metrics line every N steps. */
  readonly logEvery: number;
  /** Write a checkpoint every N steps; absent: after every evaluation. */
  readonly checkpointEvery?: number;
  /** Skip malformed GLUE rows and report how many (absent or false: a bad row is an error). */
  readonly skipBadRows?: boolean;
  /** Examples per micro-batch (gradient accumulation within a step); absent: the whole batch. */
  readonly microBatch?: number;
  /** Data-parallel gradient workers: `auto` (the machine's cores) or a count; 1: in-process; absent: `auto`. */
  readonly workers?: string;
  /**
   * Activation recomputation: `on` (whole layers again in backward), `selective` (only the
   * attention core, LayerNorms and GELU again), `off`, or `auto` (off when a plain step fits,
   * else selective, else on); absent: `auto`.
   */
  readonly recompute?: "on" | "off" | "auto" | "selective";
}

/**
 * The help-text section a flag is listed under.
 *
 * @example Every flag has a help section
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FlagGroup } from "./hyperparams.ts";
 * import { FLAG_SPECS } from "./hyperparams.ts";
 *
 * const groups: readonly FlagGroup[] = FLAG_SPECS.map((s) => s.group);
 * assert.equal(groups[0], "Run");
 * assert.ok(groups.includes("AdaLoRA"));
 * ```
 */
export type FlagGroup = "Run" | "Method" | "Allocation" | "Optimisation" | "Adapter" | "AdaLoRA";

/**
 * The value syntax of a flag.
 *
 * @example `--task` is a choice, `--max-steps` an int
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FlagKind } from "./hyperparams.ts";
 * import { FLAG_SPECS } from "./hyperparams.ts";
 *
 * const kindOf = (flag: string): FlagKind | undefined => FLAG_SPECS.find((s) => s.flag === flag)?.kind;
 * assert.equal(kindOf("task"), "choice");
 * assert.equal(kindOf("max-steps"), "int");
 * ```
 */
export type FlagKind = "int" | "number" | "string" | "choice" | "boolean" | "intList";

/**
 * One row of the options schema: a field, its flag, type, bounds, default and help.
 *
 * @example The `--task` row
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FlagSpec } from "./hyperparams.ts";
 * import { FLAG_SPECS } from "./hyperparams.ts";
 *
 * const task: FlagSpec | undefined = FLAG_SPECS.find((s) => s.key === "task");
 * assert.equal(task?.required, true);
 * assert.ok(task?.choices?.includes("squad2"));
 * ```
 */
export interface FlagSpec {
  /** The `TrainOptions` field. */
  readonly key: keyof TrainOptions;
  /** The long flag, without the leading `--`. */
  readonly flag: string;
  /** The help section. */
  readonly group: FlagGroup;
  /** The value syntax. */
  readonly kind: FlagKind;
  /** Allowed values of a `choice` flag. */
  readonly choices?: readonly string[];
  /** Smallest allowed value (numbers). */
  readonly min?: number;
  /** True when `min` itself is not allowed. */
  readonly minExclusive?: boolean;
  /** Largest allowed value (numbers). */
  readonly max?: number;
  /** True when `max` itself is not allowed. */
  readonly maxExclusive?: boolean;
  /** The default; absent for required flags and for optional flags with no value. */
  readonly default?: number | string | boolean;
  /** True when the flag must be given. */
  readonly required?: boolean;
  /** Placeholder shown in help, e.g. `<path>`. */
  readonly valueName?: string;
  /** One-sentence help. */
  readonly description: string;
  /**
   * True when the flag may take a new value on `--resume` because it cannot change the run's
   * results (e.g. how work is spread over workers); the resumed run then uses the new value.
   * Every other flag given with `--resume` must repeat its recorded value.
   */
  readonly resumeMayChange?: boolean;
}

const INT_MAX = Number.MAX_SAFE_INTEGER;

/**
 * The schema: one row per `TrainOptions` field, in help order. Defaults of the hyper-parameters
 * are the paper's RTE row (docs/METHOD.md §16) with r_ref 8 and batch 32.
 *
 * @example Look up a flag
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLAG_SPECS } from "./hyperparams.ts";
 *
 * const maxSteps = FLAG_SPECS.find((s) => s.flag === "max-steps");
 * assert.equal(maxSteps?.key, "maxSteps");
 * assert.equal(FLAG_SPECS.find((s) => s.key === "lr")?.default, 1.2e-3);
 * ```
 */
export const FLAG_SPECS: readonly FlagSpec[] = Object.freeze(
  [
    // Run
    {
      key: "model",
      flag: "model",
      group: "Run",
      kind: "string",
      required: true,
      valueName: "<folder>",
      description: "Hugging Face DeBERTa-v3 folder (config.json, weights, spm.model)",
    },
    {
      key: "task",
      flag: "task",
      group: "Run",
      kind: "choice",
      choices: TRAIN_TASKS,
      required: true,
      description: "Task to fine-tune on (SST-2, STS-B, squad_v2 spellings are accepted)",
    },
    {
      key: "data",
      flag: "data",
      group: "Run",
      kind: "string",
      required: true,
      valueName: "<path>",
      description:
        "GLUE task folder or file (.tsv, .parquet, .jsonl), or the SQuAD 2.0 folder/file",
    },
    {
      key: "preset",
      flag: "preset",
      group: "Run",
      kind: "choice",
      choices: ["paper", "none"],
      default: "none",
      description:
        "paper: the paper's hyper-parameters for the task and method; explicit flags win",
    },
    {
      key: "seed",
      flag: "seed",
      group: "Run",
      kind: "int",
      min: 0,
      max: 4294967295,
      default: 0,
      valueName: "<n>",
      description: "Seed of every random draw (initialisation, dropout, shuffling)",
    },
    {
      key: "seeds",
      flag: "seeds",
      group: "Run",
      kind: "intList",
      min: 0,
      max: 4294967295,
      valueName: "<a,b,…>",
      description: "Run once per seed and write a mean ± std summary (instead of --seed)",
    },
    {
      key: "backend",
      flag: "backend",
      group: "Run",
      kind: "choice",
      choices: ["wasm", "cpu", "webgpu", "tensorflow", "tensorflow-gpu"],
      default: "wasm",
      description: backendHelp(),
    },
    {
      key: "out",
      flag: "out",
      group: "Run",
      kind: "string",
      valueName: "<dir>",
      description: "Run folder (default: runs/<task>-<method>-<timestamp>)",
    },
    {
      key: "resume",
      flag: "resume",
      group: "Run",
      kind: "string",
      valueName: "<run dir>",
      description:
        "Continue a run folder with the options in its config.json. Any other flag must repeat the recorded value: a flag that would change the run is refused, --max-steps included (T sets the LR decay and every allocation schedule, so a resumed run could not match an uninterrupted one). Only flags marked 'may change on --resume' take a new value: they change how a step is computed, not what it computes (the run equals the uninterrupted one up to float32 round-off)",
    },
    {
      key: "checkpoint",
      flag: "checkpoint",
      group: "Run",
      kind: "string",
      valueName: "<step-N>",
      description:
        "With --resume: continue from this checkpoint under checkpoints/ instead of the latest (later ones are replaced as the run goes on)",
    },
    {
      key: "maxSteps",
      flag: "max-steps",
      group: "Run",
      kind: "int",
      min: 1,
      max: INT_MAX,
      valueName: "<n>",
      description: "Stop after N optimizer steps; N is then the T of every schedule",
    },
    {
      key: "evalEvery",
      flag: "eval-every",
      group: "Run",
      kind: "int",
      min: 1,
      max: INT_MAX,
      valueName: "<n>",
      description: "Also evaluate every N steps (the end of each epoch always is)",
    },
    {
      key: "logEvery",
      flag: "log-every",
      group: "Run",
      kind: "int",
      min: 1,
      max: INT_MAX,
      default: 10,
      valueName: "<n>",
      description: "Append a metrics.jsonl line every N steps",
    },
    {
      key: "checkpointEvery",
      flag: "checkpoint-every",
      group: "Run",
      kind: "int",
      min: 1,
      max: INT_MAX,
      valueName: "<n>",
      description: "Checkpoint every N steps (default: after every evaluation)",
    },
    {
      key: "microBatch",
      flag: "micro-batch",
      group: "Run",
      kind: "int",
      min: 1,
      max: 65536,
      valueName: "<n>",
      description: "Examples per micro-batch: accumulate gradients, same result, less memory",
      resumeMayChange: true,
    },
    {
      key: "workers",
      flag: "workers",
      group: "Run",
      kind: "string",
      valueName: "<n|auto>",
      description: "Data-parallel gradient workers (default auto: one per core; 1: in-process)",
      resumeMayChange: true,
    },
    {
      key: "recompute",
      flag: "recompute",
      group: "Run",
      kind: "choice",
      choices: ["on", "selective", "off", "auto"],
      valueName: "<on|selective|off|auto>",
      description:
        "Recompute activations in backward, same gradients, far less memory: on (whole layers), selective (attention, LayerNorm, GELU; faster); default auto: off if a step fits, else selective, else on",
      resumeMayChange: true,
    },
    {
      key: "skipBadRows",
      flag: "skip-bad-rows",
      group: "Run",
      kind: "boolean",
      description:
        "Skip malformed GLUE rows and report how many (default: a bad row exits 1 naming file and line)",
    },
    // Method
    {
      key: "method",
      flag: "method",
      group: "Method",
      kind: "choice",
      choices: TRAIN_METHODS,
      default: "triadapt",
      description: "Adapter method: TriAdaptLoRA or a baseline with the same budget",
    },
    {
      key: "threshold",
      flag: "threshold",
      group: "Method",
      kind: "choice",
      choices: ["linear", "nonlinear", "fixed"],
      default: "linear",
      description: "TriAdaptLoRA matrices per event: k = R·α, k = R^α, or k = --top-h",
    },
    {
      key: "refRank",
      flag: "ref-rank",
      group: "Method",
      kind: "int",
      min: 1,
      max: 4096,
      default: 8,
      valueName: "<r>",
      description: "r_ref: average rank the budget allows per matrix (LoRA: its fixed rank)",
    },
    {
      key: "initRank",
      flag: "init-rank",
      group: "Method",
      kind: "int",
      min: 1,
      max: 4096,
      default: 1,
      valueName: "<r>",
      description: "Starting rank of TriAdaptLoRA and IncreLoRA matrices",
    },
    {
      key: "alpha",
      flag: "alpha",
      group: "Adapter",
      kind: "number",
      min: 0,
      minExclusive: true,
      default: 32,
      valueName: "<a>",
      description: "lora_alpha: adapter scale s(r) = alpha / (r + 1e-5)",
    },
    {
      key: "dropout",
      flag: "dropout",
      group: "Adapter",
      kind: "number",
      min: 0,
      max: 1,
      maxExclusive: true,
      default: 0,
      valueName: "<p>",
      description: "lora_dropout on the adapter input path (paper 'default' = harness default 0)",
    },
    {
      key: "maxLength",
      flag: "max-length",
      group: "Adapter",
      kind: "int",
      min: 8,
      max: 512,
      default: 320,
      valueName: "<n>",
      description: "Maximum tokens per example (pair), at most the model's 512 positions",
    },
    {
      key: "orthRegWeight",
      flag: "orth-reg-weight",
      group: "Adapter",
      kind: "number",
      min: 0,
      default: 0.3,
      valueName: "<w>",
      description: "Weight of the orthogonality penalty (eq. 10; not used by LoRA)",
    },
    {
      key: "growthInit",
      flag: "growth-init",
      group: "Adapter",
      kind: "choice",
      choices: ["paper", "preserving"],
      default: "paper",
      description: "New entries random as in the paper, or output-preserving [ours]",
    },
    // Allocation
    {
      key: "deltaRank",
      flag: "delta-rank",
      group: "Allocation",
      kind: "int",
      min: 1,
      max: 4096,
      default: 4,
      valueName: "<Δr>",
      description: "Rank added to a matrix each time it grows",
    },
    {
      key: "initWarmup",
      flag: "init-warmup",
      group: "Allocation",
      kind: "int",
      min: 0,
      max: INT_MAX,
      default: 100,
      valueName: "<t0>",
      description: "Steps before the first allocation event",
    },
    {
      key: "interval",
      flag: "interval",
      group: "Allocation",
      kind: "int",
      min: 1,
      max: INT_MAX,
      default: 100,
      valueName: "<n>",
      description: "Steps between allocation events",
    },
    {
      key: "topH",
      flag: "top-h",
      group: "Allocation",
      kind: "int",
      min: 1,
      max: 4096,
      default: 9,
      valueName: "<k>",
      description: "Matrices grown per event by IncreLoRA and by --threshold fixed",
    },
    {
      key: "rounding",
      flag: "rounding",
      group: "Allocation",
      kind: "choice",
      choices: ["floor", "ceil"],
      default: "floor",
      description: "Rounding of k: floor as coded, ceil as printed in the paper",
    },
    {
      key: "normalisation",
      flag: "normalisation",
      group: "Allocation",
      kind: "choice",
      choices: ["rank", "sqrt", "none"],
      default: "rank",
      description: "Importance normalisation N(r) of eq. 11: r, sqrt(r) or 1",
    },
    {
      key: "score",
      flag: "score",
      group: "Allocation",
      kind: "choice",
      choices: SCORE_KINDS,
      default: "paper",
      description:
        "TriAdaptLoRA score: eq. 11 (paper), change of the update norm (update) or its smallest singular value (spectrum) [ours]",
    },
    {
      key: "grants",
      flag: "grants",
      group: "Allocation",
      kind: "choice",
      choices: ["equal", "proportional"],
      default: "equal",
      description:
        "TriAdaptLoRA units per event: Δr to each of the k best (equal) or shared by score (proportional) [ours]",
    },
    {
      key: "allowOvershoot",
      flag: "allow-overshoot",
      group: "Allocation",
      kind: "boolean",
      default: false,
      description: "Let an event spend past the budget as the reference code can",
    },
    // Optimisation
    {
      key: "epochs",
      flag: "epochs",
      group: "Optimisation",
      kind: "int",
      min: 1,
      max: 100000,
      default: 50,
      valueName: "<n>",
      description: "Training epochs (T = epochs × steps per epoch)",
    },
    {
      key: "batchSize",
      flag: "batch-size",
      group: "Optimisation",
      kind: "int",
      min: 1,
      max: 65536,
      default: 32,
      valueName: "<n>",
      description: "Examples per optimizer step",
    },
    {
      key: "lr",
      flag: "lr",
      group: "Optimisation",
      kind: "number",
      min: 0,
      minExclusive: true,
      max: 1,
      default: 1.2e-3,
      valueName: "<lr>",
      description: "Peak learning rate (linear warm-up, then linear decay to 0)",
    },
    {
      key: "warmupSteps",
      flag: "warmup-steps",
      group: "Optimisation",
      kind: "int",
      min: 0,
      max: INT_MAX,
      default: 100,
      valueName: "<n>",
      description: "Linear learning-rate warm-up steps",
    },
    {
      key: "weightDecay",
      flag: "weight-decay",
      group: "Optimisation",
      kind: "number",
      min: 0,
      default: 0.01,
      valueName: "<wd>",
      description: "Decoupled AdamW weight decay",
    },
    {
      key: "adamBeta1",
      flag: "adam-beta1",
      group: "Optimisation",
      kind: "number",
      min: 0,
      max: 1,
      maxExclusive: true,
      default: 0.9,
      valueName: "<b>",
      description: "AdamW β1",
    },
    {
      key: "adamBeta2",
      flag: "adam-beta2",
      group: "Optimisation",
      kind: "number",
      min: 0,
      max: 1,
      maxExclusive: true,
      default: 0.999,
      valueName: "<b>",
      description: "AdamW β2",
    },
    {
      key: "adamEpsilon",
      flag: "adam-epsilon",
      group: "Optimisation",
      kind: "number",
      min: 0,
      minExclusive: true,
      default: 1e-8,
      valueName: "<eps>",
      description: "AdamW ε",
    },
    {
      key: "clipNorm",
      flag: "clip-norm",
      group: "Optimisation",
      kind: "number",
      min: 0,
      default: 1,
      valueName: "<n>",
      description: "Clip the global gradient norm to this value; 0 disables clipping",
    },
    // AdaLoRA
    {
      key: "tinit",
      flag: "tinit",
      group: "AdaLoRA",
      kind: "int",
      min: 0,
      max: INT_MAX,
      default: 600,
      valueName: "<n>",
      description: "AdaLoRA: steps at the initial budget",
    },
    {
      key: "tfinal",
      flag: "tfinal",
      group: "AdaLoRA",
      kind: "int",
      min: 0,
      max: INT_MAX,
      default: 1800,
      valueName: "<n>",
      description: "AdaLoRA: final steps at the target budget",
    },
    {
      key: "deltaT",
      flag: "delta-t",
      group: "AdaLoRA",
      kind: "int",
      min: 1,
      max: INT_MAX,
      default: 1,
      valueName: "<n>",
      description: "AdaLoRA: steps between masking events",
    },
    {
      key: "adaloraInitRank",
      flag: "adalora-init-rank",
      group: "AdaLoRA",
      kind: "int",
      min: 1,
      max: 4096,
      default: 12,
      valueName: "<r>",
      description: "AdaLoRA: initial rank of every matrix (must be ≥ --ref-rank)",
    },
    {
      key: "beta1",
      flag: "beta1",
      group: "AdaLoRA",
      kind: "number",
      min: 0,
      max: 1,
      maxExclusive: true,
      default: 0.85,
      valueName: "<b>",
      description: "AdaLoRA/IncreLoRA: EMA coefficient of the sensitivity",
    },
    {
      key: "beta2",
      flag: "beta2",
      group: "AdaLoRA",
      kind: "number",
      min: 0,
      max: 1,
      maxExclusive: true,
      default: 0.85,
      valueName: "<b>",
      description: "AdaLoRA/IncreLoRA: EMA coefficient of the uncertainty",
    },
  ] satisfies FlagSpec[],
);

/**
 * The keys of `HyperParams`, i.e. the fields a preset may set.
 *
 * @example Hyper-parameters, not run settings
 * ```ts
 * import assert from "node:assert/strict";
 * import { HYPERPARAM_KEYS } from "./hyperparams.ts";
 *
 * assert.ok(HYPERPARAM_KEYS.includes("lr"));
 * assert.ok(!(HYPERPARAM_KEYS as readonly string[]).includes("model"));
 * ```
 */
export const HYPERPARAM_KEYS: readonly (keyof HyperParams)[] = Object.freeze([
  "threshold",
  "epochs",
  "batchSize",
  "lr",
  "weightDecay",
  "adamBeta1",
  "adamBeta2",
  "adamEpsilon",
  "warmupSteps",
  "clipNorm",
  "alpha",
  "dropout",
  "maxLength",
  "orthRegWeight",
  "refRank",
  "initRank",
  "deltaRank",
  "initWarmup",
  "interval",
  "rounding",
  "allowOvershoot",
  "normalisation",
  "growthInit",
  "score",
  "grants",
  "topH",
  "tinit",
  "tfinal",
  "deltaT",
  "adaloraInitRank",
  "beta1",
  "beta2",
]);

const TASK_ALIASES: Readonly<Record<string, TrainTask>> = Object.freeze({
  "sst-2": "sst2",
  "sts-b": "stsb",
  "squad": "squad2",
  "squadv2": "squad2",
  "squad_v2": "squad2",
  "squad-v2": "squad2",
  "squad2.0": "squad2",
});

/**
 * Maps a task spelling (`RTE`, `SST-2`, `STS-B`, `squad_v2`, …) to its `TrainTask` id.
 *
 * @param name The task as the user wrote it (case-insensitive).
 * @returns The canonical task id.
 * @throws {RangeError} When the name is no known task.
 *
 * @example Canonical names
 * ```ts
 * import assert from "node:assert/strict";
 * import { normaliseTaskName } from "./hyperparams.ts";
 *
 * assert.equal(normaliseTaskName("SST-2"), "sst2");
 * assert.equal(normaliseTaskName("squad_v2"), "squad2");
 * assert.throws(() => normaliseTaskName("wnli"), RangeError);
 * ```
 */
export function normaliseTaskName(name: string): TrainTask {
  const lower = name.trim().toLowerCase();
  const alias = TASK_ALIASES[lower];
  if (alias !== undefined) return alias;
  if ((TRAIN_TASKS as readonly string[]).includes(lower)) return lower as TrainTask;
  throw new RangeError(
    `Cannot use --task as it must be one of ${TRAIN_TASKS.join(", ")}: current value is ${
      JSON.stringify(name)
    }`,
  );
}

/**
 * The schema defaults of every hyper-parameter (the paper's RTE row, docs/METHOD.md §16).
 *
 * @returns A frozen `HyperParams` record.
 *
 * @example Defaults
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultHyperParams } from "./hyperparams.ts";
 *
 * const defaults = defaultHyperParams();
 * assert.equal(defaults.refRank, 8);
 * assert.equal(defaults.threshold, "linear");
 * ```
 */
export function defaultHyperParams(): HyperParams {
  const out: Record<string, unknown> = {};
  for (const key of HYPERPARAM_KEYS) out[key] = specFor(key).default;
  return Object.freeze(out) as unknown as HyperParams;
}

function specFor(key: keyof TrainOptions): FlagSpec {
  const spec = FLAG_SPECS.find((s) => s.key === key);
  if (spec === undefined) throw new TypeError(`Cannot find the schema row of ${key}`);
  return spec;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return value.map(show).join(",");
  return String(value);
}

function rangeText(spec: FlagSpec): string {
  const parts: string[] = [];
  if (spec.min !== undefined) parts.push(`${spec.minExclusive ? ">" : ">="} ${spec.min}`);
  if (spec.max !== undefined && spec.max !== INT_MAX) {
    parts.push(`${spec.maxExclusive ? "<" : "<="} ${spec.max}`);
  }
  return parts.join(" and ");
}

function checkNumber(spec: FlagSpec, value: unknown): number {
  const what = spec.kind === "number" ? "a finite number" : "an integer";
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(
      `Cannot use --${spec.flag} as it must be ${what}: current value is ${show(value)}`,
    );
  }
  if (spec.kind !== "number" && !Number.isInteger(value)) {
    throw new TypeError(
      `Cannot use --${spec.flag} as it must be an integer: current value is ${value}`,
    );
  }
  const low = spec.min !== undefined &&
    (spec.minExclusive ? value <= spec.min : value < spec.min);
  const high = spec.max !== undefined &&
    (spec.maxExclusive ? value >= spec.max : value > spec.max);
  if (low || high) {
    throw new RangeError(
      `Cannot use --${spec.flag} as it must be ${rangeText(spec)}: current value is ${value}`,
    );
  }
  return value;
}

function checkField(spec: FlagSpec, value: unknown): unknown {
  switch (spec.kind) {
    case "int":
    case "number":
      return checkNumber(spec, value);
    case "boolean":
      if (typeof value !== "boolean") {
        throw new TypeError(
          `Cannot use --${spec.flag} as it must be true or false: current value is ${show(value)}`,
        );
      }
      return value;
    case "string":
      if (typeof value !== "string" || value.trim() === "") {
        throw new TypeError(
          `Cannot use --${spec.flag} as it must be a non-empty string: current value is ${
            show(value)
          }`,
        );
      }
      return value;
    case "choice": {
      const choices = spec.choices ?? [];
      if (typeof value !== "string" || !choices.includes(value)) {
        throw new RangeError(
          `Cannot use --${spec.flag} as it must be one of ${choices.join(", ")}: current value is ${
            show(value)
          }`,
        );
      }
      return value;
    }
    case "intList": {
      if (!Array.isArray(value) || value.length === 0) {
        throw new TypeError(
          `Cannot use --${spec.flag} as it must be a non-empty list of integers: current value is ${
            show(value)
          }`,
        );
      }
      const items = value.map((v) => checkNumber({ ...spec, kind: "int" }, v));
      if (new Set(items).size !== items.length) {
        throw new RangeError(
          `Cannot use --${spec.flag} as its values must be distinct: current value is ${
            show(items)
          }`,
        );
      }
      return Object.freeze(items);
    }
  }
}

/**
 * Validates a complete options record (for example a run's `config.json` read back on resume)
 * field by field against the schema, plus the cross-field rules.
 *
 * Cross-field rules: `seed` equals `seeds[0]`; `initRank ≤ refRank`; for AdaLoRA
 * `adaloraInitRank ≥ refRank`. Schedules that need the total step count T (AdaLoRA's
 * `tinit + tfinal < T`, `initWarmup < T`) are checked by the loop once T is known.
 *
 * @param input The candidate options (unknown fields are rejected).
 * @returns The same options, frozen and typed.
 * @throws {TypeError} When a field has the wrong type or is unknown.
 * @throws {RangeError} When a value is out of range or two fields disagree.
 *
 * @example Rejecting an out-of-range value
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultHyperParams, validateTrainOptions } from "./hyperparams.ts";
 *
 * const ok = {
 *   ...defaultHyperParams(), model: "m", task: "rte", data: "d", method: "triadapt",
 *   preset: "none", seeds: [0], seed: 0, backend: "wasm", logEvery: 10,
 * };
 * assert.equal(validateTrainOptions(ok).task, "rte");
 * assert.throws(() => validateTrainOptions({ ...ok, lr: -1 }), /--lr .*current value is -1/);
 * ```
 */
export function validateTrainOptions(input: unknown): TrainOptions {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TypeError(
      `Cannot validate training options as they must be an object: current value is ${show(input)}`,
    );
  }
  const record = input as Record<string, unknown>;
  const known = new Set<string>(FLAG_SPECS.map((s) => s.key));
  for (const key of Object.keys(record)) {
    if (!known.has(key)) {
      throw new TypeError(
        `Cannot validate training options as every field must be known: current field is ${key}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const spec of FLAG_SPECS) {
    const value = record[spec.key];
    if (value === undefined) {
      if (spec.required || spec.default !== undefined || spec.key === "seeds") {
        throw new TypeError(`Cannot validate training options as --${spec.flag} must be given`);
      }
      continue;
    }
    out[spec.key] = checkField(spec, value);
  }
  const options = out as unknown as TrainOptions;
  if (options.seeds[0] !== options.seed) {
    throw new RangeError(
      `Cannot use --seed as it must equal the first of --seeds: current values are ${options.seed} and ${
        show(options.seeds)
      }`,
    );
  }
  if (options.initRank > options.refRank) {
    throw new RangeError(
      `Cannot use --init-rank as it must be <= --ref-rank: current values are ${options.initRank} > ${options.refRank}`,
    );
  }
  if (options.method === "adalora" && options.adaloraInitRank < options.refRank) {
    throw new RangeError(
      `Cannot use --adalora-init-rank as it must be >= --ref-rank: current values are ${options.adaloraInitRank} < ${options.refRank}`,
    );
  }
  return Object.freeze(options);
}

const NUMBER_SYNTAX = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function parseNumberText(spec: FlagSpec, text: string): number {
  const trimmed = text.trim();
  if (!NUMBER_SYNTAX.test(trimmed)) {
    const what = spec.kind === "number" ? "a number" : "an integer";
    throw new TypeError(
      `Cannot parse --${spec.flag} as it must be ${what}: current value is ${JSON.stringify(text)}`,
    );
  }
  return Number(trimmed);
}

function parseFlagText(spec: FlagSpec, text: string): unknown {
  switch (spec.kind) {
    case "int":
    case "number":
      return parseNumberText(spec, text);
    case "intList":
      return text.split(",").map((part) => parseNumberText(spec, part));
    case "choice":
      return spec.key === "task" ? normaliseTaskName(text) : text.trim().toLowerCase();
    default:
      return text;
  }
}

/**
 * The flags given on a `deno task train` command line, parsed and checked one by one against the
 * schema but not merged with defaults or presets: what `--resume` compares with the run's
 * recorded options. A negative number after a flag is its value (`--max-steps -3` reads as
 * `--max-steps=-3` and is then refused for its range, not for its syntax).
 *
 * @param argv The arguments after the script name.
 * @returns `{ given, flags }` (values by option key; flag names as typed, without `--`), or
 *   `{ help }` when `--help`/`-h` is given.
 * @throws {TypeError} On an unknown, repeated or malformed flag (one-line message).
 * @throws {RangeError} On an out-of-range value (one-line message).
 *
 * @example Only what was typed
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGivenFlags } from "./hyperparams.ts";
 *
 * const parsed = parseGivenFlags(["--resume", "runs/a", "--lr", "0.5"]);
 * assert.ok("given" in parsed);
 * assert.deepEqual(parsed.given, { resume: "runs/a", lr: 0.5 });
 * assert.deepEqual(parsed.flags, ["resume", "lr"]);
 * assert.throws(() => parseGivenFlags(["--max-steps", "-3"]), /--max-steps as it must be >= 1: current value is -3/);
 * ```
 */
export function parseGivenFlags(
  argv: readonly string[],
): { readonly given: Partial<TrainOptions>; readonly flags: readonly string[] } | {
  readonly help: string;
} {
  const parseOptions: Record<
    string,
    { type: "string" | "boolean"; multiple: true; short?: string }
  > = {
    help: { type: "boolean", multiple: true, short: "h" },
  };
  for (const spec of FLAG_SPECS) {
    parseOptions[spec.flag] = {
      type: spec.kind === "boolean" ? "boolean" : "string",
      multiple: true,
    };
  }
  let values: Record<string, (string | boolean)[] | undefined>;
  try {
    values = parseArgs({
      args: attachNegativeValues(
        argv,
        FLAG_SPECS.filter((spec) => spec.kind !== "boolean").map((spec) => spec.flag),
      ),
      options: parseOptions,
      strict: true,
      allowPositionals: false,
    }).values as Record<string, (string | boolean)[] | undefined>;
  } catch (error) {
    throw new TypeError(argsErrorMessage(error));
  }
  if (values.help !== undefined) return { help: formatTrainHelp() };
  const given: Record<string, unknown> = {};
  const flags: string[] = [];
  for (const spec of FLAG_SPECS) {
    const raw = values[spec.flag];
    if (raw === undefined) continue;
    if (raw.length > 1) {
      throw new TypeError(
        `Cannot parse --${spec.flag} as it must be given once: current values are ${
          raw.map(String).join(", ")
        }`,
      );
    }
    const [first] = raw;
    const value = typeof first === "boolean" ? first : parseFlagText(spec, first ?? "");
    given[spec.key] = checkField(spec, value);
    flags.push(spec.flag);
  }
  // Flags in the order they were typed.
  const position = (flag: string): number =>
    argv.findIndex((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
  flags.sort((a, b) => position(a) - position(b));
  return { given: given as Partial<TrainOptions>, flags };
}

/** Library config fields that no flag of the same key sets, by method. */
const CONFIG_FIELD_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  loraAlpha: "--alpha",
  totalSteps: "T",
});

/**
 * Rewrites a library error message in the train CLI's vocabulary: `Cannot parse TriAdaptLoRA
 * config as initWarmup must be < totalSteps (4)` becomes `Cannot start training as --init-warmup
 * must be < T = 4 (the total step count: …)`. Field names become the flags that set them (for
 * AdaLoRA `initRank` is `--adalora-init-rank` and `targetRank` is `--ref-rank`).
 *
 * @param message A one-line library error message.
 * @param method The method the message came from (default `triadapt`).
 * @returns The message with flags instead of fields.
 *
 * @example A schedule error
 * ```ts
 * import assert from "node:assert/strict";
 * import { inFlagTerms } from "./hyperparams.ts";
 *
 * const text = inFlagTerms("Cannot parse TriAdaptLoRA config as initWarmup must be < totalSteps (4): current value is 48");
 * assert.match(text, /^Cannot start training as --init-warmup must be < T = 4 \(the total step count/);
 * assert.ok(!text.includes("initWarmup"));
 * assert.match(inFlagTerms("Cannot parse AdaLoRA config as targetRank must be <= initRank", "adalora"), /--ref-rank must be <= --adalora-init-rank/);
 * ```
 */
export function inFlagTerms(message: string, method: TrainMethod = "triadapt"): string {
  const map: Record<string, string> = {};
  for (const spec of FLAG_SPECS) {
    if (spec.key !== spec.flag) map[spec.key] = `--${spec.flag}`;
  }
  for (
    const key of [
      "interval",
      "threshold",
      "rounding",
      "normalisation",
      "dropout",
      "alpha",
      "tinit",
      "tfinal",
    ]
  ) {
    map[key] = `--${key}`;
  }
  Object.assign(map, CONFIG_FIELD_FLAGS);
  if (method === "adalora") {
    map.initRank = "--adalora-init-rank";
    map.targetRank = "--ref-rank";
  }
  const fields = Object.keys(map).sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`(?<![\\w-])(${fields.join("|")})(?![\\w-])`, "g");
  return message
    .replace(
      /\btotalSteps \((\d+)\)/g,
      "T = $1 (the total step count: --max-steps, or --epochs × steps per epoch)",
    )
    .replace(
      /^Cannot parse (TriAdaptLoRA|AdaLoRA|IncreLoRA|LoRA) config as /,
      "Cannot start training as ",
    )
    .replace(pattern, (field) => map[field] ?? field);
}

/**
 * The outcome of `parseTrainArgs`: resolved options, or the help text to print.
 *
 * @example Help or options
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ParsedTrainArgs } from "./hyperparams.ts";
 * import { parseTrainArgs } from "./hyperparams.ts";
 *
 * const help: ParsedTrainArgs = parseTrainArgs(["--help"]);
 * assert.ok("help" in help && help.help.includes("--task"));
 * const run: ParsedTrainArgs = parseTrainArgs(["--model", "m", "--task", "rte", "--data", "d", "--lr", "1e-4"]);
 * assert.ok("options" in run);
 * assert.deepEqual(run.explicit, ["lr"]);
 * ```
 */
export type ParsedTrainArgs =
  | {
    /** The resolved, validated options. */
    readonly options: TrainOptions;
    /** The hyper-parameters given explicitly on the command line (they beat the preset). */
    readonly explicit: readonly (keyof HyperParams)[];
  }
  | {
    /** The `--help` text. */
    readonly help: string;
  };

/**
 * Parses `deno task train` arguments strictly (unknown flags, positionals, repeated flags, bad
 * numbers and out-of-range values are errors), applies `--preset` under the explicit flags and
 * validates the result.
 *
 * @param argv The arguments after the script name.
 * @returns `{ options, explicit }`, or `{ help }` when `--help`/`-h` is given.
 * @throws {TypeError} On an unknown, repeated or malformed flag (one-line message).
 * @throws {RangeError} On an out-of-range value or inconsistent flags (one-line message).
 *
 * @example Paper preset with an explicit override
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTrainArgs } from "./hyperparams.ts";
 *
 * const parsed = parseTrainArgs([
 *   "--model", "m", "--task", "cola", "--data", "d", "--preset", "paper", "--lr", "5e-4",
 * ]);
 * assert.ok("options" in parsed);
 * assert.equal(parsed.options.lr, 5e-4); // explicit flag wins
 * assert.equal(parsed.options.maxLength, 64); // CoLA row of the paper
 * assert.throws(() => parseTrainArgs(["--nope"]), /--nope/);
 * ```
 */
export function parseTrainArgs(argv: readonly string[]): ParsedTrainArgs {
  const flags = parseGivenFlags(argv);
  if ("help" in flags) return flags;
  const given: Record<string, unknown> = { ...flags.given };
  if (given.checkpoint !== undefined && given.resume === undefined) {
    throw new TypeError(
      `Cannot use --checkpoint as it only picks where --resume continues: current flags have no --resume`,
    );
  }
  for (const spec of FLAG_SPECS) {
    if (spec.required && given[spec.key] === undefined) {
      throw new TypeError(
        `Cannot start training as --${spec.flag} must be given: run with --help for the flags (--task planted needs neither --model nor --data)`,
      );
    }
  }
  if (given.seed !== undefined && given.seeds !== undefined) {
    throw new RangeError(
      `Cannot use --seed and --seeds together as only one may be given: current values are ${
        show(given.seed)
      } and ${show(given.seeds)}`,
    );
  }

  const task = given.task as TrainTask;
  const method = (given.method ?? specFor("method").default) as TrainMethod;
  const preset = (given.preset ?? specFor("preset").default) as PresetName;
  const explicitHyper: Partial<Record<keyof HyperParams, unknown>> = {};
  const explicit: (keyof HyperParams)[] = [];
  for (const key of HYPERPARAM_KEYS) {
    if (given[key] !== undefined) {
      explicitHyper[key] = given[key];
      explicit.push(key);
    }
  }
  const hyper = applyPreset(preset, task, method, explicitHyper as Partial<HyperParams>);
  const seeds = (given.seeds ?? [given.seed ?? specFor("seed").default]) as number[];
  const merged: Record<string, unknown> = {
    ...defaultHyperParams(),
    ...hyper,
    ...given,
    method,
    preset,
    backend: given.backend ?? specFor("backend").default,
    logEvery: given.logEvery ?? specFor("logEvery").default,
    seeds,
    seed: seeds[0],
  };
  return { options: validateTrainOptions(merged), explicit: Object.freeze(explicit) };
}

const GROUP_TITLES: Readonly<Record<FlagGroup, string>> = Object.freeze({
  Run: "Run",
  Method: "Method",
  Adapter: "Adapter and penalty",
  Allocation: "Rank allocation (TriAdaptLoRA, IncreLoRA)",
  Optimisation: "Optimisation (AdamW, linear schedule)",
  AdaLoRA: "AdaLoRA and importance smoothing",
});

const GROUP_ORDER: readonly FlagGroup[] = [
  "Run",
  "Method",
  "Adapter",
  "Allocation",
  "Optimisation",
  "AdaLoRA",
];

function choiceList(spec: FlagSpec): string {
  return (spec.choices ?? []).join("|");
}

function flagColumn(spec: FlagSpec): string {
  if (spec.kind === "boolean") return `--${spec.flag}`;
  const choices = choiceList(spec);
  const value = spec.kind === "choice"
    ? (choices.length <= 22 ? `<${choices}>` : `<${spec.flag}>`)
    : spec.valueName;
  return `--${spec.flag} ${value ?? "<value>"}`;
}

function helpText(spec: FlagSpec): string {
  let text = spec.description;
  const choices = choiceList(spec);
  if (spec.kind === "choice" && choices.length > 22) {
    text += `; one of ${(spec.choices ?? []).join(", ")}`;
  }
  if (spec.resumeMayChange) text += "; may change on --resume";
  if (spec.required) return `${text} (required)`;
  if (spec.default === undefined || spec.kind === "boolean") return text;
  return `${text} (default:\u00a0${spec.default})`;
}

/**
 * Builds the grouped `--help` text from `FLAG_SPECS`: usage, permissions, one section per group
 * with every flag, its value syntax, default and one-line help, then examples.
 *
 * @returns The help text, lines at most about 100 columns wide.
 *
 * @example Every flag appears
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLAG_SPECS, formatTrainHelp } from "./hyperparams.ts";
 *
 * const help = formatTrainHelp();
 * for (const spec of FLAG_SPECS) assert.ok(help.includes(`--${spec.flag}`));
 * ```
 */
export function formatTrainHelp(): string {
  return formatHelp({
    summary: "Fine-tune DeBERTa-v3 with TriAdaptLoRA or a baseline (LoRA, AdaLoRA, IncreLoRA).",
    about: [
      "Without --preset the hyper-parameters default to the paper's RTE row; --preset paper takes",
      "the row of --task and --method (docs/METHOD.md §16). Flags given explicitly always win.",
      "--task planted runs the built-in synthetic task (no downloads; no --model or --data); no",
      "arguments at all run its demo.",
    ],
    usage: [
      "deno task train --model <folder> --task <task> --data <path> [flags]",
      "deno task train --resume <run dir> [--checkpoint step-N]",
    ],
    sections: [
      ...GROUP_ORDER.map((group) => ({
        title: GROUP_TITLES[group],
        entries: FLAG_SPECS.filter((s) => s.group === group).map((spec) =>
          [flagColumn(spec), helpText(spec)] as const
        ),
      })),
      { title: "Other", entries: [HELP_ENTRY] },
    ],
    examples: [
      "# TriAdaptLoRA (linear) on RTE with the paper's hyper-parameters, three seeds",
      "deno task train --model models/deberta-v3-base --task rte --data glue/RTE \\",
      "  --preset paper --seeds 0,1,2",
      "# Short smoke run on the portable CPU backend: --max-steps 300 is then the T of every",
      "# schedule (LR decay, allocation events at 200 and 300; AdaLoRA's paper tinit/tfinal need more)",
      "deno task train --model models/deberta-v3-base --task rte --data glue/RTE \\",
      "  --preset paper --backend cpu --max-steps 300 --eval-every 50",
      "# Continue an interrupted run from its latest complete checkpoint (no other flag needed;",
      "# one that differs from the recorded value is refused)",
      "deno task train --resume runs/rte-triadapt-20260101-120000",
      "# ... or from an older checkpoint, e.g. when the newest one is damaged",
      "deno task train --resume runs/rte-triadapt-20260101-120000 --checkpoint step-00000200",
    ],
    permissions: "--allow-read (model, data), --allow-write (run folder), --allow-env",
  });
}
