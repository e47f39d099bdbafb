/**
 * `deno task bench`: runs the benchmark sections in order, prints one markdown report to stdout
 * (progress goes to stderr) and writes `bench.md` + `bench.json` to the output folder.
 *
 * Sections are entries of {@linkcode SECTIONS}; adding a benchmark is one more entry
 * (`{ name, description, run(ctx) }` returning markdown and JSON data).
 *
 * ```sh
 * deno task bench --only adapter,encoder,step,allocation,planted   # ~10 min + planted (below)
 * deno task bench --only planted-1024  # the long allocation-quality sections: see README
 * deno task bench --quick              # small shapes only (< 2 min)
 * deno task bench --only step,allocation --backend wasm --out runs/my-bench
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BACKEND_NAMES, backendHelp, type BackendName, initBackend } from "../ops/backend.ts";
import {
  argsErrorMessage,
  attachNegativeValues,
  errorLine,
  formatHelp,
  HELP_ENTRY,
} from "../train/_cli_text.ts";
import {
  type BenchContext,
  type BenchSection,
  type BenchSectionResult,
  formatMachine,
  type MachineInfo,
  machineInfo,
} from "./_harness.ts";
import { runAdapterBench } from "./adapter_bench.ts";
import { runAllocationCostBench } from "./allocation_cost_bench.ts";
import { runEncoderBench } from "./encoder_bench.ts";
import {
  PLANTED_FULL,
  PLANTED_QUICK,
  PLANTED_VARIANTS,
  type PlantedBenchConfig,
  ratioPlanted,
  runPlantedBench,
  scaledPlanted,
  selectPlanted,
} from "./planted_bench.ts";
import { runStepBench } from "./step_bench.ts";
import { runWebGpuBench } from "./webgpu_bench.ts";
import { resolveWorkers } from "../train/worker_pool.ts";

/**
 * The registry, in run order. The step section runs before the allocation section so that the
 * latter reuses its LoRA step time (same run, same model shape) as the reference.
 */
export const SECTIONS: readonly BenchSection[] = Object.freeze([
  {
    name: "adapter",
    description: "One adapter forward+backward per method at DeBERTa-base widths, ratio to LoRA",
    run: async (ctx: BenchContext): Promise<BenchSectionResult> => ({
      markdown: await runAdapterBench({ quick: ctx.quick }),
    }),
  },
  {
    name: "encoder",
    description: "Encoder forward, DeBERTa-v3-base shape (quick: small shape), batch 8 × 128",
    run: async (ctx: BenchContext): Promise<BenchSectionResult> => ({
      markdown: await runEncoderBench({ quick: ctx.quick }),
    }),
  },
  {
    name: "step",
    description: "Training step time and memory per method (small and base shapes), backends",
    run: (ctx: BenchContext): Promise<BenchSectionResult> =>
      runStepBench({ quick: ctx.quick }, ctx),
  },
  {
    name: "webgpu",
    description:
      "webgpu rows (adapter, encoder, step at quick shapes), headed by the adapter (software here)",
    run: (ctx: BenchContext): Promise<BenchSectionResult> => runWebGpuBench(ctx),
  },
  {
    name: "allocation",
    description: "Cost of allocation decisions vs rank (M = 72), amortised per training step",
    run: (ctx: BenchContext): Promise<BenchSectionResult> => runAllocationCostBench(ctx),
  },
  {
    name: "planted",
    description:
      "Allocation quality on the planted-rank task: every method, same budget, steps and seeds",
    run: (ctx: BenchContext): Promise<BenchSectionResult> =>
      runPlanted(ctx, ctx.quick ? PLANTED_QUICK : PLANTED_FULL),
  },
  ...[512, 1024].map((steps) => ({
    name: `planted-${steps}`,
    description:
      `Planted allocation quality at T = ${steps}: schedules scaled by T/128, every method and variant`,
    run: (ctx: BenchContext): Promise<BenchSectionResult> =>
      runPlanted(
        ctx,
        ctx.quick ? quickLong(steps) : scaledPlanted(PLANTED_FULL, steps),
        `Planted-rank allocation quality, T = ${steps} (scaled schedules)`,
        `planted-${steps}`,
      ),
  })),
  {
    name: "planted-ratio",
    description:
      "Planted allocation quality at T = 1024 with the paper's RTE ratio (t0 = interval = warm-up = T·100/3900)",
    run: (ctx: BenchContext): Promise<BenchSectionResult> =>
      runPlanted(
        ctx,
        ctx.quick ? ratioPlanted(quickLong(1024), 48) : ratioPlanted(PLANTED_FULL, 1024),
        "Planted-rank allocation quality, T = 1024, the paper's RTE schedule ratio",
        "planted-ratio",
      ),
  },
]);

