/**
 * Hugging Face `deberta-v2` `config.json` → a fully resolved, frozen {@linkcode DebertaConfig}.
 *
 * Defaults and fallbacks follow `transformers` `DebertaV2Config` and `modeling_deberta_v2.py`:
 * `max_relative_positions < 1` → `max_position_embeddings`, `position_buckets` absent → −1 (no
 * bucketing), `share_att_key` absent → false, `norm_rel_ebd` absent → `"none"`,
 * `position_biased_input` absent → true, `pooler_hidden_size` absent → `hidden_size`,
 * `num_labels` from `id2label` when present. Fields that change the math but that this runtime
 * does not implement (another activation, `conv_kernel_size > 0`, an `embedding_size` projection,
 * a custom `attention_head_size`) are refused with a clear error rather than silently ignored.
 *
 * @module
 */

/**
 * One disentangled-attention term.
 *
 * @example The terms of a parsed config
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PosAttType } from "./config.ts";
 * import { parseDebertaConfig } from "./config.ts";
 *
 * const c = parseDebertaConfig({ model_type: "deberta-v2", pos_att_type: "p2c|c2p" }, "mem");
 * const terms: readonly PosAttType[] = c.posAttType;
 * assert.deepEqual(terms, ["p2c", "c2p"]);
 * ```
 */
export type PosAttType = "c2p" | "p2c";

/**
 * A resolved DeBERTa-v2/v3 configuration (camelCase; every fallback already applied).
 *
 * @example A tiny config with its fallbacks resolved
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DebertaConfig } from "./config.ts";
 * import { parseDebertaConfig } from "./config.ts";
 *
 * const c: DebertaConfig = parseDebertaConfig(
 *   { model_type: "deberta-v2", vocab_size: 10, hidden_size: 8, num_attention_heads: 2 },
 *   "config.json",
 * );
 * assert.equal(c.attentionHeadSize, 4);
 * assert.equal(c.poolerHiddenSize, 8); // pooler_hidden_size absent → hidden_size
 * ```
 */
export interface DebertaConfig {
  /** Always `"deberta-v2"` (the HF model type of DeBERTa-v2 and -v3). */
  readonly modelType: "deberta-v2";
  /** Vocabulary size (rows of `word_embeddings`). */
  readonly vocabSize: number;
  /** Model width. */
  readonly hiddenSize: number;
  /** Number of encoder layers. */
  readonly numHiddenLayers: number;
  /** Attention heads per layer. */
  readonly numAttentionHeads: number;
  /** `hiddenSize / numAttentionHeads`. */
  readonly attentionHeadSize: number;
  /** Feed-forward width. */
  readonly intermediateSize: number;
  /** Feed-forward activation: exact (erf) GELU. */
  readonly hiddenAct: "gelu";
  /** Dropout on hidden states (training only). */
  readonly hiddenDropoutProb: number;
  /** Dropout on attention probabilities (training only). */
  readonly attentionProbsDropoutProb: number;
  /** Maximum sequence length (absolute positions). */
  readonly maxPositionEmbeddings: number;
  /** Whether disentangled relative attention is on. */
  readonly relativeAttention: boolean;
  /** Relative-attention terms, e.g. `["p2c", "c2p"]` (deduplicated, in config order). */
  readonly posAttType: readonly PosAttType[];
  /** Log-bucket count; ≤ 0 means no bucketing. */
  readonly positionBuckets: number;
  /** Resolved: a config value < 1 falls back to `maxPositionEmbeddings`. */
  readonly maxRelativePositions: number;
  /** Rows of `rel_embeddings` / 2: `positionBuckets` if > 0, else `maxRelativePositions`. */
  readonly posEbdSize: number;
  /** Query/key projections are reused for the relative embeddings (no `pos_*_proj`). */
  readonly shareAttKey: boolean;
  /** `"layer_norm"`: `rel_embeddings` go through `encoder.LayerNorm`. */
  readonly normRelEbd: "layer_norm" | "none";
  /** Whether absolute position embeddings are added to the input. */
  readonly positionBiasedInput: boolean;
  /** Token-type vocabulary size; 0 means no `token_type_embeddings`. */
  readonly typeVocabSize: number;
  /** Epsilon of every LayerNorm. */
  readonly layerNormEps: number;
  /** Std of the normal init (used for freshly initialised heads). */
  readonly initializerRange: number;
  /** Padding token id. */
  readonly padTokenId: number;
  /** Width of the classification pooler (equals `hiddenSize`). */
  readonly poolerHiddenSize: number;
  /** Pooler activation: exact (erf) GELU. */
  readonly poolerHiddenAct: "gelu";
  /** Dropout before the pooler (training only). */
  readonly poolerDropout: number;
  /**
   * `cls_dropout`: dropout between the pooler and the classifier (training only); `null` when the
   * config has none, in which case HF uses `hidden_dropout_prob`.
   */
  readonly clsDropout: number | null;
  /** Number of labels of the task head. */
  readonly numLabels: number;
  /** Label names by index (`LABEL_i` when the config has none). */
  readonly id2label: readonly string[];
  /** HF `problem_type`, when the config states one. */
  readonly problemType:
    | "regression"
    | "single_label_classification"
    | "multi_label_classification"
    | null;
}

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function typeError(source: string, field: string, mustBe: string, value: unknown): TypeError {
  return new TypeError(
    `Cannot read config ${source} as "${field}" must be ${mustBe}: current value is ${
      describe(value)
    }`,
  );
}

