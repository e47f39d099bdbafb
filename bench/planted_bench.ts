/**
 * The `planted` bench section (issue 7, part 1): quality of rank allocation on the built-in
 * planted-rank task (`train/planted/planted_task.ts`, no downloads). Every method trains the same
 * student on the same seeds (same frozen base, same planted pattern per seed), with the same
 * steps and the same total rank budget `r_ref · M`, through the training shell's
 * `runTraining`. Per method it reports the final held-out relative MSE, the Spearman correlation
 * between allocated and planted ranks, the fraction of the allocated rank spent on matrices whose
 * planted rank is zero, and the wall time of a run, as mean ± std over the seeds; plus one SVG of
 * the planted ranks next to every method's mean allocated ranks.
 *
 * @internal
 * @module
 */
import { getBackend, version_core } from "@tensorflow/tfjs";
import { BACKEND_NAMES, type BackendInfo, type BackendName } from "../ops/backend.ts";
import { PLANTED_DEMO, PLANTED_HYPERPARAMS } from "../train/cli.ts";
import { defaultHyperParams, type HyperParams, type TrainMethod } from "../train/hyperparams.ts";
import { spearman } from "../train/metrics/correlation.ts";
import {
  createPlantedTask,
  type PlantedTask,
  type PlantedTaskOptions,
} from "../train/planted/planted_task.ts";
import { rankGrid } from "../train/run.ts";
import {
  type PlantedJob,
  type PlantedJobResult,
  runPlantedJob,
  runPlantedJobsInWorkers,
} from "./planted_jobs.ts";
import { meanStd } from "../train/seed_summary.ts";
import { lossChartSvg } from "../train/svg/line_chart.ts";
import { rankHeatmapSvg } from "../train/svg/rank_heatmap.ts";
import type { BenchContext, BenchSectionResult } from "./_harness.ts";
import { formatTiming, markdownTable, summarise, type Timing } from "./_harness.ts";

/** One row of the comparison: a method and the hyper-parameters that make it that variant. */
export interface PlantedVariant {
  /** Short name for `--rows`, e.g. `"adalora"`. */
  readonly id: string;
  /** Row label, e.g. `"TriAdaptLoRA linear"`. */
  readonly label: string;
  /** The training method. */
  readonly method: TrainMethod;
  /** Hyper-parameters of this variant on top of the shared ones (threshold, normalisation). */
  readonly hyper?: Readonly<Partial<HyperParams>>;
}

/**
 * The rows of the full form: TriAdaptLoRA linear / nonlinear / fixed-k (normalisation `rank`,
 * growth `paper`, score `paper`), TriAdaptLoRA linear with normalisation `sqrt` and `none`, with
 * output-preserving growth, with the update scores `update` and `spectrum` [ours] (the `spectrum`
 * score with preserving growth, with and without proportional grants); LoRA at uniform `r_ref`,
 * AdaLoRA, IncreLoRA. Each option is
 * varied from the linear row, which stands for its own default (not run twice).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_VARIANTS } from "./planted_bench.ts";
 *
 * assert.equal(PLANTED_VARIANTS.length, 13);
 * assert.equal(PLANTED_VARIANTS.filter((v) => v.method === "triadapt").length, 10);
 * assert.deepEqual(
 *   PLANTED_VARIANTS.slice(-3).map((v) => v.method),
 *   ["lora", "adalora", "increlora"],
 * );
 * ```
 */
export const PLANTED_VARIANTS: readonly PlantedVariant[] = Object.freeze(
  [
    {
      id: "linear",
      label: "TriAdaptLoRA linear",
      method: "triadapt",
      hyper: { threshold: "linear" },
    },
    {
      id: "nonlinear",
      label: "TriAdaptLoRA nonlinear",
      method: "triadapt",
      hyper: { threshold: "nonlinear" },
    },
    {
      id: "fixed",
      label: "TriAdaptLoRA fixed-k",
      method: "triadapt",
      hyper: { threshold: "fixed" },
    },
    {
      id: "sqrt",
      label: "TriAdaptLoRA linear, N = sqrt",
      method: "triadapt",
      hyper: { threshold: "linear", normalisation: "sqrt" },
    },
    {
      id: "none",
      label: "TriAdaptLoRA linear, N = none",
      method: "triadapt",
      hyper: { threshold: "linear", normalisation: "none" },
    },
    {
      id: "preserving",
      label: "TriAdaptLoRA linear, growth preserving",
      method: "triadapt",
      hyper: { threshold: "linear", growthInit: "preserving" },
    },
    {
      id: "update",
      label: "TriAdaptLoRA linear, score update [ours]",
      method: "triadapt",
      hyper: { threshold: "linear", score: "update" },
    },
    {
      id: "spectrum",
      label: "TriAdaptLoRA linear, score spectrum [ours]",
      method: "triadapt",
      hyper: { threshold: "linear", score: "spectrum" },
    },
    {
      id: "spectrum-preserving",
      label: "TriAdaptLoRA linear, score spectrum, preserving [ours]",
      method: "triadapt",
      hyper: { threshold: "linear", score: "spectrum", growthInit: "preserving" },
    },
    {
      id: "spectrum-proportional",
      label: "TriAdaptLoRA linear, score spectrum, preserving, proportional [ours]",
      method: "triadapt",
      hyper: {
        threshold: "linear",
        score: "spectrum",
        growthInit: "preserving",
        grants: "proportional",
      },
    },
    { id: "lora", label: "LoRA (uniform r_ref)", method: "lora" },
    { id: "adalora", label: "AdaLoRA", method: "adalora" },
    { id: "increlora", label: "IncreLoRA", method: "increlora" },
  ] satisfies PlantedVariant[],
);

