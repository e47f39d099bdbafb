/**
 * GLUE fine-tuning as a {@linkcode TrainingTask}: a Hugging Face DeBERTa-v2/v3 folder, a GLUE
 * task folder or file (TSV, parquet, JSONL), the model's SentencePiece tokenizer. Classification
 * tasks train the `pooler.dense` + `classifier` head with cross-entropy, STS-B trains a one-output
 * regression head with MSE (as Hugging Face `DebertaV2ForSequenceClassification` does).
 * Evaluation runs `glueMetrics` on the dev split; the main metric is the paper's (accuracy;
 * Matthews correlation for CoLA; Pearson for STS-B).
 *
 * `loadBaseCheckpoint` (shared with the SQuAD task and the exporters) reads the model folder once
 * and rebuilds a fresh model per seed with the task's head: a checkpoint head of another shape
 * (e.g. 3 labels for a 2-label task) is dropped and re-initialised from the seed, as Hugging
 * Face's `ignore_mismatched_sizes` does.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type DebertaConfig, parseDebertaConfig } from "../model/config.ts";
import { createDebertaModel, type DebertaModel } from "../model/deberta_v3.ts";
import type { RawTensor, StateDict } from "../model/safetensors.ts";
import { type DebertaHead, mapDebertaWeights, readStateDict } from "../model/state_dict.ts";
import { loadTokenizer, type Tokenizer } from "../model/tokenizer.ts";
import { ensureDefaultBackend } from "../ops/_ready.ts";
import { collate } from "./features/collate.ts";
import { featurizeGlue, type GlueFeature } from "./features/glue.ts";
import type { EvalContext, TaskEvaluation, TrainingTask } from "./loop.ts";
import { glueMetrics } from "./metrics/glue_metrics.ts";
import { type GlueTaskSpec, resolveGlueSplit, resolveGlueTask } from "./tasks/glue_tasks.ts";
import type { GlueExample } from "./tasks/parse_glue.ts";
import { readGlue } from "./tasks/read_glue.ts";

/**
 * What to do with token ids the model's embedding does not have (`id >= vocab_size`).
 *
 * @example Mapping unknown ids to [UNK]
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OutOfRangeIds } from "./glue_task.ts";
 * import { fitTokenIds } from "./glue_task.ts";
 *
 * const mode: OutOfRangeIds = "unk";
 * const features = [{ inputIds: [1, 120, 2] }];
 * assert.equal(fitTokenIds(features, 100, 3, mode, "spm.model"), 1);
 * assert.deepEqual(features[0]?.inputIds, [1, 3, 2]);
 * ```
 */
export type OutOfRangeIds = "error" | "unk";

/**
 * A base model folder, read once, that builds fresh models with a task head.
 *
 * @example A tiny checkpoint relabelled for RTE
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BaseCheckpoint } from "./glue_task.ts";
 * import { loadBaseCheckpoint } from "./glue_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir()); // seeded random weights
 * const base: BaseCheckpoint = await loadBaseCheckpoint(dir, "classification", ["entailment", "not_entailment"]);
 * assert.equal(base.head, "classification");
 * assert.equal(base.rawConfig.num_labels, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface BaseCheckpoint {
  /** The model folder. */
  readonly dir: string;
  /** The weights file read. */
  readonly file: string;
  /** The head every built model gets. */
  readonly head: DebertaHead;
  /** The config with the task's head (`numLabels` of the task). */
  readonly config: DebertaConfig;
  /** `config.json` as read, with `num_labels`, labels, `problem_type`, `architectures` of the task. */
  readonly rawConfig: Readonly<Record<string, unknown>>;
  /** The checkpoint's tensors (head tensors of another shape removed). */
  readonly stateDict: StateDict;
  /** Head keys of the checkpoint that were dropped because their shape does not fit the task. */
  readonly dropped: readonly string[];
  /**
   * Builds a fresh model: checkpoint weights, missing head weights initialised from `seed`.
   *
   * @param seed Head init and dropout seed.
   * @param options Dropout rates and weights that replace the checkpoint's (e.g. a trained head).
   * @returns A model owned by the caller.
   */
  build(seed: number, options?: BuildModelOptions): DebertaModel;
}

