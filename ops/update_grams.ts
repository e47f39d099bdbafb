/**
 * The `r×r` view of TriAdaptLoRA updates for the update-based scores (docs/METHOD.md §20): per
 * adapter `G_A = A·Aᵀ`, `G_B = Bᵀ·B`, `D = L + U` and `s(r)`, read in one batched transfer. The
 * `d×n` update is never formed; the cost is `O((d + n)·r²)` per adapter, at allocation events only.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { UpdateGrams } from "../core/update_score.ts";
import type { TriAdaptLoraAdapter } from "./triadapt_lora.ts";

function rows(data: Float32Array, offset: number, r: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < r; i++) {
    out.push(Array.from(data.subarray(offset + i * r, offset + (i + 1) * r)));
  }
  return out;
}

/**
 * Reads `G_A`, `G_B`, `D` and `s` of every adapter with one `data()` call.
 *
 * @example The norm from the Grams equals the norm of the explicit update
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 * import { updateNorm } from "../core/update_score.ts";
 * import { TriAdaptLoraAdapter } from "./triadapt_lora.ts";
 * import { updateGramsOf } from "./update_grams.ts";
 *
 * const ad = new TriAdaptLoraAdapter({ name: "ex.grams", inFeatures: 6, outFeatures: 5, seed: 2 });
 * ad.grow(2); // paper growth: random B columns, so ΔW ≠ 0
 * const [g] = await updateGramsOf([ad]);
 * const dw = ad.deltaWeight();
 * const direct = (await tf.norm(dw).data())[0]!;
 * assert.ok(Math.abs(updateNorm(g!) - direct) <= 1e-4 * direct);
 * dw.dispose();
 * ad.dispose();
 * ```
 *
 * @param adapters TriAdaptLoRA adapters, module order.
 * @returns One `r×r` view per adapter, same order.
 */
export async function updateGramsOf(
  adapters: readonly TriAdaptLoraAdapter[],
): Promise<UpdateGrams[]> {
  if (adapters.length === 0) return [];
  const flat = tf.tidy(() =>
    tf.concat(adapters.flatMap((ad) => {
      const { a, b, l, u } = ad.factors();
      return [
        tf.matMul(a, a, false, true).reshape([-1]),
        tf.matMul(b, b, true, false).reshape([-1]),
        l.add(u).reshape([-1]),
      ];
    }))
  );
  const data = await flat.data() as Float32Array;
  flat.dispose();
  let offset = 0;
  return adapters.map((ad) => {
    const r = ad.rank;
    const gramA = rows(data, offset, r);
    const gramB = rows(data, offset + r * r, r);
    const core = rows(data, offset + 2 * r * r, r);
    offset += 3 * r * r;
    return { gramA, gramB, core, scale: ad.scale };
  });
}