/** Sizes, steps and seeds of one planted comparison. */
export interface PlantedBenchConfig {
  /** The planted task's sizes (the seed is taken from `seeds`). */
  readonly task: Readonly<Omit<PlantedTaskOptions, "seed">>;
  /** Shared hyper-parameters (the demo's, with `batchSize` and schedules set here). */
  readonly hyper: Readonly<Partial<HyperParams>>;
  /** Optimizer steps of every run (T). */
  readonly steps: number;
  /** Seeds; every method runs on every seed. */
  readonly seeds: readonly number[];
  /** The method rows. */
  readonly variants: readonly PlantedVariant[];
}

/**
 * The full form: the demo's task (4 layers, hidden 64, every layer matched, 24 matrices, budget
 * `4 · 24 = 96`), batch 8, 128 steps (2 epochs of 512 sequences), seeds 0–4, every variant.
 * The demo's allocation schedules (t0 = 48, interval 16, AdaLoRA tinit = tfinal = 32, ΔT = 4)
 * fit T = 128 unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_FULL } from "./planted_bench.ts";
 *
 * assert.equal(PLANTED_FULL.task.layers, 4);
 * assert.equal(PLANTED_FULL.seeds.length, 5);
 * assert.equal(PLANTED_FULL.variants.length, 13);
 * ```
 */
export const PLANTED_FULL: PlantedBenchConfig = Object.freeze({
  task: PLANTED_DEMO,
  hyper: { ...PLANTED_HYPERPARAMS, batchSize: 8 },
  steps: 128,
  seeds: [0, 1, 2, 3, 4],
  variants: PLANTED_VARIANTS,
});

/** The schedule lengths of {@linkcode PLANTED_FULL}'s hyper-parameters that scale with `T`. */
const SCHEDULE_KEYS = [
  "initWarmup",
  "interval",
  "warmupSteps",
  "tinit",
  "tfinal",
  "deltaT",
] as const;

/**
 * A comparison at `steps` optimizer steps with every schedule length of `base` (t0, interval,
 * LR warm-up, AdaLoRA's tinit, tfinal and ΔT) scaled by `steps / base.steps` and rounded ("scaled"
 * schedules); the task, seeds and rows stay.
 *
 * @example T = 512 from the T = 128 form
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_FULL, scaledPlanted } from "./planted_bench.ts";
 *
 * const c = scaledPlanted(PLANTED_FULL, 512);
 * assert.equal(c.steps, 512);
 * assert.deepEqual([c.hyper.initWarmup, c.hyper.interval, c.hyper.warmupSteps], [192, 64, 40]);
 * ```
 *
 * @param base The comparison to scale.
 * @param steps The new `T`.
 * @returns The scaled comparison.
 */
export function scaledPlanted(base: PlantedBenchConfig, steps: number): PlantedBenchConfig {
  const f = steps / base.steps;
  const hyper: Record<string, unknown> = { ...base.hyper };
  for (const key of SCHEDULE_KEYS) {
    const v = base.hyper[key];
    if (v !== undefined) hyper[key] = Math.max(1, Math.round(v * f));
  }
  return Object.freeze({ ...base, steps, hyper: hyper as Partial<HyperParams> });
}

/**
 * The papers' RTE ratio at `steps`, for every row. RTE is 3900 optimizer steps (50 epochs at batch
 * 32) in both papers' tables: TriAdaptLoRA's and IncreLoRA's `t0`, interval and the LR warm-up are
 * 100 of them, so here `round(T · 100 / 3900)` each; LoRA and AdaLoRA get the same LR warm-up (the
 * shared warm-up column, as `--preset paper` gives it, docs/METHOD.md §18 item 6). AdaLoRA's RTE
 * row (Table V: initial warm-up 600, final warm-up 1800, mask interval 1) becomes
 * `tinit = round(T · 600 / 3900)`, `tfinal = round(T · 1800 / 3900)`, `ΔT = max(1, round(T / 3900))`.
 * Every other setting is {@linkcode scaledPlanted}'s.
 *
 * @example T = 1024
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_FULL, ratioPlanted } from "./planted_bench.ts";
 *
 * const c = ratioPlanted(PLANTED_FULL, 1024);
 * assert.deepEqual([c.hyper.initWarmup, c.hyper.interval, c.hyper.warmupSteps], [26, 26, 26]);
 * assert.deepEqual([c.hyper.tinit, c.hyper.tfinal, c.hyper.deltaT], [158, 473, 1]);
 * assert.equal(c.variants.length, PLANTED_FULL.variants.length);
 * ```
 *
 * @param base The comparison at its own `T`.
 * @param steps The new `T`.
 * @returns The paper-ratio comparison.
 */
