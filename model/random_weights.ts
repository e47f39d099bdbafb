/**
 * Seeded random DeBERTa-shaped weights, for synthetic tasks, benchmarks and tests that must run
 * without a checkpoint.
 *
 * @module
 */

import type { DebertaConfig } from "./config.ts";
import type { RawTensor } from "./safetensors.ts";
import type { DebertaHead } from "./deberta_v3.ts";

/** Options of {@link randomDebertaWeights}. */
export interface RandomWeightsOptions {
  /** Which head weights to add; default `"classification"`. */
  readonly head?: DebertaHead;
  /** Head outputs; default `config.numLabels` (2 for question answering). */
  readonly numLabels?: number;
  /** Standard deviation of the normal init; default `config.initializerRange`. */
  readonly std?: number;
}

/** mulberry32: a small, fast 32-bit PRNG; returns uniforms in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normalArray(n: number, std: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - next();
    const u2 = next();
    const r = std * Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/**
 * Random weights for every tensor a DeBERTa model of this config needs, initialised like HF
 * `_init_weights`: linears and embeddings ~ N(0, std²), biases 0, LayerNorm weight 1 / bias 0.
 * Same config + seed → bit-identical weights.
 *
 * @param config The resolved config.
 * @param seed Integer seed.
 * @param options Head and init options (see {@link RandomWeightsOptions}).
 * @returns Weights by HF name (float32 `RawTensor`s).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const a = randomDebertaWeights(config, 7);
 * const b = randomDebertaWeights(config, 7);
 * assert.deepEqual(a.get("classifier.weight")!.shape, [2, 8]);
 * assert.deepEqual(a.get("classifier.weight")!.data, b.get("classifier.weight")!.data);
 * ```
 */
export function randomDebertaWeights(
  config: DebertaConfig,
  seed: number,
  options: RandomWeightsOptions = {},
): Map<string, RawTensor> {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(
      `Cannot create random DeBERTa weights as seed must be a safe integer: current value is ${seed}`,
    );
  }
  const std = options.std ?? config.initializerRange;
  const head = options.head ?? "classification";
  const numLabels = options.numLabels ?? (head === "question-answering" ? 2 : config.numLabels);
  const next = mulberry32(seed);
  const out = new Map<string, RawTensor>();
  const h = config.hiddenSize;
  const normal = (name: string, shape: number[]): void => {
    out.set(name, { shape, dtype: "F32", data: normalArray(shape.reduce((x, y) => x * y, 1), std, next) });
  };
  const filled = (name: string, n: number, value: number): void => {
    out.set(name, { shape: [n], dtype: "F32", data: new Float32Array(n).fill(value) });
  };
  const linear = (name: string, outF: number, inF: number): void => {
    normal(`${name}.weight`, [outF, inF]);
    filled(`${name}.bias`, outF, 0);
  };
  const norm = (name: string): void => {
    filled(`${name}.weight`, h, 1);
    filled(`${name}.bias`, h, 0);
  };
  normal("deberta.embeddings.word_embeddings.weight", [config.vocabSize, h]);
  const words = out.get("deberta.embeddings.word_embeddings.weight")!.data;
  if (config.padTokenId < config.vocabSize) words.fill(0, config.padTokenId * h, (config.padTokenId + 1) * h);
  if (config.positionBiasedInput) {
    normal("deberta.embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, h]);
  }
  if (config.typeVocabSize > 0) {
    normal("deberta.embeddings.token_type_embeddings.weight", [config.typeVocabSize, h]);
  }
  norm("deberta.embeddings.LayerNorm");
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `deberta.encoder.layer.${i}`;
    linear(`${p}.attention.self.query_proj`, h, h);
    linear(`${p}.attention.self.key_proj`, h, h);
    linear(`${p}.attention.self.value_proj`, h, h);
    if (config.relativeAttention && !config.shareAttKey) {
      if (config.posAttType.includes("c2p")) linear(`${p}.attention.self.pos_key_proj`, h, h);
      if (config.posAttType.includes("p2c")) linear(`${p}.attention.self.pos_query_proj`, h, h);
    }
    linear(`${p}.attention.output.dense`, h, h);
    norm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, config.intermediateSize, h);
    linear(`${p}.output.dense`, h, config.intermediateSize);
    norm(`${p}.output.LayerNorm`);
  }
  if (config.relativeAttention) {
    normal("deberta.encoder.rel_embeddings.weight", [2 * config.posEbdSize, h]);
    if (config.normRelEbd === "layer_norm") norm("deberta.encoder.LayerNorm");
  }
  if (head === "classification") {
    linear("pooler.dense", config.poolerHiddenSize, h);
    linear("classifier", numLabels, config.poolerHiddenSize);
  } else {
    linear("qa_outputs", numLabels, h);
  }
  return out;
}
