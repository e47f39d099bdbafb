/**
 * Choosing a checkpoint file in a Hugging Face model folder, and mapping its tensors onto the
 * weights a DeBERTa-v2/v3 model of a given config needs (the strict loader of nanoGPT's
 * `from_pretrained`): every expected key must be present with the expected shape, known-unused
 * keys are ignored and reported, anything else is reported as unexpected, and a missing task head
 * is initialised from a seeded PRNG and reported.
 *
 * The expected-shape table ({@linkcode expectedDebertaShapes}) is the single source for the key
 * set and every shape check. Linear weights are `[out, in]` as in torch (y = x Wᵀ + b); nothing is
 * transposed here.
 *
 * @module
 */

import { join } from "node:path";
import type { DebertaConfig } from "./config.ts";
import { parsePytorchBin } from "./pytorch_bin.ts";
import {
  CheckpointFormatError,
  parseSafetensors,
  type RawTensor,
  type StateDict,
} from "./safetensors.ts";
import { mulberry32 } from "./_prng.ts";

/**
 * Which task head the model carries.
 *
 * @example The regression head has one output
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { DebertaHead } from "./state_dict.ts";
 * import { expectedDebertaShapes } from "./state_dict.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 10, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16,
 * }, "config.json");
 * const head: DebertaHead = "regression";
 * assert.deepEqual(expectedDebertaShapes(config, head).get("classifier.weight"), [1, 8]);
 * assert.equal(expectedDebertaShapes(config, "none").has("classifier.weight"), false);
 * ```
 */
export type DebertaHead = "classification" | "regression" | "question-answering" | "none";

/**
 * Options for {@linkcode mapDebertaWeights}.
 *
 * @example Adding a seeded question-answering head to a base checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { RawTensor } from "./safetensors.ts";
 * import type { MapWeightsOptions } from "./state_dict.ts";
 * import { expectedDebertaShapes, mapDebertaWeights } from "./state_dict.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 10, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16,
 * }, "config.json");
 * const zeros = (shape: readonly number[]): RawTensor => ({
 *   shape, dtype: "F32", data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
 * });
 * const base = new Map([...expectedDebertaShapes(config, "none")].map(([k, s]) => [k, zeros(s)]));
 * const options: MapWeightsOptions = { head: "question-answering", seed: 7, source: "mem" };
 * const mapped = mapDebertaWeights(base, config, options);
 * assert.deepEqual(mapped.initialised, ["qa_outputs.weight", "qa_outputs.bias"]);
 * assert.deepEqual(mapped.weights.get("qa_outputs.weight")?.shape, [2, 8]);
 * ```
 */
export interface MapWeightsOptions {
  /** Task head: classification (`numLabels` outputs), regression (1), QA (`qa_outputs`, 2), none. */
  readonly head: DebertaHead;
  /** Seed of the PRNG that initialises missing head weights. */
  readonly seed: number;
  /** The checkpoint file, for messages. */
  readonly source: string;
}

/**
 * The result of {@linkcode mapDebertaWeights}.
 *
 * @example A complete base checkpoint maps with nothing missing or extra
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { RawTensor } from "./safetensors.ts";
 * import type { MappedWeights } from "./state_dict.ts";
 * import { expectedDebertaShapes, mapDebertaWeights } from "./state_dict.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 10, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16,
 * }, "config.json");
 * const zeros = (shape: readonly number[]): RawTensor => ({
 *   shape, dtype: "F32", data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
 * });
 * const base = new Map([...expectedDebertaShapes(config, "none")].map(([k, s]) => [k, zeros(s)]));
 * const mapped: MappedWeights = mapDebertaWeights(base, config, { head: "none", seed: 0, source: "mem" });
 * assert.equal(mapped.weights.size, base.size);
 * assert.deepEqual([mapped.missing, mapped.unexpected, mapped.initialised], [[], [], []]);
 * ```
 */
export interface MappedWeights {
  /** Every expected weight by HF name, in table order, shapes checked. */
  readonly weights: ReadonlyMap<string, RawTensor>;
  /** Expected keys the checkpoint lacked (only head keys; missing base keys are an error). */
  readonly missing: string[];
  /** Checkpoint keys neither expected nor known to be unused. */
  readonly unexpected: string[];
  /** Checkpoint keys known to be unused (`position_ids`, `lm_predictions.*`, …). */
  readonly ignored: string[];
  /** Head keys created with the seeded init (N(0, initializerRange) weights, zero biases). */
  readonly initialised: string[];
}