export function ratioPlanted(base: PlantedBenchConfig, steps: number): PlantedBenchConfig {
  const scaled = scaledPlanted(base, steps);
  const of3900 = (n: number) => Math.max(1, Math.round(steps * n / 3900));
  const t = of3900(100);
  return Object.freeze({
    ...scaled,
    hyper: {
      ...scaled.hyper,
      initWarmup: t,
      interval: t,
      warmupSteps: t,
      tinit: of3900(600),
      tfinal: of3900(1800),
      deltaT: of3900(1),
    },
  });
}

/**
 * The part of a comparison that `--seeds` and `--rows` select: the given seeds (in the order
 * given) and the rows whose `id` is listed (in registry order); an empty or absent list keeps
 * all. Row ids a section does not have are
 * ignored there; {@linkcode PLANTED_VARIANTS} lists every id.
 *
 * @example Two rows on three seeds
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_FULL, selectPlanted } from "./planted_bench.ts";
 *
 * const c = selectPlanted(PLANTED_FULL, { seeds: [2, 3, 4], rows: ["adalora", "linear"] });
 * assert.deepEqual(c.seeds, [2, 3, 4]);
 * assert.deepEqual(c.variants.map((v) => v.id), ["linear", "adalora"]);
 * ```
 *
 * @param config The whole comparison.
 * @param select Seeds and row ids to keep.
 * @returns The selected comparison.
 */
export function selectPlanted(
  config: PlantedBenchConfig,
  select: { readonly seeds?: readonly number[]; readonly rows?: readonly string[] },
): PlantedBenchConfig {
  const rows = select.rows ?? [];
  const seeds = select.seeds ?? [];
  return Object.freeze({
    ...config,
    seeds: seeds.length > 0 ? [...seeds] : config.seeds,
    variants: rows.length > 0
      ? config.variants.filter((v) => rows.includes(v.id))
      : config.variants,
  });
}

/**
 * The quick form, a smoke test only (its numbers say nothing about the methods): a 2-layer,
 * hidden-16 task, TriAdaptLoRA linear and LoRA, 2 seeds, 24 steps with a compressed schedule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_QUICK } from "./planted_bench.ts";
 *
 * assert.equal(PLANTED_QUICK.variants.length, 2);
 * assert.equal(PLANTED_QUICK.steps, 24);
 * ```
 */
export const PLANTED_QUICK: PlantedBenchConfig = Object.freeze({
  task: {
    ...PLANTED_DEMO,
    layers: 2,
    hidden: 16,
    heads: 2,
    intermediate: 32,
    vocab: 64,
    seqLength: 8,
    trainExamples: 64,
    evalExamples: 16,
    maxRank: 4,
  },
  hyper: {
    ...PLANTED_HYPERPARAMS,
    batchSize: 8,
    refRank: 2,
    warmupSteps: 2,
    initWarmup: 8,
    interval: 4,
    tinit: 4,
    tfinal: 4,
    deltaT: 2,
    adaloraInitRank: 3,
  },
  steps: 24,
  seeds: [0, 1],
  variants: [PLANTED_VARIANTS[0] as PlantedVariant, PLANTED_VARIANTS[10] as PlantedVariant],
});

/**
 * The fraction of the allocated rank that sits on matrices whose planted rank is zero:
 * `Σ_{m: planted_m = 0} allocated_m / Σ_m allocated_m` (0 when nothing is allocated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zeroRankFraction } from "./planted_bench.ts";
 *
 * assert.equal(zeroRankFraction([0, 3, 0, 1], [2, 4, 2, 0]), 0.5);
 * assert.equal(zeroRankFraction([1, 2], [0, 0]), 0);
 * ```
 *
 * @param planted Planted rank per module.
 * @param allocated Allocated (effective) rank per module, same order.
 * @returns The fraction in [0, 1].
 * @throws {TypeError} When the lengths differ.
 */
export function zeroRankFraction(
  planted: readonly number[],
  allocated: readonly number[],
): number {
  if (planted.length !== allocated.length) {
    throw new TypeError(
      `Cannot compute the zero-rank fraction as allocated must have one rank per planted module: current lengths are ${allocated.length} and ${planted.length}`,
    );
  }
  let zero = 0;
  let total = 0;
  planted.forEach((p, i) => {
    const a = allocated[i] as number;
    total += a;
    if (p === 0) zero += a;
  });
  return total === 0 ? 0 : zero / total;
}

/**
 * The Spearman correlation of allocated vs planted ranks, or `NaN` when either side is constant
 * (uniform LoRA): a correlation is undefined there, not 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankSpearman } from "./planted_bench.ts";
 *
 * assert.equal(rankSpearman([0, 1, 2], [1, 2, 3]), 1);
 * assert.ok(Number.isNaN(rankSpearman([0, 1, 2], [4, 4, 4])));
 * ```
 *
 * @param planted Planted rank per module.
 * @param allocated Allocated rank per module, same order.
 * @returns ρ in [-1, 1], or `NaN`.
 */
