/**
 * The `merged/` folder of a run: a full Hugging Face model folder with every adapter merged into
 * its frozen weight (`W = W0 + ΔW`, `ops/merge.ts` `mergeAdapter`) and the trained head, so
 * `loadModel` (or transformers' `from_pretrained`) needs no adapter code. Files: `config.json`
 * (the base config re-labelled for the task: `num_labels`, `id2label`, `problem_type`,
 * `architectures`), `model.safetensors` (HF names, float32, metadata `format: pt`) and the
 * tokenizer files found next to the base model (or the tokenizer the run used).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { basename, extname, join } from "node:path";
import type { DebertaModel } from "../model/deberta_v3.ts";
import { type RawTensor, writeSafetensors } from "../model/safetensors.ts";
import { mapDebertaWeights } from "../model/state_dict.ts";
import type { Adapter } from "../ops/adapter.ts";
import { mergeAdapter } from "../ops/merge.ts";
import { writeFileAtomic, writeJsonAtomic } from "./atomic_write.ts";
import type { BaseCheckpoint } from "./glue_task.ts";

/**
 * Tokenizer files copied from a model folder when present.
 *
 * @example The DeBERTa-v3 tokenizer file is among them
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOKENIZER_FILES } from "./merged_export.ts";
 *
 * assert.ok(TOKENIZER_FILES.includes("spm.model"));
 * ```
 */
export const TOKENIZER_FILES: readonly string[] = Object.freeze([
  "spm.model",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "tokenizer.json",
]);

/**
 * Options of {@linkcode writeMergedFolder}.
 *
 * @example Copying a `.model` tokenizer as `spm.model`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WriteMergedOptions } from "./merged_export.ts";
 * import { loadBaseCheckpoint } from "./glue_task.ts";
 * import { writeMergedFolder } from "./merged_export.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 * import { tinySpmModel } from "../model/_spm_tiny.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const base = await loadBaseCheckpoint(await writeTinyModelFolder(`${tmp}/base`), "classification", ["a", "b"]);
 * const model = base.build(1);
 * await Deno.writeFile(`${tmp}/tiny.model`, tinySpmModel());
 * const options: WriteMergedOptions = { tokenizer: `${tmp}/tiny.model` };
 * assert.ok((await writeMergedFolder(`${tmp}/out`, model, [], base, options)).files.includes("spm.model"));
 * model.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface WriteMergedOptions {
  /**
   * Tokenizer folder or `.model` file to copy (a `.model` file is copied as `spm.model`);
   * default the base model folder.
   */
  readonly tokenizer?: string;
}

/**
 * What {@linkcode writeMergedFolder} wrote.
 *
 * @example Nothing merged without adapters
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MergedFolder } from "./merged_export.ts";
 * import { loadBaseCheckpoint } from "./glue_task.ts";
 * import { writeMergedFolder } from "./merged_export.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const base = await loadBaseCheckpoint(await writeTinyModelFolder(`${tmp}/base`), "classification", ["a", "b"]);
 * const model = base.build(1);
 * const dir = `${tmp}/out`;
 * const out: MergedFolder = await writeMergedFolder(dir, model, [], base);
 * assert.equal(out.dir, dir);
 * assert.deepEqual(out.merged, []);
 * assert.ok(out.files.includes("config.json"));
 * model.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export interface MergedFolder {
  /** The folder. */
  readonly dir: string;
  /** Files written, by name. */
  readonly files: readonly string[];
  /** Modules whose weight was merged. */
  readonly merged: readonly string[];
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function copyTokenizer(from: string, dir: string): Promise<string[]> {
  const copied: string[] = [];
  if (await isDirectory(from)) {
    for (const name of TOKENIZER_FILES) {
      try {
        await writeFileAtomic(join(dir, name), await Deno.readFile(join(from, name)));
        copied.push(name);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  } else if (extname(from) === ".model") {
    await writeFileAtomic(join(dir, "spm.model"), await Deno.readFile(from));
    copied.push("spm.model");
  } else {
    throw new TypeError(
      `Cannot copy tokenizer as it must be a folder or a .model file: current value is ${
        basename(from)
      }`,
    );
  }
  return copied;
}

/**
 * Writes a merged Hugging Face model folder from a fine-tuned model: base weights from the
 * checkpoint, every adapted linear replaced by `W0 + ΔW`, the head from the model's trained
 * variables.
 *
 * @param dir Folder to write (created).
 * @param model The fine-tuned model (adapters attached, base weights never merged in place).
 * @param adapters The adapters, module order.
 * @param base The base checkpoint the model was built from.
 * @param options Tokenizer to copy.
 * @returns What was written.
 *
 * @example Merging a zero adapter reproduces the base model
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadBaseCheckpoint } from "./glue_task.ts";
 * import { writeMergedFolder } from "./merged_export.ts";
 * import { loadModel } from "../model/load_model.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const base = await loadBaseCheckpoint(await writeTinyModelFolder(`${tmp}/base`), "classification", ["a", "b"]);
 * const model = base.build(1, { modelDropout: false });
 * const dir = `${tmp}/out`;
 * const out = await writeMergedFolder(dir, model, [], base);
 * assert.ok(out.files.includes("model.safetensors"));
 * const again = await loadModel(dir);
 * assert.equal(again.numLabels, 2);
 * again.dispose();
 * model.dispose();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function writeMergedFolder(
  dir: string,
  model: DebertaModel,
  adapters: readonly Adapter[],
  base: BaseCheckpoint,
  options: WriteMergedOptions = {},
): Promise<MergedFolder> {
  await Deno.mkdir(dir, { recursive: true });
  const mapped = mapDebertaWeights(base.stateDict, base.config, {
    head: base.head,
    seed: 0,
    source: base.file,
  });
  const weights = new Map<string, RawTensor>(mapped.weights);
  const merged: string[] = [];
  for (const adapter of adapters) {
    const key = `${adapter.name}.weight`;
    if (!weights.has(key)) {
      throw new TypeError(
        `Cannot merge adapter ${adapter.name} as ${key} must be a weight of the base model: current checkpoint has none`,
      );
    }
    const w = tf.tidy(() => {
      const w0 = model.baseWeight(adapter.name);
      return mergeAdapter(w0, adapter);
    });
    const data = new Float32Array(await w.data());
    weights.set(key, { shape: [...w.shape], dtype: "F32", data });
    w.dispose();
    merged.push(adapter.name);
  }
  for (const [name, v] of model.namedTrainableVariables()) {
    weights.set(name, {
      shape: [...v.shape],
      dtype: "F32",
      data: new Float32Array(await v.data()),
    });
  }
  await writeFileAtomic(
    join(dir, "model.safetensors"),
    writeSafetensors(weights, { format: "pt" }),
  );
  await writeJsonAtomic(join(dir, "config.json"), base.rawConfig);
  const copied = await copyTokenizer(options.tokenizer ?? base.dir, dir);
  return { dir, files: ["config.json", "model.safetensors", ...copied], merged };
}
