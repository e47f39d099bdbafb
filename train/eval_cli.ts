/**
 * `deno task eval --run <dir> [--split dev] [--checkpoint step-N] [--backend wasm]`: re-evaluates
 * a run folder's fine-tuned model (latest checkpoint, i.e. a finished run's final step, or
 * `--checkpoint`) on the task's
 * evaluation split, prints the metrics as one JSON line on stdout and writes them to
 * `<run>/eval-<split>.json`.
 *
 * Permissions: `--allow-read --allow-write --allow-env` (read the run, model and data; write the
 * result). Exit status: 0 on success, 1 on bad input (flags, missing run, unreadable data), 2 on
 * a runtime failure.
 *
 * @module
 */

import { join } from "node:path";
import { formatHelp, HELP_ENTRY } from "./_cli_text.ts";
import { type CliIo, CONSOLE_IO, runRunCli } from "./_run_cli.ts";
import { writeJsonAtomic } from "./atomic_write.ts";
import { loadTrainedRun } from "./real_task.ts";
import { backendHelp } from "../ops/backend.ts";

/**
 * What `deno task eval` reports (the JSON line it prints).
 *
 * @example Re-evaluating a tiny planted run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EvalReport } from "./eval_cli.ts";
 * import { initBackend } from "../ops/backend.ts";
 * import { evaluateRun } from "./eval_cli.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 * import { runTraining } from "./run.ts";
 *
 * await initBackend("wasm");
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * const dir = `${await Deno.makeTempDir()}/run`;
 * await runTraining({
 *   task, hyper: { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0, refRank: 2 }, dir, progress: false,
 *   settings: { method: "lora", seed: 1, logEvery: 1, maxSteps: 2 },
 *   backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
 * });
 * const report: EvalReport = await evaluateRun(dir);
 * assert.equal(report.step, 2);
 * assert.equal(report.all[report.metric], report.value);
 * task.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface EvalReport {
  /** The run folder. */
  readonly run: string;
  /** The checkpoint evaluated. */
  readonly checkpoint: string;
  /** Its optimizer step. */
  readonly step: number;
  /** The split (GLUE name; SQuAD: the evaluation file's split, `dev`). */
  readonly split: string;
  /** Task name. */
  readonly task: string;
  /** Main metric name. */
  readonly metric: string;
  /** Main metric value. */
  readonly value: number;
  /** Every metric computed. */
  readonly all: Readonly<Record<string, number>>;
}

/**
 * Options of {@linkcode evaluateRun}.
 *
 * @example Evaluating a named checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EvaluateRunOptions } from "./eval_cli.ts";
 * import { initBackend } from "../ops/backend.ts";
 * import { evaluateRun } from "./eval_cli.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { createPlantedTask } from "./planted/planted_task.ts";
 * import { runTraining } from "./run.ts";
 *
 * await initBackend("wasm");
 * const task = await createPlantedTask({
 *   seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2,
 * });
 * const dir = `${await Deno.makeTempDir()}/run`;
 * await runTraining({
 *   task, hyper: { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0, refRank: 2 }, dir, progress: false,
 *   settings: { method: "lora", seed: 1, logEvery: 1, maxSteps: 2 },
 *   backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
 * });
 * const options: EvaluateRunOptions = { split: "dev", checkpoint: "step-00000002" };
 * const report = await evaluateRun(dir, options);
 * assert.ok(report.checkpoint.endsWith("step-00000002"));
 * assert.ok((await Deno.stat(`${dir}/eval-dev.json`)).isFile);
 * task.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface EvaluateRunOptions {
  /** Evaluation split (default `dev`; MNLI `dev_matched`). */
  readonly split?: string;
  /** Checkpoint to evaluate (name under `checkpoints/`, `best`, `adapter`, or a path; default the latest). */
  readonly checkpoint?: string;
}

/**
 * Evaluates a run folder's fine-tuned model and writes `<run>/eval-<split>.json`.
 *
 * @param dir The run folder.
 * @param options The split.
 * @returns The report.
 * @throws {Deno.errors.NotFound} When the run or its checkpoint is missing.
 *
 * @example Missing run
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateRun } from "./eval_cli.ts";
 *
 * await assert.rejects(() => evaluateRun("/nonexistent-run"), Deno.errors.NotFound);
 * ```
 */
export async function evaluateRun(
  dir: string,
  options: EvaluateRunOptions = {},
): Promise<EvalReport> {
  const run = await loadTrainedRun(dir, options);
  try {
    const ev = await run.task.evaluate(run.model, { ranks: run.ranks });
    const info = run.config.taskInfo as Record<string, unknown> | undefined;
    const split = options.split ??
      (typeof info?.evalSplit === "string" ? info.evalSplit : "dev");
    const report: EvalReport = {
      run: dir,
      checkpoint: run.checkpoint,
      step: run.step,
      split,
      task: run.task.name,
      metric: ev.metric,
      value: ev.value,
      all: ev.all,
    };
    await writeJsonAtomic(join(dir, `eval-${split.replace(/[^A-Za-z0-9_-]/g, "_")}.json`), report);
    return report;
  } finally {
    run.dispose();
  }
}

const USAGE = formatHelp({
  summary: "Re-evaluate the fine-tuned model of a run folder on its task's evaluation split.",
  about: [
    "Prints one JSON line (metric, value, step, checkpoint) and writes <run>/eval-<split>.json.",
  ],
  usage: ["deno task eval --run <run dir> [flags]"],
  sections: [{
    title: "Flags",
    entries: [
      ["--run <run dir>", "The run folder written by deno task train (required)"],
      ["--split <name>", "Evaluation split (default: the task's, dev; MNLI dev_matched)"],
      [
        "--checkpoint <name>",
        "step-NNNNNNNN under checkpoints/, best (best evaluation), adapter (final), or a path (default: the latest)",
      ],
      [
        "--backend <name>",
        backendHelp(),
      ],
      HELP_ENTRY,
    ],
  }],
  examples: [
    "deno task eval --run runs/rte-triadapt --split dev",
    "deno task eval --run runs/rte-triadapt --checkpoint best",
  ],
  permissions: "deno run --allow-read --allow-write --allow-env train/eval_cli.ts",
});

/**
 * The CLI: parses flags, initialises the backend, evaluates, prints the report.
 *
 * @param args Command-line arguments.
 * @param io Where to write (default stdout/stderr).
 * @returns The exit status (0 ok, 1 bad input, 2 runtime failure).
 *
 * @example Help and bad flags
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./eval_cli.ts";
 *
 * const quiet = { out: () => {}, err: () => {} };
 * assert.equal(await main(["--help"], quiet), 0);
 * assert.equal(await main([], quiet), 1);
 * assert.equal(await main(["--run", "x", "--nope"], quiet), 1);
 * ```
 */
export function main(
  args: readonly string[],
  io: CliIo = CONSOLE_IO,
): Promise<number> {
  return runRunCli(args, io, {
    usage: USAGE,
    command: "eval",
    verb: "evaluate",
    flags: ["split", "checkpoint"],
    act: (run, values) =>
      evaluateRun(run, {
        ...(values.split === undefined ? {} : { split: values.split }),
        ...(values.checkpoint === undefined ? {} : { checkpoint: values.checkpoint }),
      }),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