/**
 * A checkpoint read from a model folder.
 *
 * @example Reading a folder with one safetensors file
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "./safetensors.ts";
 * import type { ReadStateDictResult } from "./state_dict.ts";
 * import { readStateDict } from "./state_dict.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const w = { shape: [2], dtype: "F32", data: new Float32Array([1, 2]) };
 * await Deno.writeFile(`${dir}/model.safetensors`, writeSafetensors({ w }));
 * const read: ReadStateDictResult = await readStateDict(dir);
 * assert.equal(read.format, "safetensors");
 * assert.deepEqual([...read.stateDict.keys()], ["w"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface ReadStateDictResult {
  /** The tensors. */
  readonly stateDict: StateDict;
  /** The file they were read from. */
  readonly file: string;
  /** Which format it was. */
  readonly format: "safetensors" | "pytorch";
}

const HEAD_PREFIXES = ["pooler.", "classifier.", "qa_outputs."] as const;
const IGNORED_PREFIXES = ["lm_predictions.", "mask_predictions."] as const;

/**
 * Builds the table of every weight a DeBERTa-v2/v3 model with `config` and `head` has, with its
 * shape, in model order (HF names). It decides the key set and every shape check of the loader.
 *
 * @param config The resolved config.
 * @param head The task head.
 * @returns HF weight name → shape.
 *
 * @example The tiny-a golden model
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import { expectedDebertaShapes } from "./state_dict.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 100, hidden_size: 32, num_hidden_layers: 2,
 *   num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 64,
 *   relative_attention: true, pos_att_type: ["p2c", "c2p"], position_buckets: 8,
 *   share_att_key: true, norm_rel_ebd: "layer_norm", position_biased_input: false, num_labels: 3,
 * }, "config.json");
 * const shapes = expectedDebertaShapes(config, "classification");
 * assert.equal(shapes.size, 42);
 * assert.deepEqual(shapes.get("deberta.encoder.rel_embeddings.weight"), [16, 32]);
 * assert.deepEqual(shapes.get("classifier.weight"), [3, 32]);
 * ```
 */
export function expectedDebertaShapes(
  config: DebertaConfig,
  head: DebertaHead,
): ReadonlyMap<string, readonly number[]> {
  const h = config.hiddenSize;
  const table = new Map<string, readonly number[]>();
  const linear = (name: string, out: number, inp: number): void => {
    table.set(`${name}.weight`, [out, inp]);
    table.set(`${name}.bias`, [out]);
  };
  const layerNorm = (name: string): void => {
    table.set(`${name}.weight`, [h]);
    table.set(`${name}.bias`, [h]);
  };
  const emb = "deberta.embeddings";
  table.set(`${emb}.word_embeddings.weight`, [config.vocabSize, h]);
  if (config.positionBiasedInput) {
    table.set(`${emb}.position_embeddings.weight`, [config.maxPositionEmbeddings, h]);
  }
  if (config.typeVocabSize > 0) {
    table.set(`${emb}.token_type_embeddings.weight`, [config.typeVocabSize, h]);
  }
  layerNorm(`${emb}.LayerNorm`);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = `deberta.encoder.layer.${i}`;
    linear(`${layer}.attention.self.query_proj`, h, h);
    linear(`${layer}.attention.self.key_proj`, h, h);
    linear(`${layer}.attention.self.value_proj`, h, h);
    if (config.relativeAttention && !config.shareAttKey) {
      if (config.posAttType.includes("c2p")) linear(`${layer}.attention.self.pos_key_proj`, h, h);
      if (config.posAttType.includes("p2c")) linear(`${layer}.attention.self.pos_query_proj`, h, h);
    }
    linear(`${layer}.attention.output.dense`, h, h);
    layerNorm(`${layer}.attention.output.LayerNorm`);
    linear(`${layer}.intermediate.dense`, config.intermediateSize, h);
    linear(`${layer}.output.dense`, h, config.intermediateSize);
    layerNorm(`${layer}.output.LayerNorm`);
  }
  if (config.relativeAttention) {
    table.set("deberta.encoder.rel_embeddings.weight", [2 * config.posEbdSize, h]);
  }
  if (config.normRelEbd === "layer_norm") layerNorm("deberta.encoder.LayerNorm");
  if (head === "classification" || head === "regression") {
    linear("pooler.dense", config.poolerHiddenSize, config.poolerHiddenSize);
    linear("classifier", head === "regression" ? 1 : config.numLabels, config.poolerHiddenSize);
  } else if (head === "question-answering") {
    linear("qa_outputs", 2, h);
  }
  return table;
}

