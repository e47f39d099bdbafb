/**
 * Allocation scores from the adapter's effective update `ΔW = s·B·(L+U)·A` (docs/METHOD.md §20),
 * computed from `r×r` matrices only: the Gram matrices `G_B = BᵀB`, `G_A = A·Aᵀ` and the core
 * `D = L + U`. No `d×n` matrix is ever formed:
 *
 * - `‖ΔW‖_F² = s²·tr(Dᵀ·G_B·D·G_A)`;
 * - the singular values of `ΔW` are the square roots of the eigenvalues of the symmetric
 *   `S = s²·G_A^{1/2}·Dᵀ·G_B·D·G_A^{1/2}` (`r×r`).
 *
 * @module
 */

import { assertFinite } from "./_validate.ts";

/**
 * How TriAdaptLoRA scores a matrix at an allocation event (docs/METHOD.md §4, §20).
 *
 * - `"paper"`: eq. 11, `‖L+U‖_F / N(r)` now minus at the previous event (the default);
 * - `"update"` [ours]: `‖ΔW‖_F` now minus at the previous event;
 * - `"spectrum"` [ours]: `σ_r(ΔW)`, the smallest of the `r` singular values of the update.
 *
 * @example
 * ```ts
 * import type { ScoreKind } from "./update_score.ts";
 * import { SCORE_KINDS } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * const kind: ScoreKind = "spectrum";
 * assert.ok(SCORE_KINDS.includes(kind));
 * ```
 */
export type ScoreKind = "paper" | "update" | "spectrum";

/**
 * Every {@linkcode ScoreKind}, default first.
 *
 * @example
 * ```ts
 * import { SCORE_KINDS } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(SCORE_KINDS, ["paper", "update", "spectrum"]);
 * ```
 */
export const SCORE_KINDS: readonly ScoreKind[] = Object.freeze(["paper", "update", "spectrum"]);

/**
 * The `r×r` view of one adapter's update `ΔW = s·B·D·A` (square matrices as row-major arrays of
 * rows, all of the same size `r`).
 *
 * @example A rank-1 update: `B = [2]ᵀ`, `D = [3]`, `A = [4]`, `s = 0.5`
 * ```ts
 * import type { UpdateGrams } from "./update_score.ts";
 * import { updateNorm } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * const g: UpdateGrams = { gramA: [[16]], gramB: [[4]], core: [[3]], scale: 0.5 };
 * assert.equal(updateNorm(g), 12); // |0.5 · 2 · 3 · 4|
 * ```
 */
export interface UpdateGrams {
  /** `A·Aᵀ` (`r×r`). */
  readonly gramA: readonly (readonly number[])[];
  /** `Bᵀ·B` (`r×r`). */
  readonly gramB: readonly (readonly number[])[];
  /** `D = L + U` (`r×r`). */
  readonly core: readonly (readonly number[])[];
  /** `s(r)`. */
  readonly scale: number;
}

type Mat = number[][];

function check(g: UpdateGrams): number {
  const r = g.core.length;
  for (const [what, m] of [["gramA", g.gramA], ["gramB", g.gramB], ["core", g.core]] as const) {
    if (m.length !== r || m.some((row) => row.length !== r)) {
      throw new TypeError(
        `Cannot score update as ${what} must be ${r}×${r}: current rows are ${
          m.map((row) => row.length).join(", ")
        }`,
      );
    }
    for (const row of m) for (const x of row) assertFinite("score update", what, x);
  }
  assertFinite("score update", "scale", g.scale);
  return r;
}

function mul(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): Mat {
  const n = a.length;
  const m = b[0]?.length ?? 0;
  const k = b.length;
  const out: Mat = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(m).fill(0);
    const ai = a[i] as readonly number[];
    for (let p = 0; p < k; p++) {
      const x = ai[p] as number;
      if (x === 0) continue;
      const bp = b[p] as readonly number[];
      for (let j = 0; j < m; j++) row[j] = (row[j] as number) + x * (bp[j] as number);
    }
    out.push(row);
  }
  return out;
}

