/**
 * Batching: pick features by index and pad them to the longest in the batch.
 *
 * @module
 */

import { padBatch } from "../../model/tokenizer.ts";

/**
 * The fields {@linkcode collate} reads from a feature.
 *
 * @example An unlabelled feature
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CollatableFeature } from "./collate.ts";
 * import { collate } from "./collate.ts";
 *
 * const feature: CollatableFeature = { inputIds: [1, 7, 2], tokenTypeIds: [0, 0, 0] };
 * const batch = collate([feature], [0]);
 * assert.deepEqual(batch.inputIds, [[1, 7, 2]]);
 * assert.equal(batch.labels, undefined);
 * ```
 */
export interface CollatableFeature {
  /** Token ids, unpadded. */
  readonly inputIds: readonly number[];
  /** Token types, as long as `inputIds`. */
  readonly tokenTypeIds: readonly number[];
  /** Class index or regression target. */
  readonly label?: number;
}

/**
 * A padded batch of plain arrays (`[batch, length]` and `[batch]`).
 *
 * @example Token types are padded with 0
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CollatedBatch } from "./collate.ts";
 * import { collate } from "./collate.ts";
 *
 * const features = [{ inputIds: [1, 2], tokenTypeIds: [0, 0], label: 3 },
 *   { inputIds: [1, 4, 2, 5, 2], tokenTypeIds: [0, 0, 0, 1, 1], label: 1 }];
 * const batch: CollatedBatch = collate(features, [0, 1]);
 * assert.deepEqual(batch.tokenTypeIds, [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]]);
 * assert.deepEqual(batch.labels, [3, 1]);
 * ```
 */
export interface CollatedBatch {
  /** Token ids, padded with the pad id. */
  inputIds: number[][];
  /** 1 for tokens, 0 for padding. */
  attentionMask: number[][];
  /** Token types, padded with 0. */
  tokenTypeIds: number[][];
  /** Present when every feature of the batch has a label. */
  labels?: number[];
}

/**
 * Options of {@linkcode collate}.
 *
 * @example Pad to a multiple of 4 with a custom pad id
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CollateOptions } from "./collate.ts";
 * import { collate } from "./collate.ts";
 *
 * const options: CollateOptions = { padId: 9, multipleOf: 4 };
 * const batch = collate([{ inputIds: [1, 2], tokenTypeIds: [0, 0] }], [0], options);
 * assert.deepEqual(batch.inputIds, [[1, 2, 9, 9]]);
 * assert.deepEqual(batch.attentionMask, [[1, 1, 0, 0]]);
 * ```
 */
export interface CollateOptions {
  /** The `[PAD]` id (default 0, DeBERTa-v3's). */
  padId?: number;
  /** Round the padded length up to a multiple of this. */
  multipleOf?: number;
}

/**
 * Gathers `features[indices]` and pads them on the right to the batch's longest.
 *
 * @param features All features of a split.
 * @param indices The batch (e.g. from a sampler).
 * @param options Pad id and length multiple.
 * @returns Padded ids, mask and token types, and the labels when every feature has one.
 *
 * @example Two features
 * ```ts
 * import { collate } from "./collate.ts";
 * import assert from "node:assert/strict";
 *
 * const features = [
 *   { inputIds: [1, 5, 2], tokenTypeIds: [0, 0, 0], label: 1 },
 *   { inputIds: [1, 2], tokenTypeIds: [0, 0], label: 0 },
 * ];
 * const b = collate(features, [1, 0]);
 * assert.deepEqual(b.inputIds, [[1, 2, 0], [1, 5, 2]]);
 * assert.deepEqual(b.attentionMask, [[1, 1, 0], [1, 1, 1]]);
 * assert.deepEqual(b.labels, [0, 1]);
 * ```
 */
export function collate(
  features: readonly CollatableFeature[],
  indices: readonly number[],
  options: CollateOptions = {},
): CollatedBatch {
  const picked = indices.map((i) => {
    const f = Number.isInteger(i) ? features[i] : undefined;
    if (f === undefined) {
      throw new RangeError(
        `Cannot collate as every index must be an integer in [0, ${features.length}): current value is ${i}`,
      );
    }
    return f;
  });
  const padded = padBatch(picked, {
    padId: options.padId ?? 0,
    ...(options.multipleOf === undefined ? {} : { multipleOf: options.multipleOf }),
  });
  const out: CollatedBatch = {
    inputIds: padded.inputIds,
    attentionMask: padded.attentionMask,
    tokenTypeIds: padded.tokenTypeIds,
  };
  const labelled = picked.filter((f) => f.label !== undefined).length;
  if (labelled === picked.length && picked.length > 0) {
    out.labels = picked.map((f) => f.label as number);
  } else if (labelled > 0) {
    throw new TypeError(
      `Cannot collate labels as every feature of a batch must have one: ${labelled} of ${picked.length} have`,
    );
  }
  return out;
}
