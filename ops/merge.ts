/**
 * Merging adapters into frozen weights and exporting them as PEFT LoRA tensors
 * (docs/METHOD.md §14).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Adapter, TensorData } from "./adapter.ts";

function checkWeight(w: tf.Tensor2D, adapter: Adapter, what: string): void {
  if (w.rank !== 2 || w.shape[0] !== adapter.outFeatures || w.shape[1] !== adapter.inFeatures) {
    throw new TypeError(
      `Cannot ${what} adapter ${adapter.name} as W must have shape [${adapter.outFeatures}, ${adapter.inFeatures}]: current shape is [${w.shape}]`,
    );
  }
}

/**
 * `W0 + ΔW` (`[out, in]`, torch layout).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { loraFromPeft } from "./lora.ts";
 * import { mergeAdapter } from "./merge.ts";
 *
 * const ad = loraFromPeft("ex.merge", tf.tensor2d([[1, 0]]), tf.tensor2d([[2]]));
 * const w = mergeAdapter(tf.zeros([1, 2]), ad);
 * assert.deepEqual(Array.from(await w.data()), [2, 0]);
 * ad.dispose();
 * ```
 *
 * @param w0 Frozen weight `[out, in]`.
 * @param adapter The adapter.
 * @returns A new merged weight.
 */
export function mergeAdapter(w0: tf.Tensor2D, adapter: Adapter): tf.Tensor2D {
  checkWeight(w0, adapter, "merge");
  return tf.tidy(() => w0.add(adapter.deltaWeight()));
}

/**
 * `W − ΔW`, the inverse of `mergeAdapter`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { loraFromPeft } from "./lora.ts";
 * import { unmergeAdapter } from "./merge.ts";
 *
 * const ad = loraFromPeft("ex.unmerge", tf.tensor2d([[1, 0]]), tf.tensor2d([[2]]));
 * const w = unmergeAdapter(tf.tensor2d([[2, 0]]), ad);
 * assert.deepEqual(Array.from(await w.data()), [0, 0]);
 * ad.dispose();
 * ```
 *
 * @param w Merged weight `[out, in]`.
 * @param adapter The adapter that was merged.
 * @returns A new weight with the adapter removed.
 */
export function unmergeAdapter(w: tf.Tensor2D, adapter: Adapter): tf.Tensor2D {
  checkWeight(w, adapter, "unmerge");
  return tf.tidy(() => w.sub(adapter.deltaWeight()));
}

/**
 * PEFT LoRA tensors and patterns for a set of adapters.
 *
 * @example A rank-1 LoRA exported with PEFT scaling 1
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { PeftExport } from "./merge.ts";
 * import { exportPeft } from "./merge.ts";
 * import { loraFromPeft } from "./lora.ts";
 * import assert from "node:assert/strict";
 *
 * const ad = loraFromPeft("m", tf.tensor2d([[1, 0]]), tf.tensor2d([[2]]));
 * const out: PeftExport = await exportPeft([ad]);
 * assert.deepEqual([out.rankPattern, out.alphaPattern], [{ m: 1 }, { m: 1 }]);
 * assert.deepEqual(Array.from(out.tensors["base_model.model.m.lora_A.weight"]?.data ?? []), [1, 0]);
 * ad.dispose();
 * ```
 */
export interface PeftExport {
  /** `base_model.model.<module>.lora_A.weight [r,in]` and `….lora_B.weight [out,r]`. */
  readonly tensors: Readonly<Record<string, TensorData>>;
  /** Module → rank. */
  readonly rankPattern: Readonly<Record<string, number>>;
  /** Module → alpha (= rank, so PEFT's scaling is 1). */
  readonly alphaPattern: Readonly<Record<string, number>>;
}

/**
 * Exports adapters as lossless PEFT LoRA: `lora_A`, `lora_B` with the scale (and for
 * TriAdaptLoRA `D = L + U`) folded into `lora_B`, `rank_pattern[m] = alpha_pattern[m] = r_m`.
 * Ranks whose `lora_A` row is exactly zero (masked AdaLoRA/IncreLoRA triplets) are dropped,
 * keeping at least one.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { loraFromPeft } from "./lora.ts";
 * import { exportPeft } from "./merge.ts";
 *
 * const ad = loraFromPeft("m", tf.tensor2d([[1, 0]]), tf.tensor2d([[2]]));
 * const out = await exportPeft([ad]);
 * assert.deepEqual(out.rankPattern, { m: 1 });
 * assert.deepEqual(out.tensors["base_model.model.m.lora_B.weight"]?.shape, [1, 1]);
 * ad.dispose();
 * ```
 *
 * @param adapters Trained adapters.
 * @returns Tensors and patterns as plain data.
 */
export async function exportPeft(adapters: readonly Adapter[]): Promise<PeftExport> {
  const tensors: Record<string, TensorData> = {};
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  for (const ad of adapters) {
    const { loraA, loraB } = ad.peftFactors();
    const [r, n] = loraA.shape;
    const d = loraB.shape[0];
    const aData = await loraA.data();
    const bData = await loraB.data();
    loraA.dispose();
    loraB.dispose();
    const keep: number[] = [];
    for (let i = 0; i < r; i++) {
      let nonzero = false;
      for (let j = 0; j < n && !nonzero; j++) nonzero = aData[i * n + j] !== 0;
      if (nonzero) keep.push(i);
    }
    if (keep.length === 0) keep.push(0);
    const k = keep.length;
    const a = new Float32Array(k * n);
    const b = new Float32Array(d * k);
    keep.forEach((src, dst) => {
      a.set(aData.subarray(src * n, (src + 1) * n), dst * n);
      for (let row = 0; row < d; row++) b[row * k + dst] = bData[row * r + src] as number;
    });
    const prefix = `base_model.model.${ad.name}`;
    tensors[`${prefix}.lora_A.weight`] = { shape: [k, n], data: a };
    tensors[`${prefix}.lora_B.weight`] = { shape: [d, k], data: b };
    rankPattern[ad.name] = k;
    alphaPattern[ad.name] = k;
  }
  return { tensors, rankPattern, alphaPattern };
}
