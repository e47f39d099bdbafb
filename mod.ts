/**
 * triadapt: adaptive-rank parameter-efficient fine-tuning (TriAdaptLoRA, LoRA, AdaLoRA,
 * IncreLoRA) for DeBERTa-v3 on Deno and TensorFlow.js.
 *
 * @module
 */

export * from "./core/mod.ts";