function rangeError(source: string, field: string, mustBe: string, value: unknown): RangeError {
  return new RangeError(
    `Cannot read config ${source} as "${field}" must be ${mustBe}: current value is ${
      describe(value)
    }`,
  );
}

function intField(
  json: Json,
  field: string,
  fallback: number | undefined,
  min: number,
  source: string,
): number {
  const value = json[field] ?? fallback;
  if (value === undefined) throw typeError(source, field, "present (an integer)", value);
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw typeError(source, field, "an integer", value);
  }
  if (value < min) throw rangeError(source, field, `>= ${min}`, value);
  return value;
}

function numberField(
  json: Json,
  field: string,
  fallback: number,
  check: (v: number) => boolean,
  mustBe: string,
  source: string,
): number {
  const value = json[field] ?? fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw typeError(source, field, "a finite number", value);
  }
  if (!check(value)) throw rangeError(source, field, mustBe, value);
  return value;
}

function boolField(json: Json, field: string, fallback: boolean, source: string): boolean {
  const value = json[field] ?? fallback;
  if (typeof value !== "boolean") throw typeError(source, field, "a boolean", value);
  return value;
}

function geluField(json: Json, field: string, source: string): "gelu" {
  const value = json[field] ?? "gelu";
  if (value !== "gelu") {
    throw rangeError(
      source,
      field,
      `"gelu" (exact erf GELU, the only supported activation)`,
      value,
    );
  }
  return value;
}

function parsePosAttType(value: unknown, source: string): PosAttType[] {
  let items: unknown[];
  if (value === undefined || value === null) items = [];
  else if (typeof value === "string") items = value.split("|");
  else if (Array.isArray(value)) items = value;
  else throw typeError(source, "pos_att_type", `a list or a "p2c|c2p" string`, value);
  const out: PosAttType[] = [];
  for (const item of items) {
    if (typeof item !== "string") {
      throw typeError(source, "pos_att_type", "strings", value);
    }
    const term = item.trim().toLowerCase();
    if (term === "") continue;
    if (term !== "c2p" && term !== "p2c") {
      throw rangeError(source, "pos_att_type", `made of "c2p" and "p2c"`, value);
    }
    if (!out.includes(term)) out.push(term);
  }
  return out;
}

function parseNormRelEbd(value: unknown, source: string): "layer_norm" | "none" {
  const raw = value ?? "none";
  if (typeof raw !== "string") throw typeError(source, "norm_rel_ebd", "a string", raw);
  const parts = raw.toLowerCase().split("|").map((p) => p.trim()).filter((p) => p !== "");
  for (const p of parts) {
    if (p !== "layer_norm" && p !== "none") {
      throw rangeError(source, "norm_rel_ebd", `"layer_norm" or "none"`, raw);
    }
  }
  return parts.includes("layer_norm") ? "layer_norm" : "none";
}

