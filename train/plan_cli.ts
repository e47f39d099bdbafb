/**
 * `deno task plan`: print the rank-allocation events of a run from its schedule alone, or
 * AdaLoRA's budget per mask step. No permissions needed.
 *
 * The logic lives in {@linkcode planMain} (testable, no I/O); the bottom of the file is the
 * thin `import.meta.main` adapter.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  argsErrorMessage,
  attachNegativeValues,
  errorLine,
  formatHelp,
  HELP_ENTRY,
} from "./_cli_text.ts";
import {
  adaloraBudget,
  type AdaLoraBudgetConfig,
  adaloraBudgetConfig,
  parseAdaLoraConfig,
  parseTriAdaptConfig,
  planAllocation,
  type PlanEvent,
} from "../core/mod.ts";

/**
 * Result of {@linkcode planMain}: what to print and the exit code.
 *
 * @example `--help` and a bad flag
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PlanMainResult } from "./plan_cli.ts";
 * import { PLAN_HELP, planMain } from "./plan_cli.ts";
 *
 * const help: PlanMainResult = planMain(["--help"]);
 * assert.equal(help.code, 0);
 * assert.ok(help.stdout.includes(PLAN_HELP.split("\n")[0]!));
 * const bad: PlanMainResult = planMain(["--interval", "NaN"]);
 * assert.equal(bad.code, 1);
 * assert.ok(bad.stderr.length > 0);
 * ```
 */
export interface PlanMainResult {
  /** 0 on success, 1 on bad input. */
  readonly code: number;
  /** Text for stdout (the table, JSON or help). */
  readonly stdout: string;
  /** Text for stderr (one line on error). */
  readonly stderr: string;
}

/**
 * The help text of `deno task plan`: every flag, its default, and an example per method.
 *
 * @example Usage
 * ```ts
 * import { PLAN_HELP } from "./plan_cli.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(PLAN_HELP, /--init-warmup <n>/);
 * ```
 */
export const PLAN_HELP: string = formatHelp({
  summary: "Print the rank-allocation plan of a run from its schedule alone.",
  about: ['No permissions are needed (the task runs "deno run train/plan_cli.ts").'],
  usage: [
    "deno task plan --method triadapt --threshold linear --matrices 72 --ref-rank 8 \\",
    "  --delta-rank 4 --init-warmup 100 --interval 100 --total-steps 3900 [--json]",
    "deno task plan --method adalora --matrices 72 --tinit 600 --tfinal 1800 --delta-t 1 \\",
    "  --total-steps 3900",
  ],
  sections: [
    {
      title: "TriAdaptLoRA (default method; one row per allocation event)",
      entries: [
        ["--threshold <linear|nonlinear|fixed>", "k = R·α, R^α or --top-h (default: linear)"],
        ["--matrices <n>", "Adapted matrices M (default: 72, DeBERTa-v3-base)"],
        ["--init-rank <n>", "Initial rank per matrix (default: 1)"],
        ["--ref-rank <n>", "Reference rank; budget R0 = ref-rank × M (default: 8)"],
        ["--delta-rank <n>", "Rank units per growth Δr (default: 4)"],
        ["--init-warmup <n>", "t0: no allocation at or before this step (required)"],
        ["--interval <n>", "Allocate every N steps (required)"],
        ["--total-steps <n>", "T = epochs × steps per epoch (required)"],
        ["--top-h <n>", "k per event for --threshold fixed"],
        ["--rounding <floor|ceil>", "Rounding of k (default: floor, the reference code's)"],
        ["--allow-overshoot", "Reproduce the reference code's budget overshoot"],
        "Columns: step, α = (step − t0)/(T − t0), R before, k, ranks granted, R after.",
      ],
    },
    {
      title: "AdaLoRA (cubic budget per mask step, docs/METHOD.md §12)",
      entries: [
        ["--init-budget <n>", "Initial total rank (default: init-rank × M, init-rank default 12)"],
        [
          "--target-budget <n>",
          "Final total rank (default: target-rank × M, target-rank default 8)",
        ],
        ["--init-rank <n>", "Initial rank per matrix"],
        ["--target-rank <n>", "Final average rank per matrix"],
        ["--matrices <n>", "Adapted matrices M (default: 72)"],
        ["--tinit <n>, --tfinal <n>", "Warm-up and final fine-tuning steps (required)"],
        ["--delta-t <n>", "Mask every N steps between them (required)"],
        ["--total-steps <n>", "T (required)"],
      ],
    },
    {
      title: "Common",
      entries: [
        ["--method <triadapt|adalora>", "The method (default: triadapt)"],
        ["--json", 'JSON instead of a table: {"events":[{"step":200,"k":13,…},…]}'],
        HELP_ENTRY,
      ],
    },
  ],
  examples: [
    "# TriAdaptLoRA linear on RTE (paper row): nine events from step 200",
    "deno task plan --init-warmup 100 --interval 100 --total-steps 3900 --delta-rank 4",
    "# AdaLoRA's budget per mask step",
    "deno task plan --method adalora --tinit 600 --tfinal 1800 --delta-t 1 --total-steps 3900",
  ],
  permissions: "none",
});

