/**
 * Config parsing: one `parse…Config(input: unknown)` per method. Each validates once and returns
 * a frozen object with every default filled in; unknown keys and impossible schedules are
 * rejected with a `TypeError`/`RangeError` naming the field and the value.
 *
 * Config is static: ranks, budgets and step counters live in {@linkcode RankState} and the
 * training loop, never in these objects.
 *
 * @module
 */

import { show } from "./_validate.ts";
import type { Normalisation } from "./importance.ts";
import type { Rounding, ThresholdMode } from "./threshold.ts";
import { type GrantRule, SCORE_KINDS, type ScoreKind } from "./update_score.ts";

/**
 * Plain LoRA with a fixed rank (docs/METHOD.md §11).
 *
 * @example Defaults filled in by the parser
 * ```ts
 * import type { LoraConfig } from "./config.ts";
 * import { parseLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config: LoraConfig = parseLoraConfig({});
 * assert.deepEqual(config, { method: "lora", rank: 8, loraAlpha: 32, dropout: 0 });
 * ```
 */
export interface LoraConfig {
  /** Always `"lora"`. */
  readonly method: "lora";
  /** Fixed rank `r` (positive integer, default 8). */
  readonly rank: number;
  /** LoRA scaling numerator (`ΔW = (loraAlpha / r)·B·A`, default 32). */
  readonly loraAlpha: number;
  /** Dropout on the adapter input, in `[0, 1)` (default 0). */
  readonly dropout: number;
}

/**
 * TriAdaptLoRA (docs/METHOD.md §2–§9).
 *
 * @example Defaults filled in by the parser
 * ```ts
 * import type { TriAdaptConfig } from "./config.ts";
 * import { parseTriAdaptConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config: TriAdaptConfig = parseTriAdaptConfig({ initWarmup: 100, interval: 100, totalSteps: 3900 });
 * assert.equal(config.method, "triadapt");
 * assert.deepEqual([config.initRank, config.refRank, config.deltaRank], [1, 8, 4]);
 * assert.equal(config.growthInit, "paper");
 * assert.equal(config.topH, undefined);
 * ```
 */
export interface TriAdaptConfig {
  /** Always `"triadapt"`. */
  readonly method: "triadapt";
  /** Initial rank of every module (default 1). */
  readonly initRank: number;
  /** Reference rank `r_ref`; budget `R0 = refRank · M` (default 8). */
  readonly refRank: number;
  /** Rank units per growth `Δr` (default 4). */
  readonly deltaRank: number;
  /** `t0` (required, non-negative integer `< totalSteps`). */
  readonly initWarmup: number;
  /** Allocation interval in steps (required, positive integer). */
  readonly interval: number;
  /** `T` = epochs × steps per epoch (required, positive integer). */
  readonly totalSteps: number;
  /** Threshold schedule (default `"linear"`). */
  readonly threshold: ThresholdMode;
  /** `k` per event for `threshold: "fixed"` (required there, positive integer). */
  readonly topH?: number;
  /** Rounding of `k` (default `"floor"`, the code's). */
  readonly rounding: Rounding;
  /** Reproduce the reference code's budget overshoot (default `false`). */
  readonly allowOvershoot: boolean;
  /** `N(r)` of eq. 11 (default `"rank"`). */
  readonly normalisation: Normalisation;
  /** Adapter scaling numerator: `s(r) = loraAlpha / (r + 1e-5)` (default 32). */
  readonly loraAlpha: number;
  /** Dropout on the adapter input, in `[0, 1)` (default 0). */
  readonly dropout: number;
  /** Weight of the orthogonality penalty (default 0.1). */
  readonly orthRegWeight: number;
  /** Initialisation of grown entries: `"paper"` (default) or `"preserving"` ([ours]). */
  readonly growthInit: "paper" | "preserving";
  /** Allocation score: `"paper"` (eq. 11, default), `"update"` or `"spectrum"` ([ours], §20). */
  readonly score: ScoreKind;
  /** Sharing of an event's units: `"equal"` (default, §8) or `"proportional"` ([ours], §20). */
  readonly grants: GrantRule;
}

