/**
 * `deno task export --run <dir> --format peft|merged [--out <dir>] [--checkpoint step-N]
 * [--base-model-name <id>] [--backend wasm]`: exports a run folder's fine-tuned model (latest
 * checkpoint, i.e. a finished run's final step, or `--checkpoint`) as
 * - `peft`: `<run>/peft/` — a Hugging Face PEFT LoRA adapter (`adapter_config.json` with
 *   `rank_pattern`/`alpha_pattern`, `adapter_model.safetensors` with PEFT key names and the head in
 *   `modules_to_save`), lossless for every method (`train/peft_export.ts`);
 * - `merged`: `<run>/merged/` — a full HF model folder with the updates merged and the trained
 *   head, plus the tokenizer files (`train/merged_export.ts`).
 *
 * Permissions: `--allow-read --allow-write --allow-env`. Exit status: 0 on success, 1 on bad
 * input, 2 on a runtime failure.
 *
 * @module
 */

import { join } from "node:path";
import { formatHelp, HELP_ENTRY } from "./_cli_text.ts";
import { type CliIo, CONSOLE_IO, runRunCli } from "./_run_cli.ts";
import type { BaseCheckpoint } from "./glue_task.ts";
import { writeMergedFolder } from "./merged_export.ts";
import { writePeftFolder } from "./peft_export.ts";
import { loadTrainedRun } from "./real_task.ts";
import { backendHelp } from "../ops/backend.ts";

/**
 * Export formats.
 *
 * @example Every format needs a run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExportFormat } from "./export_cli.ts";
 * import { exportRun } from "./export_cli.ts";
 *
 * for (const format of ["peft", "merged"] satisfies ExportFormat[]) {
 *   await assert.rejects(() => exportRun("/nonexistent-run", { format }), Deno.errors.NotFound);
 * }
 * ```
 */
export type ExportFormat = "peft" | "merged";

/**
 * Options of {@linkcode exportRun}.
 *
 * @example A missing checkpoint is named
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExportRunOptions } from "./export_cli.ts";
 * import { exportRun } from "./export_cli.ts";
 *
 * const options: ExportRunOptions = { format: "merged", out: "/tmp/merged", checkpoint: "best" };
 * await assert.rejects(() => exportRun("/nonexistent-run", options), Deno.errors.NotFound);
 * ```
 */
export interface ExportRunOptions {
  /** `peft` or `merged`. */
  readonly format: ExportFormat;
  /** Output folder (default `<run>/peft` or `<run>/merged`). */
  readonly out?: string;
  /** Checkpoint to export (name under `checkpoints/`, `best`, `adapter`, or a path; default the latest). */
  readonly checkpoint?: string;
  /** PEFT `base_model_name_or_path` (default the model folder the run used), e.g. a hub id. */
  readonly baseModelName?: string;
}

/**
 * What {@linkcode exportRun} wrote.
 *
 * @example A PEFT export of a tiny RTE run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExportReport } from "./export_cli.ts";
 * import { initBackend } from "../ops/backend.ts";
 * import { exportRun } from "./export_cli.ts";
 * import { createGlueTask } from "./glue_task.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 * import { runTraining } from "./run.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { writeTinyRte } from "./tiny_data.ts";
 *
 * await initBackend("wasm");
 * const tmp = await Deno.makeTempDir();
 * const task = await createGlueTask({
 *   task: "rte", model: await writeTinyModelFolder(`${tmp}/model`), data: await writeTinyRte(`${tmp}/rte`),
 *   maxLength: 32, maxTrainExamples: 8, maxEvalExamples: 4,
 * });
 * const dir = `${await Deno.makeTempDir()}/run`;
 * await runTraining({
 *   task, hyper: { ...defaultHyperParams(), batchSize: 4, warmupSteps: 0 }, dir, progress: false,
 *   settings: { method: "lora", seed: 1, logEvery: 1, maxSteps: 2 },
 *   backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
 * });
 * const report: ExportReport = await exportRun(dir, { format: "peft" });
 * assert.equal(report.dir, `${dir}/peft`);
 * assert.equal(report.step, 2);
 * task.dispose();
 * await Deno.remove(dir, { recursive: true });
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface ExportReport {
  /** The format. */
  readonly format: ExportFormat;
  /** The folder written. */
  readonly dir: string;
  /** The checkpoint exported. */
  readonly checkpoint: string;
  /** Its optimizer step. */
  readonly step: number;
  /** Rank per module as exported (PEFT: ranks with an all-zero `lora_A` row dropped). */
  readonly ranks: Readonly<Record<string, number>>;
}

/**
 * Exports a run folder's fine-tuned model.
 *
 * @param dir The run folder.
 * @param options Format and output folder.
 * @returns What was written.
 * @throws {Deno.errors.NotFound} When the run or its checkpoint is missing.
 * @throws {TypeError} When the run's task has no Hugging Face base model (the planted task).
 *
 * @example Missing run
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportRun } from "./export_cli.ts";
 *
 * await assert.rejects(() => exportRun("/nonexistent-run", { format: "peft" }), Deno.errors.NotFound);
 * ```
 */
