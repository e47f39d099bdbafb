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

/** What {@link loadModel} read and how the checkpoint mapped onto the model. */
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

/** Options of {@link loadModel}. */
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
  /** Receives what was read, missing, ignored and initialised. */
  readonly onLoad?: (report: LoadReport) => void;
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
 * head is initialised from `options.seed`), and builds the model.
 *
 * @param dir The model folder (path or `file:` URL).
 * @param options Head, weights format, dropout rates, seed (head init and dropout), report callback.
 * @returns The model; call `dispose()` when done.
 *
 * @example The tiny golden model
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "./load_model.ts";
 *
 * const dir = new URL("../../shared/golden/deberta/tiny-a/", import.meta.url);
 * const model = await loadModel(dir, { format: "pytorch" });
 * const out = model.forward({ inputIds: [[1, 17, 42, 2]] });
 * assert.deepEqual(out.logits.shape, [1, 3]);
 * out.logits.dispose();
 * out.lastHiddenState.dispose();
 * model.dispose();
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
  options.onLoad?.({
    file,
    format,
    head,
    missing: mapped.missing,
    unexpected: mapped.unexpected,
    ignored: mapped.ignored,
    initialised: mapped.initialised,
  });
  const { format: _f, onLoad: _o, ...modelOptions } = options;
  return createDebertaModel(config, mapped.weights, { ...modelOptions, head, seed });
}