function transpose(a: readonly (readonly number[])[]): Mat {
  return (a[0] ?? []).map((_, j) => a.map((row) => row[j] as number));
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi rotations (deterministic:
 * fixed sweep order, stops when the off-diagonal mass is below `1e-15` of the total or after 64
 * sweeps). The input is symmetrised first, `(M + Mᵀ)/2`.
 *
 * @example
 * ```ts
 * import { symmetricEigen } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * const { values } = symmetricEigen([[2, 1], [1, 2]]);
 * assert.ok(Math.abs(values[0]! - 3) < 1e-12 && Math.abs(values[1]! - 1) < 1e-12);
 * ```
 *
 * @param m A square matrix (rows).
 * @returns `values` descending and `vectors` (column `j` is the eigenvector of `values[j]`).
 */
export function symmetricEigen(
  m: readonly (readonly number[])[],
): { values: number[]; vectors: number[][] } {
  const n = m.length;
  const a: Mat = m.map((row, i) =>
    row.map((x, j) => 0.5 * (x + ((m[j] as readonly number[])[i] as number)))
  );
  const v: Mat = a.map((_, i) => a.map((_, j) => (i === j ? 1 : 0)));
  const total = a.reduce((s, row) => s + row.reduce((t, x) => t + x * x, 0), 0);
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) off += 2 * (a[i]![j] as number) ** 2;
    }
    if (off <= 1e-30 * Math.max(total, 1e-300) || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q] as number;
        if (apq === 0) continue;
        const app = a[p]![p] as number;
        const aqq = a[q]![q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p] as number;
          const akq = a[k]![q] as number;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k] as number;
          const aqk = a[q]![k] as number;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p] as number;
          const vkq = v[k]![q] as number;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = a.map((row, i) => [row[i] as number, i] as const)
    .sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  return {
    values: order.map(([x]) => x),
    vectors: v.map((row) => order.map(([, i]) => row[i] as number)),
  };
}

/**
 * `‖ΔW‖_F = |s|·sqrt(tr(Dᵀ·G_B·D·G_A))` from the `r×r` view (clamped at 0 against rounding).
 *
 * @example
 * ```ts
 * import { updateNorm } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * // B = I, A = I (2×2), D = diag(3, 4), s = 1: ‖ΔW‖_F = 5
 * const I = [[1, 0], [0, 1]];
 * assert.equal(updateNorm({ gramA: I, gramB: I, core: [[3, 0], [0, 4]], scale: 1 }), 5);
 * ```
 *
 * @param g Grams, core and scale.
 * @returns The Frobenius norm of the update.
 * @throws {TypeError} When the matrices are not all `r×r` or hold non-finite values.
 */
export function updateNorm(g: UpdateGrams): number {
  check(g);
  const m = mul(mul(transpose(g.core), g.gramB), mul(g.core, g.gramA));
  let tr = 0;
  m.forEach((row, i) => (tr += row[i] as number));
  return Math.abs(g.scale) * Math.sqrt(Math.max(0, tr));
}

/**
 * The `r` singular values of `ΔW = s·B·D·A`, descending, from the `r×r` view: square roots of the
 * eigenvalues of `s²·G_A^{1/2}·Dᵀ·G_B·D·G_A^{1/2}` (negative rounding clamped to 0).
 *
 * @example
 * ```ts
 * import { updateSingularValues } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * const I = [[1, 0], [0, 1]];
 * const sv = updateSingularValues({ gramA: I, gramB: I, core: [[3, 0], [0, 4]], scale: 2 });
 * assert.ok(Math.abs(sv[0]! - 8) < 1e-12 && Math.abs(sv[1]! - 6) < 1e-12);
 * ```
 *
 * @param g Grams, core and scale.
 * @returns `σ_1 ≥ … ≥ σ_r ≥ 0`.
 * @throws {TypeError} When the matrices are not all `r×r` or hold non-finite values.
 */
export function updateSingularValues(g: UpdateGrams): number[] {
  const r = check(g);
  if (r === 0) return [];
  const ea = symmetricEigen(g.gramA);
  // G_A^{1/2} = V·diag(√λ)·Vᵀ
  const root: Mat = ea.vectors.map((row) =>
    row.map((x, j) => x * Math.sqrt(Math.max(0, ea.values[j] as number)))
  );
  const half = mul(root, transpose(ea.vectors));
  const inner = mul(mul(transpose(g.core), g.gramB), g.core);
  const s = mul(mul(half, inner), half);
  const s2 = g.scale * g.scale;
  return symmetricEigen(s).values.map((x) => Math.sqrt(Math.max(0, s2 * x)));
}

/**
 * The per-module value a score compares across events: `‖ΔW‖_F` for `"update"`, `σ_r(ΔW)` for
 * `"spectrum"`.
 *
 * @example
 * ```ts
 * import { updateValue } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * const I = [[1, 0], [0, 1]];
 * const g = { gramA: I, gramB: I, core: [[3, 0], [0, 4]], scale: 1 };
 * assert.equal(updateValue("update", g), 5);
 * assert.ok(Math.abs(updateValue("spectrum", g) - 3) < 1e-12);
 * ```
 *
 * @param kind `"update"` or `"spectrum"`.
 * @param g Grams, core and scale.
 * @returns The value.
 */