function parseLabels(json: Json, source: string): { numLabels: number; id2label: string[] } {
  const raw = json["id2label"];
  const stated = json["num_labels"];
  if (stated !== undefined && (typeof stated !== "number" || !Number.isSafeInteger(stated))) {
    throw typeError(source, "num_labels", "an integer", stated);
  }
  if (typeof stated === "number" && stated < 1) {
    throw rangeError(source, "num_labels", ">= 1", stated);
  }
  if (raw === undefined || raw === null) {
    const n = stated ?? 2;
    return { numLabels: n, id2label: Array.from({ length: n }, (_, i) => `LABEL_${i}`) };
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw typeError(source, "id2label", "an object of index → name", raw);
  }
  const keys = Object.keys(raw);
  if (keys.length === 0) throw rangeError(source, "id2label", "non-empty", raw);
  const names: string[] = new Array(keys.length);
  for (const [k, v] of Object.entries(raw)) {
    const i = Number(k);
    if (!/^\d+$/.test(k) || i >= keys.length || names[i] !== undefined) {
      throw rangeError(source, "id2label", `keyed by the indices 0..${keys.length - 1}`, raw);
    }
    if (typeof v !== "string") throw typeError(source, `id2label.${k}`, "a string", v);
    names[i] = v;
  }
  if (stated !== undefined && stated !== keys.length) {
    throw rangeError(
      source,
      "num_labels",
      `equal to the number of id2label entries (${keys.length})`,
      stated,
    );
  }
  return { numLabels: keys.length, id2label: names };
}

/**
 * Resolves a parsed `config.json` object of `model_type` `"deberta-v2"` into a frozen
 * {@linkcode DebertaConfig}. Unknown keys are ignored; wrong types are a `TypeError`, unsupported
 * or out-of-range values a `RangeError`, both naming the source and the field.
 *
 * @param json The parsed JSON value.
 * @param source The file path (or another label) for messages.
 * @returns The resolved, deeply frozen config.
 *
 * @example The DeBERTa-v3-base settings
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 *
 * const c = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 128100, hidden_size: 768, num_hidden_layers: 12,
 *   num_attention_heads: 12, intermediate_size: 3072, relative_attention: true,
 *   position_buckets: 256, max_relative_positions: -1, pos_att_type: "p2c|c2p",
 *   norm_rel_ebd: "layer_norm", share_att_key: true, position_biased_input: false,
 * }, "config.json");
 * assert.deepEqual(c.posAttType, ["p2c", "c2p"]);
 * assert.equal(c.maxRelativePositions, 512);
 * assert.equal(c.attentionHeadSize, 64);
 * assert.ok(Object.isFrozen(c));
 * ```
 */
