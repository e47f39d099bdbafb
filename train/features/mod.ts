/**
 * Featurisation: GLUE sentences and pairs through the tokenizer, batching with padding, a seeded
 * resumable sampler, SQuAD 2.0 sliding windows and answer post-processing.
 *
 * @example Featurise, sample and collate
 * ```ts
 * import assert from "node:assert/strict";
 * import { collate, createSampler, featurizeGlue, maxLengthFor } from "./mod.ts";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const examples = [
 *   { textA: "A man is playing a guitar.", textB: "A man plays music.", label: 0 },
 *   { textA: "The cat sat.", textB: "Nobody sat.", label: 1 },
 *   { textA: "It rains.", textB: "The ground is wet.", label: 0 },
 * ];
 * const features = featurizeGlue(examples, tok, { maxLength: maxLengthFor("RTE") });
 * const sampler = createSampler({ size: features.length, seed: 0, batchSize: 2 });
 * const batch = collate(features, sampler.batchAt(0).indices, { padId: tok.special.pad });
 * assert.equal(batch.inputIds.length, 2);
 * assert.equal(batch.labels?.length, 2);
 * ```
 *
 * @module
 */

export * from "./glue.ts";
export * from "./collate.ts";
export * from "./sampler.ts";
export * from "./squad.ts";
export * from "./squad_postprocess.ts";
