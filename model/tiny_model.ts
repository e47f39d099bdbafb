/**
 * A tiny DeBERTa-v3 model folder written from a seed, so that the package's examples (and anyone
 * trying the library) can load, tokenize and train without downloading a checkpoint:
 * `config.json` (2 layers, hidden size 16, relative attention p2c|c2p as in DeBERTa-v3),
 * `model.safetensors` (seeded random weights, see {@linkcode randomDebertaWeights}) and
 * `spm.model` (the in-memory SentencePiece model of `model/_spm_tiny.ts`, whose 124 ids the
 * config's vocabulary matches). The weights mean nothing: use it to see the plumbing work.
 *
 * @module
 */

import { join } from "node:path";
import { parseDebertaConfig } from "./config.ts";
import { randomDebertaWeights } from "./random_weights.ts";
import { writeSafetensors } from "./safetensors.ts";
import type { DebertaHead } from "./state_dict.ts";
import { TINY_SPM_PIECES, tinySpmModel } from "./_spm_tiny.ts";

/**
 * Options of {@linkcode writeTinyModelFolder}.
 *
 * @example A regression checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TinyModelOptions } from "./tiny_model.ts";
 * import { writeTinyModelFolder } from "./tiny_model.ts";
 *
 * const options: TinyModelOptions = { head: "regression", seed: 1 };
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir(), options);
 * const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
 * assert.equal(config.num_labels, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface TinyModelOptions {
  /** Seed of the random weights (default 0). */
  readonly seed?: number;
  /** Head weights to write (default `"classification"`; `"none"` writes the encoder only). */
  readonly head?: DebertaHead;
  /** Number of labels of a classification head (default 2). */
  readonly numLabels?: number;
}

/**
 * Writes the tiny model folder (creating `dir` if needed).
 *
 * @param dir The folder to write.
 * @param options Seed and head.
 * @returns `dir`.
 *
 * @example Write, then load
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel } from "./load_model.ts";
 * import { writeTinyModelFolder } from "./tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir());
 * const model = await loadModel(dir);
 * assert.equal(model.numLabels, 2);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeTinyModelFolder(
  dir: string,
  options: TinyModelOptions = {},
): Promise<string> {
  const { seed = 0, head = "classification", numLabels = 2 } = options;
  const labels = head === "regression" ? 1 : numLabels;
  const json: Record<string, unknown> = {
    model_type: "deberta-v2",
    vocab_size: TINY_SPM_PIECES.length + 1, // + the appended [MASK]
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 64,
    relative_attention: true,
    position_buckets: 8,
    pos_att_type: ["p2c", "c2p"],
    share_att_key: true,
    norm_rel_ebd: "layer_norm",
    position_biased_input: false,
    type_vocab_size: 0,
    hidden_act: "gelu",
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.2,
    pooler_hidden_size: 16,
    pooler_dropout: 0,
    layer_norm_eps: 1e-7,
    pad_token_id: 0,
    num_labels: labels,
  };
  if (head === "regression") json["problem_type"] = "regression";
  const config = parseDebertaConfig(json, "config.json");
  await Deno.mkdir(dir, { recursive: true });
  const weights = randomDebertaWeights(config, seed, { head });
  await Deno.writeFile(join(dir, "model.safetensors"), writeSafetensors(weights, { format: "pt" }));
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(json, null, 2) + "\n");
  await Deno.writeFile(join(dir, "spm.model"), tinySpmModel());
  return dir;
}
