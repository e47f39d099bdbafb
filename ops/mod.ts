/**
 * triadapt `ops/` layer: the tensor side of the adapter algebra (TriAdaptLoRA, LoRA, AdaLoRA,
 * IncreLoRA), orthogonality penalty, merge/export, growing AdamW and backend selection.
 *
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { createAdapter, GrowingAdamW, initBackend } from "./mod.ts";
 *
 * await initBackend("wasm");
 * const ad = createAdapter("triadaptlora", { name: "ex.mod", inFeatures: 4, outFeatures: 4, seed: 1 });
 * const opt = new GrowingAdamW({ weightDecay: 0.01 });
 * opt.syncBlocks(ad.parameterBlocks());
 * ad.grow(2);
 * assert.equal(opt.syncBlocks(ad.parameterBlocks()), 1);
 * opt.dispose();
 * ad.dispose();
 * tf.disposeVariables();
 * ```
 *
 * @module
 */

export * from "./adapter.ts";
export * from "./backend.ts";
export {
  setWasmMatMul,
  type WasmMatMul,
  wasmMatMul,
  wasmTransposedProductsFast,
} from "./wasm_batch_matmul.ts";
export * from "./triadapt_lora.ts";
export * from "./update_grams.ts";
export * from "./lora.ts";
export * from "./adalora.ts";
export * from "./increlora.ts";
export * from "./orthogonality.ts";
export * from "./merge.ts";
export * from "./growing_adamw.ts";
export * from "./registry.ts";
