/**
 * triadapt: adaptive-rank parameter-efficient fine-tuning (TriAdaptLoRA, LoRA, AdaLoRA,
 * IncreLoRA) for DeBERTa-v3 on Deno and TensorFlow.js.
 *
 * - `core/`: pure rank-allocation decisions (budgets, thresholds, importance, schedules).
 * - `ops/`: the adapters and the growing AdamW on TensorFlow.js.
 * - `model/`: DeBERTa-v3 checkpoints, tokenizer, encoder and adapter injection.
 * - `train/`: data readers, metrics, the training loop and the CLIs.
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
