/**
 * `deno task train`: a thin adapter from flags to {@linkcode runTraining}. With no arguments (or
 * none of `--task`, `--model`, `--data`, `--resume`) it runs the embedded offline demo
 * (`--task planted`, TriAdaptLoRA linear, a few hundred steps on a small DeBERTa-v3-shaped model). Exit codes: 0 success, 1 invalid input (one clear line),
 * 2 runtime failure.
 *
 * Permissions: `deno run --allow-read --allow-write --allow-env train/cli.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { initBackend } from "../ops/backend.ts";
import {
  FLAG_SPECS,
  HYPERPARAM_KEYS,
  type HyperParams,
  inFlagTerms,
  parseGivenFlags,
  parseTrainArgs,
  type TrainMethod,
  type TrainOptions,
  validateTrainOptions,
} from "./hyperparams.ts";
import { createPlantedTask, type PlantedTaskOptions } from "./planted/planted_task.ts";
import { checkModelFolder, runRealTraining } from "./real_task.ts";
import {
  isOutOfMemory,
  outOfMemoryError,
  planStepMemory,
  StepMemoryError,
  type StepMemoryRequest,
  stepMemoryRequest,
} from "./memory_plan.ts";
import { NonFiniteError } from "./loop.ts";
import {
  findResumePoint,
  readResumeConfig,
  refusedResumeFlags,
  resumeRefusal,
} from "./run_resume.ts";
import {
  type RunResult,
  type RunSettings,
  runTraining,
  totalStepsFor,
  validateSchedules,
} from "./run.ts";
import { formatSeedSummary, formatTable } from "./seed_summary.ts";
import type { ProgressWriter } from "./progress.ts";
import { parallelSettings } from "./worker_pool.ts";

/**
 * Hyper-parameters of the planted demo, used for every hyper-parameter not given explicitly
 * with `--task planted`: 512 sequences / batch 16 = 32 steps per epoch, 5 epochs = 160 steps;
 * budget r_ref·M = 4·24 = 96; allocation after step 48, every 16 steps.
 *
 * @example The demo's schedule
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_HYPERPARAMS } from "./cli.ts";
 *
 * // 512 / 16 × 5 = 160 steps; budget 4 · 24 = 96
 * assert.equal(PLANTED_HYPERPARAMS.epochs, 5);
 * assert.equal(PLANTED_HYPERPARAMS.refRank, 4);
 * ```
 */
export const PLANTED_HYPERPARAMS: Readonly<Partial<HyperParams>> = Object.freeze({
  epochs: 5,
  batchSize: 16,
  lr: 5e-3,
  warmupSteps: 10,
  weightDecay: 0,
  clipNorm: 1,
  alpha: 32,
  dropout: 0,
  orthRegWeight: 0.1,
  refRank: 4,
  initRank: 1,
  deltaRank: 1,
  initWarmup: 48,
  interval: 16,
  topH: 3,
  tinit: 32,
  tfinal: 32,
  deltaT: 4,
  adaloraInitRank: 6,
});

/**
 * Sizes of the planted demo (offline, seeded): 4 layers, hidden 64, 4 heads, seq 32, every layer matched.
 *
 * @example The demo's size
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLANTED_DEMO } from "./cli.ts";
 *
 * assert.equal(PLANTED_DEMO.layers, 4);
 * assert.equal(PLANTED_DEMO.target, "all-layers");
 * ```
 */
export const PLANTED_DEMO: Readonly<Omit<PlantedTaskOptions, "seed">> = Object.freeze({
  layers: 4,
  hidden: 64,
  heads: 4,
  intermediate: 128,
  vocab: 256,
  seqLength: 32,
  trainExamples: 512,
  evalExamples: 128,
  maxRank: 8,
  strength: 3,
  // Matching every layer's output localises the planted updates by layer; with the final
  // hidden states only, any module can stand in for any other and no allocator can find them.
  target: "all-layers",
});

/**
 * Where the CLI writes; injectable for tests.
 *
 * @example Capturing the error line
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CliIo } from "./cli.ts";
 * import { main } from "./cli.ts";
 *
 * let err = "";
 * const io: CliIo = {
 *   stdout: { writeSync: (b) => b.length },
 *   stderr: { writeSync: (b) => (err += new TextDecoder().decode(b), b.length) },
 * };
 * assert.equal(await main(["--task", "planted", "--lr", "-1"], io), 1);
 * assert.match(err, /--lr/);
 * ```
 */
