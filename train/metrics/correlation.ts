/**
 * Correlation metrics with SciPy 1.10.1 semantics: Pearson (`scipy.stats.pearsonr`) and
 * Spearman with average ranks for ties (`scipy.stats.spearmanr`).
 *
 * @module
 */

import { checkLabelPair } from "./_check.ts";

/**
 * NumPy's pairwise summation (`np.add.reduce` on a contiguous float64 array): blocks of up to
 * 128 values summed with 8 accumulators, larger ranges split in halves. Matching it keeps
 * means bit-identical to `x.mean()`.
 */
function pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i] as number;
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[start + j] as number;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] = (r[j] as number) + (a[start + i + j] as number);
    }
    let res = ((r[0]! + r[1]!) + (r[2]! + r[3]!)) + ((r[4]! + r[5]!) + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[start + i] as number;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

function mean(a: ArrayLike<number>): number {
  return pairwiseSum(a, 0, a.length) / a.length;
}

/** Sum of products with Neumaier compensation (close to a correctly rounded BLAS result). */
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < a.length; i++) {
    const term = (a[i] as number) * (b[i] as number);
    const t = sum + term;
    comp += Math.abs(sum) >= Math.abs(term) ? (sum - t) + term : (term - t) + sum;
    sum = t;
  }
  return sum + comp;
}

/** Euclidean norm without overflow (as `scipy.linalg.norm`, BLAS `nrm2`). */
function norm(a: ArrayLike<number>): number {
  const direct = Math.sqrt(dot(a, a));
  if (Number.isFinite(direct) && direct > 1e-150) return direct;
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i] as number));
  if (scale === 0 || !Number.isFinite(scale)) return scale;
  const scaled = Array.from(a, (v) => v / scale);
  return scale * Math.sqrt(dot(scaled, scaled));
}

function isConstant(a: ArrayLike<number>): boolean {
  const first = a[0];
  for (let i = 1; i < a.length; i++) if (a[i] !== first) return false;
  return first === first; // a NaN never equals itself, as in NumPy
}

function hasNaN(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) return true;
  return false;
}

function checkNumbers(metric: string, name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== "number") {
      throw new TypeError(
        `Cannot compute ${metric} as ${name}[${i}] must be a number: current value is ${
          String(values[i])
        }`,
      );
    }
  }
}

/**
 * Pearson correlation, as `scipy.stats.pearsonr(labels, predictions)[0]` (SciPy 1.10.1):
 * centre by the mean, divide each side by its norm, take the dot product, clip to [-1, 1].
 * Degenerate inputs as SciPy: a constant input gives **NaN** (SciPy warns
 * `ConstantInputWarning`), any NaN gives NaN, and two points give ±1 (or 0) from the signs.
 * Agrees with SciPy to about 1e-15 (SciPy's BLAS norm and dot may round differently).
 *
 * @param labels Gold values.
 * @param predictions Predicted values, same length.
 * @returns r in [-1, 1], or NaN.
 * @throws {TypeError} On a length mismatch or a non-number entry.
 * @throws {RangeError} With fewer than 2 points (SciPy raises too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pearson } from "./correlation.ts";
 *
 * assert.ok(Math.abs(pearson([0, 1, 2, 3], [3, 2, 1, 0]) + 1) < 1e-15);
 * assert.ok(Number.isNaN(pearson([0, 1, 2, 3], [2.5, 2.5, 2.5, 2.5])));
 * ```
 */
export function pearson(labels: ArrayLike<number>, predictions: ArrayLike<number>): number {
  checkLabelPair("Pearson correlation", labels, predictions);
  checkNumbers("Pearson correlation", "labels", labels);
  checkNumbers("Pearson correlation", "predictions", predictions);
  const n = labels.length;
  if (n < 2) {
    throw new RangeError(
      `Cannot compute Pearson correlation as there must be at least 2 points: current value is ${n}`,
    );
  }
  if (isConstant(labels) || isConstant(predictions)) return NaN;
  if (n === 2) {
    return Math.sign(labels[1]! - labels[0]!) * Math.sign(predictions[1]! - predictions[0]!);
  }
  const xMean = mean(labels);
  const yMean = mean(predictions);
  const xm = Float64Array.from(labels, (v) => v - xMean);
  const ym = Float64Array.from(predictions, (v) => v - yMean);
  const nx = norm(xm);
  const ny = norm(ym);
  const r = dot(xm.map((v) => v / nx), ym.map((v) => v / ny));
  return Number.isNaN(r) ? r : Math.max(Math.min(r, 1), -1);
}

/**
 * Ranks with ties given their average rank (1-based), as `scipy.stats.rankdata(a)` with its
 * default `method="average"`.
 *
 * @param values The values to rank (no NaN).
 * @returns The ranks, in input order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankAverage } from "./correlation.ts";
 *
 * assert.deepEqual(Array.from(rankAverage([10, 20, 20, 5])), [2, 3.5, 3.5, 1]);
 * ```
 */
export function rankAverage(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  // Compare rather than subtract, so that equal infinities compare as 0 (Infinity − Infinity is
  // NaN, which the sort specification leaves implementation-defined).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
    const x = values[a] as number;
    const y = values[b] as number;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && values[order[j]!] === values[order[i]!]) j++;
    // Positions i..j-1 (0-based) share ranks i+1..j: average 0.5 * (i + j + 1), as SciPy.
    const rank = 0.5 * (i + j + 1);
    for (let k = i; k < j; k++) ranks[order[k]!] = rank;
    i = j;
  }
  return ranks;
}

/**
 * Spearman rank correlation, as `scipy.stats.spearmanr(labels, predictions)[0]` (SciPy 1.10.1):
 * Pearson correlation of the average ranks (`np.corrcoef`). A constant input gives **NaN**
 * (SciPy warns `ConstantInputWarning`), any NaN gives NaN (`nan_policy="propagate"`), and so do
 * fewer than 2 points.
 *
 * @param labels Gold values.
 * @param predictions Predicted values, same length.
 * @returns ρ in [-1, 1], or NaN.
 * @throws {TypeError} On a length mismatch or a non-number entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spearman } from "./correlation.ts";
 *
 * assert.equal(spearman([0, 1, 2, 3, 4, 5], [0, 1, 4, 9, 16, 25]), 1);
 * ```
 */
export function spearman(labels: ArrayLike<number>, predictions: ArrayLike<number>): number {
  checkLabelPair("Spearman correlation", labels, predictions);
  checkNumbers("Spearman correlation", "labels", labels);
  checkNumbers("Spearman correlation", "predictions", predictions);
  if (hasNaN(labels) || hasNaN(predictions)) return NaN;
  if (labels.length < 2 || isConstant(labels) || isConstant(predictions)) return NaN;
  const x = rankAverage(labels);
  const y = rankAverage(predictions);
  const xMean = mean(x);
  const yMean = mean(y);
  const xm = x.map((v) => v - xMean);
  const ym = y.map((v) => v - yMean);
  // np.corrcoef: c = X·Xᵀ · (1/(n−1)); r = c_xy / sqrt(c_xx) / sqrt(c_yy), clipped.
  const fact = 1 / (labels.length - 1);
  const cxy = dot(xm, ym) * fact;
  const cxx = dot(xm, xm) * fact;
  const cyy = dot(ym, ym) * fact;
  const r = cxy / Math.sqrt(cxx) / Math.sqrt(cyy);
  return Math.max(Math.min(r, 1), -1);
}
