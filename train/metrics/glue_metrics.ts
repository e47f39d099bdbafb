/**
 * `glueMetrics`: every figure of a GLUE task, with the paper's main metric and the GLUE
 * leaderboard's per-task score beside it.
 *
 * @module
 */

import { type GlueMetricName, type GlueTaskName, resolveGlueTask } from "../tasks/glue_tasks.ts";
import { checkLabelPair } from "./_check.ts";
import { accuracy, f1Binary, matthewsCorrcoef } from "./classification.ts";
import { pearson, spearman } from "./correlation.ts";

/**
 * The figures of one task. Only the task's own keys are present (see `GLUE_TASKS[t].metrics`):
 * CoLA `accuracy`, `matthews_corrcoef`; SST-2, MNLI, QNLI, RTE `accuracy`; MRPC, QQP
 * `accuracy`, `f1`, `accuracy_f1_mean`; STS-B `pearson`, `spearman`, `pearson_spearman_mean`.
 * Values are fractions (not percentages).
 *
 * @example RTE has only accuracy
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlueMetrics } from "./glue_metrics.ts";
 * import { glueMetrics } from "./glue_metrics.ts";
 *
 * const m: GlueMetrics = glueMetrics("rte", [0, 1, 1, 0], [0, 1, 0, 0]);
 * assert.equal(m.n, 4);
 * assert.equal(m.mainValue, 0.75);
 * assert.equal(m.f1, undefined);
 * ```
 */
export interface GlueMetrics {
  /** Canonical task name. */
  readonly task: GlueTaskName;
  /** Number of examples scored. */
  readonly n: number;
  /** Accuracy (`sklearn.metrics.accuracy_score`). */
  readonly accuracy?: number;
  /** Binary F1 of class 1 (`sklearn.metrics.f1_score`). */
  readonly f1?: number;
  /** `(accuracy + f1) / 2`, the GLUE score of MRPC and QQP. */
  readonly accuracy_f1_mean?: number;
  /** Matthews correlation (`sklearn.metrics.matthews_corrcoef`). */
  readonly matthews_corrcoef?: number;
  /** Pearson r (`scipy.stats.pearsonr`); NaN for constant predictions. */
  readonly pearson?: number;
  /** Spearman ρ with average ranks (`scipy.stats.spearmanr`); NaN for constant predictions. */
  readonly spearman?: number;
  /** `(pearson + spearman) / 2`, the GLUE score of STS-B. */
  readonly pearson_spearman_mean?: number;
  /** Name of the paper's main metric (accuracy; CoLA Matthews; STS-B Pearson). */
  readonly main: GlueMetricName;
  /** Value of the main metric. */
  readonly mainValue: number;
  /** Name of the GLUE leaderboard figure for the task. */
  readonly glueScoreMetric: GlueMetricName;
  /** Value of the GLUE leaderboard figure. */
  readonly glueScore: number;
}

/**
 * Computes every figure of a GLUE task, as the trusted references do (scikit-learn 1.2.1,
 * SciPy 1.10.1; see each metric's documentation for degenerate inputs: constant predictions
 * give MCC 0 and F1 0 where scikit-learn does, Pearson/Spearman NaN where SciPy does).
 *
 * @param task `cola sst2 mrpc stsb qqp mnli qnli rte`, case-insensitive (`SST-2`, `STS-B`).
 * @param predictions Predicted class indices (classification) or scores (STS-B).
 * @param labels Gold labels in the same order (e.g. the `label`s of `readGlue`'s examples).
 * @returns The task's figures plus `{ main, mainValue, glueScoreMetric, glueScore }`.
 * @throws {TypeError} On a length mismatch or a non-integer class.
 * @throws {RangeError} On empty input, a class index outside the task's labels, or fewer than
 *   2 STS-B points.
 *
 * @example MRPC
 * ```ts
 * import assert from "node:assert/strict";
 * import { glueMetrics } from "./glue_metrics.ts";
 *
 * const m = glueMetrics("MRPC", [1, 1, 0, 1], [1, 0, 0, 1]);
 * assert.equal(m.accuracy, 0.75);
 * assert.equal(m.f1, 0.8);
 * assert.equal(m.accuracy_f1_mean, 0.775);
 * assert.equal(m.main, "accuracy");
 * assert.equal(m.glueScoreMetric, "accuracy_f1_mean");
 * ```
 */
