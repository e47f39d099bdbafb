/**
 * Summaries over seeds and aligned text tables: mean ± sample standard deviation per method and
 * task, printed as a Table-I-style markdown table, plus a generic table formatter for the final
 * run summary.
 *
 * @module
 */

/**
 * Mean and spread of one set of values.
 *
 * @example Two seeds
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MeanStd } from "./seed_summary.ts";
 * import { meanStd } from "./seed_summary.ts";
 *
 * const spread: MeanStd = meanStd([0.8, 0.9]);
 * assert.equal(spread.n, 2);
 * assert.ok(Math.abs(spread.mean - 0.85) < 1e-12);
 * ```
 */
export interface MeanStd {
  /** Arithmetic mean. */
  readonly mean: number;
  /** Sample standard deviation (n − 1 in the denominator); `NaN` when n < 2. */
  readonly std: number;
  /** How many values. */
  readonly n: number;
}

/**
 * Mean and sample standard deviation (Bessel-corrected, as numpy's `std(ddof=1)`), computed in
 * two passes for accuracy.
 *
 * @param values At least one finite number.
 * @returns `{ mean, std, n }`; `std` is `NaN` for a single value.
 * @throws {RangeError} When `values` is empty.
 * @throws {TypeError} When a value is not finite.
 *
 * @example Three seeds
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanStd } from "./seed_summary.ts";
 *
 * const { mean, std, n } = meanStd([1, 2, 3]);
 * assert.equal(mean, 2);
 * assert.equal(std, 1);
 * assert.equal(n, 3);
 * assert.ok(Number.isNaN(meanStd([5]).std));
 * ```
 */
export function meanStd(values: readonly number[]): MeanStd {
  if (values.length === 0) {
    throw new RangeError("Cannot summarise seeds as values must be non-empty: current length is 0");
  }
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) {
      throw new TypeError(
        `Cannot summarise seeds as values[${i}] must be finite: current value is ${v}`,
      );
    }
  });
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return Object.freeze({ mean, std: Number.NaN, n });
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return Object.freeze({ mean, std: Math.sqrt(ss / (n - 1)), n });
}

/**
 * One finished run: its method, task, seed and main metric.
 *
 * @example Runs of one method on one task
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SeedResult } from "./seed_summary.ts";
 * import { summariseSeeds } from "./seed_summary.ts";
 *
 * const runs: SeedResult[] = [
 *   { method: "LoRA", task: "rte", seed: 0, value: 0.8 },
 *   { method: "LoRA", task: "rte", seed: 1, value: 0.9 },
 * ];
 * assert.equal(summariseSeeds(runs).length, 1);
 * ```
 */
export interface SeedResult {
  /** Method label as it should appear (e.g. `TriAdaptLoRA linear`). */
  readonly method: string;
  /** Task id (`rte`, `sst2`, …) or any label. */
  readonly task: string;
  /** The seed. */
  readonly seed: number;
  /** The main metric as a fraction (accuracy 0.8784) or raw score. */
  readonly value: number;
}

/**
 * Mean ± std of one method on one task.
 *
 * @example One cell per method and task
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SeedSummaryCell } from "./seed_summary.ts";
 * import { summariseSeeds } from "./seed_summary.ts";
 *
 * const [cell]: SeedSummaryCell[] = summariseSeeds([
 *   { method: "LoRA", task: "rte", seed: 3, value: 0.5 },
 *   { method: "LoRA", task: "rte", seed: 7, value: 0.7 },
 * ]);
 * assert.deepEqual(cell?.seeds, [3, 7]);
 * assert.equal(cell?.method, "LoRA");
 * ```
 */
export interface SeedSummaryCell extends MeanStd {
  /** Method label. */
  readonly method: string;
  /** Task id. */
  readonly task: string;
  /** The seeds, in input order. */
  readonly seeds: readonly number[];
}

const TASK_ORDER = ["mnli", "sst2", "cola", "qqp", "qnli", "rte", "mrpc", "stsb", "squad2"];
const TASK_TITLES: Readonly<Record<string, string>> = Object.freeze({
  mnli: "MNLI",
  sst2: "SST-2",
  cola: "CoLA",
  qqp: "QQP",
  qnli: "QNLI",
  rte: "RTE",
  mrpc: "MRPC",
  stsb: "STS-B",
  squad2: "SQuAD 2.0",
});

function taskRank(task: string): number {
  const i = TASK_ORDER.indexOf(task);
  return i < 0 ? TASK_ORDER.length : i;
}

