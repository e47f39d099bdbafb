/**
 * `squad2Evaluate`: the official SQuAD 2.0 evaluation (`evaluate-v2.0.py`), same figures, same
 * keys, same quirks.
 *
 * @module
 */

import { parseSquad2, type Squad2Example } from "../tasks/read_squad2.ts";
import { computeExact, computeF1, normalizeAnswer } from "./squad2_normalize.ts";

/**
 * A qid → value table: a plain object (as `JSON.parse` gives) or a `Map`.
 *
 * @example A `Map` and a plain object score the same
 * ```ts
 * import assert from "node:assert/strict";
 * import type { QidTable } from "./squad2_evaluate.ts";
 * import { squad2RawScores } from "./squad2_evaluate.ts";
 *
 * const dataset = [{ id: "q", title: "", question: "", context: "", isImpossible: false,
 *   answers: [{ text: "Rollo", answerStart: 0 }] }];
 * const asMap: QidTable<string> = new Map([["q", "Rollo"]]);
 * const asObject: QidTable<string> = { q: "Rollo" };
 * assert.deepEqual(squad2RawScores(dataset, asMap), squad2RawScores(dataset, asObject));
 * ```
 */
export type QidTable<T> = Readonly<Record<string, T>> | ReadonlyMap<string, T>;

/**
 * The dataset to score: `readSquad2`'s examples, or the parsed official JSON document.
 *
 * @example The official JSON shape
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Squad2Dataset } from "./squad2_evaluate.ts";
 * import { squad2Evaluate } from "./squad2_evaluate.ts";
 *
 * const dataset: Squad2Dataset = { data: [{ title: "t", paragraphs: [{ context: "Rollo ruled.",
 *   qas: [{ id: "q", question: "Who?", answers: [{ text: "Rollo", answer_start: 0 }] }] }] }] };
 * assert.equal(squad2Evaluate(dataset, { q: "Rollo" }).exact, 100);
 * ```
 */
export type Squad2Dataset = readonly Squad2Example[] | { readonly data: unknown };

/**
 * The official script's output. Keys and their order are the script's: `HasAns_*`/`NoAns_*`
 * only when the dataset has such questions, `best_*` only when `naProbs` is given. Figures are
 * percentages; `*_total` are counts.
 *
 * @example No `naProbs`, so no `best_*` keys
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Squad2Scores } from "./squad2_evaluate.ts";
 * import { squad2Evaluate } from "./squad2_evaluate.ts";
 *
 * const dataset = [{ id: "q", title: "", question: "", context: "", isImpossible: true, answers: [] }];
 * const scores: Squad2Scores = squad2Evaluate(dataset, { q: "" });
 * assert.deepEqual(scores, { exact: 100, f1: 100, total: 1, NoAns_exact: 100, NoAns_f1: 100, NoAns_total: 1 });
 * ```
 */
export interface Squad2Scores {
  /** Exact match over all questions, after the no-answer threshold. */
  readonly exact: number;
  /** F1 over all questions, after the no-answer threshold. */
  readonly f1: number;
  /** Number of questions. */
  readonly total: number;
  /** Exact match over answerable questions. */
  readonly HasAns_exact?: number;
  /** F1 over answerable questions. */
  readonly HasAns_f1?: number;
  /** Number of answerable questions. */
  readonly HasAns_total?: number;
  /** Exact match over unanswerable questions. */
  readonly NoAns_exact?: number;
  /** F1 over unanswerable questions. */
  readonly NoAns_f1?: number;
  /** Number of unanswerable questions. */
  readonly NoAns_total?: number;
  /** Best exact match over all no-answer thresholds. */
  readonly best_exact?: number;
  /** The na_prob threshold giving `best_exact`. */
  readonly best_exact_thresh?: number;
  /** Best F1 over all no-answer thresholds. */
  readonly best_f1?: number;
  /** The na_prob threshold giving `best_f1`. */
  readonly best_f1_thresh?: number;
}

/**
 * Options of {@linkcode squad2Evaluate}.
 *
 * @example A threshold that turns a confident answer into "no answer"
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Squad2EvaluateOptions } from "./squad2_evaluate.ts";
 * import { squad2Evaluate } from "./squad2_evaluate.ts";
 *
 * const dataset = [{ id: "q", title: "", question: "", context: "", isImpossible: true, answers: [] }];
 * const options: Squad2EvaluateOptions = { naProbs: { q: 0.6 }, threshold: 0.5 };
 * assert.equal(squad2Evaluate(dataset, { q: "Rollo" }, options).exact, 100);
 * ```
 */
export interface Squad2EvaluateOptions {
  /**
   * No-answer probability per qid (`-n NA_PROB_FILE`). Enables `best_*`. Its iteration order
   * breaks ties in the best-threshold search, as Python's stable sort does: a plain object keeps
   * the file's key order except that JavaScript moves integer-like keys (e.g. `"42"`) first;
   * pass a `Map` built in file order if your qids can look like integers.
   */
  readonly naProbs?: QidTable<number>;
  /**
   * `--na-prob-thresh` (default 1.0): a question is predicted unanswerable when its na_prob is
   * strictly greater.
   */
  readonly threshold?: number;
}

