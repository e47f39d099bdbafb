/**
 * Classification metrics with scikit-learn 1.2.1 semantics: accuracy, binary F1, Matthews
 * correlation. Inputs are integer class labels.
 *
 * @module
 */

import { checkLabelPair } from "./_check.ts";

function checkIntegers(metric: string, name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i])) {
      throw new TypeError(
        `Cannot compute ${metric} as ${name}[${i}] must be an integer class label: current value is ${
          values[i]
        }`,
      );
    }
  }
}

/**
 * Fraction of exact matches, as `sklearn.metrics.accuracy_score(labels, predictions)`.
 *
 * @param labels Gold class labels.
 * @param predictions Predicted class labels, same length.
 * @returns The accuracy in [0, 1].
 * @throws {TypeError} On a length mismatch or a non-integer entry.
 * @throws {RangeError} On empty input (scikit-learn returns NaN with a warning there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accuracy } from "./classification.ts";
 *
 * assert.equal(accuracy([0, 1, 1, 0], [0, 1, 0, 0]), 0.75);
 * ```
 */
export function accuracy(labels: ArrayLike<number>, predictions: ArrayLike<number>): number {
  checkLabelPair("accuracy", labels, predictions);
  checkIntegers("accuracy", "labels", labels);
  checkIntegers("accuracy", "predictions", predictions);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predictions[i]) correct++;
  return correct / labels.length;
}

/**
 * Binary F1 of the positive class 1, as `sklearn.metrics.f1_score(labels, predictions)` with its
 * defaults (`average="binary"`, `pos_label=1`, `zero_division="warn"`). Degenerate cases follow
 * scikit-learn 1.2.1: no predicted positives or no gold positives gives precision or recall 0,
 * and F1 = 0 when both are 0 (also when there are no positives at all, where 1.0 might be
 * expected).
 *
 * @param labels Gold labels in {0, 1}.
 * @param predictions Predicted labels in {0, 1}.
 * @returns F1 in [0, 1], computed as `2·p·r / (p + r)` in scikit-learn's operation order.
 * @throws {TypeError} On a length mismatch or a non-integer entry.
 * @throws {RangeError} On empty input or a label outside {0, 1}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f1Binary } from "./classification.ts";
 *
 * assert.equal(f1Binary([0, 1, 1, 0, 1, 0], [1, 1, 1, 1, 1, 1]), 0.6666666666666666);
 * assert.equal(f1Binary([0, 0, 0], [0, 0, 0]), 0);
 * ```
 */
export function f1Binary(labels: ArrayLike<number>, predictions: ArrayLike<number>): number {
  checkLabelPair("F1", labels, predictions);
  let tp = 0;
  let predicted = 0;
  let actual = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    const p = predictions[i];
    if ((y !== 0 && y !== 1) || (p !== 0 && p !== 1)) {
      throw new RangeError(
        `Cannot compute F1 as labels and predictions must be 0 or 1: current values at ${i} are ${y} and ${p}`,
      );
    }
    if (p === 1) predicted++;
    if (y === 1) actual++;
    if (p === 1 && y === 1) tp++;
  }
  const precision = tp / (predicted === 0 ? 1 : predicted);
  const recall = tp / (actual === 0 ? 1 : actual);
  const denom = precision + recall;
  return (2 * precision * recall) / (denom === 0 ? 1 : denom);
}

/**
 * Matthews correlation coefficient, as `sklearn.metrics.matthews_corrcoef` (multi-class
 * generalisation, same operation order, so results are bit-identical): from the confusion
 * matrix over the labels present, `cov(y,p) / sqrt(cov(y,y)·cov(p,p))`, and **0.0** when that
 * denominator is 0 (constant predictions or constant labels).
 *
 * @param labels Gold class labels.
 * @param predictions Predicted class labels.
 * @returns MCC in [-1, 1].
 * @throws {TypeError} On a length mismatch or a non-integer entry.
 * @throws {RangeError} On empty input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matthewsCorrcoef } from "./classification.ts";
 *
 * assert.equal(matthewsCorrcoef([0, 1, 1, 0], [1, 0, 0, 1]), -1);
 * assert.equal(matthewsCorrcoef([0, 1, 1, 0], [1, 1, 1, 1]), 0);
 * ```
 */
export function matthewsCorrcoef(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
): number {
  checkLabelPair("Matthews correlation", labels, predictions);
  checkIntegers("Matthews correlation", "labels", labels);
  checkIntegers("Matthews correlation", "predictions", predictions);
  const classes = [...new Set([...Array.from(labels), ...Array.from(predictions)])].sort((a, b) =>
    a - b
  );
  const index = new Map(classes.map((c, i) => [c, i]));
  const k = classes.length;
  const tSum = new Float64Array(k);
  const pSum = new Float64Array(k);
  let nCorrect = 0;
  for (let i = 0; i < labels.length; i++) {
    const t = index.get(labels[i] as number) as number;
    const p = index.get(predictions[i] as number) as number;
    tSum[t] = (tSum[t] as number) + 1;
    pSum[p] = (pSum[p] as number) + 1;
    if (t === p) nCorrect++;
  }
  const nSamples = labels.length;
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let c = 0; c < k; c++) {
    const t = tSum[c] as number;
    const p = pSum[c] as number;
    tp += t * p;
    pp += p * p;
    tt += t * t;
  }
  const covYtYp = nCorrect * nSamples - tp;
  const covYpYp = nSamples ** 2 - pp;
  const covYtYt = nSamples ** 2 - tt;
  if (covYpYp * covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}
