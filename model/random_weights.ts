/**
 * Seeded random DeBERTa-shaped weights, for synthetic tasks, benchmarks and tests that must run
 * without a checkpoint.
 *
 * @module
 */

import type { DebertaConfig } from "./config.ts";
import type { RawTensor } from "./safetensors.ts";
import { type DebertaHead, expectedDebertaShapes } from "./state_dict.ts";
import { mulberry32 } from "./_prng.ts";

/**
 * Options of {@link randomDebertaWeights}.
 *
 * @example No head, zero-std init
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDebertaConfig } from "./config.ts";
 * import type { RandomWeightsOptions } from "./random_weights.ts";
 * import { randomDebertaWeights } from "./random_weights.ts";
 *
 * const config = parseDebertaConfig({
 *   model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
 * }, "inline");
 * const options: RandomWeightsOptions = { head: "none", std: 0 };
 * const w = randomDebertaWeights(config, 7, options);
 * assert.equal(w.has("classifier.weight"), false);
 * assert.ok(w.get("deberta.embeddings.word_embeddings.weight")!.data.every((v) => v === 0));
 * ```
 */
export interface RandomWeightsOptions {
  /** Which head weights to add (`expectedDebertaShapes`); default `"classification"`. */
  readonly head?: DebertaHead;
  /** Standard deviation of the normal init; default `config.initializerRange`. */
  readonly std?: number;
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
 * Random weights for every tensor a DeBERTa model of this config and head needs (the key set of
 * `expectedDebertaShapes`), initialised like HF
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
  const next = mulberry32(seed);
  const out = new Map<string, RawTensor>();
  for (const [name, shape] of expectedDebertaShapes(config, options.head ?? "classification")) {
    const n = shape.reduce((x, y) => x * y, 1);
    let data: Float32Array;
    if (name.includes("LayerNorm.")) {
      data = new Float32Array(n).fill(name.endsWith(".weight") ? 1 : 0);
    } else if (name.endsWith(".bias")) data = new Float32Array(n);
    else data = normalArray(n, std, next);
    out.set(name, { shape: [...shape], dtype: "F32", data });
  }
  const words = out.get("deberta.embeddings.word_embeddings.weight")?.data;
  const h = config.hiddenSize;
  if (words !== undefined && config.padTokenId < config.vocabSize) {
    words.fill(0, config.padTokenId * h, (config.padTokenId + 1) * h);
  }
  return out;
}
