/**
 * Helpers of the encoder golden tests: read the tiny-a golden files in place and compare.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { parseDebertaConfig } from "../../../model/config.ts";
import type { DebertaConfig } from "../../../model/config.ts";

/** Directory of the tiny-a golden model. */
export const TINY_A = new URL("../../../testdata/golden/deberta/tiny-a/", import.meta.url);

/** One golden batch. */
export interface GoldenBatch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  logits: number[][];
  last_hidden_state: number[][][];
  hidden_states: number[][][][];
  relative_pos?: number[][];
}

/**
 * Reads one JSON file of the golden directory.
 *
 * @param name File name.
 * @returns Parsed JSON.
 */
export async function readGoldenJson<T>(name: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(new URL(name, TINY_A))) as T;
}

/**
 * Reads the tiny-a config.
 *
 * @returns The resolved config.
 */
export async function tinyConfig(): Promise<DebertaConfig> {
  return parseDebertaConfig(await readGoldenJson<unknown>("config.json"), "tiny-a/config.json");
}

/**
 * Max |a − fround(b)| over all entries.
 *
 * @param actual Tensor.
 * @param expected Nested golden numbers, same shape.
 * @returns Max abs difference.
 */
export function maxAbsDiff(actual: tf.Tensor, expected: unknown): number {
  const want = (expected as number[]).flat(4) as number[];
  const got = actual.dataSync();
  if (got.length !== want.length) throw new Error(`size ${got.length} != ${want.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - Math.fround(want[i]!)));
  return m;
}

/**
 * Max |a − b| over real positions (`mask == 1`) of `[batch, seq, hidden]` hidden states.
 *
 * @param actual Tensor `[B, S, H]`.
 * @param expected Golden `[B][S][H]`.
 * @param mask `[B][S]`.
 * @returns Max abs difference at real positions.
 */
export function maxAbsDiffReal(
  actual: tf.Tensor,
  expected: number[][][],
  mask: number[][],
): number {
  const got = actual.arraySync() as number[][][];
  let m = 0;
  expected.forEach((rows, b) =>
    rows.forEach((vec, s) => {
      if (mask[b]![s] !== 1) return;
      vec.forEach((v, k) => {
        m = Math.max(m, Math.abs(got[b]![s]![k]! - Math.fround(v)));
      });
    })
  );
  return m;
}
