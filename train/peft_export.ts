/**
 * The `peft/` folder of a run: a Hugging Face PEFT LoRA adapter (docs/METHOD.md §14) that plain
 * `PeftModel.from_pretrained` loads. TriAdaptLoRA, AdaLoRA and IncreLoRA adapters are exported
 * losslessly as LoRA: `lora_A = A`, `lora_B = B·D·s(r)` (`ops/merge.ts` `exportPeft`), with
 * `rank_pattern[m] = alpha_pattern[m] = r_m` so PEFT's scaling is 1.
 *
 * Files, following PEFT's own `save_pretrained`:
 * - `adapter_model.safetensors`: `base_model.model.<module>.lora_A.weight [r,in]`,
 *   `base_model.model.<module>.lora_B.weight [out,r]`, and the head (PEFT `modules_to_save`) as
 *   `base_model.model.<name>.weight|bias`: PEFT's `get_peft_model_state_dict` strips
 *   `modules_to_save.<adapter>` from the saved keys (`ModulesToSaveWrapper.adapter_state_dict`),
 *   so the saved name is the plain module name (`base_model.model.classifier.weight`).
 * - `adapter_config.json`: `peft_type: "LORA"`, `task_type`, `target_modules` (full module names),
 *   `rank_pattern`, `alpha_pattern`, `modules_to_save` (`classifier` and `pooler`, or
 *   `qa_outputs`), `r`/`lora_alpha` (the largest rank; every module is in the patterns).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { DebertaModel } from "../model/deberta_v3.ts";
import { parseSafetensors, type RawTensor, writeSafetensors } from "../model/safetensors.ts";
import type { DebertaHead } from "../model/state_dict.ts";
import type { Adapter } from "../ops/adapter.ts";
import { type LoraAdapter, loraFromPeft } from "../ops/lora.ts";
import { ensureDefaultBackend } from "../ops/_ready.ts";
import { exportPeft } from "../ops/merge.ts";
import { writeFileAtomic, writeJsonAtomic } from "./atomic_write.ts";
import { loadBaseCheckpoint } from "./glue_task.ts";

/**
 * Key prefix of every tensor PEFT saves for a `PeftModel` around a transformers model.
 *
 * @example A PEFT key
 * ```ts
 * import assert from "node:assert/strict";
 * import { PEFT_PREFIX } from "./peft_export.ts";
 *
 * assert.equal(`${PEFT_PREFIX}classifier.weight`, "base_model.model.classifier.weight");
 * ```
 */
export const PEFT_PREFIX = "base_model.model.";

/**
 * `adapter_config.json` of a PEFT LoRA adapter (the fields we write).
 *
 * @example The config of a one-module export
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { PeftLoraConfig } from "./peft_export.ts";
 * import type { DebertaModel } from "../model/deberta_v3.ts";
 * import { loraFromPeft } from "../ops/lora.ts";
 * import { writePeftFolder } from "./peft_export.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ad = loraFromPeft("enc.q", tf.tensor2d([[1, 0]]), tf.tensor2d([[2]]));
 * const model = { head: "none", namedTrainableVariables: () => new Map() } as unknown as DebertaModel;
 * const config: PeftLoraConfig = await writePeftFolder(dir, model, [ad], { baseModel: "m" });
 * assert.equal(config.peft_type, "LORA");
 * assert.equal(config.task_type, null);
 * assert.deepEqual(config.target_modules, ["enc.q"]);
 * ad.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface PeftLoraConfig {
  /** Always `"LORA"`. */
  readonly peft_type: "LORA";
  /** `SEQ_CLS` (GLUE) or `QUESTION_ANS` (SQuAD); `null` for a bare encoder. */
  readonly task_type: "SEQ_CLS" | "QUESTION_ANS" | null;
  /** The base model folder or hub id. */
  readonly base_model_name_or_path: string;
  /** Always `null`. */
  readonly revision: null;
  /** Always `true`. */
  readonly inference_mode: boolean;
  /** Default rank (the largest; every module is listed in `rank_pattern`). */
  readonly r: number;
  /** Default alpha (= `r`). */
  readonly lora_alpha: number;
  /** Adapter dropout used in training. */
  readonly lora_dropout: number;
  /** Full module names of every adapted linear. */
  readonly target_modules: readonly string[];
  /** Module → rank. */
  readonly rank_pattern: Readonly<Record<string, number>>;
  /** Module → alpha (= rank: scaling 1). */
  readonly alpha_pattern: Readonly<Record<string, number>>;
  /** Head modules trained in full. */
  readonly modules_to_save: readonly string[] | null;
  /** Always `"none"`. */
  readonly bias: "none";
  /** Always `false`. */
  readonly fan_in_fan_out: boolean;
  /** Always `true`. */
  readonly init_lora_weights: boolean;
  /** Always `false`. */
  readonly use_rslora: boolean;
  /** Always `null`. */
  readonly layers_to_transform: null;
  /** Always `null`. */
  readonly layers_pattern: null;
}