export function rankSpearman(planted: readonly number[], allocated: readonly number[]): number {
  const constant = (xs: readonly number[]): boolean => xs.every((x) => x === xs[0]);
  if (constant(planted) || constant(allocated)) return NaN;
  return spearman(planted, allocated);
}

/** One run: a method on one seed. */
export interface PlantedRun {
  /** Variant label. */
  readonly label: string;
  /** Seed. */
  readonly seed: number;
  /** Final held-out relative MSE (1 = the frozen base). */
  readonly heldout: number;
  /** Spearman ρ of allocated vs planted ranks (`NaN` when the allocation is uniform). */
  readonly spearman: number;
  /** Fraction of the allocated rank on planted-zero matrices. */
  readonly zeroFraction: number;
  /** Total allocated rank at the end. */
  readonly ranksTotal: number;
  /** The method's budget `r_ref · M`. */
  readonly budget: number;
  /** Allocation events. */
  readonly events: number;
  /** Module names, in order. */
  readonly modules: readonly string[];
  /** Planted rank per module (this seed's task). */
  readonly planted: readonly number[];
  /** Wall time of the training run (build, train, evaluations), ms. */
  readonly ms: number;
  /** Final allocated rank per module, module order. */
  readonly ranks: readonly number[];
  /** Ranks over time: `[step, ranks]` at the start, after every event and at `T`. */
  readonly trajectory: readonly (readonly [number, readonly number[]])[];
  /** Allocation cost, element operations per training step (see {@linkcode allocationOpsPerStep}). */
  readonly allocOps: number;
}

/** The `[in, out]` widths of a planted module from its family and the task's sizes. */
function moduleShape(name: string, hidden: number, intermediate: number): [number, number] {
  if (name.endsWith("intermediate.dense")) return [hidden, intermediate];
  if (/\.output\.dense$/.test(name) && !name.includes("attention")) return [intermediate, hidden];
  return [hidden, hidden];
}

/**
 * The allocator's own work per training step, in element operations on adapter tensors (a count,
 * independent of machine load; docs/METHOD.md §20):
 *
 * - TriAdaptLoRA, score `paper`: `‖L+U‖_F` of every module at each event, `2·r²` each;
 * - score `update` / `spectrum`: the Grams `A·Aᵀ` and `BᵀB` (`(n + d)·r²` multiply-adds, counted
 *   `2·`) plus `40·r³` for the `r×r` products and Jacobi sweeps, at each event;
 * - AdaLoRA: every step, the sensitivity `|p·g|` and its two moving averages over every adapter
 *   parameter (`9` per element: PEFT's `update_ipt`), masking events not counted;
 * - IncreLoRA: every step, `|ΔW ⊙ ∂L/∂ΔW|` over the `d×n` update (`2·d·n`), growth not counted;
 * - LoRA: 0.
 *
 * Event costs use the ranks before each event and are divided by `T`.
 *
 * @example AdaLoRA on one 4×4 module at rank 2 costs 9 · (4 + 4 + 1) · 2 per step
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocationOpsPerStep } from "./planted_bench.ts";
 *
 * const ops = allocationOpsPerStep({
 *   method: "adalora", score: "paper", shapes: [[4, 4]], steps: 10,
 *   trajectory: [[0, [2]], [10, [1]]],
 * });
 * assert.equal(ops, 162);
 * ```
 *
 * @param run Method, score, module shapes `[in, out]`, `T` and the rank trajectory.
 * @returns Operations per step.
 */
export function allocationOpsPerStep(run: {
  readonly method: TrainMethod;
  readonly score: string;
  readonly shapes: readonly (readonly [number, number])[];
  readonly steps: number;
  readonly trajectory: readonly (readonly [number, readonly number[]])[];
}): number {
  const first = run.trajectory[0]?.[1] ?? [];
  switch (run.method) {
    case "lora":
      return 0;
    case "adalora":
      return run.shapes.reduce((a, [n, d], i) => a + 9 * (n + d + 1) * (first[i] ?? 0), 0);
    case "increlora":
      return run.shapes.reduce((a, [n, d]) => a + 2 * n * d, 0);
    case "triadapt": {
      // Every event but the final `[T, ranks]` point reads the ranks before it.
      const events = run.trajectory.slice(1, -1);
      let total = 0;
      events.forEach((_, e) => {
        const ranks = run.trajectory[e]?.[1] ?? [];
        run.shapes.forEach(([n, d], i) => {
          const r = ranks[i] ?? 0;
          total += run.score === "paper" ? 2 * r * r : 2 * (n + d) * r * r + 40 * r ** 3;
        });
      });
      return total / run.steps;
    }
  }
}

/** Mean ± std over seeds of one quantity. */
export interface SeedStat {
  /** Mean over the seeds where it is defined (`NaN` when none). */
  readonly mean: number;
  /** Sample std (`NaN` when fewer than 2 defined values). */
  readonly std: number;
  /** Seeds where it is defined. */
  readonly n: number;
}