/**
 * Raw per-question scores, before any no-answer threshold.
 *
 * @example A partial match
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Squad2RawScore } from "./squad2_evaluate.ts";
 * import { squad2RawScores } from "./squad2_evaluate.ts";
 *
 * const dataset = [{ id: "q", title: "", question: "", context: "", isImpossible: false,
 *   answers: [{ text: "Duke Rollo", answerStart: 0 }] }];
 * const raw: Squad2RawScore | undefined = squad2RawScores(dataset, { q: "Rollo" }).get("q");
 * assert.deepEqual(raw, { exact: 0, f1: 2 / 3 });
 * ```
 */
export interface Squad2RawScore {
  /** 1 or 0. */
  readonly exact: number;
  /** In [0, 1]. */
  readonly f1: number;
}

function lookup<T>(table: QidTable<T>, qid: string): T | undefined {
  if (table instanceof Map) return table.get(qid);
  const record = table as Readonly<Record<string, T>>;
  return Object.hasOwn(record, qid) ? record[qid] : undefined;
}

function keysOf<T>(table: QidTable<T>): string[] {
  return table instanceof Map ? [...table.keys()] : Object.keys(table);
}

function examplesOf(dataset: Squad2Dataset): readonly Squad2Example[] {
  return Array.isArray(dataset) ? dataset : parseSquad2(dataset, "<dataset>");
}

/**
 * The script's `get_raw_scores`: for each question, the best exact match and F1 over its gold
 * answers (gold answers that normalise to `""` are dropped; an unanswerable question's only gold
 * answer is `""`). Questions without a prediction are left out, as the script does.
 *
 * @param dataset The questions.
 * @param predictions Predicted answer text per qid (`""` = no answer).
 * @returns qid → `{ exact, f1 }`, in dataset order.
 * @throws {TypeError} When a prediction is not a string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { squad2RawScores } from "./squad2_evaluate.ts";
 *
 * const dataset = [
 *   { id: "q", title: "", question: "", context: "", isImpossible: false,
 *     answers: [{ text: "the Seljuk Turks", answerStart: 0 }] },
 * ];
 * assert.deepEqual(squad2RawScores(dataset, { q: "Seljuk Turks" }).get("q"), { exact: 1, f1: 1 });
 * ```
 */
export function squad2RawScores(
  dataset: Squad2Dataset,
  predictions: QidTable<string>,
): Map<string, Squad2RawScore> {
  const scores = new Map<string, Squad2RawScore>();
  for (const qa of examplesOf(dataset)) {
    const prediction = lookup(predictions, qa.id);
    if (prediction === undefined) continue;
    if (typeof prediction !== "string") {
      throw new TypeError(
        `Cannot score SQuAD 2.0 question ${qa.id} as its prediction must be a string: current value is ${typeof prediction}`,
      );
    }
    let gold = qa.answers.map((a) => a.text).filter((text) => normalizeAnswer(text) !== "");
    if (gold.length === 0) gold = [""];
    let exact = -Infinity;
    let f1 = -Infinity;
    for (const g of gold) {
      exact = Math.max(exact, computeExact(g, prediction));
      f1 = Math.max(f1, computeF1(g, prediction));
    }
    scores.set(qa.id, { exact, f1 });
  }
  return scores;
}

function sumOver(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v; // Python 3.11 sum(): plain left-to-right addition
  return total;
}

/**
 * Scores SQuAD 2.0 predictions exactly as the official `evaluate-v2.0.py`:
 * - raw exact/F1 per question (see {@linkcode squad2RawScores});
 * - with `threshold`, a question whose na_prob is `> threshold` scores 1 if unanswerable and 0
 *   otherwise;
 * - `exact`, `f1`, `total`, then `HasAns_*` and `NoAns_*` over the questions with and without
 *   gold answers (percentages, summed in dataset order as Python's `sum`);
 * - with `naProbs`, `best_exact`/`best_f1` and their thresholds from `find_best_thresh`, with
 *   its quirks: any non-empty prediction on an unanswerable question counts −1 even if it
 *   normalises to `""` (so `best_f1` can be below `f1`), ties keep `naProbs`' key order, the
 *   starting threshold is 0.0.
 *
 * The script crashes when a question has no prediction or no na_prob; this port throws a
 * `RangeError` naming the first such qid. Predictions for unknown qids are ignored.
 *
 * @param dataset `readSquad2`'s examples, or the parsed official JSON (`{ data: [...] }`).
 * @param predictions Answer text per qid (`""` = no answer), as the script's prediction file.
 * @param options `naProbs` and `threshold`.
 * @returns The script's JSON output.
 * @throws {RangeError} For an empty dataset, a missing prediction or na_prob, or a non-finite
 *   threshold.
 * @throws {TypeError} For a prediction that is not a string or an na_prob that is not a number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { squad2Evaluate } from "./squad2_evaluate.ts";
 *
 * const q = (id: string, answer?: string) => ({
 *   id, title: "", question: "", context: "", isImpossible: answer === undefined,
 *   answers: answer === undefined ? [] : [{ text: answer, answerStart: 0 }],
 * });
 * const dataset = [q("a", "Rollo"), q("b")];
 * const scores = squad2Evaluate(dataset, { a: "rollo.", b: "Normandy" }, {
 *   naProbs: { a: 0.1, b: 0.9 },
 * });
 * assert.deepEqual(scores, {
 *   exact: 50, f1: 50, total: 2,
 *   HasAns_exact: 100, HasAns_f1: 100, HasAns_total: 1,
 *   NoAns_exact: 0, NoAns_f1: 0, NoAns_total: 1,
 *   best_exact: 100, best_exact_thresh: 0.1, best_f1: 100, best_f1_thresh: 0.1,
 * });
 * ```
 */