/** A planted section with the runner's `--seeds`, `--rows` and `--jobs`. */
function runPlanted(
  ctx: BenchContext,
  config: PlantedBenchConfig,
  title?: string,
  prefix?: string,
): Promise<BenchSectionResult> {
  return runPlantedBench(ctx, {
    config: selectPlanted(config, { seeds: ctx.seeds ?? [], rows: ctx.rows ?? [] }),
    jobs: ctx.jobs ?? 1,
    ...(title === undefined ? {} : { title }),
    ...(prefix === undefined ? {} : { prefix }),
  });
}

/**
 * The quick (smoke) form of a long planted section: the quick task, one seed, `T = 24 · steps/512`
 * at least 36, the quick form's two rows.
 */
function quickLong(steps: number): PlantedBenchConfig {
  return scaledPlanted({ ...PLANTED_QUICK, seeds: [0] }, Math.max(36, (24 * steps) / 512));
}

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** Small shapes and few repeats only. */
  readonly quick: boolean;
  /** Section names to run (default: all, in registry order). */
  readonly only?: readonly string[];
  /** Default backend; default `"wasm"`. */
  readonly backend?: BackendName;
  /** The command line shown in the report. */
  readonly command?: string;
  /** Progress sink; default stderr. */
  readonly log?: (message: string) => void;
  /** The registry to run from; default {@linkcode SECTIONS}. */
  readonly sections?: readonly BenchSection[];
  /** Planted runs at once, in workers (default 1). */
  readonly jobs?: number;
  /** Seeds of the planted sections (default: theirs). */
  readonly seeds?: readonly number[];
  /** Row ids of the planted sections (default: all). */
  readonly rows?: readonly string[];
}

/** One section's outcome. */
export interface SectionReport {
  /** Section name. */
  readonly name: string;
  /** Wall time in seconds. */
  readonly seconds: number;
  /** Its markdown (or the failure). */
  readonly markdown: string;
  /** Its data, if any. */
  readonly data?: unknown;
  /** The error message when the section threw. */
  readonly error?: string;
}

/** The whole report. */
export interface BenchReport {
  /** The command line. */
  readonly command: string;
  /** ISO start time. */
  readonly startedAt: string;
  /** Machine and runtime. */
  readonly machine: MachineInfo;
  /** Quick mode. */
  readonly quick: boolean;
  /** Sections in run order. */
  readonly sections: readonly SectionReport[];
  /** Total wall time in seconds. */
  readonly totalSeconds: number;
  /** The full markdown report. */
  readonly markdown: string;
}

function checkNames(only: readonly string[], sections: readonly BenchSection[]): void {
  const known = sections.map((s) => s.name);
  for (const n of only) {
    if (!known.includes(n)) {
      throw new RangeError(
        `Cannot run bench as --only must name sections among ${
          known.join(", ")
        }: current value is ${n}`,
      );
    }
  }
}