/** Checkpoint key → the key the table uses (`gamma`/`beta` → `weight`/`bias`, `deberta.` prefix). */
function normaliseKeys(stateDict: StateDict): Map<string, { original: string; tensor: RawTensor }> {
  const keys = [...stateDict.keys()];
  const bare = !keys.some((k) => k.startsWith("deberta.")) &&
    keys.some((k) => k.startsWith("embeddings.") || k.startsWith("encoder."));
  const out = new Map<string, { original: string; tensor: RawTensor }>();
  for (const [original, tensor] of stateDict) {
    let key = original.replace(/\.LayerNorm\.gamma$/, ".LayerNorm.weight").replace(
      /\.LayerNorm\.beta$/,
      ".LayerNorm.bias",
    );
    if (bare && (key.startsWith("embeddings.") || key.startsWith("encoder."))) {
      key = `deberta.${key}`;
    }
    // a second spelling of a key already seen (e.g. gamma next to weight) is not used
    out.set(out.has(key) ? `\u0000${original}` : key, { original, tensor });
  }
  return out;
}

function isKnownUnused(key: string, config: DebertaConfig): boolean {
  return key === "deberta.embeddings.position_ids" ||
    IGNORED_PREFIXES.some((p) => key.startsWith(p)) ||
    (!config.positionBiasedInput && key === "deberta.embeddings.position_embeddings.weight") ||
    HEAD_PREFIXES.some((p) => key.startsWith(p));
}

/**
 * Maps a checkpoint onto the weights a DeBERTa-v2/v3 model with `config` and a task head needs.
 * Missing base weights are an error (no partial model); a missing head is initialised with
 * N(0, `config.initializerRange`) weights and zero biases from a seeded PRNG and reported.
 *
 * @param stateDict The checkpoint tensors.
 * @param config The resolved config.
 * @param options Head, seed, source file.
 * @returns The weights by HF name, plus the missing / unexpected / ignored / initialised keys.
 * @throws {CheckpointFormatError} A base weight is missing (lists them).
 * @throws {TypeError} A tensor's shape differs from the config's, or a weight holds integers.
 *
 * @example Initialising a missing classifier
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { RawTensor } from "./safetensors.ts";
 * import { expectedDebertaShapes, mapDebertaWeights } from "./state_dict.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 10, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "config.json");
 * const base = new Map<string, RawTensor>([...expectedDebertaShapes(config, "none")].map(([k, shape]) => [
 *   k, { shape, dtype: "F32", data: new Float32Array(shape.reduce((a, b) => a * b, 1)) },
 * ]));
 * base.set("deberta.embeddings.position_ids", { shape: [1, 512], dtype: "I64", data: new Int32Array(512) });
 * const mapped = mapDebertaWeights(base, config, { head: "classification", seed: 1, source: "mem" });
 * assert.deepEqual(mapped.initialised, ["pooler.dense.weight", "pooler.dense.bias", "classifier.weight", "classifier.bias"]);
 * assert.deepEqual(mapped.ignored, ["deberta.embeddings.position_ids"]);
 * assert.deepEqual(mapped.unexpected, []);
 * ```
 */