/**
 * Options of {@linkcode writePeftFolder}.
 *
 * @example Base model and dropout are recorded
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { WritePeftOptions } from "./peft_export.ts";
 * import type { DebertaModel } from "../model/deberta_v3.ts";
 * import { loraFromPeft } from "../ops/lora.ts";
 * import { writePeftFolder } from "./peft_export.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ad = loraFromPeft("enc.q", tf.tensor2d([[1, 0]]), tf.tensor2d([[2]]));
 * const model = { head: "none", namedTrainableVariables: () => new Map() } as unknown as DebertaModel;
 * const options: WritePeftOptions = { baseModel: "models/deberta-v3-base", dropout: 0.1 };
 * const config = await writePeftFolder(dir, model, [ad], options);
 * assert.equal(config.base_model_name_or_path, "models/deberta-v3-base");
 * assert.equal(config.lora_dropout, 0.1);
 * ad.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface WritePeftOptions {
  /** `base_model_name_or_path` (the model folder the run fine-tuned). */
  readonly baseModel: string;
  /** Adapter dropout used in training (recorded as `lora_dropout`; default 0). */
  readonly dropout?: number;
}

/**
 * The PEFT `modules_to_save` of a DeBERTa head.
 *
 * @param head The head.
 * @returns Module names (`classifier`, `pooler`; `qa_outputs`; none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peftModulesToSave } from "./peft_export.ts";
 *
 * assert.deepEqual(peftModulesToSave("classification"), ["classifier", "pooler"]);
 * assert.deepEqual(peftModulesToSave("question-answering"), ["qa_outputs"]);
 * ```
 */
export function peftModulesToSave(head: DebertaHead): string[] {
  if (head === "classification" || head === "regression") return ["classifier", "pooler"];
  if (head === "question-answering") return ["qa_outputs"];
  return [];
}

function taskTypeOf(head: DebertaHead): PeftLoraConfig["task_type"] {
  if (head === "question-answering") return "QUESTION_ANS";
  if (head === "none") return null;
  return "SEQ_CLS";
}

