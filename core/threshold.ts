/**
 * How many modules grow at an allocation event (docs/METHOD.md §7).
 *
 * @module
 */

import { assertFinite, assertInteger, show } from "./_validate.ts";

/**
 * Threshold schedule: `linear` (`k = R·α`), `nonlinear` (`k = R^α`) or `fixed` (`k = topH`).
 *
 * @example The three modes at α = 0.5, R = 16, M = 72
 * ```ts
 * import type { ThresholdMode } from "./threshold.ts";
 * import { thresholdK } from "./threshold.ts";
 * import assert from "node:assert/strict";
 *
 * const modes: ThresholdMode[] = ["linear", "nonlinear", "fixed"];
 * const ks = modes.map((threshold) => thresholdK(0.5, 16, { threshold, modules: 72, deltaRank: 1, topH: 3 }));
 * assert.deepEqual(ks, [8, 4, 3]);
 * ```
 */
export type ThresholdMode = "linear" | "nonlinear" | "fixed";

/**
 * Rounding of the real-valued `k`: the code's `floor` (default) or the paper's `ceil`.
 *
 * @example `floor` and `ceil` of R·α = 2.5
 * ```ts
 * import type { Rounding } from "./threshold.ts";
 * import { thresholdK } from "./threshold.ts";
 * import assert from "node:assert/strict";
 *
 * const roundings: Rounding[] = ["floor", "ceil"];
 * const ks = roundings.map((rounding) => thresholdK(0.25, 10, { threshold: "linear", modules: 72, deltaRank: 1, rounding }));
 * assert.deepEqual(ks, [2, 3]);
 * ```
 */
export type Rounding = "floor" | "ceil";

/**
 * Options of {@linkcode thresholdK}.
 *
 * @example `k` clamped to ⌈R/Δr⌉ unless overshoot is allowed
 * ```ts
 * import type { ThresholdOptions } from "./threshold.ts";
 * import { thresholdK } from "./threshold.ts";
 * import assert from "node:assert/strict";
 *
 * const options: ThresholdOptions = { threshold: "fixed", modules: 72, deltaRank: 4, topH: 9 };
 * assert.equal(thresholdK(0.5, 8, options), 2);
 * assert.equal(thresholdK(0.5, 8, { ...options, allowOvershoot: true }), 9);
 * ```
 */
export interface ThresholdOptions {
  /** The threshold schedule. */
  readonly threshold: ThresholdMode;
  /** Number of adapted modules `M`. */
  readonly modules: number;
  /** Rank units added per grown module (`Δr`). */
  readonly deltaRank: number;
  /** `k` for `fixed` (positive integer; required there). */
  readonly topH?: number;
  /** Default `"floor"`. */
  readonly rounding?: Rounding;
  /** Skip the clamp `k ≤ ⌈R/Δr⌉` (reference code). Default `false`. */
  readonly allowOvershoot?: boolean;
}

/**
 * Number of modules to grow at an event with progress `α` and remaining budget `R`.
 *
 * 1. raw: `linear` → `R·α`; `nonlinear` → `exp(α · ln R)` (`= R^α`); `fixed` → `topH`;
 * 2. round with `rounding` (`floor` by default);
 * 3. `k = max(k, 1)`, then `k = min(k, M)`;
 * 4. unless `allowOvershoot`: `k = min(k, ⌈R/Δr⌉)` (the last selected module then receives
 *    the remainder `R − (k−1)·Δr`, see {@linkcode grantAmounts}).
 *
 * Returns `0` when `R ≤ 0` (no event).
 *
 * @param alpha Schedule progress `α ∈ (0, 1]`.
 * @param remaining Remaining budget `R` in rank units.
 * @param options Mode, `M`, `Δr`, `topH`, rounding, overshoot.
 * @returns `k`, with `1 ≤ k ≤ min(M, ⌈R/Δr⌉)` whenever `R > 0` (without the `⌈R/Δr⌉` bound
 * under `allowOvershoot`).
 * @throws {RangeError} On non-finite `α`/`R`, or bad `M`, `Δr`, `topH`.
 *
 * @example Linear and nonlinear at the first RTE event
 * ```ts
 * import { thresholdK } from "./threshold.ts";
 * import assert from "node:assert/strict";
 *
 * const options = { modules: 72, deltaRank: 4 } as const;
 * assert.equal(thresholdK(100 / 3800, 504, { ...options, threshold: "linear" }), 13);
 * assert.equal(thresholdK(100 / 3800, 504, { ...options, threshold: "nonlinear" }), 1);
 * assert.equal(thresholdK(0.5, 8, { ...options, threshold: "fixed", topH: 9 }), 2); // ⌈8/4⌉
 * ```
 */
export function thresholdK(alpha: number, remaining: number, options: ThresholdOptions): number {
  const action = "compute threshold k";
  assertFinite(action, "alpha", alpha);
  assertFinite(action, "remaining", remaining);
  assertInteger(action, "modules", options.modules, 1);
  assertInteger(action, "deltaRank", options.deltaRank, 1);
  if (remaining <= 0) return 0;
  let raw: number;
  switch (options.threshold) {
    case "linear":
      raw = remaining * alpha;
      break;
    case "nonlinear":
      raw = Math.exp(alpha * Math.log(remaining));
      break;
    case "fixed":
      assertInteger(action, "topH", options.topH, 1);
      raw = options.topH;
      break;
    default:
      throw new TypeError(
        `Cannot ${action} as threshold must be "linear", "nonlinear" or "fixed": current value is ${
          show(options.threshold)
        }`,
      );
  }
  let k = (options.rounding ?? "floor") === "ceil" ? Math.ceil(raw) : Math.floor(raw);
  k = Math.min(Math.max(k, 1), options.modules);
  if (options.allowOvershoot !== true) k = Math.min(k, Math.ceil(remaining / options.deltaRank));
  return k;
}

/**
 * Rank units granted to each of the `k` selected modules, in selection order: `Δr` each, except
 * that without `allowOvershoot` the last (lowest-scored) one receives only what is left when
 * `k·Δr > R`, so the budget ends exactly at `R0`.
 *
 * @param k Number of selected modules.
 * @param remaining Remaining budget `R`.
 * @param options `deltaRank` and `allowOvershoot`.
 * @returns `k` positive amounts.
 *
 * @example Remainder to the last module
 * ```ts
 * import { grantAmounts } from "./threshold.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(grantAmounts(3, 10, { deltaRank: 4 }), [4, 4, 2]);
 * assert.deepEqual(grantAmounts(3, 10, { deltaRank: 4, allowOvershoot: true }), [4, 4, 4]);
 * ```
 */
export function grantAmounts(
  k: number,
  remaining: number,
  options: Pick<ThresholdOptions, "deltaRank" | "allowOvershoot">,
): readonly number[] {
  assertInteger("compute grant amounts", "k", k, 0);
  assertInteger("compute grant amounts", "deltaRank", options.deltaRank, 1);
  const amounts = new Array<number>(k).fill(options.deltaRank);
  if (options.allowOvershoot !== true && k > 0 && k * options.deltaRank > remaining) {
    const rest = remaining - (k - 1) * options.deltaRank;
    if (rest <= 0) {
      throw new RangeError(
        `Cannot compute grant amounts as k must be <= ⌈R/Δr⌉ = ${
          Math.ceil(remaining / options.deltaRank)
        }: current value is ${k}`,
      );
    }
    amounts[k - 1] = rest;
  }
  return Object.freeze(amounts);
}