export interface CliIo {
  /** Summary output (default stdout). */
  readonly stdout?: ProgressWriter;
  /** Progress and errors (default stderr). */
  readonly stderr?: ProgressWriter;
  /** Planted-task size overrides (tests use a tiny model). */
  readonly planted?: Partial<Omit<PlantedTaskOptions, "seed">>;
  /** Show the progress bar (default true). */
  readonly progress?: boolean;
}

const encoder = new TextEncoder();

function writeText(w: ProgressWriter, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
}

class InputError extends Error {}

function isPlantedArgs(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--task" && args[i + 1]?.trim().toLowerCase() === "planted") return true;
    if (a.toLowerCase() === "--task=planted") return true;
  }
  return false;
}

/**
 * No `--task`, `--model`, `--data`, `--resume` nor `--help`: the demo (`--task planted`) with the
 * flags given, e.g. `deno task train --backend webgpu --max-steps 20`.
 */
function isDemoArgs(args: readonly string[]): boolean {
  const named = ["--task", "--model", "--data", "--resume", "--help", "-h"];
  return !args.some((a) => named.some((n) => a === n || a.startsWith(`${n}=`)));
}

/** The planted task has no model or data flags: stand in for them so the schema parses. */
function plantedArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--task") {
      out.push("--task", "rte");
      i++;
    } else if (a.toLowerCase() === "--task=planted") {
      out.push("--task", "rte");
    } else out.push(a);
  }
  const has = (flag: string): boolean => out.some((a) => a === flag || a.startsWith(`${flag}=`));
  if (!has("--model")) out.push("--model", "(built-in planted base)");
  if (!has("--data")) out.push("--data", "(built-in planted data)");
  return out;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, "");
}

interface PlantedPlan {
  readonly options: TrainOptions;
  readonly planted: Omit<PlantedTaskOptions, "seed">;
  readonly out: string;
  /** Continue the run in `out` from this checkpoint (`null`: from step 0, none was written). */
  readonly resumeFrom?: string | null;
}

/** The demo's step counts, scaled down with a shorter `--max-steps` (those not given explicitly). */
const DEMO_SCHEDULE_KEYS = [
  "warmupSteps",
  "initWarmup",
  "interval",
  "tinit",
  "tfinal",
  "deltaT",
] as const;

/**
 * `--max-steps T` below the demo's 160 steps scales the demo's schedule (warm-up, allocation
 * start and interval, AdaLoRA's tinit/tfinal/ΔT, log interval) by T / 160, each at least 1, so
 * that e.g. `--max-steps 20` runs the demo's allocation pattern in 20 steps (start after step 6,
 * every 2 steps). Flags given explicitly keep their value.
 */
function scaleDemoSchedule(
  merged: Record<string, unknown>,
  explicit: readonly string[],
  args: readonly string[],
): void {
  const maxSteps = merged.maxSteps;
  const demoSteps = 160;
  if (typeof maxSteps !== "number" || maxSteps >= demoSteps) return;
  const ratio = maxSteps / demoSteps;
  const scale = (v: number) => Math.max(1, Math.round(v * ratio));
  for (const key of DEMO_SCHEDULE_KEYS) {
    const v = merged[key];
    if (!explicit.includes(key) && typeof v === "number") merged[key] = scale(v);
  }
  if (!args.some((a) => a === "--log-every" || a.startsWith("--log-every="))) {
    merged.logEvery = scale(16);
  }
}