/**
 * AdaLoRA (docs/METHOD.md §12).
 *
 * @example Defaults filled in by the parser
 * ```ts
 * import type { AdaLoraConfig } from "./config.ts";
 * import { parseAdaLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config: AdaLoraConfig = parseAdaLoraConfig({ tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 });
 * assert.equal(config.method, "adalora");
 * assert.deepEqual([config.initRank, config.targetRank], [12, 8]);
 * assert.deepEqual([config.beta1, config.beta2], [0.85, 0.85]);
 * ```
 */
export interface AdaLoraConfig {
  /** Always `"adalora"`. */
  readonly method: "adalora";
  /** Initial rank per module (default 12); initial budget = `initRank · M`. */
  readonly initRank: number;
  /** Target average rank (default 8, `<= initRank`); target budget = `targetRank · M`. */
  readonly targetRank: number;
  /** Initial warm-up steps `tinit` (required). */
  readonly tinit: number;
  /** Final fine-tuning steps `tfinal` (required; `tinit + tfinal < totalSteps`). */
  readonly tfinal: number;
  /** Mask interval `ΔT` (required, positive integer). */
  readonly deltaT: number;
  /** `T` (required). */
  readonly totalSteps: number;
  /** EMA factor of the sensitivity (default 0.85). */
  readonly beta1: number;
  /** EMA factor of the uncertainty (default 0.85). */
  readonly beta2: number;
  /** Scaling numerator `alpha` (default 32). */
  readonly loraAlpha: number;
  /** Dropout on the adapter input (default 0). */
  readonly dropout: number;
  /** Weight of the orthogonality penalty (default 0.1). */
  readonly orthRegWeight: number;
}

/**
 * IncreLoRA (docs/METHOD.md §13).
 *
 * @example Defaults filled in by the parser
 * ```ts
 * import type { IncreLoraConfig } from "./config.ts";
 * import { parseIncreLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config: IncreLoraConfig = parseIncreLoraConfig({ topH: 9, initWarmup: 100, interval: 100, totalSteps: 3900 });
 * assert.equal(config.method, "increlora");
 * assert.deepEqual([config.initRank, config.refRank, config.deltaRank, config.topH], [1, 8, 1, 9]);
 * ```
 */
export interface IncreLoraConfig {
  /** Always `"increlora"`. */
  readonly method: "increlora";
  /** Initial rank (default 1). */
  readonly initRank: number;
  /** Reference rank; budget `R0 = refRank · M` (default 8). */
  readonly refRank: number;
  /** Rank units per growth (default 1). */
  readonly deltaRank: number;
  /** Matrices grown per event (required, positive integer). */
  readonly topH: number;
  /** No allocation at or before this step (required). */
  readonly initWarmup: number;
  /** Allocation interval (required). */
  readonly interval: number;
  /** `T` (required). */
  readonly totalSteps: number;
  /** EMA factor of the sensitivity (default 0.85). */
  readonly beta1: number;
  /** EMA factor of the uncertainty (default 0.85). */
  readonly beta2: number;
  /** Scaling numerator (default 32). */
  readonly loraAlpha: number;
  /** Dropout on the adapter input (default 0). */
  readonly dropout: number;
  /** Weight of the orthogonality penalty (default 0.1). */
  readonly orthRegWeight: number;
}

type Kind = "int0" | "int1" | "positive" | "unit" | "nonneg";

class Reader {
  readonly #record: Record<string, unknown>;
  readonly #what: string;

  constructor(what: string, method: string, input: unknown, allowed: readonly string[]) {
    this.#what = what;
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new TypeError(
        `Cannot parse ${what} config as the input must be an object: current value is ${
          show(input)
        }`,
      );
    }
    this.#record = input as Record<string, unknown>;
    for (const key of Object.keys(this.#record)) {
      if (key !== "method" && !allowed.includes(key)) {
        throw new TypeError(
          `Cannot parse ${what} config as every key must be one of ${
            ["method", ...allowed].join(", ")
          }: current value is ${show(key)}`,
        );
      }
    }
    const m = this.#record["method"];
    if (m !== undefined && m !== method) {
      throw new TypeError(
        `Cannot parse ${what} config as method must be ${show(method)}: current value is ${
          show(m)
        }`,
      );
    }
  }