/** A method's row: its runs and their summaries. */
export interface PlantedRow {
  /** Variant label. */
  readonly label: string;
  /** The method. */
  readonly method: TrainMethod;
  /** Held-out relative MSE. */
  readonly heldout: SeedStat;
  /** Spearman ρ (n = 0 for uniform LoRA). */
  readonly spearman: SeedStat;
  /** Fraction of allocated rank on planted-zero matrices. */
  readonly zeroFraction: SeedStat;
  /** Run wall time over seeds: median and spread, ms. */
  readonly time: Timing;
  /** Mean final rank per module over the seeds. */
  readonly meanRanks: readonly number[];
  /** Allocation cost, element operations per step (mean over seeds). */
  readonly allocOps: number;
  /** Every run. */
  readonly runs: readonly PlantedRun[];
}

/** What the section writes to `bench.json`. */
export interface PlantedBenchData {
  /** Quick (smoke) form. */
  readonly quick: boolean;
  /** Backend. */
  readonly backend: string;
  /** Task sizes. */
  readonly task: Readonly<Omit<PlantedTaskOptions, "seed">>;
  /** Steps per run. */
  readonly steps: number;
  /** Batch size. */
  readonly batchSize: number;
  /** Seeds. */
  readonly seeds: readonly number[];
  /** Adapted modules, model order. */
  readonly modules: readonly string[];
  /** Budget `r_ref · M` (the same for every method). */
  readonly budget: number;
  /** Planted ranks per seed, module order. */
  readonly planted: readonly (readonly number[])[];
  /** One row per method. */
  readonly rows: readonly PlantedRow[];
  /** Files for the bench out folder: name → text (`<prefix>-vs-allocated.svg`, `<prefix>-ranks-<row>.svg`). */
  readonly files: Readonly<Record<string, string>>;
}

function seedStat(values: readonly number[]): SeedStat {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { mean: NaN, std: NaN, n: 0 };
  const s = meanStd(finite);
  return { mean: s.mean, std: s.std, n: s.n };
}

function fmtStat(s: SeedStat, digits: number, total: number): string {
  if (s.n === 0) return "undefined";
  const std = Number.isFinite(s.std) ? ` ± ${s.std.toFixed(digits)}` : "";
  const partial = s.n < total ? ` (n = ${s.n})` : "";
  return `${s.mean.toFixed(digits)}${std}${partial}`;
}

/** One panel of {@linkcode plantedVsAllocatedSvg}. */
export interface RankPanel {
  /** Panel title. */
  readonly title: string;
  /** Rank per module name. */
  readonly ranks: Readonly<Record<string, number>>;
}

/**
 * Small multiples of the rank heat map (`rankHeatmapSvg`), three panels per line, on one colour
 * scale from 0 to the largest rank of any panel, in one SVG document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plantedVsAllocatedSvg } from "./planted_bench.ts";
 *
 * const svg = plantedVsAllocatedSvg([
 *   { title: "Planted", ranks: { "e.layer.0.output.dense": 4, "e.layer.1.output.dense": 0 } },
 *   { title: "LoRA", ranks: { "e.layer.0.output.dense": 2, "e.layer.1.output.dense": 2 } },
 *   { title: "Tri", ranks: { "e.layer.0.output.dense": 3.5, "e.layer.1.output.dense": 0.5 } },
 * ]);
 * assert.ok(svg.startsWith("<svg"));
 * assert.equal(svg.match(/<svg/g)?.length, 4);
 * assert.ok(svg.includes("Planted") && svg.includes("Tri"));
 * ```
 *
 * @param panels Titles and ranks by module name (`…layer.<i>.<family>`).
 * @returns The SVG document text.
 * @throws {TypeError} When there are no panels or a panel has no layer × family module.
 */