export async function exportRun(dir: string, options: ExportRunOptions): Promise<ExportReport> {
  if (options.format !== "peft" && options.format !== "merged") {
    throw new RangeError(
      `Cannot export as format must be "peft" or "merged": current value is ${
        JSON.stringify(options.format)
      }`,
    );
  }
  const run = await loadTrainedRun(
    dir,
    options.checkpoint === undefined ? {} : { checkpoint: options.checkpoint },
  );
  try {
    const base = (run.task as { base?: BaseCheckpoint }).base;
    const recorded = (run.task as { options?: { tokenizer?: string; model?: string } }).options;
    if (base === undefined) {
      throw new TypeError(
        `Cannot export run ${dir} as its task must fine-tune a Hugging Face model folder: current task is ${run.task.name}`,
      );
    }
    const out = options.out ?? join(dir, options.format);
    if (options.format === "peft") {
      const hyper = run.config.hyper as { dropout?: unknown } | undefined;
      const config = await writePeftFolder(out, run.model, run.adapters, {
        baseModel: options.baseModelName ?? recorded?.model ?? base.dir,
        ...(typeof hyper?.dropout === "number" ? { dropout: hyper.dropout } : {}),
      });
      return {
        format: "peft",
        dir: out,
        checkpoint: run.checkpoint,
        step: run.step,
        ranks: config.rank_pattern,
      };
    }
    await writeMergedFolder(out, run.model, run.adapters, base, {
      ...(recorded?.tokenizer === undefined ? {} : { tokenizer: recorded.tokenizer }),
    });
    return {
      format: "merged",
      dir: out,
      checkpoint: run.checkpoint,
      step: run.step,
      ranks: Object.fromEntries(run.adapters.map((a) => [a.name, a.rank])),
    };
  } finally {
    run.dispose();
  }
}

const USAGE = formatHelp({
  summary: "Export the fine-tuned model of a run folder as a PEFT adapter or a merged model.",
  about: ["Prints one JSON line (folder written, checkpoint, step, ranks)."],
  usage: ["deno task export --run <run dir> --format peft|merged [flags]"],
  sections: [{
    title: "Flags",
    entries: [
      ["--run <run dir>", "The run folder written by deno task train (required)"],
      [
        "--format <peft|merged>",
        "peft: <run>/peft/, a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors); merged: <run>/merged/, a full Hugging Face model folder with the updates merged (required)",
      ],
      ["--out <dir>", "Output folder (default: <run>/peft or <run>/merged)"],
      [
        "--checkpoint <name>",
        "step-NNNNNNNN under checkpoints/, best (best evaluation), adapter (final), or a path (default: the latest)",
      ],
      [
        "--base-model-name <id>",
        "PEFT base_model_name_or_path, e.g. a hub id (default: the run's --model folder)",
      ],
      [
        "--backend <name>",
        backendHelp(),
      ],
      HELP_ENTRY,
    ],
  }],
  examples: [
    "deno task export --run runs/rte-triadapt --format peft",
    "deno task export --run runs/rte-triadapt --format merged --checkpoint best --out merged-rte",
  ],
  permissions: "deno run --allow-read --allow-write --allow-env train/export_cli.ts",
});

/**
 * The CLI: parses flags, initialises the backend, exports, prints the report as one JSON line.
 *
 * @param args Command-line arguments.
 * @param io Where to write (default stdout/stderr).
 * @returns The exit status (0 ok, 1 bad input, 2 runtime failure).
 *
 * @example Bad flags
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./export_cli.ts";
 *
 * const quiet = { out: () => {}, err: () => {} };
 * assert.equal(await main(["--help"], quiet), 0);
 * assert.equal(await main(["--run", "x"], quiet), 1);
 * assert.equal(await main(["--run", "x", "--format", "onnx"], quiet), 1);
 * ```
 */
export function main(
  args: readonly string[],
  io: CliIo = CONSOLE_IO,
): Promise<number> {
  return runRunCli(args, io, {
    usage: USAGE,
    command: "export",
    verb: "export",
    flags: ["format", "out", "checkpoint", "base-model-name"],
    check: (values) =>
      values.format !== "peft" && values.format !== "merged"
        ? `Cannot export as --format must be peft or merged: current value is ${
          values.format ?? "missing"
        }`
        : undefined,
    act: (run, values) =>
      exportRun(run, {
        format: values.format as ExportFormat,
        ...(values.out === undefined ? {} : { out: values.out }),
        ...(values.checkpoint === undefined ? {} : { checkpoint: values.checkpoint }),
        ...(values["base-model-name"] === undefined
          ? {}
          : { baseModelName: values["base-model-name"] }),
      }),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
