/**
 * SQuAD 2.0 fine-tuning as a {@linkcode TrainingTask}: span extraction with a `qa_outputs` head
 * (Hugging Face `DebertaV2ForQuestionAnswering`). Questions and contexts become sliding windows
 * (`featurizeSquad`, `run_qa.py` conventions); the training loss is the mean of the start and end
 * cross-entropies over window positions (unanswerable windows point at `[CLS]`). Evaluation
 * collects every window's logits, picks answers with `postprocessSquad` and scores them with the
 * official SQuAD 2.0 metric (`squad2Evaluate`); the main metric is F1.
 *
 * Training examples are windows (features), as in `run_qa.py`: `numTrainExamples` counts windows.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { DebertaModel } from "../model/deberta_v3.ts";
import { loadTokenizer, type Tokenizer } from "../model/tokenizer.ts";
import { collate } from "./features/collate.ts";
import { featurizeSquad, type SquadExample, type SquadFeature } from "./features/squad.ts";
import { postprocessSquad } from "./features/squad_postprocess.ts";
import {
  absolutePaths,
  type BaseCheckpoint,
  fitTokenIds,
  loadBaseCheckpoint,
  type OutOfRangeIds,
} from "./glue_task.ts";
import type { EvalContext, TaskEvaluation, TrainingTask } from "./loop.ts";
import { squad2Evaluate } from "./metrics/squad2_evaluate.ts";
import { readSquad2, type Squad2Example } from "./tasks/read_squad2.ts";

/**
 * Options of {@linkcode createSquadTask} (JSON-serialisable; `describe()` records them).
 *
 * @example Two questions on the tiny model
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SquadTaskOptions } from "./squad_task.ts";
 * import { createSquadTask } from "./squad_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinySquad } from "./tiny_data.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const modelDir = await writeTinyModelFolder(`${tmp}/model`); // seeded random weights + spm.model
 * const data = await writeTinySquad(tmp); // 6 questions, 2 unanswerable
 * const options: SquadTaskOptions = {
 *   model: modelDir, data, maxLength: 64, docStride: 16, maxQueryLength: 16,
 *   maxTrainExamples: 2, maxEvalExamples: 2,
 * };
 * const task = await createSquadTask(options);
 * assert.equal(task.metricName, "f1");
 * assert.equal(task.numEvalExamples, 2);
 * task.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface SquadTaskOptions {
  /** Hugging Face model folder. */
  readonly model: string;
  /**
   * SQuAD 2.0 training file, or a folder holding `train-v2.0.json` (and `dev-v2.0.json`).
   */
  readonly data: string;
  /**
   * Evaluation file; default the folder's `dev-v2.0.json`, or `data` itself when `data` is a
   * file (say so when you report numbers).
   */
  readonly evalData?: string;
  /** Tokenizer folder or `.model` file; default the model folder. */
  readonly tokenizer?: string;
  /** Window length including special tokens (default 384, docs/METHOD.md §16). */
  readonly maxLength?: number;
  /** Overlap between windows (default 128). */
  readonly docStride?: number;
  /** Question tokens kept (default 64). */
  readonly maxQueryLength?: number;
  /** Ids beyond the model's vocabulary: `error` (default) or `unk`. */
  readonly outOfRangeIds?: OutOfRangeIds;
  /** Use only the first N training questions. */
  readonly maxTrainExamples?: number;
  /** Use only the first N evaluation questions. */
  readonly maxEvalExamples?: number;
  /** Read and featurise the training file (default true). */
  readonly loadTrain?: boolean;
  /** Windows per evaluation forward (default 16). */
  readonly evalBatchSize?: number;
  /** Candidate starts/ends per window (default 20). */
  readonly nBest?: number;
  /** Longest answer in tokens (default 30). */
  readonly maxAnswerLength?: number;
  /** Predict "no answer" when the null score beats the best span by more than this (default 0). */
  readonly nullThreshold?: number;
  /** Config hidden/attention dropout in training forwards (default true). */
  readonly modelDropout?: boolean;
}

/**
 * The SQuAD 2.0 task: a {@linkcode TrainingTask} plus what it read.
 *
 * @example Predictions by question id
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SquadTask } from "./squad_task.ts";
 * import { createSquadTask } from "./squad_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinySquad } from "./tiny_data.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const modelDir = await writeTinyModelFolder(`${tmp}/model`); // seeded random weights + spm.model
 * const data = await writeTinySquad(tmp); // 6 questions, 2 unanswerable
 * const task: SquadTask = await createSquadTask({
 *   model: modelDir, data, maxLength: 64, docStride: 16, maxQueryLength: 16,
 *   maxTrainExamples: 2, maxEvalExamples: 2,
 * });
 * const model = task.buildModel(0);
 * const { predictions, naProbs } = await task.predict(model);
 * assert.equal(Object.keys(predictions).length, task.numEvalExamples);
 * assert.deepEqual(Object.keys(naProbs), Object.keys(predictions));
 * model.dispose();
 * task.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface SquadTask extends TrainingTask {
  /** The options, as given. */
  readonly options: SquadTaskOptions;
  /** The base checkpoint (question-answering head). */
  readonly base: BaseCheckpoint;
  /** The tokenizer. */
  readonly tokenizer: Tokenizer;
  /** Evaluation questions. */
  readonly numEvalExamples: number;
  /** Evaluation windows. */
  readonly numEvalFeatures: number;
  /**
   * Answers on the evaluation file (`""` = no answer) and no-answer probabilities.
   *
   * @param model The model with adapters attached.
   * @returns Predictions by question id.
   */
  predict(
    model: DebertaModel,
  ): Promise<{ predictions: Record<string, string>; naProbs: Record<string, number> }>;
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function firstFile(dir: string, names: readonly string[]): Promise<string> {
  for (const n of names) {
    const p = join(dir, n);
    if ((await statOrUndefined(p))?.isFile === true) return p;
  }
  throw new Deno.errors.NotFound(
    `Cannot find SQuAD 2.0 data as ${dir} must hold one of ${names.join(", ")}: none found`,
  );
}