/**
 * Groups results by method and task and summarises each group over its seeds. Methods keep the
 * order they first appear in; tasks follow Table I's order (unknown tasks last, in input
 * order).
 *
 * @param results One entry per finished run.
 * @returns One cell per (method, task).
 * @throws {RangeError} When a (method, task, seed) appears twice.
 *
 * @example Two seeds of one method
 * ```ts
 * import assert from "node:assert/strict";
 * import { summariseSeeds } from "./seed_summary.ts";
 *
 * const [cell] = summariseSeeds([
 *   { method: "LoRA", task: "rte", seed: 0, value: 0.8 },
 *   { method: "LoRA", task: "rte", seed: 1, value: 0.9 },
 * ]);
 * assert.ok(cell !== undefined);
 * assert.deepEqual(cell.seeds, [0, 1]);
 * assert.ok(Math.abs(cell.mean - 0.85) < 1e-12);
 * ```
 */
export function summariseSeeds(results: readonly SeedResult[]): SeedSummaryCell[] {
  const groups = new Map<string, SeedResult[]>();
  const seen = new Set<string>();
  for (const r of results) {
    const id = JSON.stringify([r.method, r.task, r.seed]);
    if (seen.has(id)) {
      throw new RangeError(
        `Cannot summarise seeds as each (method, task, seed) must appear once: current duplicate is ${r.method}, ${r.task}, seed ${r.seed}`,
      );
    }
    seen.add(id);
    const key = JSON.stringify([r.method, r.task]);
    const group = groups.get(key) ?? [];
    group.push(r);
    groups.set(key, group);
  }
  const methods = [...new Set(results.map((r) => r.method))];
  const tasks = orderedTasks(results);
  const cells: SeedSummaryCell[] = [];
  for (const method of methods) {
    for (const task of tasks) {
      const group = groups.get(JSON.stringify([method, task]));
      if (group === undefined) continue;
      const stats = meanStd(group.map((r) => r.value));
      cells.push(Object.freeze({ ...stats, method, task, seeds: group.map((r) => r.seed) }));
    }
  }
  return cells;
}

function orderedTasks(results: readonly SeedResult[]): string[] {
  const firstSeen = [...new Set(results.map((r) => r.task))];
  return firstSeen
    .map((task, i) => ({ task, i }))
    .sort((a, b) => taskRank(a.task) - taskRank(b.task) || a.i - b.i)
    .map((e) => e.task);
}

/**
 * Options of `formatSeedSummary`.
 *
 * @example Raw scores with one decimal
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SeedSummaryOptions } from "./seed_summary.ts";
 * import { formatSeedSummary } from "./seed_summary.ts";
 *
 * const options: SeedSummaryOptions = { scale: 1, digits: 1 };
 * const text = formatSeedSummary([{ method: "LoRA", task: "rte", seed: 0, value: 87.84 }], options);
 * assert.ok(text.includes("| LoRA   | 87.8 |"));
 * ```
 */
export interface SeedSummaryOptions {
  /** Multiplier applied before printing (default 100: fractions print as percentages). */
  readonly scale?: number;
  /** Decimals (default 2, as Table I). */
  readonly digits?: number;
}

/**
 * Formats results as a Table-I-style markdown table: one row per method, one column per task,
 * cells `mean ± std` (std omitted for a single seed), and an `avg` column (mean of the task
 * means, only when there are several tasks and the method has them all). A note line under
 * the table says how many seeds and what ± means.
 *
 * @param results One entry per finished run.
 * @param options `scale` and `digits`.
 * @returns Markdown text ending with a newline.
 *
 * @example Three seeds on RTE
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSeedSummary } from "./seed_summary.ts";
 *
 * const text = formatSeedSummary([
 *   { method: "TriAdaptLoRA linear", task: "rte", seed: 0, value: 0.87 },
 *   { method: "TriAdaptLoRA linear", task: "rte", seed: 1, value: 0.88 },
 *   { method: "TriAdaptLoRA linear", task: "rte", seed: 2, value: 0.89 },
 * ]);
 * assert.ok(text.includes("| TriAdaptLoRA linear | 88.00 ± 1.00 |"));
 * ```
 */
