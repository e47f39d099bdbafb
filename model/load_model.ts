/**
 * `loadModel(dir)`: a Hugging Face DeBERTa-v2/v3 folder (`config.json` + `model.safetensors` or
 * `pytorch_model.bin`) → a ready {@link DebertaModel}.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readDebertaConfig } from "./config.ts";
import type { DebertaConfig } from "./config.ts";
import { createDebertaModel, type DebertaModel } from "./deberta_v3.ts";
import type { DebertaModelOptions } from "./deberta_v3.ts";
import { parsePytorchBin } from "./pytorch_bin.ts";
import { parseSafetensors } from "./safetensors.ts";
import type { StateDict } from "./safetensors.ts";
import { mapDebertaWeights, readStateDict } from "./state_dict.ts";
import type { DebertaHead } from "./state_dict.ts";
import { ensureModelBackend } from "./_backend.ts";

/**
 * What {@link loadModel} read and how the checkpoint mapped onto the model.
 *
 * @example The report of a tiny checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LoadReport } from "./load_model.ts";
 * import { loadModel } from "./load_model.ts";
 * import { writeTinyModelFolder } from "./tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir()); // seeded random weights
 * let report: LoadReport | undefined;
 * const model = await loadModel(dir, { format: "safetensors", onLoad: (r) => (report = r) });
 * assert.equal(report?.format, "safetensors");
 * assert.equal(report?.head, "classification");
 * assert.deepEqual(report?.initialised, []);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface LoadReport {
  /** The weights file read. */
  readonly file: string;
  /** Its format. */
  readonly format: "safetensors" | "pytorch";
  /** The head the model got. */
  readonly head: DebertaHead;
  /** Head keys the checkpoint lacked. */
  readonly missing: readonly string[];
  /** Checkpoint keys the model does not use and does not know. */
  readonly unexpected: readonly string[];
  /** Checkpoint keys known to be unused (`position_ids`, MLM head, …). */
  readonly ignored: readonly string[];
  /** Head keys initialised from the seed. */
  readonly initialised: readonly string[];
}

/**
 * Options of {@link loadModel}.
 *
 * @example A seeded question-answering head on a classification checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LoadModelOptions, LoadReport } from "./load_model.ts";
 * import { loadModel } from "./load_model.ts";
 * import { writeTinyModelFolder } from "./tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir());
 * const reports: LoadReport[] = [];
 * const options: LoadModelOptions = { head: "question-answering", seed: 3, onLoad: (r) => reports.push(r) };
 * const model = await loadModel(dir, options);
 * assert.equal(model.head, "question-answering");
 * assert.deepEqual(reports[0]?.initialised, ["qa_outputs.weight", "qa_outputs.bias"]);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface LoadModelOptions extends Omit<DebertaModelOptions, "head"> {
  /**
   * Task head. Default: the checkpoint's (`qa_outputs` → question answering, a 1-row
   * `classifier` → regression, `classifier` → classification), else `"regression"` when the
   * config says so (`problem_type: "regression"` or one label) and `"classification"` with
   * `config.numLabels` labels otherwise; a missing head is initialised from `seed`.
   */
  readonly head?: DebertaHead;
  /** Which file to read; default `model.safetensors` when present, else `pytorch_model.bin`. */
  readonly format?: "safetensors" | "pytorch";
  /**
   * Receives what was read, missing, ignored and initialised. Default: when head weights were
   * initialised or checkpoint keys are unexpected, one `console.warn` line
   * ({@link formatLoadReport}), as `transformers` warns; pass `() => {}` to silence it.
   */
  readonly onLoad?: (report: LoadReport) => void;
}

/**
 * One line saying what a load initialised, ignored or did not recognise (the warning
 * {@link loadModel} prints by default).
 *
 * @param report What {@link loadModel} reported.
 * @returns A single line naming the file, the head and the keys.
 *
 * @example A base checkpoint loaded for classification
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLoadReport } from "./load_model.ts";
 *
 * const line = formatLoadReport({
 *   file: "deberta-v3-base/pytorch_model.bin", format: "pytorch", head: "classification",
 *   missing: ["classifier.weight", "classifier.bias"], unexpected: [],
 *   ignored: ["lm_predictions.lm_head.bias"],
 *   initialised: ["classifier.weight", "classifier.bias"],
 * });
 * assert.match(line, /newly initialised from the seed: classifier\.weight, classifier\.bias/);
 * assert.match(line, /1 known-unused key ignored/);
 * ```
 */