/**
 * Options of {@linkcode BaseCheckpoint.build}.
 *
 * @example A model without config dropout
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BuildModelOptions } from "./glue_task.ts";
 * import { loadBaseCheckpoint } from "./glue_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir());
 * const base = await loadBaseCheckpoint(dir, "classification", ["yes", "no"]);
 * const options: BuildModelOptions = { modelDropout: false };
 * const model = base.build(0, options);
 * assert.equal(model.numLabels, 2);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface BuildModelOptions {
  /** Use the config's hidden and attention dropout in training forwards (default true, as HF). */
  readonly modelDropout?: boolean;
  /** Tensors by HF name that replace the checkpoint's (a trained head, merged weights). */
  readonly overrides?: ReadonlyMap<string, RawTensor>;
}

const ARCHITECTURE: Readonly<Record<DebertaHead, string>> = {
  "classification": "DebertaV2ForSequenceClassification",
  "regression": "DebertaV2ForSequenceClassification",
  "question-answering": "DebertaV2ForQuestionAnswering",
  "none": "DebertaV2Model",
};

function pathOf(p: string | URL): string {
  return p instanceof URL ? fileURLToPath(p) : p;
}

/**
 * Reads a Hugging Face DeBERTa-v2/v3 folder for fine-tuning with a given head: `config.json` is
 * re-labelled for the task (`num_labels`, `id2label`, `problem_type`, `architectures`), the
 * weights are read once, and checkpoint head tensors whose shape does not fit are dropped (they
 * are then initialised from the seed of each built model).
 *
 * @param dir The model folder (`config.json` + `model.safetensors` or `pytorch_model.bin`).
 * @param head The task head.
 * @param labels Label names (classification), `[]` for regression or question answering.
 * @returns The checkpoint, ready to build models.
 *
 * @example Two labels on a three-label checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadBaseCheckpoint } from "./glue_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir(), { numLabels: 3 });
 * const base = await loadBaseCheckpoint(dir, "classification", ["entailment", "not_entailment"]);
 * assert.deepEqual(base.dropped, ["classifier.bias", "classifier.weight"]);
 * const model = base.build(0);
 * assert.equal(model.numLabels, 2);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadBaseCheckpoint(
  dir: string | URL,
  head: DebertaHead,
  labels: readonly string[],
): Promise<BaseCheckpoint> {
  const path = pathOf(dir);
  const configPath = join(path, "config.json");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(configPath)) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SyntaxError(
      `Cannot read ${configPath} as it must be JSON: current content is unparsable (${error.message})`,
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`Cannot read ${configPath} as it must be a JSON object`);
  }
  const raw: Record<string, unknown> = { ...json, architectures: [ARCHITECTURE[head]] };
  const names = head === "classification"
    ? [...labels]
    : head === "regression"
    ? ["LABEL_0"]
    : head === "question-answering"
    ? ["LABEL_0", "LABEL_1"]
    : undefined;
  if (names !== undefined) {
    if (names.length === 0) {
      throw new RangeError(
        `Cannot build a classification head as labels must not be empty: current value is []`,
      );
    }
    raw.num_labels = names.length;
    raw.id2label = Object.fromEntries(names.map((n, i) => [String(i), n]));
    raw.label2id = Object.fromEntries(names.map((n, i) => [n, i]));
  }
  if (head === "regression") raw.problem_type = "regression";
  else if (head === "classification") raw.problem_type = "single_label_classification";
  else delete raw.problem_type;
  const config = parseDebertaConfig(raw, configPath);
  const { stateDict: read, file } = await readStateDict(path);
  const expected = new Map<string, number[]>();
  const h = config.hiddenSize;
  if (head === "classification" || head === "regression") {
    expected.set("pooler.dense.weight", [config.poolerHiddenSize, h]);
    expected.set("pooler.dense.bias", [config.poolerHiddenSize]);
    expected.set("classifier.weight", [head === "regression" ? 1 : names!.length, h]);
    expected.set("classifier.bias", [head === "regression" ? 1 : names!.length]);
  } else if (head === "question-answering") {
    expected.set("qa_outputs.weight", [2, h]);
    expected.set("qa_outputs.bias", [2]);
  }
  const dropped: string[] = [];
  const stateDict = new Map<string, RawTensor>();
  for (const [key, t] of read) {
    const want = expected.get(key);
    if (
      want !== undefined &&
      (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i]))
    ) {
      dropped.push(key);
      continue;
    }
    stateDict.set(key, t);
  }
  dropped.sort();
  // `build` is synchronous and makes tensors: ready the default backend (wasm) now if none is.
  await ensureDefaultBackend();
  return Object.freeze({
    dir: path,
    file,
    head,
    config,
    rawConfig: Object.freeze(raw),
    stateDict,
    dropped: Object.freeze(dropped),
    build(seed: number, options: BuildModelOptions = {}): DebertaModel {
      let source: StateDict = stateDict;
      if (options.overrides !== undefined) {
        const merged = new Map(stateDict);
        for (const [k, v] of options.overrides) merged.set(k, v);
        source = merged;
      }
      const mapped = mapDebertaWeights(source, config, { head, seed, source: file });
      const dropout = options.modelDropout ?? true;
      return createDebertaModel(config, mapped.weights, {
        head,
        seed,
        ...(dropout
          ? {
            hiddenDropout: config.hiddenDropoutProb,
            attentionDropout: config.attentionProbsDropoutProb,
          }
          : {}),
      });
    },
  });
}

/**
 * Replaces or checks token ids the model cannot embed.
 *
 * @param features Features whose `inputIds` are rewritten in place (`unk`) or checked (`error`).
 * @param vocabSize The model's `vocab_size`.
 * @param unk The `[UNK]` id.
 * @param mode `error` (default of the tasks) or `unk`.
 * @param where Name of the tokenizer, for messages.
 * @returns How many ids were replaced.
 * @throws {RangeError} In `error` mode when an id is `>= vocabSize`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitTokenIds } from "./glue_task.ts";
 *
 * const features = [{ inputIds: [1, 7, 150, 2] }];
 * assert.throws(() => fitTokenIds(features, 100, 3, "error", "spm.model"), RangeError);
 * assert.equal(fitTokenIds(features, 100, 3, "unk", "spm.model"), 1);
 * assert.deepEqual(features[0]!.inputIds, [1, 7, 3, 2]);
 * ```
 */