export function formatSeedSummary(
  results: readonly SeedResult[],
  options: SeedSummaryOptions = {},
): string {
  const scale = options.scale ?? 100;
  const digits = options.digits ?? 2;
  const cells = summariseSeeds(results);
  const methods = [...new Set(cells.map((c) => c.method))];
  const tasks = orderedTasks(results);
  const withAvg = tasks.length > 1;
  const headers = ["method", ...tasks.map((t) => TASK_TITLES[t] ?? t), ...(withAvg ? ["avg"] : [])];
  const rows = methods.map((method) => {
    const mine = tasks.map((task) => cells.find((c) => c.method === method && c.task === task));
    const row = [method];
    for (const cell of mine) {
      if (cell === undefined) {
        row.push("–");
      } else {
        const mean = (cell.mean * scale).toFixed(digits);
        row.push(Number.isNaN(cell.std) ? mean : `${mean} ± ${(cell.std * scale).toFixed(digits)}`);
      }
    }
    if (withAvg) {
      const complete = mine.every((c) => c !== undefined);
      const avg = complete ? mine.reduce((a, c) => a + (c?.mean ?? 0), 0) / mine.length : NaN;
      row.push(complete ? (avg * scale).toFixed(digits) : "–");
    }
    return row;
  });
  const seedCounts = [...new Set(cells.map((c) => c.n))].sort((a, b) => a - b);
  const seeds = [...new Set(cells.flatMap((c) => c.seeds))].sort((a, b) => a - b);
  const note = `Mean over ${seedCounts.join("/")} seed${
    seedCounts.length === 1 && seedCounts[0] === 1 ? "" : "s"
  } (${seeds.join(", ")}); ± is the sample standard deviation (n − 1).`;
  return `${
    formatTable(headers, rows, {
      markdown: true,
      align: headers.map((_, i) => i === 0 ? "left" : "right"),
    })
  }\n${note}\n`;
}

/**
 * Options of `formatTable`.
 *
 * @example A markdown table
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TableOptions } from "./seed_summary.ts";
 * import { formatTable } from "./seed_summary.ts";
 *
 * const options: TableOptions = { markdown: true, align: ["left", "right"] };
 * const text = formatTable(["task", "acc"], [["rte", "0.88"]], options);
 * assert.equal(text.split("\n").length, 3);
 * assert.ok(text.startsWith("| task"));
 * ```
 */
export interface TableOptions {
  /** Column alignment (default: left for text, right for columns whose cells all look numeric). */
  readonly align?: readonly ("left" | "right")[];
  /** Markdown pipes and a `|---|` rule (default false: plain columns separated by two spaces). */
  readonly markdown?: boolean;
}

const NUMERIC = /^[+-]?(\d[\d,]*\.?\d*|\.\d+)(e[+-]?\d+)?( ± \d+\.?\d*)?%?$|^[–-]$/i;

/**
 * Formats rows as an aligned text table. Cells are padded to their column's widest entry;
 * plain mode underlines the header with dashes, markdown mode emits a valid GFM table whose
 * alignment row matches `align`. Pipes in markdown cells are escaped.
 *
 * @param headers Column titles.
 * @param rows Cells, one array per row (shorter rows are padded with empty cells).
 * @param options Alignment and markdown mode.
 * @returns The table text (no trailing newline).
 * @throws {RangeError} When a row has more cells than there are headers.
 *
 * @example A plain run summary
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTable } from "./seed_summary.ts";
 *
 * const text = formatTable(["field", "value"], [["accuracy", "0.8784"], ["steps", "3900"]]);
 * assert.equal(text, [
 *   "field      value",
 *   "--------  ------",
 *   "accuracy  0.8784",
 *   "steps       3900",
 * ].join("\n"));
 * ```
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string {
  rows.forEach((row, i) => {
    if (row.length > headers.length) {
      throw new RangeError(
        `Cannot format the table as rows[${i}] must have at most ${headers.length} cells: current length is ${row.length}`,
      );
    }
  });
  const markdown = options.markdown ?? false;
  const clean = (cell: string): string =>
    markdown ? cell.replaceAll("|", "\\|").replaceAll("\n", " ") : cell.replaceAll("\n", " ");
  const head = headers.map(clean);
  const body = rows.map((row) => headers.map((_, c) => clean(row[c] ?? "")));
  const align = headers.map((_, c) =>
    options.align?.[c] ??
      (body.length > 0 && body.every((row) => NUMERIC.test((row[c] ?? "").trim()))
        ? "right"
        : "left")
  );
  const widths = headers.map((_, c) =>
    Math.max(markdown ? 3 : 1, head[c]?.length ?? 0, ...body.map((row) => row[c]?.length ?? 0))
  );
  const pad = (cell: string, c: number): string =>
    align[c] === "right" ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0);
  if (markdown) {
    const line = (cells: readonly string[]): string =>
      `| ${cells.map((cell, c) => pad(cell, c)).join(" | ")} |`;
    const rule = `|${
      widths.map((w, c) => align[c] === "right" ? `${"-".repeat(w + 1)}:` : `:${"-".repeat(w + 1)}`)
        .join("|")
    }|`;
    return [line(head), rule, ...body.map(line)].join("\n");
  }
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => pad(cell, c)).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