export function formatLoadReport(report: LoadReport): string {
  const parts = [`${report.file} (${report.format}) → ${report.head} model`];
  if (report.initialised.length > 0) {
    parts.push(`newly initialised from the seed: ${report.initialised.join(", ")}`);
  }
  if (report.unexpected.length > 0) {
    const shown = report.unexpected.slice(0, 8).join(", ");
    parts.push(
      `${report.unexpected.length} unexpected key(s) not used: ${shown}${
        report.unexpected.length > 8 ? ", …" : ""
      }`,
    );
  }
  if (report.ignored.length > 0) {
    parts.push(
      `${report.ignored.length} known-unused key${report.ignored.length === 1 ? "" : "s"} ignored`,
    );
  }
  return parts.join("; ");
}

function warnIfNotClean(report: LoadReport): void {
  if (report.initialised.length > 0 || report.unexpected.length > 0) {
    console.warn(`triadapt loadModel: ${formatLoadReport(report)}`);
  }
}

function inferCheckpointHead(stateDict: StateDict, config: DebertaConfig): DebertaHead {
  if (stateDict.has("qa_outputs.weight")) return "question-answering";
  const classifier = stateDict.get("classifier.weight");
  if (classifier !== undefined) return classifier.shape[0] === 1 ? "regression" : "classification";
  return config.problemType === "regression" || config.numLabels === 1
    ? "regression"
    : "classification";
}

/**
 * Loads a DeBERTa-v2/v3 model folder: reads `config.json`, the weights (safetensors or torch
 * `.bin`), maps them strictly (`mapDebertaWeights`: missing base weights are an error; a missing
 * head is initialised from `options.seed` and, unless `onLoad` is given, a warning says so), and
 * builds the model. When no TensorFlow.js backend is active it initialises the default one
 * (`wasm`), so no `initBackend()` call is needed first.
 *
 * @param dir The model folder (path or `file:` URL).
 * @param options Head, weights format, dropout rates, seed (head init and dropout), report callback.
 * @returns The model; call `dispose()` when done.
 *
 * @example A tiny checkpoint written from a seed
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "./load_model.ts";
 * import { writeTinyModelFolder } from "./tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir(), { numLabels: 3 });
 * const model = await loadModel(dir);
 * const out = model.forward({ inputIds: [[1, 17, 42, 2]] });
 * assert.deepEqual(out.logits.shape, [1, 3]);
 * out.logits.dispose();
 * out.lastHiddenState.dispose();
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadModel(
  dir: string | URL,
  options: LoadModelOptions = {},
): Promise<DebertaModel> {
  const path = dir instanceof URL ? fileURLToPath(dir) : dir;
  const config = await readDebertaConfig(join(path, "config.json"));
  let stateDict: StateDict;
  let file: string;
  let format: "safetensors" | "pytorch";
  if (options.format === undefined) {
    ({ stateDict, file, format } = await readStateDict(path));
  } else {
    format = options.format;
    file = join(path, format === "safetensors" ? "model.safetensors" : "pytorch_model.bin");
    const bytes = await Deno.readFile(file);
    stateDict = format === "safetensors"
      ? parseSafetensors(bytes, file)
      : parsePytorchBin(bytes, file);
  }
  const head = options.head ?? inferCheckpointHead(stateDict, config);
  const seed = options.seed ?? 0;
  const mapped = mapDebertaWeights(stateDict, config, { head, seed, source: file });
  (options.onLoad ?? warnIfNotClean)({
    file,
    format,
    head,
    missing: mapped.missing,
    unexpected: mapped.unexpected,
    ignored: mapped.ignored,
    initialised: mapped.initialised,
  });
  const { format: _f, onLoad: _o, ...modelOptions } = options;
  // Async already, so it readies the default backend itself (wasm) when none is active.
  await ensureModelBackend();
  return createDebertaModel(config, mapped.weights, { ...modelOptions, head, seed });
}