/**
 * Writes a PEFT LoRA folder (`adapter_model.safetensors` + `adapter_config.json`) for trained
 * adapters and the model's trained head.
 *
 * @param dir Folder to write (created).
 * @param model The fine-tuned model (its head variables are saved as `modules_to_save`).
 * @param adapters The trained adapters, module order.
 * @param options Base model path, dropout.
 * @returns The config written.
 *
 * @example A one-module export
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { loraFromPeft } from "../ops/lora.ts";
 * import { writePeftFolder } from "./peft_export.ts";
 * import type { DebertaModel } from "../model/deberta_v3.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ad = loraFromPeft("enc.q", tf.tensor2d([[1, 0]]), tf.tensor2d([[2]]));
 * const model = { head: "none", namedTrainableVariables: () => new Map() } as unknown as DebertaModel;
 * const config = await writePeftFolder(dir, model, [ad], { baseModel: "m" });
 * assert.deepEqual(config.rank_pattern, { "enc.q": 1 });
 * ad.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writePeftFolder(
  dir: string,
  model: DebertaModel,
  adapters: readonly Adapter[],
  options: WritePeftOptions,
): Promise<PeftLoraConfig> {
  await Deno.mkdir(dir, { recursive: true });
  const exported = await exportPeft(adapters);
  const tensors = new Map<string, RawTensor>();
  for (const [key, t] of Object.entries(exported.tensors)) {
    tensors.set(key, { shape: [...t.shape], dtype: "F32", data: t.data });
  }
  for (const [name, v] of model.namedTrainableVariables()) {
    const data = new Float32Array(await v.data());
    tensors.set(`${PEFT_PREFIX}${name}`, { shape: [...v.shape], dtype: "F32", data });
  }
  const ranks = Object.values(exported.rankPattern);
  const r = ranks.length === 0 ? 1 : Math.max(...ranks);
  const modulesToSave = peftModulesToSave(model.head);
  const config: PeftLoraConfig = {
    peft_type: "LORA",
    task_type: taskTypeOf(model.head),
    base_model_name_or_path: options.baseModel,
    revision: null,
    inference_mode: true,
    r,
    lora_alpha: r,
    lora_dropout: options.dropout ?? 0,
    target_modules: adapters.map((a) => a.name),
    rank_pattern: exported.rankPattern,
    alpha_pattern: exported.alphaPattern,
    modules_to_save: modulesToSave.length === 0 ? null : modulesToSave,
    bias: "none",
    fan_in_fan_out: false,
    init_lora_weights: true,
    use_rslora: false,
    layers_to_transform: null,
    layers_pattern: null,
  };
  await writeFileAtomic(
    join(dir, "adapter_model.safetensors"),
    writeSafetensors(tensors, { format: "pt" }),
  );
  await writeJsonAtomic(join(dir, "adapter_config.json"), config);
  return config;
}

/**
 * What {@linkcode loadPeftFolder} returns.
 *
 * @example Loading an export of the tiny model
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { LoadedPeft } from "./peft_export.ts";
 * import { loraFromPeft } from "../ops/lora.ts";
 * import { loadBaseCheckpoint } from "./glue_task.ts";
 * import { loadPeftFolder, writePeftFolder } from "./peft_export.ts";
 * import { writeTinyModelFolder } from "../model/tiny_model.ts";
 *
 * const baseDir = await writeTinyModelFolder(await Deno.makeTempDir()); // seeded random weights
 * const base = await loadBaseCheckpoint(baseDir, "classification", ["a", "b"]);
 * const model = base.build(1);
 * const m = model.adaptableModules()[0]!;
 * const ad = loraFromPeft(m.name, tf.zeros([1, m.inFeatures]), tf.zeros([m.outFeatures, 1]));
 * const dir = await Deno.makeTempDir();
 * await writePeftFolder(dir, model, [ad], { baseModel: baseDir });
 * const loaded: LoadedPeft = await loadPeftFolder(dir);
 * assert.deepEqual(loaded.adapters.map((a) => a.name), [m.name]);
 * assert.equal(loaded.config.task_type, "SEQ_CLS");
 * loaded.dispose();
 * ad.dispose();
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * await Deno.remove(baseDir, { recursive: true });
 * ```
 */
export interface LoadedPeft {
  /** The base model with the saved head and plain LoRA adapters attached. */
  readonly model: DebertaModel;
  /** The adapters, in `target_modules` order. */
  readonly adapters: readonly LoraAdapter[];
  /** The folder's config. */
  readonly config: PeftLoraConfig;
  /** Disposes the adapters and the model. */
  dispose(): void;
}

function headOf(tensors: ReadonlyMap<string, RawTensor>): { head: DebertaHead; labels: string[] } {
  if (tensors.has(`${PEFT_PREFIX}qa_outputs.weight`)) {
    return { head: "question-answering", labels: [] };
  }
  const classifier = tensors.get(`${PEFT_PREFIX}classifier.weight`);
  if (classifier === undefined) return { head: "none", labels: [] };
  const n = classifier.shape[0] as number;
  if (n === 1) return { head: "regression", labels: [] };
  return { head: "classification", labels: Array.from({ length: n }, (_, i) => `LABEL_${i}`) };
}