export function plantedVsAllocatedSvg(panels: readonly RankPanel[]): string {
  if (panels.length === 0) {
    throw new TypeError(
      "Cannot draw planted vs allocated ranks as panels must be non-empty: current length is 0",
    );
  }
  const max = Math.max(1, ...panels.flatMap((p) => Object.values(p.ranks)));
  const perLine = 3;
  const drawn = panels.map((p) => {
    const grid = rankGrid(p.ranks);
    // Means over seeds are drawn to one decimal.
    const ranks = grid.ranks.map((row) => row.map((v) => Math.round(v * 10) / 10));
    const svg = rankHeatmapSvg({ ...grid, ranks, title: p.title, min: 0, max });
    const w = Number(/width="([\d.]+)"/.exec(svg)?.[1] ?? 0);
    const h = Number(/height="([\d.]+)"/.exec(svg)?.[1] ?? 0);
    return { svg, w, h };
  });
  const cellW = Math.max(...drawn.map((d) => d.w));
  const cellH = Math.max(...drawn.map((d) => d.h));
  const lines = Math.ceil(drawn.length / perLine);
  const width = cellW * Math.min(perLine, drawn.length);
  const height = cellH * lines;
  const parts = drawn.map((d, i) => {
    const x = (i % perLine) * cellW;
    const y = Math.floor(i / perLine) * cellH;
    return d.svg.replace("<svg ", `<svg x="${x}" y="${y}" `);
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * Ranks over time of one row: one line per planted rank `p` (the mean allocated rank over the
 * matrices planted at rank `p` and over the seeds), a step function that jumps at the events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankOverTimeSvg } from "./planted_bench.ts";
 *
 * const svg = rankOverTimeSvg("Tri", [[0, 2]], [[[0, [1, 1]], [8, [2, 1]], [16, [2, 1]]]]);
 * assert.ok(svg.startsWith("<svg") && svg.includes("planted rank 2"));
 * ```
 *
 * @param title Chart title.
 * @param planted Planted rank per module, per seed.
 * @param trajectories `[step, ranks]` points per seed (same order as `planted`).
 * @returns The SVG text.
 */
export function rankOverTimeSvg(
  title: string,
  planted: readonly (readonly number[])[],
  trajectories: readonly (readonly (readonly [number, readonly number[]])[])[],
): string {
  const steps = [...new Set(trajectories.flatMap((t) => t.map(([s]) => s)))].sort((a, b) => a - b);
  // Ranks in force at `step` (`before`: just before the event at `step`, if any).
  const at = (
    t: readonly (readonly [number, readonly number[]])[],
    step: number,
    before: boolean,
  ) => {
    let ranks = t[0]?.[1] ?? [];
    for (const [s, r] of t) if (before ? s < step : s <= step) ranks = r;
    return ranks;
  };
  const levels = [...new Set(planted.flat())].sort((a, b) => a - b);
  const mean = (p: number, step: number, before: boolean): number => {
    let sum = 0;
    let n = 0;
    trajectories.forEach((t, si) => {
      const ranks = at(t, step, before);
      (planted[si] ?? []).forEach((q, i) => {
        if (q === p) (sum += ranks[i] ?? 0, n++);
      });
    });
    return n === 0 ? NaN : sum / n;
  };
  // A step function: at each event step, the value before it and the value after it.
  const series = levels.map((p) => ({
    name: `planted rank ${p}`,
    points: steps.flatMap((step): [number, number][] => [
      [step, mean(p, step, true)],
      [step, mean(p, step, false)],
    ]),
  }));
  return lossChartSvg({
    series,
    title,
    leftLabel: "mean allocated rank",
    leftFloor: 0,
  });
}

/** Options of {@linkcode runPlantedBench}. */
export interface PlantedBenchOptions {
  /** The comparison to run (default: {@linkcode PLANTED_QUICK} when `ctx.quick`, else {@linkcode PLANTED_FULL}). */
  readonly config?: PlantedBenchConfig;
  /** Heading of the section (default `Planted-rank allocation quality`). */
  readonly title?: string;
  /** Prefix of the SVG file names (default `planted`). */
  readonly prefix?: string;
  /**
   * Runs already done in this process, by task, steps, seed, method and resolved
   * hyper-parameters: a run asked for again is reused, not repeated (sections share it).
   */
  readonly cache?: Map<string, PlantedRun>;
  /**
   * Runs at once, each in its own Deno worker with its own wasm instance (default 1: all in this
   * thread). Results do not depend on it; wall times do (the runs share the cores).
   */
  readonly jobs?: number;
}

/** The process-wide run cache the bench sections share (see `PlantedBenchOptions.cache`). */
export const PLANTED_RUN_CACHE: Map<string, PlantedRun> = new Map();

function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/**
 * Runs the planted comparison: for each seed, builds the task once, runs an untimed warm-up
 * (a few LoRA steps) on the first seed, then trains every variant on it in registry order. Each
 * run goes to a temporary run folder that is removed afterwards.
 *
 * @example A tiny comparison
 * ```ts
 * import assert from "node:assert/strict";
 * import { initBackend } from "../ops/backend.ts";
 * import { PLANTED_QUICK, runPlantedBench } from "./planted_bench.ts";
 *
 * await initBackend("wasm");
 * const result = await runPlantedBench(
 *   { quick: true, backend: "wasm", log: () => {} },
 *   { config: { ...PLANTED_QUICK, seeds: [0], steps: 16 } },
 * );
 * assert.match(result.markdown, /## Planted-rank allocation quality/);
 * const data = result.data as { rows: { label: string }[] };
 * assert.equal(data.rows.length, 2);
 * ```
 *
 * @param ctx Runner context (quick mode, progress).
 * @param options The comparison to run.
 * @returns Markdown for `bench.md`, data for `bench.json` (with the SVG under `files`).
 */
export async function runPlantedBench(
  ctx: BenchContext,
  options: PlantedBenchOptions = {},
): Promise<BenchSectionResult> {
  const config = options.config ?? (ctx.quick ? PLANTED_QUICK : PLANTED_FULL);
  const title = options.title ?? "Planted-rank allocation quality";
  const prefix = options.prefix ?? "planted";
  const cache = options.cache ?? PLANTED_RUN_CACHE;
  const backend = getBackend();
  // Recorded in each (temporary) run folder's config.json only.
  const backendInfo: BackendInfo = {
    name: backend,
    requested: (BACKEND_NAMES as readonly string[]).includes(backend)
      ? backend as BackendName
      : "cpu",
    tfjsVersion: version_core,
    packageName: "",
    summary: `backend ${backend}`,
  };
  const baseHyper: HyperParams = { ...defaultHyperParams(), ...config.hyper };
  const jobs = Math.max(1, Math.floor(options.jobs ?? 1));
  // Every (seed, row) in seed-major order; a run asked for again (same task, steps, seed, method
  // and resolved hyper-parameters, here or in an earlier section) is done once.
  const slots = config.seeds.flatMap((seed) =>
    config.variants.map((variant) => {
      const hyper: HyperParams = { ...baseHyper, ...variant.hyper };
      const job: PlantedJob = {
        task: config.task,
        seed,
        method: variant.method,
        hyper,
        steps: config.steps,
        backend: backendInfo,
      };
      return {
        seed,
        variant,
        hyper,
        job,
        key: JSON.stringify([config.task, config.steps, seed, variant.method, hyper]),
      };
    })
  );
  const todo = slots.filter((s, i) =>
    !cache.has(s.key) && slots.findIndex((t) => t.key === s.key) === i
  );
  const fresh = new Map<string, PlantedJobResult>();
  const report = (i: number, r: PlantedJobResult) => {
    const s = todo[i]!;
    ctx.log(
      `planted seed ${s.seed} ${s.variant.label}: held-out ${
        r.heldout.toFixed(4)
      }, ranks ${r.ranksTotal}/${r.budget}, ${(r.ms / 1000).toFixed(1)} s`,
    );
    for (const w of r.warnings) ctx.log(w);
  };
  const root = await Deno.makeTempDir({ prefix: "bench-planted-" });
  try {
    if (jobs > 1 && todo.length > 1) {
      if (backend !== "wasm" && backend !== "cpu") {
        throw new RangeError(
          `Cannot run the planted bench as --jobs > 1 needs the wasm or cpu backend: current backend is ${backend}`,
        );
      }
      const results = await runPlantedJobsInWorkers(
        todo.map((s) => s.job),
        jobs,
        backend,
        root,
        report,
      );
      results.forEach((r, i) => fresh.set(todo[i]!.key, r));
    } else {
      // In this thread: one task per seed, shared by its runs; an untimed warm-up first.
      let task: PlantedTask | undefined;
      try {
        for (const [i, s] of todo.entries()) {
          if (task === undefined || todo[i - 1]?.seed !== s.seed) {
            task?.dispose();
            task = undefined;
            task = await createPlantedTask({ ...config.task, seed: s.seed });
          }
          const r = await runPlantedJob(s.job, root, { warmup: i === 0, task });
          fresh.set(s.key, r);
          report(i, r);
        }
      } finally {
        task?.dispose();
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  const runs: PlantedRun[] = slots.map((s) => {
    const cached = cache.get(s.key);
    if (cached !== undefined) {
      if (!fresh.has(s.key)) {
        ctx.log(`planted seed ${s.seed} ${s.variant.label}: reused an identical run`);
      }
      return { ...cached, label: s.variant.label };
    }
    const r = fresh.get(s.key) as PlantedJobResult;
    const shapes = r.modules.map((m) =>
      moduleShape(m, config.task.hidden ?? 0, config.task.intermediate ?? 0)
    );
    const initial = s.variant.method === "lora"
      ? s.hyper.refRank
      : s.variant.method === "adalora"
      ? s.hyper.adaloraInitRank
      : s.hyper.initRank;
    const trajectory: [number, readonly number[]][] = [
      [0, r.modules.map(() => initial)],
      ...r.eventLog.map((e): [number, readonly number[]] => [e.step, e.ranks]),
      [config.steps, r.ranks],
    ];
    const run: PlantedRun = {
      label: s.variant.label,
      seed: s.seed,
      modules: r.modules,
      planted: r.planted,
      heldout: r.heldout,
      spearman: rankSpearman(r.planted, r.ranks),
      zeroFraction: zeroRankFraction(r.planted, r.ranks),
      ranksTotal: r.ranksTotal,
      budget: r.budget,
      events: r.events,
      ms: r.ms,
      ranks: r.ranks,
      trajectory,
      allocOps: allocationOpsPerStep({
        method: s.variant.method,
        score: s.hyper.score,
        shapes,
        steps: config.steps,
        trajectory,
      }),
    };
    cache.set(s.key, run);
    return run;
  });
  const modules: readonly string[] = runs[0]?.modules ?? [];
  const plantedBySeed: number[][] = config.seeds.map((seed) => [
    ...(runs.find((r) => r.seed === seed)?.planted ?? []),
  ]);
  const rows: PlantedRow[] = config.variants.map((v) => {
    const mine = runs.filter((r) => r.label === v.label);
    return {
      label: v.label,
      method: v.method,
      heldout: seedStat(mine.map((r) => r.heldout)),
      spearman: seedStat(mine.map((r) => r.spearman)),
      zeroFraction: seedStat(mine.map((r) => r.zeroFraction)),
      time: summarise(mine.map((r) => r.ms)),
      meanRanks: modules.map((_, i) =>
        mine.reduce((a, r) => a + (r.ranks[i] as number), 0) / mine.length
      ),
      allocOps: mine.reduce((a, r) => a + r.allocOps, 0) / Math.max(1, mine.length),
      runs: mine,
    };
  });
  const budget = runs[0]?.budget ?? 0;
  const meanPlanted = modules.map((_, i) =>
    plantedBySeed.reduce((a, p) => a + (p[i] as number), 0) / plantedBySeed.length
  );
  const byName = (values: readonly number[]): Record<string, number> =>
    Object.fromEntries(modules.map((m, i) => [m, values[i] as number]));
  const svg = plantedVsAllocatedSvg([
    { title: "Planted (seed mean)", ranks: byName(meanPlanted) },
    ...rows.map((r) => ({ title: r.label, ranks: byName(r.meanRanks) })),
  ]);
  const n = config.seeds.length;
  const table = markdownTable(
    [
      "method",
      "held-out rel. MSE ↓",
      "Spearman ρ (alloc vs planted)",
      "budget on planted-0",
      "ranks / budget",
      "allocation ops / step",
      "run wall time, s: median (min–max)",
    ],
    rows.map((r) => [
      r.label,
      fmtStat(r.heldout, 4, n),
      r.method === "lora" && r.spearman.n === 0
        ? "undefined (uniform ranks)"
        : fmtStat(r.spearman, 3, n),
      fmtStat(r.zeroFraction, 3, n),
      [...new Set(r.runs.map((x) => `${x.ranksTotal} / ${x.budget}`))].join(", "),
      r.allocOps === 0 ? "0" : r.allocOps.toPrecision(3),
      formatTiming(summarise(r.runs.map((x) => x.ms / 1000))),
    ]),
  );
  const t = config.task;
  const zeroShare = plantedBySeed.map((p) => p.filter((x) => x === 0).length / p.length);
  const markdown = [
    `## ${title}`,
    "",
    ctx.quick
      ? "**Quick form: a smoke test only** (tiny task, 2 methods, few steps); its numbers say nothing about the methods.\n"
      : "",
    `Task \`--task planted\`: ${t.layers} layers, hidden ${t.hidden}, ${t.heads} heads, FFN ${t.intermediate}, ` +
    `seq ${t.seqLength}, ${t.trainExamples} train / ${t.evalExamples} held-out sequences, planted ranks ≤ ${t.maxRank} ` +
    `(strength ${t.strength}, target ${t.target}); M = ${modules.length} matrices, ` +
    `${
      (100 * zeroShare.reduce((a, b) => a + b, 0) / zeroShare.length).toFixed(0)
    } % of them planted-zero on average. ` +
    `Every method: ${config.steps} steps, batch ${baseHyper.batchSize}, lr ${baseHyper.lr}, ` +
    `TriAdaptLoRA/IncreLoRA t0 ${baseHyper.initWarmup}, interval ${baseHyper.interval}, LR warm-up ${baseHyper.warmupSteps}, ` +
    `AdaLoRA tinit ${baseHyper.tinit}, tfinal ${baseHyper.tfinal}, ΔT ${baseHyper.deltaT}; the same budget ` +
    `r_ref · M = ${baseHyper.refRank} · ${modules.length} = ${budget} (AdaLoRA starts at r = ${baseHyper.adaloraInitRank} and prunes to it, ` +
    `TriAdaptLoRA and IncreLoRA grow to it from r = ${baseHyper.initRank}, LoRA holds r_ref everywhere). ` +
    `Seeds ${
      config.seeds.join(", ")
    }: the same base, planted pattern and data per seed for every method; ` +
    `mean ± std over seeds. Held-out loss is the MSE relative to the frozen base (1 = no gain). ` +
    `Wall time: one whole run (adapters built, trained, evaluated per epoch); untimed warm-up run first.`,
    "",
    table,
    "",
    `\`${prefix}-vs-allocated.svg\` in the bench folder: the planted ranks (mean over seeds) next to every method's final ranks (mean over seeds; AdaLoRA's effective, unmasked ranks). ` +
    `\`${prefix}-ranks-<row>.svg\`: each row's ranks over time, one line per planted rank (mean over matrices and seeds). ` +
    "Allocation ops / step: the allocator's own element operations per training step, counted (not timed; `allocationOpsPerStep`).",
    "",
  ].filter((line, i) => !(i === 2 && line === "")).join("\n");
  const data: PlantedBenchData = {
    quick: ctx.quick,
    backend,
    task: config.task,
    steps: config.steps,
    batchSize: baseHyper.batchSize,
    seeds: config.seeds,
    modules,
    budget,
    planted: plantedBySeed,
    rows,
    files: {
      [`${prefix}-vs-allocated.svg`]: svg,
      ...Object.fromEntries(rows.map((r) => [
        `${prefix}-ranks-${slug(r.label)}.svg`,
        rankOverTimeSvg(
          `${r.label}: ranks over time (T = ${config.steps})`,
          plantedBySeed,
          config.seeds.map((seed) => r.runs.find((x) => x.seed === seed)?.trajectory ?? []),
        ),
      ])),
    },
  };
  return { markdown, data };
}
