/**
 * triadapt `model/` layer: the DeBERTa-v3 runtime (config, checkpoint readers, tokenizer,
 * encoder, heads, adapter injection). Adapters plug in through the structural
 * {@linkcode LinearDelta} interface; this layer never imports `ops/` or `core/`.
 *
 * @example Load a model folder, run it, attach an adapter
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { injectAdapters, loadModel } from "./mod.ts";
 * import { writeTinyModelFolder } from "./tiny_model.ts";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir()); // seeded random, 2 layers
 * const model = await loadModel(dir);
 * const adapters = injectAdapters(model, (m) => ({
 *   delta: (x) => tf.zeros([x.shape[0], m.outFeatures]),
 * }));
 * assert.equal(adapters.size, 12); // 6 families × 2 layers
 * const out = model.forward({ inputIds: [[1, 17, 42, 2]], attentionMask: [[1, 1, 1, 1]] });
 * assert.deepEqual(out.logits.shape, [1, 2]);
 * tf.dispose([out.logits, out.lastHiddenState]);
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export * from "./config.ts";
export * from "./safetensors.ts";
export * from "./pytorch_bin.ts";
export * from "./state_dict.ts";
export * from "./tokenizer.ts";
export * from "./linear_adapter.ts";
export * from "./relative_position.ts";
export * from "./activations.ts";
export * from "./attention.ts";
export * from "./deberta_v3.ts";
export * from "./random_weights.ts";
export * from "./inject.ts";
export * from "./load_model.ts";
export * from "./tiny_model.ts";
