/**
 * Seeded dropout with a fast mask generator. `tf.dropout` draws its mask with tfjs's seeded
 * `randomUniform` (seedrandom's Alea, one JavaScript call per element) and four more tensor ops:
 * 14 ms for the `[12, 4, 128, 128]` attention probabilities of one base-width layer at batch 4
 * on wasm (`bench/dropout_mask.ts`; 2.6–2.8 ms here). This module fills the mask in one loop of a
 * 32-bit counter-based generator (Mulberry32 seeded by FNV-1a of the seed text) and multiplies
 * once. Same seed text, same shape → the same mask, on every backend.
 *
 * @internal
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** FNV-1a of a string: the generator's starting state. */
function seedState(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The dropout multiplier: `1 / (1 − rate)` with probability `1 − rate`, else 0, one per element.
 *
 * @param size Elements.
 * @param rate Drop probability in `[0, 1)`.
 * @param seed Seed text.
 * @returns The multipliers.
 *
 * @example About a tenth dropped, the rest scaled
 * ```ts
 * import assert from "node:assert/strict";
 * import { dropoutMultipliers } from "./_dropout.ts";
 *
 * const m = dropoutMultipliers(10_000, 0.1, "s");
 * const dropped = m.filter((v) => v === 0).length;
 * assert.ok(dropped > 900 && dropped < 1100);
 * assert.deepEqual(dropoutMultipliers(5, 0.1, "s"), m.subarray(0, 5));
 * ```
 */
export function dropoutMultipliers(size: number, rate: number, seed: string): Float32Array {
  const out = new Float32Array(size);
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(1 / keep);
  // Keep when the unsigned 32-bit draw u < keep·2^32; compared as signed int32 with the sign bit
  // flipped on both sides, so the loop stays in int32 arithmetic.
  const threshold = (Math.floor(keep * 4294967296) - 2147483648) | 0;
  let state = seedState(seed) | 0;
  for (let i = 0; i < size; i++) {
    // Mulberry32.
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t = t ^ ((t + Math.imul(t ^ (t >>> 7), t | 61)) | 0);
    const u = (t ^ (t >>> 14)) ^ -2147483648;
    out[i] = u < threshold ? scale : 0;
  }
  return out;
}

/**
 * `x ⊙ mask` with a seeded mask of {@link dropoutMultipliers} (the inverted-dropout scaling of
 * `tf.dropout`); differentiable in `x` (the mask is a constant).
 *
 * @param x Input.
 * @param rate Drop probability in `[0, 1)`; 0 returns `x` itself.
 * @param seed Seed text (the same text gives the same mask).
 * @returns The dropped-out tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { seededDropout } from "./_dropout.ts";
 *
 * const x = tf.ones([4, 4]);
 * assert.deepEqual(seededDropout(x, 0.5, "a").dataSync(), seededDropout(x, 0.5, "a").dataSync());
 * assert.equal(seededDropout(x, 0, "a"), x);
 * ```
 */
export function seededDropout<T extends tf.Tensor>(x: T, rate: number, seed: string): T {
  if (rate === 0) return x;
  return tf.tidy(() => {
    const mask = tf.tensor(dropoutMultipliers(x.size, rate, seed), x.shape, "float32");
    return tf.mul(x, mask) as T;
  });
}