function checkCount(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) {
    throw new RangeError(
      `Cannot build SQuAD task as ${name} must be an integer >= ${min}: current value is ${v}`,
    );
  }
}

function asSquadExamples(examples: readonly Squad2Example[]): SquadExample[] {
  return examples.map((e) => ({
    id: e.id,
    question: e.question,
    context: e.context,
    answers: e.answers.map((a) => ({ text: a.text, answerStart: a.answerStart })),
    isImpossible: e.isImpossible,
  }));
}

/**
 * Builds a SQuAD 2.0 fine-tuning task: model folder, tokenizer, training and evaluation files,
 * windows featurised once.
 *
 * @param options Model, data and the settings of {@linkcode SquadTaskOptions}.
 * @returns The task (holds no tensors).
 * @throws {RangeError} On a bad setting or token ids beyond the model's vocabulary.
 * @throws {SyntaxError} `DataFormatError` on a malformed SQuAD file (it names the JSON path).
 *
 * @example Two questions on the tiny model
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSquadTask } from "./squad_task.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinySquad } from "./tiny_data.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const modelDir = await writeTinyModelFolder(`${tmp}/model`); // seeded random weights + spm.model
 * const data = await writeTinySquad(tmp); // 6 questions, 2 unanswerable
 * const task = await createSquadTask({
 *   model: modelDir, // its spm.model is the tokenizer unless `tokenizer` names another
 *   data,
 *   maxLength: 64, docStride: 16, maxQueryLength: 16,
 *   maxTrainExamples: 2, maxEvalExamples: 2,
 * });
 * const model = task.buildModel(0);
 * const loss = task.loss(model, [0], { training: false, seed: 0 });
 * assert.ok((await loss.data())[0]! > 0);
 * loss.dispose();
 * const ev = await task.evaluate(model, { ranks: new Map() });
 * assert.equal(ev.metric, "f1");
 * model.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function createSquadTask(options: SquadTaskOptions): Promise<SquadTask> {
  checkCount("maxLength", options.maxLength, 8);
  checkCount("docStride", options.docStride, 0);
  checkCount("maxQueryLength", options.maxQueryLength, 1);
  checkCount("maxTrainExamples", options.maxTrainExamples, 1);
  checkCount("maxEvalExamples", options.maxEvalExamples, 1);
  checkCount("evalBatchSize", options.evalBatchSize, 1);
  const mode = options.outOfRangeIds ?? "error";
  if (mode !== "error" && mode !== "unk") {
    throw new RangeError(
      `Cannot build SQuAD task as outOfRangeIds must be "error" or "unk": current value is ${
        JSON.stringify(mode)
      }`,
    );
  }
  const featureOptions = {
    maxLength: options.maxLength ?? 384,
    docStride: options.docStride ?? 128,
    maxQueryLength: options.maxQueryLength ?? 64,
  };
  const evalBatch = options.evalBatchSize ?? 16;
  const base = await loadBaseCheckpoint(options.model, "question-answering", []);
  const tokenizerPath = options.tokenizer ?? options.model;
  const tokenizer = await loadTokenizer(tokenizerPath);
  const info = await statOrUndefined(options.data);
  if (info === undefined) {
    throw new Deno.errors.NotFound(
      `Cannot read SQuAD 2.0 data as the path must exist: ${options.data} not found`,
    );
  }
  const loadTrain = options.loadTrain ?? true;
  const trainPath = info.isDirectory
    ? (loadTrain ? await firstFile(options.data, ["train-v2.0.json", "train.json"]) : undefined)
    : options.data;
  const evalPath = options.evalData ??
    (info.isDirectory
      ? await firstFile(options.data, ["dev-v2.0.json", "dev.json"])
      : options.data);

  const featurize = (examples: readonly SquadExample[]): SquadFeature[] => {
    const features = featurizeSquad(examples, tokenizer, featureOptions);
    fitTokenIds(features, base.config.vocabSize, tokenizer.special.unk, mode, tokenizerPath);
    return features;
  };
  let trainFeatures: SquadFeature[] = [];
  let trainQuestions = 0;
  if (loadTrain && trainPath !== undefined) {
    const all = await readSquad2(trainPath);
    const examples = asSquadExamples(all.slice(0, options.maxTrainExamples ?? all.length));
    trainQuestions = examples.length;
    trainFeatures = featurize(examples);
  }
  const evalAll = await readSquad2(evalPath);
  const evalRaw = evalAll.slice(0, options.maxEvalExamples ?? evalAll.length);
  if (evalRaw.length === 0) {
    throw new RangeError(
      `Cannot evaluate on ${evalPath} as it must hold at least one question: current count is 0`,
    );
  }
  const evalExamples = asSquadExamples(evalRaw);
  const evalFeatures = featurize(evalExamples);
  const padId = tokenizer.special.pad;

  const forwardLogits = (
    model: DebertaModel,
    features: readonly SquadFeature[],
    indices: readonly number[],
    training: boolean,
    seed: number,
  ): tf.Tensor3D =>
    tf.tidy(() => {
      const b = collate(features, indices, { padId });
      const out = model.forward({
        inputIds: tf.tensor2d(b.inputIds, undefined, "int32"),
        attentionMask: tf.tensor2d(b.attentionMask, undefined, "int32"),
        tokenTypeIds: tf.tensor2d(b.tokenTypeIds, undefined, "int32"),
      }, { training, seed });
      return out.logits as tf.Tensor3D; // [batch, seq, 2]
    });

  const predict = async (
    model: DebertaModel,
  ): Promise<{ predictions: Record<string, string>; naProbs: Record<string, number> }> => {
    const starts: Float32Array[] = [];
    const ends: Float32Array[] = [];
    for (let s = 0; s < evalFeatures.length; s += evalBatch) {
      const idx = Array.from(
        { length: Math.min(evalBatch, evalFeatures.length - s) },
        (_, i) => s + i,
      );
      const logits = forwardLogits(model, evalFeatures, idx, false, 0);
      const [, len] = logits.shape;
      const data = await logits.data() as Float32Array;
      logits.dispose();
      idx.forEach((fi, row) => {
        const n = (evalFeatures[fi] as SquadFeature).inputIds.length;
        const st = new Float32Array(n);
        const en = new Float32Array(n);
        for (let p = 0; p < n; p++) {
          st[p] = data[(row * len + p) * 2] as number;
          en[p] = data[(row * len + p) * 2 + 1] as number;
        }
        starts.push(st);
        ends.push(en);
      });
    }
    const out = postprocessSquad(evalExamples, evalFeatures, starts, ends, {
      ...(options.nBest === undefined ? {} : { nBest: options.nBest }),
      ...(options.maxAnswerLength === undefined
        ? {}
        : { maxAnswerLength: options.maxAnswerLength }),
      ...(options.nullThreshold === undefined ? {} : { nullThreshold: options.nullThreshold }),
    });
    return { predictions: out.predictions, naProbs: out.naProbs };
  };

  const task: SquadTask = {
    name: "squad2",
    metricName: "f1",
    metricHigherIsBetter: true,
    numTrainExamples: trainFeatures.length,
    numEvalExamples: evalExamples.length,
    numEvalFeatures: evalFeatures.length,
    options,
    base,
    tokenizer,
    buildModel(seed: number): DebertaModel {
      return base.build(seed, { modelDropout: options.modelDropout ?? true });
    },
    loss(model, indices, lossOptions): tf.Scalar {
      if (trainFeatures.length === 0) {
        throw new RangeError(
          "Cannot compute a training loss as the task must have training windows: current count is 0 (loadTrain was false)",
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
        const len = logits.shape[1];
        const picked = indices.map((i) => trainFeatures[i] as SquadFeature);
        const ce = (column: number, positions: number[]): tf.Scalar => {
          const scores = logits.slice([0, 0, column], [-1, -1, 1]).reshape([-1, len]);
          const target = tf.oneHot(tf.tensor1d(positions, "int32"), len);
          return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(scores)), 1)));
        };
        const start = ce(0, picked.map((f) => f.startPosition));
        const end = ce(1, picked.map((f) => f.endPosition));
        return start.add(end).div(2) as tf.Scalar;
      });
    },
    async evaluate(model: DebertaModel, _context: EvalContext): Promise<TaskEvaluation> {
      const { predictions, naProbs } = await predict(model);
      const scores = squad2Evaluate(evalRaw, predictions, { naProbs });
      const all: Record<string, number> = {};
      for (const [k, v] of Object.entries(scores)) if (typeof v === "number") all[k] = v;
      return { metric: "f1", value: scores.f1, all };
    },
    predict,
    describe(): Record<string, unknown> {
      return {
        kind: "squad2",
        task: "squad2",
        options: absolutePaths(options),
        ...featureOptions,
        trainFile: trainPath ?? null,
        evalFile: evalPath,
        trainQuestions,
        trainFeatures: trainFeatures.length,
        evalQuestions: evalExamples.length,
        evalFeatures: evalFeatures.length,
        modelFile: base.file,
        droppedHeadKeys: [...base.dropped],
      };
    },
    dispose(): void {},
  };
  return task;
}