  fail(field: string, must: string, value: unknown): never {
    throw new RangeError(
      `Cannot parse ${this.#what} config as ${field} must be ${must}: current value is ${
        show(value)
      }`,
    );
  }

  number(field: string, kind: Kind, fallback?: number): number {
    const value = this.#record[field];
    if (value === undefined) {
      if (fallback === undefined) {
        throw new TypeError(
          `Cannot parse ${this.#what} config as ${field} must be given: current value is undefined`,
        );
      }
      return fallback;
    }
    if (typeof value !== "number") {
      throw new TypeError(
        `Cannot parse ${this.#what} config as ${field} must be a number: current value is ${
          show(value)
        }`,
      );
    }
    const checks: Record<Kind, [boolean, string]> = {
      int0: [Number.isInteger(value) && value >= 0, "a non-negative integer"],
      int1: [Number.isInteger(value) && value >= 1, "a positive integer"],
      positive: [Number.isFinite(value) && value > 0, "a finite number > 0"],
      nonneg: [Number.isFinite(value) && value >= 0, "a finite number >= 0"],
      unit: [Number.isFinite(value) && value >= 0 && value < 1, "a number in [0, 1)"],
    };
    const [ok, must] = checks[kind];
    if (!ok) this.fail(field, must, value);
    return value;
  }

  optionalInt1(field: string): number | undefined {
    return this.#record[field] === undefined ? undefined : this.number(field, "int1");
  }

