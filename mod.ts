/**
 * triadapt: adaptive-rank parameter-efficient fine-tuning (TriAdaptLoRA, LoRA, AdaLoRA,
 * IncreLoRA) for DeBERTa-v3 on Deno and TensorFlow.js.
 *
 * - `core/`: pure rank-allocation decisions (budgets, thresholds, importance, schedules).
 * - `ops/`: the adapters and the growing AdamW on TensorFlow.js.
 * - `model/`: DeBERTa-v3 checkpoints, tokenizer, encoder and adapter injection.
 * - `train/`: data readers, metrics, the training loop and the CLIs.
 *
 * Quick start: load a checkpoint, make it adaptive with {@linkcode adaptModel} (method and budget
 * in; adapters, controller and growing AdamW out, as PEFT's `get_peft_model`), train, export to
 * PEFT. No `initBackend()` is needed: `loadModel` initialises the default `wasm` backend. With a
 * real model and data, `createGlueTask({ task: "rte", model, data })` and
 * `new Trainer({ task, ...adapted })` replace the hand-written loop, and {@linkcode runTraining}
 * does a whole run (evaluation, checkpoints, run folder) as `deno task train` does.
 *
 * @example Quick start: a tiny random checkpoint, two RTE-style rows as token ids
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import {
 *   adaptModel, loadModel, parseDebertaConfig, randomDebertaWeights, writePeftFolder, writeSafetensors,
 * } from "@triadapt/triadapt";
 *
 * // A checkpoint folder (normally a Hugging Face download such as microsoft/deberta-v3-base).
 * const dir = await Deno.makeTempDir();
 * const hf = { model_type: "deberta-v2", vocab_size: 16, hidden_size: 8, num_hidden_layers: 2,
 *   num_attention_heads: 2, intermediate_size: 16, num_labels: 2 };
 * await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(hf));
 * const weights = randomDebertaWeights(parseDebertaConfig(hf, "config.json"), 0);
 * await Deno.writeFile(`${dir}/model.safetensors`, writeSafetensors(weights));
 *
 * const model = await loadModel(dir); // also readies the default (wasm) backend
 * const ai = await adaptModel(model, {
 *   method: "triadapt", totalSteps: 4, refRank: 2, initWarmup: 2, interval: 1,
 * });
 * // [CLS] premise [SEP] hypothesis [SEP] as token ids, and the entailment labels.
 * const inputIds = [[1, 5, 6, 2, 7, 2], [1, 8, 9, 2, 10, 2]];
 * const labels = tf.oneHot([0, 1], 2);
 * for (let step = 1; step <= 4; step++) {
 *   const vars = [...ai.adapters.flatMap((a) => a.trainableVariables()), ...model.trainableVariables()];
 *   const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
 *     const { logits } = model.forward({ inputIds }, { training: true, seed: step });
 *     return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
 *   }), vars);
 *   ai.optimizer.step(grads, 1e-2);
 *   await ai.controller.afterStep(step, grads, ai.optimizer); // TriAdaptLoRA grows ranks here
 *   tf.dispose([value, ...Object.values(grads)]);
 * }
 * const peft = await writePeftFolder(`${dir}/peft`, model, ai.adapters, {
 *   baseModel: "microsoft/deberta-v3-base",
 * });
 * assert.equal(peft.peft_type, "LORA");
 * assert.equal(ai.adapters.reduce((n, a) => n + a.rank, 0), 2 * 12); // budget r_ref·M spent
 * ai.dispose();
 * model.dispose();
 * labels.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example Plan the allocation events of a run from its schedule alone
 * ```ts
 * import assert from "node:assert/strict";
 * import { planAllocation } from "@triadapt/triadapt";
 *
 * const events = planAllocation({
 *   matrices: 72, initRank: 1, refRank: 8, deltaRank: 4,
 *   initWarmup: 100, interval: 100, totalSteps: 3900, threshold: "linear",
 * });
 * assert.deepEqual(events.map((e) => e.k), [13, 23, 28, 26, 18, 11, 5, 1, 1]);
 * ```
 *
 * @module
 */

export * from "./core/mod.ts";
export * from "./ops/mod.ts";
export * from "./model/mod.ts";
export * from "./train/mod.ts";
// Both ops/ and model/ declare the structural adapter interface; they are the same shape.
export type { LinearDelta } from "./model/mod.ts";