export function squad2Evaluate(
  dataset: Squad2Dataset,
  predictions: QidTable<string>,
  options: Squad2EvaluateOptions = {},
): Squad2Scores {
  const threshold = options.threshold ?? 1.0;
  if (typeof threshold !== "number" || Number.isNaN(threshold)) {
    throw new RangeError(
      `Cannot evaluate SQuAD 2.0 as threshold must be a number: current value is ${threshold}`,
    );
  }
  const examples = examplesOf(dataset);
  const hasAns = new Map<string, boolean>();
  for (const qa of examples) hasAns.set(qa.id, qa.answers.length > 0);
  if (hasAns.size === 0) {
    throw new RangeError(
      "Cannot evaluate SQuAD 2.0 as the dataset must have at least one question: current value is 0",
    );
  }
  const raw = squad2RawScores(examples, predictions);
  const missing = [...hasAns.keys()].filter((qid) => !raw.has(qid));
  if (missing.length > 0) {
    throw new RangeError(
      `Cannot evaluate SQuAD 2.0 as every question must have a prediction: ${missing.length} missing, first is ${
        missing[0]
      }`,
    );
  }

  const naProbs = options.naProbs;
  const naProb = (qid: string): number => {
    if (naProbs === undefined) return 0.0;
    const p = lookup(naProbs, qid);
    if (p === undefined) {
      throw new RangeError(
        `Cannot evaluate SQuAD 2.0 as every question must have an na_prob: missing for ${qid}`,
      );
    }
    if (typeof p !== "number" || Number.isNaN(p)) {
      throw new TypeError(
        `Cannot evaluate SQuAD 2.0 as na_prob of ${qid} must be a number: current value is ${p}`,
      );
    }
    return p;
  };

  // apply_no_ans_threshold
  const exactT = new Map<string, number>();
  const f1T = new Map<string, number>();
  for (const [qid, s] of raw) {
    if (naProb(qid) > threshold) {
      const v = hasAns.get(qid) ? 0.0 : 1.0;
      exactT.set(qid, v);
      f1T.set(qid, v);
    } else {
      exactT.set(qid, s.exact);
      f1T.set(qid, s.f1);
    }
  }

  // make_eval_dict / merge_eval
  const total = exactT.size;
  const out: Record<string, number> = {
    exact: 100.0 * sumOver(exactT.values()) / total,
    f1: 100.0 * sumOver(f1T.values()) / total,
    total,
  };
  for (const [prefix, wanted] of [["HasAns", true], ["NoAns", false]] as const) {
    const qids = [...hasAns].filter(([, has]) => has === wanted).map(([qid]) => qid);
    if (qids.length === 0) continue;
    out[`${prefix}_exact`] = 100.0 * sumOver(qids.map((q) => exactT.get(q) as number)) /
      qids.length;
    out[`${prefix}_f1`] = 100.0 * sumOver(qids.map((q) => f1T.get(q) as number)) / qids.length;
    out[`${prefix}_total`] = qids.length;
  }

  if (naProbs !== undefined) {
    const best = (metric: "exact" | "f1"): [number, number] => {
      // find_best_thresh
      let score = [...hasAns.values()].filter((has) => !has).length;
      let bestScore = score;
      let bestThresh = 0.0;
      const order = keysOf(naProbs).sort((a, b) => naProb(a) - naProb(b)); // stable
      for (const qid of order) {
        const s = raw.get(qid);
        if (s === undefined) continue;
        let diff: number;
        if (hasAns.get(qid)) diff = s[metric];
        else diff = lookup(predictions, qid) ? -1 : 0;
        score += diff;
        if (score > bestScore) {
          bestScore = score;
          bestThresh = naProb(qid);
        }
      }
      return [100.0 * bestScore / raw.size, bestThresh];
    };
    const [bestExact, exactThresh] = best("exact");
    const [bestF1, f1Thresh] = best("f1");
    out.best_exact = bestExact;
    out.best_exact_thresh = exactThresh;
    out.best_f1 = bestF1;
    out.best_f1_thresh = f1Thresh;
  }
  return out as unknown as Squad2Scores;
}