  choice<T extends string>(field: string, options: readonly T[], fallback: T): T {
    const value = this.#record[field];
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !(options as readonly string[]).includes(value)) {
      throw new TypeError(
        `Cannot parse ${this.#what} config as ${field} must be one of ${
          options.map((o) => show(o)).join(", ")
        }: current value is ${show(value)}`,
      );
    }
    return value as T;
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.#record[field];
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Cannot parse ${this.#what} config as ${field} must be a boolean: current value is ${
          show(value)
        }`,
      );
    }
    return value;
  }
}

function checkRanks(r: Reader, initRank: number, refRank: number, refName: string): void {
  if (refRank < initRank) {
    r.fail(refName, `>= initRank (${initRank})`, refRank);
  }
}

function checkSchedule(r: Reader, initWarmup: number, totalSteps: number): void {
  if (initWarmup >= totalSteps) {
    r.fail("initWarmup", `< totalSteps (${totalSteps})`, initWarmup);
  }
}

/**
 * Validates a plain LoRA config.
 *
 * @param input Any value (e.g. parsed JSON); keys `method`, `rank`, `loraAlpha`, `dropout`.
 * @returns A frozen {@linkcode LoraConfig} with defaults filled in.
 * @throws {TypeError} On a non-object, an unknown key or a wrongly-typed field.
 * @throws {RangeError} On an out-of-range field (the message names it and its value).
 *
 * @example Usage
 * ```ts
 * import { parseLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseLoraConfig({ rank: 4 }), { method: "lora", rank: 4, loraAlpha: 32, dropout: 0 });
 * assert.throws(() => parseLoraConfig({ rank: 0 }), RangeError);
 * ```
 */
export function parseLoraConfig(input: unknown): LoraConfig {
  const r = new Reader("LoRA", "lora", input, ["rank", "loraAlpha", "dropout"]);
  return Object.freeze({
    method: "lora",
    rank: r.number("rank", "int1", 8),
    loraAlpha: r.number("loraAlpha", "positive", 32),
    dropout: r.number("dropout", "unit", 0),
  });
}

/**
 * Validates a TriAdaptLoRA config. Required: `initWarmup`, `interval`, `totalSteps`
 * (and `topH` when `threshold` is `"fixed"`). Impossible schedules (`initWarmup >= totalSteps`),
 * `refRank < initRank`, non-integers, negatives and NaN are rejected.
 *
 * @param input Any value (e.g. parsed JSON).
 * @returns A frozen {@linkcode TriAdaptConfig} with defaults filled in.
 * @throws {TypeError} On a non-object, an unknown key, a missing required field or a wrong type.
 * @throws {RangeError} On an out-of-range field (the message names it and its value).
 *
 * @example Usage
 * ```ts
 * import { parseTriAdaptConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = parseTriAdaptConfig({ initWarmup: 100, interval: 100, totalSteps: 3900 });
 * assert.equal(config.threshold, "linear");
 * assert.equal(config.deltaRank, 4);
 * assert.ok(Object.isFrozen(config));
 * assert.throws(
 *   () => parseTriAdaptConfig({ initWarmup: 4000, interval: 100, totalSteps: 3900 }),
 *   { name: "RangeError", message: /initWarmup.*4000/ },
 * );
 * ```
 */
export function parseTriAdaptConfig(input: unknown): TriAdaptConfig {
  const r = new Reader("TriAdaptLoRA", "triadapt", input, [
    "initRank",
    "refRank",
    "deltaRank",
    "initWarmup",
    "interval",
    "totalSteps",
    "threshold",
    "topH",
    "rounding",
    "allowOvershoot",
    "normalisation",
    "loraAlpha",
    "dropout",
    "orthRegWeight",
    "growthInit",
    "score",
    "grants",
  ]);
  const initRank = r.number("initRank", "int1", 1);
  const refRank = r.number("refRank", "int1", 8);
  checkRanks(r, initRank, refRank, "refRank");
  const deltaRank = r.number("deltaRank", "int1", 4);
  const initWarmup = r.number("initWarmup", "int0");
  const interval = r.number("interval", "int1");
  const totalSteps = r.number("totalSteps", "int1");
  checkSchedule(r, initWarmup, totalSteps);
  const threshold = r.choice<ThresholdMode>(
    "threshold",
    ["linear", "nonlinear", "fixed"],
    "linear",
  );
  const topH = r.optionalInt1("topH");
  if (threshold === "fixed" && topH === undefined) {
    throw new TypeError(
      `Cannot parse TriAdaptLoRA config as topH must be given when threshold is "fixed": current value is undefined`,
    );
  }
  const base = {
    method: "triadapt" as const,
    initRank,
    refRank,
    deltaRank,
    initWarmup,
    interval,
    totalSteps,
    threshold,
    rounding: r.choice<Rounding>("rounding", ["floor", "ceil"], "floor"),
    allowOvershoot: r.boolean("allowOvershoot", false),
    normalisation: r.choice<Normalisation>("normalisation", ["rank", "sqrt", "none"], "rank"),
    loraAlpha: r.number("loraAlpha", "positive", 32),
    dropout: r.number("dropout", "unit", 0),
    orthRegWeight: r.number("orthRegWeight", "nonneg", 0.1),
    growthInit: r.choice<"paper" | "preserving">("growthInit", ["paper", "preserving"], "paper"),
    score: r.choice<ScoreKind>("score", SCORE_KINDS, "paper"),
    grants: r.choice<GrantRule>("grants", ["equal", "proportional"], "equal"),
  };
  return Object.freeze(topH === undefined ? base : { ...base, topH });
}

/**
 * Validates an AdaLoRA config. Required: `tinit`, `tfinal`, `deltaT`, `totalSteps`, with
 * `tinit + tfinal < totalSteps` and `targetRank <= initRank`.
 *
 * @param input Any value (e.g. parsed JSON).
 * @returns A frozen {@linkcode AdaLoraConfig} with defaults filled in.
 * @throws {TypeError} On a non-object, an unknown key, a missing required field or a wrong type.
 * @throws {RangeError} On an out-of-range field or an impossible schedule.
 *
 * @example Usage
 * ```ts
 * import { parseAdaLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = parseAdaLoraConfig({ tinit: 600, tfinal: 1800, deltaT: 1, totalSteps: 3900 });
 * assert.equal(config.initRank, 12);
 * assert.throws(
 *   () => parseAdaLoraConfig({ tinit: 2000, tfinal: 1900, deltaT: 1, totalSteps: 3900 }),
 *   { name: "RangeError", message: /tinit \+ tfinal/ },
 * );
 * ```
 */
export function parseAdaLoraConfig(input: unknown): AdaLoraConfig {
  const r = new Reader("AdaLoRA", "adalora", input, [
    "initRank",
    "targetRank",
    "tinit",
    "tfinal",
    "deltaT",
    "totalSteps",
    "beta1",
    "beta2",
    "loraAlpha",
    "dropout",
    "orthRegWeight",
  ]);
  const initRank = r.number("initRank", "int1", 12);
  const targetRank = r.number("targetRank", "int1", 8);
  if (targetRank > initRank) r.fail("targetRank", `<= initRank (${initRank})`, targetRank);
  const tinit = r.number("tinit", "int0");
  const tfinal = r.number("tfinal", "int0");
  const deltaT = r.number("deltaT", "int1");
  const totalSteps = r.number("totalSteps", "int1");
  if (tinit + tfinal >= totalSteps) {
    throw new RangeError(
      `Cannot parse AdaLoRA config as tinit + tfinal must be < totalSteps (${totalSteps}): current values are ${tinit} + ${tfinal}`,
    );
  }
  return Object.freeze({
    method: "adalora",
    initRank,
    targetRank,
    tinit,
    tfinal,
    deltaT,
    totalSteps,
    beta1: r.number("beta1", "unit", 0.85),
    beta2: r.number("beta2", "unit", 0.85),
    loraAlpha: r.number("loraAlpha", "positive", 32),
    dropout: r.number("dropout", "unit", 0),
    orthRegWeight: r.number("orthRegWeight", "nonneg", 0.1),
  });
}

/**
 * Validates an IncreLoRA config. Required: `topH`, `initWarmup`, `interval`, `totalSteps`, with
 * `initWarmup < totalSteps` and `refRank >= initRank`.
 *
 * @param input Any value (e.g. parsed JSON).
 * @returns A frozen {@linkcode IncreLoraConfig} with defaults filled in.
 * @throws {TypeError} On a non-object, an unknown key, a missing required field or a wrong type.
 * @throws {RangeError} On an out-of-range field or an impossible schedule.
 *
 * @example Usage
 * ```ts
 * import { parseIncreLoraConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = parseIncreLoraConfig({ topH: 9, initWarmup: 100, interval: 100, totalSteps: 3900 });
 * assert.equal(config.deltaRank, 1);
 * assert.throws(() => parseIncreLoraConfig({ topH: 9, initWarmup: 100, interval: NaN, totalSteps: 3900 }), RangeError);
 * ```
 */
export function parseIncreLoraConfig(input: unknown): IncreLoraConfig {
  const r = new Reader("IncreLoRA", "increlora", input, [
    "initRank",
    "refRank",
    "deltaRank",
    "topH",
    "initWarmup",
    "interval",
    "totalSteps",
    "beta1",
    "beta2",
    "loraAlpha",
    "dropout",
    "orthRegWeight",
  ]);
  const initRank = r.number("initRank", "int1", 1);
  const refRank = r.number("refRank", "int1", 8);
  checkRanks(r, initRank, refRank, "refRank");
  const deltaRank = r.number("deltaRank", "int1", 1);
  const topH = r.number("topH", "int1");
  const initWarmup = r.number("initWarmup", "int0");
  const interval = r.number("interval", "int1");
  const totalSteps = r.number("totalSteps", "int1");
  checkSchedule(r, initWarmup, totalSteps);
  return Object.freeze({
    method: "increlora",
    initRank,
    refRank,
    deltaRank,
    topH,
    initWarmup,
    interval,
    totalSteps,
    beta1: r.number("beta1", "unit", 0.85),
    beta2: r.number("beta2", "unit", 0.85),
    loraAlpha: r.number("loraAlpha", "positive", 32),
    dropout: r.number("dropout", "unit", 0),
    orthRegWeight: r.number("orthRegWeight", "nonneg", 0.1),
  });
}