export function parseDebertaConfig(json: unknown, source: string): DebertaConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(
      `Cannot read config ${source} as it must be a JSON object: current value is ${
        describe(json)
      }`,
    );
  }
  const j = json as Json;
  const modelType = j["model_type"];
  if (modelType !== "deberta-v2") {
    throw rangeError(source, "model_type", `"deberta-v2" (DeBERTa-v2/v3)`, modelType);
  }
  const hiddenSize = intField(j, "hidden_size", 1536, 1, source);
  const numAttentionHeads = intField(j, "num_attention_heads", 24, 1, source);
  if (hiddenSize % numAttentionHeads !== 0) {
    throw rangeError(
      source,
      "hidden_size",
      `a multiple of num_attention_heads (${numAttentionHeads})`,
      hiddenSize,
    );
  }
  const attentionHeadSize = hiddenSize / numAttentionHeads;
  if (j["attention_head_size"] !== undefined && j["attention_head_size"] !== attentionHeadSize) {
    throw rangeError(
      source,
      "attention_head_size",
      `absent or hidden_size / num_attention_heads (${attentionHeadSize})`,
      j["attention_head_size"],
    );
  }
  if (j["embedding_size"] !== undefined && j["embedding_size"] !== hiddenSize) {
    throw rangeError(
      source,
      "embedding_size",
      `absent or equal to hidden_size (${hiddenSize}); embed_proj is not supported`,
      j["embedding_size"],
    );
  }
  const conv = j["conv_kernel_size"] ?? 0;
  if (conv !== 0) {
    throw rangeError(
      source,
      "conv_kernel_size",
      "0 (the ConvLayer of DeBERTa-v2-xlarge is not supported)",
      conv,
    );
  }
  const maxPositionEmbeddings = intField(j, "max_position_embeddings", 512, 1, source);
  const relativeAttention = boolField(j, "relative_attention", false, source);
  const rawMaxRel = intField(j, "max_relative_positions", -1, -Infinity, source);
  const maxRelativePositions = rawMaxRel < 1 ? maxPositionEmbeddings : rawMaxRel;
  const positionBuckets = intField(j, "position_buckets", -1, -Infinity, source);
  const poolerHiddenSize = intField(j, "pooler_hidden_size", hiddenSize, 1, source);
  if (poolerHiddenSize !== hiddenSize) {
    throw rangeError(
      source,
      "pooler_hidden_size",
      `equal to hidden_size (${hiddenSize})`,
      poolerHiddenSize,
    );
  }
  const problemType = j["problem_type"] ?? null;
  if (
    problemType !== null && problemType !== "regression" &&
    problemType !== "single_label_classification" && problemType !== "multi_label_classification"
  ) {
    throw rangeError(
      source,
      "problem_type",
      `"regression", "single_label_classification" or "multi_label_classification"`,
      problemType,
    );
  }
  const probability = (v: number): boolean => v >= 0 && v < 1;
  const { numLabels, id2label } = parseLabels(j, source);
  const config: DebertaConfig = {
    modelType: "deberta-v2",
    vocabSize: intField(j, "vocab_size", 128100, 1, source),
    hiddenSize,
    numHiddenLayers: intField(j, "num_hidden_layers", 24, 1, source),
    numAttentionHeads,
    attentionHeadSize,
    intermediateSize: intField(j, "intermediate_size", 6144, 1, source),
    hiddenAct: geluField(j, "hidden_act", source),
    hiddenDropoutProb: numberField(j, "hidden_dropout_prob", 0.1, probability, "in [0, 1)", source),
    attentionProbsDropoutProb: numberField(
      j,
      "attention_probs_dropout_prob",
      0.1,
      probability,
      "in [0, 1)",
      source,
    ),
    maxPositionEmbeddings,
    relativeAttention,
    posAttType: Object.freeze(parsePosAttType(j["pos_att_type"], source)),
    positionBuckets,
    maxRelativePositions,
    posEbdSize: positionBuckets > 0 ? positionBuckets : maxRelativePositions,
    shareAttKey: boolField(j, "share_att_key", false, source),
    normRelEbd: parseNormRelEbd(j["norm_rel_ebd"], source),
    positionBiasedInput: boolField(j, "position_biased_input", true, source),
    typeVocabSize: intField(j, "type_vocab_size", 0, 0, source),
    layerNormEps: numberField(j, "layer_norm_eps", 1e-7, (v) => v > 0, "> 0", source),
    initializerRange: numberField(j, "initializer_range", 0.02, (v) => v >= 0, ">= 0", source),
    padTokenId: intField(j, "pad_token_id", 0, 0, source),
    poolerHiddenSize,
    poolerHiddenAct: geluField(j, "pooler_hidden_act", source),
    poolerDropout: numberField(j, "pooler_dropout", 0, probability, "in [0, 1)", source),
    clsDropout: j["cls_dropout"] === undefined || j["cls_dropout"] === null
      ? null
      : numberField(j, "cls_dropout", 0, probability, "in [0, 1)", source),
    numLabels,
    id2label: Object.freeze(id2label),
    problemType,
  };
  return Object.freeze(config);
}

/**
 * Reads and resolves a `config.json` file (see {@linkcode parseDebertaConfig}).
 *
 * @param path Path to `config.json`.
 * @returns The resolved, frozen config.
 * @throws {SyntaxError} The file is not JSON (names the file).
 *
 * @example Reading a config file
 * ```ts
 * import assert from "node:assert/strict";
 * import { readDebertaConfig } from "./config.ts";
 *
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, JSON.stringify({ model_type: "deberta-v2", hidden_size: 32, num_attention_heads: 4 }));
 * const config = await readDebertaConfig(path);
 * assert.equal(config.attentionHeadSize, 8);
 * await Deno.remove(path);
 * ```
 */
export async function readDebertaConfig(path: string): Promise<DebertaConfig> {
  const text = await Deno.readTextFile(path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot read config ${path} as it must be JSON: current content is unparsable (${
        (error as Error).message
      })`,
    );
  }
  return parseDebertaConfig(json, path);
}