async function planPlanted(args: readonly string[], io: CliIo): Promise<PlantedPlan | string> {
  const parsed = parseTrainArgs(plantedArgs(args));
  if ("help" in parsed) return parsed.help;
  const given = parsed.options;
  const merged: Record<string, unknown> = { ...given };
  for (const key of HYPERPARAM_KEYS) {
    const demo = PLANTED_HYPERPARAMS[key];
    if (!parsed.explicit.includes(key) && demo !== undefined) merged[key] = demo;
  }
  if (!args.some((a) => a === "--log-every" || a.startsWith("--log-every="))) merged.logEvery = 16;
  scaleDemoSchedule(merged, parsed.explicit, args);
  const options = validateTrainOptions(merged);
  const out = options.out ?? join("runs", `planted-${options.method}-${stamp()}`);
  if (options.seeds.length === 1) {
    try {
      await Deno.lstat(join(out, "config.json"));
      throw new InputError(
        `Cannot start training as --out must not hold a run already: current folder ${out} has config.json (use --resume ${out})`,
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return { options, planted: { ...PLANTED_DEMO, ...io.planted }, out };
}

/** The value of `--resume` as typed (`--resume dir` or `--resume=dir`), if any. */
function resumeDir(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--resume") return args[i + 1];
    if (a.startsWith("--resume=")) return a.slice("--resume=".length);
  }
  return undefined;
}

/** `--task planted` / `--task=planted` removed (a planted run records a stand-in task). */
function withoutPlantedTask(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--task" && args[i + 1]?.trim().toLowerCase() === "planted") i++;
    else if (a.toLowerCase() !== "--task=planted") out.push(a);
  }
  return out;
}

interface ResumePlan {
  readonly planted: boolean;
  readonly options: TrainOptions;
  readonly plantedSize?: Omit<PlantedTaskOptions, "seed">;
  readonly dir: string;
  readonly from: string | undefined;
}

/**
 * `--resume DIR [--checkpoint step-N] [flags]`: every check before anything is touched. The
 * run's config.json decides planted or real data; each other flag must repeat its recorded
 * value; the checkpoint must be intact.
 */
async function planResume(args: readonly string[], dir: string): Promise<ResumePlan | string> {
  const config = await readResumeConfig(dir);
  const path = join(dir, "config.json");
  const planted = config.task === "planted";
  if (!planted && isPlantedArgs(args)) {
    throw new InputError(
      `Cannot resume ${dir} with --task planted as it would change the run: recorded --task ${
        JSON.stringify(config.task)
      } (give --resume ${dir} alone)`,
    );
  }
  const typed = parseGivenFlags(planted ? withoutPlantedTask(args) : args);
  if ("help" in typed) return typed.help;
  const cli = config.cli;
  const recorded = typeof cli === "object" && cli !== null
    ? (cli as Record<string, unknown>).options
    : undefined;
  if (typeof recorded !== "object" || recorded === null || Array.isArray(recorded)) {
    throw new InputError(
      `Cannot resume ${dir} as ${path} must hold cli.options (a run written by deno task train): current value is ${
        recorded === undefined ? "missing" : JSON.stringify(recorded)
      }`,
    );
  }
  const refused = refusedResumeFlags(typed.given, recorded as Record<string, unknown>);
  if (refused.length > 0) {
    throw new InputError(resumeRefusal(dir, refused, recorded as Record<string, unknown>));
  }
  // Flags that cannot change the results (`resumeMayChange`) take their new value.
  const changes = Object.fromEntries(
    FLAG_SPECS.filter((spec) => spec.resumeMayChange && typed.given[spec.key] !== undefined)
      .map((spec) => [spec.key, typed.given[spec.key]]),
  );
  let options: TrainOptions;
  try {
    options = validateTrainOptions({ ...recorded, ...changes });
  } catch (error) {
    throw new InputError(
      `Cannot resume ${dir} as ${path} cli.options must be valid training options: ${
        (error as Error).message
      }`,
    );
  }
  const point = await findResumePoint(dir, typed.given.checkpoint);
  const plantedSize = (cli as { planted?: Omit<PlantedTaskOptions, "seed"> }).planted;
  if (planted && (typeof plantedSize !== "object" || plantedSize === null)) {
    throw new InputError(
      `Cannot resume ${dir} as ${path} must hold cli.planted (a planted run written by this CLI): current value is missing`,
    );
  }
  return {
    planted,
    options,
    ...(planted ? { plantedSize } : {}),
    dir,
    from: point?.dir,
  };
}

function settingsOf(options: TrainOptions, seed: number): RunSettings {
  return {
    method: options.method,
    seed,
    logEvery: options.logEvery,
    ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
    ...(options.evalEvery === undefined ? {} : { evalEvery: options.evalEvery }),
    ...(options.checkpointEvery === undefined ? {} : { checkpointEvery: options.checkpointEvery }),
    ...parallelSettings(options),
  };
}

function methodLabel(options: TrainOptions): string {
  switch (options.method) {
    case "triadapt":
      return `TriAdaptLoRA ${options.threshold}`;
    case "lora":
      return "LoRA";
    case "adalora":
      return "AdaLoRA";
    case "increlora":
      return "IncreLoRA";
  }
}

function summaryTable(
  result: RunResult,
  options: TrainOptions,
  seed: number,
  backend: string,
): string {
  const final = result.final;
  const fmt = (v: number | undefined): string => v === undefined ? "–" : v.toFixed(4);
  const rows: string[][] = [
    ["task", "planted"],
    ["method", methodLabel(options)],
    ["seed", String(seed)],
    ["backend", backend.replace(/^backend /, "")],
    ["steps", `${result.step} / ${result.totalSteps}`],
    ["held-out rel. MSE (final)", fmt(final?.value)],
    [
      "held-out rel. MSE (best)",
      result.best === undefined ? "–" : `${fmt(result.best.value)} @ ${result.best.step}`,
    ],
    ["rank Spearman vs planted", fmt(final?.all["rank_spearman"])],
    ["ranks total / budget", `${result.ranksTotal} / ${result.budget}`],
    ["allocation events", String(result.events)],
    ["time", `${result.seconds.toFixed(1)} s`],
    ["run folder", result.dir],
  ];
  return formatTable(["field", "value"], rows, { align: ["left", "left"] }) + "\n";
}

/**
 * Runs `deno task train` with the given arguments.
 *
 * @param args Command-line arguments (empty: the embedded demo).
 * @param io Output writers and test overrides.
 * @returns The exit code: 0 success, 1 invalid input, 2 runtime failure.
 *
 * @example Invalid input exits 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./cli.ts";
 *
 * const sink = { writeSync: (b: Uint8Array) => b.length };
 * assert.equal(await main(["--task", "planted", "--lr", "-1"], { stdout: sink, stderr: sink }), 1);
 * ```
 */
export async function main(args: readonly string[], io: CliIo = {}): Promise<number> {
  const stdout = io.stdout ?? Deno.stdout;
  const stderr = io.stderr ?? Deno.stderr;
  const argv = isDemoArgs(args) ? ["--task", "planted", ...args] : [...args];
  const progress = io.progress === false ? { progress: false } : {};
  let plan: PlantedPlan;
  let method: TrainMethod | undefined;
  try {
    const resume = resumeDir(argv);
    if (resume !== undefined) {
      const planned = await planResume(argv, resume);
      if (typeof planned === "string") {
        writeText(stdout, `${planned}\n`);
        return 0;
      }
      if (!planned.planted) {
        // Real data: train/real_task.ts rebuilds the task from the recorded options.
        return await runRealTraining(
          { ...planned.options, resume: planned.dir },
          { stdout, stderr, ...progress },
          planned.from === undefined ? {} : { resumeFrom: planned.from },
        );
      }
      plan = {
        options: planned.options,
        planted: planned.plantedSize as Omit<PlantedTaskOptions, "seed">,
        out: planned.dir,
        resumeFrom: planned.from ?? null,
      };
    } else if (!isPlantedArgs(argv)) {
      // Real data (GLUE task or squad2): train/real_task.ts builds the task and runs the seeds.
      const parsed = parseTrainArgs(argv);
      if ("help" in parsed) {
        writeText(stdout, `${parsed.help}\n`);
        return 0;
      }
      await checkModelFolder(parsed.options.model);
      return await runRealTraining(parsed.options, { stdout, stderr, ...progress }, {
        skipBadRows: parsed.options.skipBadRows === true,
      });
    } else {
      const planned = await planPlanted(argv, io);
      if (typeof planned === "string") {
        writeText(stdout, `${planned}\n`);
        return 0;
      }
      plan = planned;
    }
    method = plan.options.method;
    // Schedules are checked against T before anything is built.
    const steps = totalStepsFor(
      plan.planted.trainExamples ?? 512,
      plan.options,
      plan.options.maxSteps,
    );
    validateSchedules(plan.options.method, plan.options, steps);
  } catch (error) {
    const message = inFlagTerms(
      ((error as Error).message ?? String(error)).split("\n")[0] ?? "",
      method,
    );
    writeText(stderr, `error: ${message}\n`);
    return isInputError(error) ? 1 : 2;
  }
  let memoryRequest: StepMemoryRequest | undefined;
  try {
    const backend = await initBackend(plan.options.backend);
    writeText(stderr, `triadapt train: ${backend.summary}\n`);
    const results: RunResult[] = [];
    const resuming = plan.resumeFrom !== undefined;
    const seeds = resuming ? [plan.options.seed] : plan.options.seeds;
    for (const seed of seeds) {
      const dir = seeds.length > 1 ? join(plan.out, `seed-${seed}`) : plan.out;
      const task = await createPlantedTask({ ...plan.planted, seed });
      try {
        const plantedRanks = Object.fromEntries(
          task.planted.modules.map((m, i) => [m, task.planted.ranks[i] as number]),
        );
        memoryRequest = stepMemoryRequest(
          task.config,
          { ...plan.options, maxLength: task.options.seqLength },
          parallelSettings(plan.options).workers,
        );
        const memory = planStepMemory(memoryRequest);
        const result = await runTraining({
          task,
          // Only the hyper-parameters: the planted task has no model, data or GLUE task to
          // record (config.cli keeps the stand-ins the option schema needs for --resume).
          hyper: Object.fromEntries(
            HYPERPARAM_KEYS.map((k) => [k, plan.options[k]]),
          ) as unknown as HyperParams,
          settings: { ...settingsOf(plan.options, seed), recompute: memory.recompute },
          dir,
          resume: resuming,
          ...(typeof plan.resumeFrom === "string" ? { resumeFrom: plan.resumeFrom } : {}),
          log: (line) => writeText(stderr, `triadapt train: ${line}\n`),
          backend,
          configExtra: {
            cli: { options: { ...plan.options, seed, seeds: [seed] }, planted: plan.planted },
          },
          extraFiles: {
            "planted.json": {
              modules: plantedRanks,
              total: task.planted.ranks.reduce((a, b) => a + b, 0),
              seed,
            },
          },
          // The planted ranks in the same layout and colour scale as rank-heatmap.svg.
          referenceRanks: {
            file: "planted-heatmap.svg",
            title: `Planted (true) ranks: planted task, seed ${seed}`,
            ranks: plantedRanks,
          },
          methodLabel: methodLabel(plan.options),
          ...(io.progress === false ? { progress: false as const } : { progress: stderr }),
          label: `planted ${plan.options.method} seed ${seed}`,
        });
        results.push(result);
        writeText(stdout, summaryTable(result, plan.options, seed, backend.summary));
        for (const w of result.warnings) writeText(stderr, `\n${w}\n\n`);
      } finally {
        task.dispose();
      }
    }
    if (results.length > 1) {
      const table = formatSeedSummary(
        results.map((r, i) => ({
          method: methodLabel(plan.options),
          task: "planted",
          seed: seeds[i] as number,
          value: r.final?.value ?? NaN,
        })),
        { scale: 1, digits: 4 },
      );
      await Deno.writeTextFile(join(plan.out, "summary.md"), table);
      writeText(stdout, `\nHeld-out relative MSE over seeds (lower is better):\n${table}`);
    }
    return 0;
  } catch (error) {
    if (memoryRequest !== undefined && isOutOfMemory(error)) {
      writeText(stderr, `error: ${outOfMemoryError(error, memoryRequest).message}\n`);
      return 1;
    }
    writeText(stderr, `error: ${((error as Error).message ?? String(error)).split("\n")[0]}\n`);
    // A checkpoint that does not fit the run (e.g. hand-edited) and a step that cannot fit the
    // backend's memory are bad input; the rest is a runtime failure.
    return error instanceof SyntaxError || error instanceof StepMemoryError ? 1 : 2;
  }
}

/** Bad input: flags, files and folders the user named (one line, exit 1). */
function isInputError(error: unknown): boolean {
  return error instanceof InputError || error instanceof TypeError ||
    (error instanceof RangeError && !(error instanceof NonFiniteError)) ||
    error instanceof SyntaxError || error instanceof Deno.errors.NotFound;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