export function fitTokenIds(
  features: readonly { inputIds: number[] }[],
  vocabSize: number,
  unk: number,
  mode: OutOfRangeIds,
  where: string,
): number {
  let replaced = 0;
  let max = -1;
  for (const f of features) {
    const ids = f.inputIds;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id < vocabSize) continue;
      max = Math.max(max, id);
      if (mode === "unk") {
        ids[i] = unk;
        replaced++;
      }
    }
  }
  if (mode === "error" && max >= 0) {
    throw new RangeError(
      `Cannot use tokenizer ${where} as every token id must be < the model's vocab_size ${vocabSize}: current max id is ${max} (use the model's own spm.model, or outOfRangeIds "unk")`,
    );
  }
  if (mode === "unk" && replaced > 0 && unk >= vocabSize) {
    throw new RangeError(
      `Cannot map out-of-range ids to [UNK] as its id must be < vocab_size ${vocabSize}: current value is ${unk}`,
    );
  }
  return replaced;
}

/**
 * The same options with every path made absolute (what `describe()` records, so `deno task eval`
 * and `deno task export` rebuild the task from any working directory).
 *
 * @param options Options holding `model`, `data`, `evalData`, `tokenizer` paths.
 * @returns A copy with absolute paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { absolutePaths } from "./glue_task.ts";
 *
 * const out = absolutePaths({ task: "rte", model: "m", data: "/d" });
 * assert.ok(out.model.startsWith("/"));
 * assert.equal(out.data, "/d");
 * ```
 */
export function absolutePaths<
  T extends {
    readonly model: string;
    readonly data: string;
    readonly evalData?: string;
    readonly tokenizer?: string;
  },
>(options: T): T {
  const out: Record<string, unknown> = { ...options };
  for (const key of ["model", "data", "evalData", "tokenizer"] as const) {
    const v = options[key];
    if (typeof v === "string") out[key] = resolve(v);
  }
  return out as T;
}