const OPTIONS = {
  method: { type: "string" },
  threshold: { type: "string" },
  matrices: { type: "string" },
  "init-rank": { type: "string" },
  "ref-rank": { type: "string" },
  "target-rank": { type: "string" },
  "delta-rank": { type: "string" },
  "init-warmup": { type: "string" },
  interval: { type: "string" },
  "total-steps": { type: "string" },
  "top-h": { type: "string" },
  rounding: { type: "string" },
  "allow-overshoot": { type: "boolean" },
  "init-budget": { type: "string" },
  "target-budget": { type: "string" },
  tinit: { type: "string" },
  tfinal: { type: "string" },
  "delta-t": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = Record<string, string | boolean | undefined>;

/** Flags that only one method reads; giving them to the other method is a mistake. */
const ONLY: Readonly<Record<string, "triadapt" | "adalora">> = {
  threshold: "triadapt",
  "ref-rank": "triadapt",
  "delta-rank": "triadapt",
  "init-warmup": "triadapt",
  interval: "triadapt",
  "top-h": "triadapt",
  rounding: "triadapt",
  "allow-overshoot": "triadapt",
  "target-rank": "adalora",
  "init-budget": "adalora",
  "target-budget": "adalora",
  tinit: "adalora",
  tfinal: "adalora",
  "delta-t": "adalora",
};

/** Config field → the flag that sets it, so errors name what the user typed. */
const FLAG_OF: Readonly<Record<string, string>> = {
  initRank: "--init-rank",
  refRank: "--ref-rank",
  targetRank: "--target-rank",
  deltaRank: "--delta-rank",
  initWarmup: "--init-warmup",
  interval: "--interval",
  totalSteps: "--total-steps",
  topH: "--top-h",
  threshold: "--threshold",
  rounding: "--rounding",
  tinit: "--tinit",
  tfinal: "--tfinal",
  deltaT: "--delta-t",
  matrices: "--matrices",
  initBudget: "--init-budget",
  targetBudget: "--target-budget",
};

function withFlagNames(message: string): string {
  return message.replace(
    new RegExp(`(?<![\\w-])(${Object.keys(FLAG_OF).join("|")})(?![\\w-])`, "g"),
    (field) => FLAG_OF[field] ?? field,
  );
}

function num(values: Values, flag: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined || typeof raw === "boolean") return undefined;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw.trim())) {
    throw new TypeError(`Cannot read --${flag} as it must be a number: current value is "${raw}"`);
  }
  return Number(raw);
}

/** Drops `undefined` entries so config defaults apply. */
function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

function fmt(n: number, width: number): string {
  return String(n).padStart(width);
}

function triadapt(values: Values): string {
  const config = parseTriAdaptConfig(defined({
    initRank: num(values, "init-rank"),
    refRank: num(values, "ref-rank"),
    deltaRank: num(values, "delta-rank"),
    initWarmup: num(values, "init-warmup"),
    interval: num(values, "interval"),
    totalSteps: num(values, "total-steps"),
    threshold: values["threshold"],
    topH: num(values, "top-h"),
    rounding: values["rounding"],
    allowOvershoot: values["allow-overshoot"],
  }));
  const matrices = num(values, "matrices") ?? 72;
  const events = planAllocation({ ...config, matrices });
  const budget0 = config.refRank * matrices;
  if (values["json"] === true) {
    return JSON.stringify({ method: "triadapt", matrices, budget0, config, events }) + "\n";
  }
  return triadaptTable(config, matrices, budget0, events);
}

function triadaptTable(
  config: ReturnType<typeof parseTriAdaptConfig>,
  matrices: number,
  budget0: number,
  events: readonly PlanEvent[],
): string {
  const lines = [
    `TriAdaptLoRA ${config.threshold}${
      config.threshold === "fixed" ? ` (topH ${config.topH})` : ""
    } plan: M ${matrices}, R0 ${budget0}, R ${
      budget0 - config.initRank * matrices
    } after init (rank ${config.initRank}), Δr ${config.deltaRank}, t0 ${config.initWarmup}, interval ${config.interval}, T ${config.totalSteps}, ${config.rounding}, ${
      config.allowOvershoot ? "overshoot allowed" : "no overshoot"
    }`,
    "  step     alpha  R before     k  granted   R after",
  ];
  for (const e of events) {
    const granted = e.grants.reduce((a, b) => a + b, 0);
    lines.push(
      `${fmt(e.step, 6)}  ${e.alpha.toFixed(6)}  ${fmt(e.remainingBefore, 8)}  ${fmt(e.k, 4)}  ${
        fmt(granted, 7)
      }  ${fmt(e.remainingAfter, 8)}`,
    );
  }
  const last = events.at(-1);
  const left = last?.remainingAfter ?? budget0 - config.initRank * matrices;
  lines.push(
    `${events.length} events; ${
      left <= 0 ? `budget spent at step ${last?.step}` : `${left} rank units left at step T`
    }; total rank ${budget0 - left} of R0 ${budget0}`,
  );
  return lines.join("\n") + "\n";
}