export function glueMetrics(
  task: string,
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
): GlueMetrics {
  const spec = resolveGlueTask(task);
  checkLabelPair(`${spec.gluePrefix} metrics`, labels, predictions);
  const values: Partial<Record<GlueMetricName, number>> = {};
  if (spec.kind === "regression") {
    if (labels.length < 2) {
      throw new RangeError(
        `Cannot compute ${spec.gluePrefix} metrics as there must be at least 2 examples: current value is ${labels.length}`,
      );
    }
    values.pearson = pearson(labels, predictions);
    values.spearman = spearman(labels, predictions);
    values.pearson_spearman_mean = (values.pearson + values.spearman) / 2;
  } else {
    const k = spec.labels.length;
    for (const [name, list] of [["labels", labels], ["predictions", predictions]] as const) {
      for (let i = 0; i < list.length; i++) {
        const v = list[i] as number;
        if (!Number.isInteger(v)) {
          throw new TypeError(
            `Cannot compute ${spec.gluePrefix} metrics as ${name}[${i}] must be an integer class index: current value is ${v}`,
          );
        }
        if (v < 0 || v >= k) {
          throw new RangeError(
            `Cannot compute ${spec.gluePrefix} metrics as ${name}[${i}] must be in [0, ${
              k - 1
            }]: current value is ${v}`,
          );
        }
      }
    }
    const y = Array.from(labels);
    const p = Array.from(predictions);
    values.accuracy = accuracy(y, p);
    if (spec.metrics.includes("matthews_corrcoef")) {
      values.matthews_corrcoef = matthewsCorrcoef(y, p);
    }
    if (spec.metrics.includes("f1")) {
      values.f1 = f1Binary(y, p);
      values.accuracy_f1_mean = (values.accuracy + values.f1) / 2;
    }
  }
  const out: Record<string, unknown> = { task: spec.name, n: labels.length };
  for (const name of spec.metrics) out[name] = values[name];
  out.main = spec.main;
  out.mainValue = values[spec.main];
  out.glueScoreMetric = spec.glueScore;
  out.glueScore = values[spec.glueScore];
  return out as unknown as GlueMetrics;
}

/**
 * MNLI figures over both dev (or test) sets.
 *
 * @example Matched 1.0, mismatched 0.5
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MnliMetrics } from "./glue_metrics.ts";
 * import { mnliMetrics } from "./glue_metrics.ts";
 *
 * const m: MnliMetrics = mnliMetrics(
 *   { predictions: [0, 2], labels: [0, 2] },
 *   { predictions: [1, 1], labels: [1, 0] },
 * );
 * assert.equal(m.mainValue, m.accuracy_matched);
 * assert.equal(m.glueScore, 0.75);
 * ```
 */
export interface MnliMetrics {
  /** Accuracy on the matched set (the paper's MNLI figure). */
  readonly accuracy_matched: number;
  /** Accuracy on the mismatched set. */
  readonly accuracy_mismatched: number;
  /** Always `"accuracy_matched"`. */
  readonly main: "accuracy_matched";
  /** The matched accuracy. */
  readonly mainValue: number;
  /** Mean of matched and mismatched accuracy (GLUE's single MNLI task score). */
  readonly glueScore: number;
}

/**
 * MNLI matched and mismatched accuracy. The paper reports matched accuracy; GLUE reports
 * both and averages them into one task score.
 *
 * @param matched Predictions and gold labels of `dev_matched`.
 * @param mismatched Predictions and gold labels of `dev_mismatched`.
 * @returns Both accuracies, the main figure and the GLUE task score.
 * @throws {TypeError} On a length mismatch or a non-integer class.
 * @throws {RangeError} On empty input or a class outside 0..2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mnliMetrics } from "./glue_metrics.ts";
 *
 * const m = mnliMetrics(
 *   { predictions: [0, 1, 2, 2], labels: [0, 1, 2, 0] },
 *   { predictions: [0, 1], labels: [0, 1] },
 * );
 * assert.equal(m.accuracy_matched, 0.75);
 * assert.equal(m.glueScore, 0.875);
 * ```
 */
export function mnliMetrics(
  matched: { readonly predictions: ArrayLike<number>; readonly labels: ArrayLike<number> },
  mismatched: { readonly predictions: ArrayLike<number>; readonly labels: ArrayLike<number> },
): MnliMetrics {
  const m = glueMetrics("mnli", matched.predictions, matched.labels).mainValue;
  const mm = glueMetrics("mnli", mismatched.predictions, mismatched.labels).mainValue;
  return {
    accuracy_matched: m,
    accuracy_mismatched: mm,
    main: "accuracy_matched",
    mainValue: m,
    glueScore: (m + mm) / 2,
  };
}