/**
 * Options of {@linkcode createGlueTask} (JSON-serialisable; `describe()` records them).
 *
 * @example A quick RTE task on the tiny model
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueTaskOptions } from "./glue_task.ts";
 * import { createGlueTask } from "./glue_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinyRte } from "./tiny_data.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const modelDir = await writeTinyModelFolder(`${tmp}/model`); // seeded random weights + spm.model
 * const rteDir = await writeTinyRte(`${tmp}/rte`); // 8 train and 4 dev pairs
 * const options: GlueTaskOptions = {
 *   task: "RTE", model: modelDir, data: rteDir, maxLength: 32, maxTrainExamples: 8, maxEvalExamples: 4,
 * };
 * const task = await createGlueTask(options);
 * assert.equal(task.name, "rte");
 * assert.equal(task.numTrainExamples, 8);
 * task.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface GlueTaskOptions {
  /** GLUE task: `cola sst2 mrpc stsb qqp mnli qnli rte` (case-insensitive, `SST-2` etc. too). */
  readonly task: string;
  /** Hugging Face model folder (`config.json`, weights, `spm.model`). */
  readonly model: string;
  /** GLUE task folder (`train.tsv`, `dev.tsv` or Hub shards) or the training file. */
  readonly data: string;
  /** Where the evaluation split lives; default `data` (its folder when `data` is a file). */
  readonly evalData?: string;
  /** Evaluation split; default `dev` (`dev_matched` for MNLI). */
  readonly evalSplit?: string;
  /** Tokenizer folder or `.model` file; default the model folder. */
  readonly tokenizer?: string;
  /** Maximum tokens per input; default the paper's (docs/METHOD.md §16) for the task. */
  readonly maxLength?: number;
  /** Ids beyond the model's vocabulary: `error` (default) or map them to `[UNK]`. */
  readonly outOfRangeIds?: OutOfRangeIds;
  /** Skip malformed data rows (reported in `skipped`) instead of failing. Default false. */
  readonly skipBadRows?: boolean;
  /** Use only the first N training examples (quick runs). */
  readonly maxTrainExamples?: number;
  /** Use only the first N evaluation examples (quick runs). */
  readonly maxEvalExamples?: number;
  /** Read and featurise the training split (default true; `false` for evaluation only). */
  readonly loadTrain?: boolean;
  /** Examples per evaluation forward (default 32). */
  readonly evalBatchSize?: number;
  /** Config hidden/attention dropout in training forwards (default true, as HF fine-tuning). */
  readonly modelDropout?: boolean;
}

/**
 * Rows skipped under `skipBadRows`.
 *
 * @example Nothing skipped in clean data
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SkippedCounts } from "./glue_task.ts";
 * import { createGlueTask } from "./glue_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinyRte } from "./tiny_data.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const modelDir = await writeTinyModelFolder(`${tmp}/model`); // seeded random weights + spm.model
 * const rteDir = await writeTinyRte(`${tmp}/rte`); // 8 train and 4 dev pairs
 * const task = await createGlueTask({
 *   task: "rte", model: modelDir, data: rteDir, maxLength: 32, maxTrainExamples: 8, maxEvalExamples: 4,
 *   skipBadRows: true,
 * });
 * const skipped: SkippedCounts = task.skipped;
 * assert.deepEqual(skipped, { train: 0, eval: 0 });
 * task.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface SkippedCounts {
  /** Training rows skipped. */
  readonly train: number;
  /** Evaluation rows skipped. */
  readonly eval: number;
}

/**
 * The GLUE task: a {@linkcode TrainingTask} plus what it read.
 *
 * @example One prediction per evaluation example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueTask } from "./glue_task.ts";
 * import { createGlueTask } from "./glue_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinyRte } from "./tiny_data.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const modelDir = await writeTinyModelFolder(`${tmp}/model`); // seeded random weights + spm.model
 * const rteDir = await writeTinyRte(`${tmp}/rte`); // 8 train and 4 dev pairs
 * const task: GlueTask = await createGlueTask({
 *   task: "rte", model: modelDir, data: rteDir, maxLength: 32, maxTrainExamples: 8, maxEvalExamples: 4,
 * });
 * const model = task.buildModel(0);
 * const predictions = await task.predict(model);
 * assert.equal(predictions.length, task.numEvalExamples);
 * assert.ok(predictions.every((p) => p === 0 || p === 1));
 * model.dispose();
 * task.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface GlueTask extends TrainingTask {
  /** The GLUE task table row. */
  readonly spec: GlueTaskSpec;
  /** The options, as given. */
  readonly options: GlueTaskOptions;
  /** The base checkpoint (head set for the task). */
  readonly base: BaseCheckpoint;
  /** The tokenizer. */
  readonly tokenizer: Tokenizer;
  /** Number of evaluation examples. */
  readonly numEvalExamples: number;
  /** Rows skipped under `skipBadRows`. */
  readonly skipped: SkippedCounts;
  /**
   * Predictions on the evaluation split (class index, or the STS-B score).
   *
   * @param model The model with adapters attached.
   * @returns One prediction per evaluation example.
   */
  predict(model: DebertaModel): Promise<number[]>;
}