export function mapDebertaWeights(
  stateDict: StateDict,
  config: DebertaConfig,
  options: MapWeightsOptions,
): MappedWeights {
  const { head, seed, source } = options;
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`Cannot map weights as seed must be an integer: current value is ${seed}`);
  }
  const expected = expectedDebertaShapes(config, head);
  const present = normaliseKeys(stateDict);
  const missing: string[] = [];
  const missingBase: string[] = [];
  for (const key of expected.keys()) {
    if (present.has(key)) continue;
    if (HEAD_PREFIXES.some((p) => key.startsWith(p))) missing.push(key);
    else missingBase.push(key);
  }
  if (missingBase.length > 0) {
    const shown = missingBase.slice(0, 8).join(", ");
    throw new CheckpointFormatError(
      `Cannot map weights of ${source} as every base weight the config needs must be present: current checkpoint lacks ${missingBase.length} (${shown}${
        missingBase.length > 8 ? ", …" : ""
      })`,
      source,
    );
  }
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const [key, { original }] of present) {
    if (expected.has(key)) continue;
    if (isKnownUnused(key, config)) ignored.push(original);
    else unexpected.push(original);
  }
  const weights = new Map<string, RawTensor>();
  const initialised: string[] = [];
  const random = mulberry32(seed);
  const normal = (): number => {
    // Box–Muller; 1 - u keeps the log argument in (0, 1]
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  for (const [key, shape] of expected) {
    const found = present.get(key);
    if (found === undefined) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (key.endsWith(".weight")) {
        for (let i = 0; i < data.length; i++) data[i] = normal() * config.initializerRange;
      }
      weights.set(key, Object.freeze({ shape: Object.freeze([...shape]), dtype: "F32", data }));
      initialised.push(key);
      continue;
    }
    const { original, tensor } = found;
    if (
      tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])
    ) {
      throw new TypeError(
        `Cannot map tensor "${original}" of ${source} as its shape must be [${
          shape.join(", ")
        }] (from the config): current value is [${tensor.shape.join(", ")}]`,
      );
    }
    if (!(tensor.data instanceof Float32Array)) {
      throw new TypeError(
        `Cannot map tensor "${original}" of ${source} as its dtype must be floating point: current value is ${tensor.dtype}`,
      );
    }
    weights.set(key, tensor);
  }
  return { weights, missing, unexpected, ignored, initialised };
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Reads a sharded checkpoint from its `*.index.json` (`{"weight_map": {tensor: shard file}}`). */
async function readSharded(
  index: string,
  dir: string,
  parse: (bytes: Uint8Array, source: string) => StateDict,
): Promise<StateDict> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(index));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SyntaxError(
      `Cannot read shard index ${index} as it must be JSON: current content is unparsable (${error.message})`,
    );
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new CheckpointFormatError(
      `Cannot read shard index ${index} as "weight_map" must be an object of tensor → shard file: current value is ${typeof weightMap}`,
      index,
    );
  }
  const shards = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    // shard names are plain file names inside the folder, never paths
    if (typeof shard !== "string" || !/^[^/\\]+$/.test(shard) || shard === "." || shard === "..") {
      throw new CheckpointFormatError(
        `Cannot read shard index ${index} as shard of "${tensor}" must be a file name in the folder: current value is ${
          JSON.stringify(shard)
        }`,
        index,
      );
    }
    shards.set(shard, [...(shards.get(shard) ?? []), tensor]);
  }
  const out = new Map<string, RawTensor>();
  for (const [shard, tensors] of shards) {
    const file = join(dir, shard);
    const part = parse(await Deno.readFile(file), file);
    for (const tensor of tensors) {
      if (!part.has(tensor)) {
        throw new CheckpointFormatError(
          `Cannot read shard ${file} as it must hold "${tensor}" (listed in ${index}): current shard lacks it`,
          file,
        );
      }
    }
    for (const [name, t] of part) {
      if (out.has(name)) {
        throw new CheckpointFormatError(
          `Cannot read shard ${file} as each tensor must be in one shard: current value "${name}" is repeated`,
          file,
        );
      }
      out.set(name, t);
    }
  }
  return out;
}

/**
 * Reads the weights of a Hugging Face model folder. The first of these that exists is read:
 * `model.safetensors`, `model.safetensors.index.json` (sharded), `pytorch_model.bin`,
 * `pytorch_model.bin.index.json` (sharded).
 *
 * @param dir The model folder.
 * @returns The tensors, the file read (the index for a sharded checkpoint) and its format.
 * @throws {Deno.errors.NotFound} The folder holds none of those files.
 * @throws {CheckpointFormatError} A file is malformed (see the parsers) or a shard is inconsistent.
 *
 * @example A folder without weights
 * ```ts
 * import assert from "node:assert/strict";
 * import { readStateDict } from "./state_dict.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(() => readStateDict(dir), Deno.errors.NotFound);
 * await Deno.remove(dir);
 * ```
 */
export async function readStateDict(dir: string): Promise<ReadStateDictResult> {
  const candidates = [
    ["model.safetensors", "safetensors", false],
    ["model.safetensors.index.json", "safetensors", true],
    ["pytorch_model.bin", "pytorch", false],
    ["pytorch_model.bin.index.json", "pytorch", true],
  ] as const;
  for (const [name, format, sharded] of candidates) {
    const file = join(dir, name);
    if (!(await exists(file))) continue;
    const parse = format === "safetensors" ? parseSafetensors : parsePytorchBin;
    const stateDict = sharded
      ? await readSharded(file, dir, parse)
      : parse(await Deno.readFile(file), file);
    return { stateDict, file, format };
  }
  throw new Deno.errors.NotFound(
    `Cannot read weights from ${dir} as it must contain model.safetensors or pytorch_model.bin (or a shard index): current folder has none`,
  );
}