/**
 * Loads a PEFT LoRA folder the way PEFT does: the base model, the saved `modules_to_save` head,
 * and one plain LoRA adapter per target module with `ΔW = lora_B·lora_A·(alpha/r)` (or
 * `alpha/√r` with `use_rslora`). Used to check that an export reproduces the trained model.
 *
 * @param dir The PEFT folder.
 * @param options `baseModel`: the model folder (default `base_model_name_or_path`).
 * @returns Model and adapters (call `dispose()`).
 * @throws {SyntaxError} When the folder is not a PEFT LoRA adapter or a tensor is missing.
 *
 * @example Missing folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPeftFolder } from "./peft_export.ts";
 *
 * await assert.rejects(() => loadPeftFolder("/nonexistent-peft-folder"));
 * ```
 */
export async function loadPeftFolder(
  dir: string,
  options: { readonly baseModel?: string } = {},
): Promise<LoadedPeft> {
  const configPath = join(dir, "adapter_config.json");
  const config = JSON.parse(await Deno.readTextFile(configPath)) as PeftLoraConfig;
  if (config.peft_type !== "LORA" || !Array.isArray(config.target_modules)) {
    throw new SyntaxError(
      `Cannot load ${configPath} as peft_type must be "LORA" with a target_modules list: current value is ${
        JSON.stringify(config.peft_type)
      }`,
    );
  }
  const file = join(dir, "adapter_model.safetensors");
  const tensors = parseSafetensors(await Deno.readFile(file), file);
  await ensureDefaultBackend();
  const { head, labels } = headOf(tensors);
  const base = await loadBaseCheckpoint(
    options.baseModel ?? config.base_model_name_or_path,
    head,
    labels,
  );
  const overrides = new Map<string, RawTensor>();
  for (const [key, t] of tensors) {
    if (!key.startsWith(PEFT_PREFIX) || key.includes(".lora_")) continue;
    overrides.set(key.slice(PEFT_PREFIX.length), t);
  }
  const model = base.build(0, { modelDropout: false, overrides });
  const adapters: LoraAdapter[] = [];
  try {
    for (const name of config.target_modules) {
      const get = (which: "A" | "B"): RawTensor => {
        const key = `${PEFT_PREFIX}${name}.lora_${which}.weight`;
        const t = tensors.get(key);
        if (t === undefined || t.shape.length !== 2 || !(t.data instanceof Float32Array)) {
          throw new SyntaxError(
            `Cannot load ${file} as ${key} must be a 2-D float tensor: current value is ${
              t === undefined ? "missing" : `[${t.shape}] ${t.dtype}`
            }`,
          );
        }
        return t;
      };
      const a = get("A");
      const b = get("B");
      const r = a.shape[0] as number;
      const alpha = config.alpha_pattern?.[name] ?? config.lora_alpha;
      const scaling = config.use_rslora ? alpha / Math.sqrt(r) : alpha / r;
      const ta = tf.tensor2d(a.data, [a.shape[0] as number, a.shape[1] as number]);
      const tb = tf.tidy(() =>
        tf.tensor2d(b.data, [b.shape[0] as number, b.shape[1] as number]).mul(scaling)
      ) as tf.Tensor2D;
      let ad: LoraAdapter;
      try {
        ad = loraFromPeft(name, ta, tb);
      } finally {
        ta.dispose();
        tb.dispose();
      }
      adapters.push(ad);
      model.setAdapter(name, ad);
    }
  } catch (error) {
    for (const ad of adapters) ad.dispose();
    model.dispose();
    throw error;
  }
  return {
    model,
    adapters,
    config,
    dispose(): void {
      for (const ad of adapters) model.setAdapter(ad.name, undefined);
      for (const ad of adapters) ad.dispose();
      model.dispose();
    },
  };
}