export function updateValue(kind: Exclude<ScoreKind, "paper">, g: UpdateGrams): number {
  if (kind === "update") return updateNorm(g);
  const sv = updateSingularValues(g);
  return sv.length === 0 ? 0 : sv[sv.length - 1] as number;
}

/**
 * Scores of one event from the per-module values: `"update"` scores the change since the
 * previous event (`value − previous`), `"spectrum"` the value itself (`previous` unused).
 *
 * @example
 * ```ts
 * import { updateScores } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(updateScores("update", [3, 1], [1, 2]), [2, -1]);
 * assert.deepEqual(updateScores("spectrum", [3, 1], [1, 2]), [3, 1]);
 * ```
 *
 * @param kind `"update"` or `"spectrum"`.
 * @param values This event's values, module order.
 * @param previous The values at the previous event (or at the start), same order.
 * @returns One score per module.
 * @throws {TypeError} When the lengths differ.
 */
export function updateScores(
  kind: Exclude<ScoreKind, "paper">,
  values: readonly number[],
  previous: readonly number[],
): number[] {
  if (values.length !== previous.length) {
    throw new TypeError(
      `Cannot score update as previous must have one value per module: current lengths are ${previous.length} and ${values.length}`,
    );
  }
  return kind === "update" ? values.map((v, i) => v - (previous[i] as number)) : [...values];
}

/**
 * How an event's rank units are shared out (docs/METHOD.md §20): `"equal"` gives each of the `k`
 * selected matrices `Δr` (§8, the paper's); `"proportional"` [ours] shares the same total out in
 * proportion to the positive scores, by {@linkcode proportionalGrants}.
 *
 * @example
 * ```ts
 * import type { GrantRule } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * const rule: GrantRule = "proportional";
 * assert.notEqual(rule, "equal");
 * ```
 */
export type GrantRule = "equal" | "proportional";

/**
 * Shares `units` rank units out over the modules in proportion to their scores, one unit at a
 * time by the highest quotient `score / (granted + 1)` (D'Hondt), a module receiving at most its
 * current rank in one event (its rank at most doubles). Modules with a positive score come first;
 * when they are all at their cap, the rest go by score order, and only when every module is at its
 * cap is the cap lifted. Ties go to the lower index. Deterministic and pure.
 *
 * @example 5 units over scores 3, 1, 0 at ranks 4, 4, 4
 * ```ts
 * import { proportionalGrants } from "./update_score.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(proportionalGrants([3, 1, 0], [4, 4, 4], 5), [4, 1, 0]);
 * ```
 *
 * @param scores One score per module.
 * @param ranks Current rank per module (the caps).
 * @param units Rank units to share out (non-negative integer).
 * @returns Units per module, module order; they sum to `units`.
 * @throws {TypeError} When the lengths differ.
 */
export function proportionalGrants(
  scores: readonly number[],
  ranks: readonly number[],
  units: number,
): number[] {
  if (scores.length !== ranks.length) {
    throw new TypeError(
      `Cannot share rank units as ranks must have one value per score: current lengths are ${ranks.length} and ${scores.length}`,
    );
  }
  scores.forEach((s) => assertFinite("share rank units", "scores", s));
  const granted = scores.map(() => 0);
  if (scores.length === 0) return granted;
  let capped = true;
  for (let u = 0; u < units; u++) {
    let best = -1;
    let bestKey: [number, number, number] = [-Infinity, -Infinity, -Infinity];
    scores.forEach((s, i) => {
      const g = granted[i] as number;
      if (capped && g >= Math.max(1, ranks[i] as number)) return;
      // Positive scores by D'Hondt quotient; the others after them, by score. Rounding is
      // monotone, so a quotient never inverts an exact order, but it can tie one (subnormal scores,
      // adjacent doubles): a tie goes to the higher score, then to the lower index.
      const key: [number, number, number] = s > 0 ? [1, s / (g + 1), s] : [0, s - g, s];
      if (
        key[0] > bestKey[0] ||
        (key[0] === bestKey[0] &&
          (key[1] > bestKey[1] || (key[1] === bestKey[1] && key[2] > bestKey[2])))
      ) {
        best = i;
        bestKey = key;
      }
    });
    if (best < 0) {
      capped = false;
      u--;
      continue;
    }
    granted[best] = (granted[best] as number) + 1;
  }
  return granted;
}