function adalora(values: Values): string {
  const matrices = num(values, "matrices") ?? 72;
  const config = parseAdaLoraConfig(defined({
    initRank: num(values, "init-rank"),
    targetRank: num(values, "target-rank"),
    tinit: num(values, "tinit"),
    tfinal: num(values, "tfinal"),
    deltaT: num(values, "delta-t"),
    totalSteps: num(values, "total-steps"),
  }));
  const derived = adaloraBudgetConfig(config, matrices);
  const budget: AdaLoraBudgetConfig = {
    ...derived,
    initBudget: num(values, "init-budget") ?? derived.initBudget,
    targetBudget: num(values, "target-budget") ?? derived.targetBudget,
  };
  adaloraBudget(0, budget); // validates the overridden budgets
  const events: Array<{ step: number; budget: number }> = [];
  const lastBudgeting = budget.totalSteps - budget.tfinal;
  for (let step = budget.tinit + 1; step <= lastBudgeting; step++) {
    const b = adaloraBudget(step, budget);
    if (b.mask) events.push({ step, budget: b.budget });
  }
  const final = { fromStep: lastBudgeting + 1, budget: budget.targetBudget };
  if (values["json"] === true) {
    return JSON.stringify({ method: "adalora", matrices, ...budget, events, final }) + "\n";
  }
  const lines = [
    `AdaLoRA budget: ${budget.initBudget} → ${budget.targetBudget}, tinit ${budget.tinit}, tfinal ${budget.tfinal}, ΔT ${budget.deltaT}, T ${budget.totalSteps}`,
    `steps 0–${budget.tinit}: budget ${budget.initBudget}, no masking`,
    "  step  budget",
    ...events.map((e) => `${fmt(e.step, 6)}  ${fmt(e.budget, 6)}`),
    `steps ${final.fromStep}–${budget.totalSteps}: budget ${final.budget}, masked every step`,
  ];
  return lines.join("\n") + "\n";
}

/**
 * Runs `deno task plan` on an argument list without touching the process.
 *
 * @param args Command-line arguments (without the program name).
 * @returns The exit code and the text for stdout and stderr.
 *
 * @example Linear plan as JSON
 * ```ts
 * import { planMain } from "./plan_cli.ts";
 * import assert from "node:assert/strict";
 *
 * const result = planMain(["--init-warmup", "100", "--interval", "100", "--total-steps", "3900", "--json"]);
 * assert.equal(result.code, 0);
 * assert.deepEqual(JSON.parse(result.stdout).events.map((e: { k: number }) => e.k), [13, 23, 28, 26, 18, 11, 5, 1, 1]);
 * assert.equal(planMain(["--interval", "NaN"]).code, 1);
 * ```
 */
export function planMain(args: readonly string[]): PlanMainResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: attachNegativeValues(
        args,
        Object.entries(OPTIONS).filter(([, o]) => o.type === "string").map(([flag]) => flag),
      ),
      options: OPTIONS,
      strict: true,
    }));
  } catch (error) {
    return { code: 1, stdout: "", stderr: `${errorLine(argsErrorMessage(error))}\n` };
  }
  try {
    if (values.help === true) return { code: 0, stdout: PLAN_HELP, stderr: "" };
    const method = values.method ?? "triadapt";
    for (const [flag, owner] of Object.entries(ONLY)) {
      if (values[flag as keyof typeof values] !== undefined && method !== owner) {
        throw new TypeError(
          `Cannot plan as --${flag} must go with --method ${owner}: current method is "${method}"`,
        );
      }
    }
    if (method === "triadapt") return { code: 0, stdout: triadapt(values), stderr: "" };
    if (method === "adalora") return { code: 0, stdout: adalora(values), stderr: "" };
    throw new TypeError(
      `Cannot plan as --method must be "triadapt" or "adalora": current value is "${method}"`,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      code: 1,
      stdout: "",
      stderr: `${errorLine(withFlagNames(message))}\n`,
    };
  }
}

if (import.meta.main) {
  const result = planMain(Deno.args);
  if (result.stdout !== "") await Deno.stdout.write(new TextEncoder().encode(result.stdout));
  if (result.stderr !== "") await Deno.stderr.write(new TextEncoder().encode(result.stderr));
  Deno.exit(result.code);
}