/**
 * Initialises the backend and runs the selected sections in registry order. A section that throws
 * is reported (its markdown says so) and the others still run.
 *
 * @example A registry with one cheap section
 * ```ts
 * import assert from "node:assert/strict";
 * import { runBench } from "./main.ts";
 *
 * const report = await runBench({
 *   quick: true,
 *   log: () => {},
 *   sections: [{ name: "hello", description: "d", run: () => Promise.resolve({ markdown: "## Hello", data: { x: 1 } }) }],
 * });
 * assert.equal(report.sections.length, 1);
 * assert.match(report.markdown, /## Hello/);
 * assert.deepEqual(report.sections[0]!.data, { x: 1 });
 * ```
 *
 * @param options Which sections, backend, quick mode.
 * @returns The report.
 * @throws {RangeError} When `only` names an unknown section.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const sections = options.sections ?? SECTIONS;
  const only = options.only ?? [];
  checkNames(only, sections);
  const log = options.log ?? ((m: string) => console.error(m));
  const backend = options.backend ?? "wasm";
  const info = await initBackend(backend);
  log(info.summary);
  const machine = await machineInfo();
  const startedAt = new Date().toISOString();
  const command = options.command ?? `deno task bench${options.quick ? " --quick" : ""}`;
  const t0 = performance.now();
  const ctx: BenchContext = {
    quick: options.quick,
    backend: info.name,
    log,
    ...(options.jobs === undefined ? {} : { jobs: options.jobs }),
    ...(options.seeds === undefined ? {} : { seeds: options.seeds }),
    ...(options.rows === undefined ? {} : { rows: options.rows }),
  };
  const reports: SectionReport[] = [];
  for (const section of sections) {
    if (only.length > 0 && !only.includes(section.name)) continue;
    log(`== ${section.name}`);
    const start = performance.now();
    try {
      const result = await section.run(ctx);
      reports.push({
        name: section.name,
        seconds: (performance.now() - start) / 1000,
        markdown: result.markdown,
        ...(result.data === undefined ? {} : { data: result.data }),
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log(`section ${section.name} failed: ${e instanceof Error ? e.stack ?? message : message}`);
      reports.push({
        name: section.name,
        seconds: (performance.now() - start) / 1000,
        markdown: `## ${section.name}\n\n**Failed:** ${message}\n`,
        error: message,
      });
    } finally {
      // Sections may switch backends; leave the default active for the next one.
      await initBackend(backend);
    }
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  const markdown = [
    "# triadapt benchmarks",
    "",
    `Command: \`${command}\``,
    "",
    `Machine: ${formatMachine(machine)}. Started ${startedAt}; total wall time ${
      totalSeconds.toFixed(0)
    } s (${reports.map((r) => `${r.name} ${r.seconds.toFixed(0)} s`).join(", ")}).`,
    "",
    ...reports.map((r) => r.markdown.trimEnd() + "\n"),
  ].join("\n");
  return {
    command,
    startedAt,
    machine,
    quick: options.quick,
    sections: reports,
    totalSeconds,
    markdown,
  };
}

const USAGE = formatHelp({
  summary: "Run the triadapt benchmarks and print one markdown report.",
  about: ["Progress goes to stderr; <dir>/bench.md and <dir>/bench.json are written."],
  usage: ["deno task bench [flags]"],
  sections: [
    {
      title: "Flags",
      entries: [
        ["--quick", "Small shapes and few repeats only (< 2 min on 2 cores)"],
        [
          "--only <names>",
          `Comma-separated sections (repeatable): ${SECTIONS.map((s) => s.name).join(", ")}`,
        ],
        ["--backend <name>", backendHelp()],
        [
          "--jobs <n>|auto",
          "Planted runs at once, each in its own worker and wasm instance (default 1; auto = the cores here); results do not depend on it",
        ],
        ["--seeds <list>", "Seeds of the planted sections, e.g. 0,1,2 (default: 0-4; quick 0,1)"],
        [
          "--rows <ids>",
          `Rows of the planted sections (default all): ${
            PLANTED_VARIANTS.map((v) => v.id).join(", ")
          }`,
        ],
        ["--out <dir>", "Output folder (default: runs/bench-<timestamp>)"],
        HELP_ENTRY,
      ],
    },
    {
      title: "Sections",
      entries: SECTIONS.map((s) => [s.name, s.description] as const),
    },
  ],
  examples: [
    "deno task bench --quick",
    "deno task bench --only allocation --out runs/alloc",
    "deno task bench --only planted --jobs 2",
    "deno task bench --only planted-1024 --rows linear,adalora --seeds 0,1,2 --jobs 2",
  ],
  permissions: "deno run --allow-read --allow-write --allow-env bench/main.ts",
});

/** `--jobs`: a positive integer or `auto` (the cores here), as `--workers` reads it; a problem is pushed otherwise. */
function parseJobs(value: string | undefined, problems: string[]): number {
  if (value === undefined) return 1;
  try {
    return resolveWorkers(value, Number.POSITIVE_INFINITY);
  } catch {
    problems.push(
      `Cannot run bench as --jobs must be a positive integer or auto: current value is ${value}`,
    );
    return 1;
  }
}

/** A comma-separated list whose items `parse` accepts; a problem is pushed for the first bad one. */
function parseList<T>(
  value: string | undefined,
  flag: string,
  problems: string[],
  parse: (item: string) => T | undefined,
  what: string,
): T[] {
  if (value === undefined) return [];
  const items = value.split(",").map((x) => x.trim()).filter((x) => x !== "");
  const out: T[] = [];
  for (const item of items) {
    const v = parse(item);
    if (v === undefined) {
      problems.push(`Cannot run bench as ${flag} must list ${what}: current value is ${item}`);
      return [];
    }
    out.push(v);
  }
  if (items.length === 0) {
    problems.push(`Cannot run bench as ${flag} must list ${what}: current value is empty`);
  }
  return out;
}