function checkCount(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) {
    throw new RangeError(
      `Cannot build GLUE task as ${name} must be an integer >= ${min}: current value is ${v}`,
    );
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function readSplit(
  task: string,
  split: string,
  path: string,
  skipBadRows: boolean,
): Promise<{ examples: GlueExample[]; skipped: number }> {
  if (!skipBadRows) return { examples: await readGlue(task, split, path), skipped: 0 };
  const report = await readGlue(task, split, path, { skipBadRows: true });
  return { examples: report.examples, skipped: report.skipped.length };
}

/** Batches of `[batch, len]` int32 tensors from plain features (inside the caller's tidy). */
function inputsOf(
  features: readonly GlueFeature[],
  indices: readonly number[],
  padId: number,
): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D; tokenTypeIds: tf.Tensor2D } {
  const b = collate(features, indices, { padId });
  return {
    inputIds: tf.tensor2d(b.inputIds, undefined, "int32"),
    attentionMask: tf.tensor2d(b.attentionMask, undefined, "int32"),
    tokenTypeIds: tf.tensor2d(b.tokenTypeIds, undefined, "int32"),
  };
}

/**
 * Builds a GLUE fine-tuning task: reads the model folder, the tokenizer and the train and
 * evaluation splits, featurises them once (plain arrays; tensors are made per batch).
 *
 * @param options Task, model folder, data, and the optional settings of {@linkcode GlueTaskOptions}.
 * @returns The task (call `dispose()` when done; it holds no tensors).
 * @throws {RangeError} On an unknown task, a bad count, or token ids beyond the model's vocabulary.
 * @throws {SyntaxError} `DataFormatError` on a malformed data row (it names the file and line).
 *
 * @example RTE on a tiny model (a 100-token checkpoint would need `outOfRangeIds: "unk"`)
 * ```ts
 * import assert from "node:assert/strict";
 * import { createGlueTask } from "./glue_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinyRte } from "./tiny_data.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const modelDir = await writeTinyModelFolder(`${tmp}/model`); // seeded random weights + spm.model
 * const rteDir = await writeTinyRte(`${tmp}/rte`); // 8 train and 4 dev pairs
 * const task = await createGlueTask({
 *   task: "rte",
 *   model: modelDir, // its spm.model is the tokenizer unless `tokenizer` names another
 *   data: rteDir,
 *   maxLength: 32,
 *   maxTrainExamples: 8,
 *   maxEvalExamples: 4,
 * });
 * assert.equal(task.metricName, "accuracy");
 * const model = task.buildModel(0);
 * const loss = task.loss(model, [0, 1], { training: false, seed: 0 });
 * assert.ok((await loss.data())[0]! > 0);
 * loss.dispose();
 * const ev = await task.evaluate(model, { ranks: new Map() });
 * assert.ok(ev.value >= 0 && ev.value <= 1);
 * model.dispose();
 * task.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function createGlueTask(options: GlueTaskOptions): Promise<GlueTask> {
  const spec = resolveGlueTask(options.task);
  const evalSplit = resolveGlueSplit(
    spec,
    options.evalSplit ?? (spec.name === "mnli" ? "dev_matched" : "dev"),
  );
  checkCount("maxLength", options.maxLength, 3);
  checkCount("maxTrainExamples", options.maxTrainExamples, 1);
  checkCount("maxEvalExamples", options.maxEvalExamples, 1);
  checkCount("evalBatchSize", options.evalBatchSize, 1);
  const maxLength = options.maxLength ?? spec.maxLength;
  const mode = options.outOfRangeIds ?? "error";
  if (mode !== "error" && mode !== "unk") {
    throw new RangeError(
      `Cannot build GLUE task as outOfRangeIds must be "error" or "unk": current value is ${
        JSON.stringify(mode)
      }`,
    );
  }
  const evalBatch = options.evalBatchSize ?? 32;
  const skipBadRows = options.skipBadRows ?? false;
  const head: DebertaHead = spec.kind === "regression" ? "regression" : "classification";
  const evalPath = options.evalData ??
    (await isFile(options.data) ? dirname(options.data) : options.data);
  // Data first: a malformed row is reported before the (slower) model and tokenizer load.
  let trainExamples: GlueExample[] = [];
  let trainSkipped = 0;
  if (options.loadTrain ?? true) {
    const read = await readSplit(spec.name, "train", options.data, skipBadRows);
    trainSkipped = read.skipped;
    trainExamples = read.examples.slice(0, options.maxTrainExamples ?? read.examples.length);
    if (trainExamples.some((e) => e.label === undefined)) {
      throw new RangeError(
        `Cannot train on ${options.data} as every training example must have a label: the split is unlabeled`,
      );
    }
  }
  const evalRead = await readSplit(spec.name, evalSplit, evalPath, skipBadRows);
  const evalExamples = evalRead.examples.slice(
    0,
    options.maxEvalExamples ?? evalRead.examples.length,
  );
  if (evalExamples.length === 0 || evalExamples.some((e) => e.label === undefined)) {
    throw new RangeError(
      `Cannot evaluate on ${spec.gluePrefix} ${evalSplit} as it must be a labelled split with examples: current split has ${evalExamples.length} examples, some unlabeled`,
    );
  }
  const base = await loadBaseCheckpoint(options.model, head, spec.labels);
  const tokenizerPath = options.tokenizer ?? options.model;
  const tokenizer = await loadTokenizer(tokenizerPath);
  const featurize = (examples: readonly GlueExample[]): GlueFeature[] => {
    const features = featurizeGlue(examples, tokenizer, { maxLength });
    fitTokenIds(features, base.config.vocabSize, tokenizer.special.unk, mode, tokenizerPath);
    return features;
  };
  const trainFeatures = featurize(trainExamples);
  const evalFeatures = featurize(evalExamples);
  const evalLabels = evalFeatures.map((f) => f.label as number);
  const padId = tokenizer.special.pad;
  const regression = spec.kind === "regression";
  const numLabels = regression ? 1 : spec.labels.length;

  const forwardLogits = (
    model: DebertaModel,
    features: readonly GlueFeature[],
    indices: readonly number[],
    training: boolean,
    seed: number,
  ): tf.Tensor2D =>
    tf.tidy(() => {
      const inputs = inputsOf(features, indices, padId);
      const out = model.forward(inputs, { training, seed });
      return out.logits as tf.Tensor2D;
    });

  const predict = async (model: DebertaModel): Promise<number[]> => {
    const preds: number[] = [];
    for (let s = 0; s < evalFeatures.length; s += evalBatch) {
      const idx = Array.from(
        { length: Math.min(evalBatch, evalFeatures.length - s) },
        (_, i) => s + i,
      );
      const p = tf.tidy(() => {
        const logits = forwardLogits(model, evalFeatures, idx, false, 0);
        return regression ? logits.reshape([-1]) : logits.argMax(1);
      });
      preds.push(...Array.from(await p.data()));
      p.dispose();
    }
    return preds;
  };

  const task: GlueTask = {
    name: spec.name,
    metricName: spec.main,
    metricHigherIsBetter: true,
    numTrainExamples: trainFeatures.length,
    numEvalExamples: evalFeatures.length,
    spec,
    options,
    base,
    tokenizer,
    skipped: Object.freeze({ train: trainSkipped, eval: evalRead.skipped }),
    buildModel(seed: number): DebertaModel {
      return base.build(seed, { modelDropout: options.modelDropout ?? true });
    },
    loss(model, indices, lossOptions): tf.Scalar {
      if (trainFeatures.length === 0) {
        throw new RangeError(
          "Cannot compute a training loss as the task must have training examples: current count is 0 (loadTrain was false)",
        );
      }
      return tf.tidy(() => {
        const logits = forwardLogits(
          model,
          trainFeatures,
          indices,
          lossOptions.training,
          lossOptions.seed,
        );
        const labels = indices.map((i) => (trainFeatures[i] as GlueFeature).label as number);
        if (regression) {
          return tf.mean(
            tf.squaredDifference(logits.reshape([-1]), tf.tensor1d(labels)),
          ) as tf.Scalar;
        }
        const target = tf.oneHot(tf.tensor1d(labels, "int32"), numLabels);
        return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1))) as tf.Scalar;
      });
    },
    async evaluate(model: DebertaModel, _context: EvalContext): Promise<TaskEvaluation> {
      const preds = await predict(model);
      const m = glueMetrics(spec.name, preds, evalLabels);
      const all: Record<string, number> = {};
      for (const name of spec.metrics) {
        const v = (m as unknown as Record<string, number | undefined>)[name];
        if (typeof v === "number") all[name] = v;
      }
      return { metric: m.main, value: m.mainValue, all };
    },
    predict,
    describe(): Record<string, unknown> {
      return {
        kind: "glue",
        task: spec.name,
        options: absolutePaths(options),
        evalSplit,
        maxLength,
        head,
        labels: [...spec.labels],
        trainExamples: trainFeatures.length,
        evalExamples: evalFeatures.length,
        skippedRows: { train: trainSkipped, eval: evalRead.skipped },
        modelFile: base.file,
        droppedHeadKeys: [...base.dropped],
      };
    },
    dispose(): void {},
  };
  return task;
}
