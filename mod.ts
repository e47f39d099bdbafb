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
 * in; adapters, controller and growing AdamW out, as PEFT's `get_peft_model`), train a few steps on
 * a GLUE file, export to PEFT. No `initBackend()` is needed: the asynchronous entry points ready the
 * default `wasm` backend. With a real download, pass its folder (for example
 * `microsoft/deberta-v3-base`) and the GLUE `RTE/` folder instead of the tiny ones written here;
 * {@linkcode runTraining} does a whole run (evaluation, checkpoints, run folder) as
 * `deno task train` does.
 *
 * @example Quick start: checkpoint → adaptive model → 4 steps on RTE files → PEFT folder
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   adaptModel, createGlueTask, Trainer, writePeftFolder, writeTinyModelFolder, writeTinyRte,
 * } from "@triadapt/triadapt";
 *
 * const dir = await Deno.makeTempDir(); // a seeded 2-layer checkpoint and 8 + 4 RTE rows (TSV)
 * const model = await writeTinyModelFolder(`${dir}/model`);
 * const data = await writeTinyRte(`${dir}/RTE`);
 * const task = await createGlueTask({ task: "rte", model, data, maxLength: 32 });
 * const adapted = await adaptModel(task.buildModel(0), {
 *   method: "triadapt", totalSteps: 4, refRank: 2, initWarmup: 1, interval: 1, batchSize: 4,
 * });
 * const trainer = new Trainer({ task, ...adapted });
 * while (trainer.step < trainer.totalSteps) await trainer.runStep(); // ranks grow on schedule
 * const { metric } = await trainer.evaluate();
 * assert.equal(metric, "accuracy");
 * const peft = await writePeftFolder(`${dir}/peft`, trainer.model, trainer.adapters, {
 *   baseModel: "microsoft/deberta-v3-base",
 * });
 * assert.equal(peft.peft_type, "LORA");
 * trainer.dispose();
 * task.dispose();
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