/** Where {@linkcode main} writes. */
export interface MainIo {
  /**
   * Report text (stdout).
   *
   * @param text The text.
   */
  out(text: string): void;
  /**
   * Progress and errors (stderr).
   *
   * @param text The text.
   */
  err(text: string): void;
}

const DEFAULT_IO: MainIo = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
};

/**
 * The CLI: parses flags, runs {@linkcode runBench}, prints the markdown and writes the files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./main.ts";
 *
 * const out: string[] = [];
 * assert.equal(await main(["--help"], { out: (t) => out.push(t), err: () => {} }), 0);
 * assert.match(out.join("\n"), /--quick/);
 * assert.equal(await main(["--only", "nope"], { out: () => {}, err: () => {} }), 1);
 * ```
 *
 * @param args Command-line arguments.
 * @param io Output sinks; default stdout/stderr.
 * @returns Exit code: 0 ok, 1 bad flags, 2 a section failed.
 */
export async function main(args: readonly string[], io: MainIo = DEFAULT_IO): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: attachNegativeValues(args, ["only", "backend", "out", "jobs", "seeds", "rows"]),
      options: {
        quick: { type: "boolean", default: false },
        jobs: { type: "string" },
        seeds: { type: "string" },
        rows: { type: "string" },
        only: { type: "string", multiple: true },
        backend: { type: "string", default: "wasm" },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    io.err(errorLine(argsErrorMessage(e)));
    return 1;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const only = (values.only ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) =>
    s !== ""
  );
  const backend = values.backend as BackendName;
  const problems: string[] = [];
  if (!BACKEND_NAMES.includes(backend)) {
    problems.push(
      `Cannot run bench as --backend must be one of ${
        BACKEND_NAMES.join(", ")
      }: current value is ${backend}`,
    );
  }
  const unknown = only.filter((n) => !SECTIONS.some((s) => s.name === n));
  if (unknown.length > 0) {
    problems.push(
      `Cannot run bench as --only must name sections among ${
        SECTIONS.map((s) => s.name).join(", ")
      }: current value is ${unknown.join(",")}`,
    );
  }
  const jobs = parseJobs(values.jobs, problems);
  const seeds = parseList(
    values.seeds,
    "--seeds",
    problems,
    (x) => /^\d+$/.test(x) ? Number(x) : undefined,
    "non-negative integers",
  );
  const ids = PLANTED_VARIANTS.map((v) => v.id);
  const rows = parseList(
    values.rows,
    "--rows",
    problems,
    (x) => ids.includes(x) ? x : undefined,
    `row ids among ${ids.join(", ")}`,
  );
  if (values.out !== undefined && values.out.trim() === "") {
    problems.push("Cannot run bench as --out must be a non-empty path: current value is empty");
  }
  if (problems.length > 0) {
    // One line: the first problem (fix it, run again).
    io.err(errorLine(problems[0] as string));
    return 1;
  }
  const outDir = values.out ??
    `runs/bench-${new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d+Z$/, "Z")}`;
  const report = await runBench({
    quick: values.quick,
    only,
    backend,
    command: `deno task bench${args.length > 0 ? " " + args.join(" ") : ""}`,
    log: io.err,
    jobs,
    seeds,
    rows,
  });
  io.out(report.markdown);
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/bench.md`, report.markdown);
  // A section's `data.files` (name → text, e.g. an SVG) are written next to bench.md; bench.json
  // lists their names only.
  const files = report.sections.flatMap((s) =>
    Object.entries((s.data as { files?: Record<string, string> } | undefined)?.files ?? {})
  );
  for (const [name, text] of files) await Deno.writeTextFile(`${outDir}/${name}`, text);
  const { markdown: _markdown, ...json } = report;
  const replacer = (key: string, value: unknown): unknown =>
    key === "files" && value !== null && typeof value === "object" ? Object.keys(value) : value;
  await Deno.writeTextFile(`${outDir}/bench.json`, JSON.stringify(json, replacer, 2) + "\n");
  io.err(
    `wrote ${
      ["bench.md", "bench.json", ...files.map(([n]) => n)].map((n) => `${outDir}/${n}`).join(", ")
    }`,
  );
  return report.sections.some((s) => s.error !== undefined) ? 2 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
