/**
 * SQuAD 2.0 featurisation as Hugging Face's `run_qa.py` prepares it for an encoder with the
 * question first (`pad_on_right`): `[CLS] question [SEP] context-window [SEP]`, sliding windows
 * over the context, answer spans mapped to token positions through character offsets, and the
 * `[CLS]` position (0) for "no answer".
 *
 * @module
 */

import type { Encoding, Offset, Tokenizer } from "../../model/tokenizer.ts";

/**
 * A SQuAD example as the task reader produces it.
 *
 * @example An unanswerable question labels `[CLS]`
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 * import type { SquadExample } from "./squad.ts";
 * import { featurizeSquad } from "./squad.ts";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const example: SquadExample = { id: "q", question: "Why?", context: "Rollo was Norse.", answers: [], isImpossible: true };
 * const [f] = featurizeSquad([example], tok);
 * assert.deepEqual([f?.exampleId, f?.startPosition, f?.endPosition], ["q", 0, 0]);
 * ```
 */
export interface SquadExample {
  /** The question id. */
  id: string;
  /** The question. */
  question: string;
  /** The paragraph the answer comes from. */
  context: string;
  /** Gold answers (the first one labels training features). */
  answers: { text: string; answerStart: number }[];
  /** True for SQuAD 2.0 questions without an answer. */
  isImpossible: boolean;
}

/**
 * One window of one example.
 *
 * @example Offsets map the labelled span back to the context
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 * import type { SquadFeature } from "./squad.ts";
 * import { featurizeSquad } from "./squad.ts";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const context = "The cat sat on the mat.";
 * const [f]: SquadFeature[] = featurizeSquad([{ id: "q", question: "Who sat?", context, isImpossible: false,
 *   answers: [{ text: "The cat", answerStart: 0 }] }], tok);
 * assert.equal(f?.offsets[0], null);
 * assert.equal(f?.startPosition, f?.contextStart);
 * assert.equal(context.slice(f!.offsets[f!.startPosition]![0], f!.offsets[f!.endPosition]![1]), "The cat");
 * ```
 */
export interface SquadFeature {
  /** Index of the example in the array given to {@linkcode featurizeSquad}. */
  exampleIndex: number;
  /** The example's `id`. */
  exampleId: string;
  /** `[CLS] question [SEP] window [SEP]`. */
  inputIds: number[];
  /** 0 through the first `[SEP]`, 1 after it. */
  tokenTypeIds: number[];
  /** Per position: the `[start, end)` span in the context for context tokens, else `null`. */
  offsets: (Offset | null)[];
  /** Position of the first context token (after `[CLS] question [SEP]`). */
  contextStart: number;
  /** Index, in the whole context's tokens, of this window's first token. */
  windowStart: number;
  /** Answer start position, or 0 (`[CLS]`) when the window holds no answer. */
  startPosition: number;
  /** Answer end position (inclusive), or 0 (`[CLS]`) when the window holds no answer. */
  endPosition: number;
}

/**
 * Options of {@linkcode featurizeSquad}.
 *
 * @example A short `maxLength` gives several windows
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 * import type { FeaturizeSquadOptions } from "./squad.ts";
 * import { featurizeSquad } from "./squad.ts";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const options: FeaturizeSquadOptions = { maxLength: 32, docStride: 8, maxQueryLength: 8 };
 * const features = featurizeSquad([{ id: "q", question: "Who?", context: "Rollo was Norse. ".repeat(10),
 *   answers: [], isImpossible: true }], tok, options);
 * assert.ok(features.length > 1 && features.every((f) => f.inputIds.length <= 32));
 * ```
 */
export interface FeaturizeSquadOptions {
  /** Maximum length including special tokens (default 384). */
  maxLength?: number;
  /**
   * Overlap in tokens between consecutive windows (default 128), as Hugging Face's `stride`:
   * each window starts `contextBudget − docStride` tokens after the previous one.
   */
  docStride?: number;
  /**
   * Questions are cut to this many tokens (default 64, as BERT's original SQuAD script).
   * Hugging Face's `run_qa.py` does not cut questions: pass `Infinity` to do the same.
   */
  maxQueryLength?: number;
}

/** Token range `[first, last]` of the context covering `[startChar, endChar)`, or undefined. */
function answerTokens(
  offsets: readonly Offset[],
  startChar: number,
  endChar: number,
): [number, number] | undefined {
  let first = -1;
  let last = -1;
  for (let i = 0; i < offsets.length; i++) {
    const [s, e] = offsets[i] as Offset;
    if (s === e) continue; // empty spans (a bare dummy-prefix marker) cover no character
    if (first < 0 && e > startChar) first = i;
    if (s < endChar) last = i;
  }
  return first >= 0 && last >= first ? [first, last] : undefined;
}

function checkInt(name: string, v: number, min: number, infinite = false): void {
  if (!(Number.isInteger(v) || (infinite && v === Infinity)) || v < min) {
    throw new RangeError(
      `Cannot featurize SQuAD as ${name} must be an integer >= ${min}: current value is ${v}`,
    );
  }
}

/**
 * Turns SQuAD examples into windowed features. Windows cover the whole context: each holds up to
 * `maxLength − questionTokens − 3` context tokens and overlaps the previous one by `docStride`.
 * A window's label is the answer's first and last token when the whole answer lies inside it, else
 * `[CLS]` (0); impossible questions are always `[CLS]`. The answer's tokens are the first token
 * ending after its first character and the last token starting before its end.
 *
 * Windows are Hugging Face's (`return_overflowing_tokens` with `stride`, `truncation="only_second"`):
 * window `k` starts at context token `k · (budget − docStride)`, where `budget` is
 * `maxLength − questionTokens − 3`, and the last window ends at the last context token. Labels
 * agree with `run_qa.py`'s `prepare_train_features` whenever the answer's first character lies
 * inside a token; when it lies between tokens (an `answer_start` on a space, which this
 * tokenizer's offsets leave out), `run_qa.py` would start at the token before, this function at
 * the token after.
 *
 * @param examples The examples.
 * @param tokenizer The tokenizer.
 * @param options Lengths and stride.
 * @returns The features, grouped by example in order.
 *
 * @example Two windows over a long context
 * ```ts
 * import { featurizeSquad } from "./squad.ts";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const context = "The Normans were in Normandy. ".repeat(8) + "They came from France.";
 * const features = featurizeSquad([{
 *   id: "q1", question: "Where from?", context, isImpossible: false,
 *   answers: [{ text: "France", answerStart: context.indexOf("France") }],
 * }], tok, { maxLength: 48, docStride: 16, maxQueryLength: 16 });
 * assert.ok(features.length > 1);
 * const last = features.at(-1)!;
 * const [s] = last.offsets[last.startPosition]!;
 * const [, e] = last.offsets[last.endPosition]!;
 * assert.equal(context.slice(s, e), "France");
 * assert.equal(features[0]!.startPosition, 0); // the first window does not hold the answer
 * ```
 */
export function featurizeSquad(
  examples: readonly SquadExample[],
  tokenizer: Pick<Tokenizer, "encode" | "special">,
  options: FeaturizeSquadOptions = {},
): SquadFeature[] {
  const { maxLength = 384, docStride = 128, maxQueryLength = 64 } = options;
  checkInt("maxLength", maxLength, 4);
  checkInt("docStride", docStride, 0);
  checkInt("maxQueryLength", maxQueryLength, 1, true);
  const { cls, sep } = tokenizer.special;
  const features: SquadFeature[] = [];
  let lastContext: string | undefined;
  let ctx: Encoding | undefined;
  for (const [exampleIndex, ex] of examples.entries()) {
    // run_qa.py strips the question's leading whitespace.
    const qIds = tokenizer.encode(ex.question.trimStart()).ids.slice(0, maxQueryLength);
    // SQuAD lists a paragraph's questions together: encode each context once.
    if (ex.context !== lastContext || ctx === undefined) {
      ctx = tokenizer.encode(ex.context);
      lastContext = ex.context;
    }
    const budget = maxLength - qIds.length - 3;
    if (budget <= docStride) {
      throw new RangeError(
        `Cannot featurize SQuAD example ${ex.id} as docStride must be < maxLength - question - 3: ` +
          `current values are ${docStride} >= ${budget}`,
      );
    }
    let span: [number, number] | undefined;
    const answer = ex.answers[0];
    if (!ex.isImpossible && answer !== undefined) {
      span = answerTokens(ctx.offsets, answer.answerStart, answer.answerStart + answer.text.length);
    }
    const n = ctx.ids.length;
    const step = budget - docStride;
    const contextStart = qIds.length + 2;
    for (let start = 0;; start += step) {
      const stop = Math.min(start + budget, n);
      const inputIds = [cls, ...qIds, sep, ...ctx.ids.slice(start, stop), sep];
      const tokenTypeIds = [
        ...new Array<number>(contextStart).fill(0),
        ...new Array<number>(stop - start + 1).fill(1),
      ];
      const offsets: (Offset | null)[] = [
        ...new Array<null>(contextStart).fill(null),
        ...ctx.offsets.slice(start, stop).map(([s, e]): Offset => [s, e]),
        null,
      ];
      let startPosition = 0;
      let endPosition = 0;
      if (span !== undefined && span[0] >= start && span[1] < stop) {
        startPosition = contextStart + span[0] - start;
        endPosition = contextStart + span[1] - start;
      }
      features.push({
        exampleIndex,
        exampleId: ex.id,
        inputIds,
        tokenTypeIds,
        offsets,
        contextStart,
        windowStart: start,
        startPosition,
        endPosition,
      });
      if (stop >= n) break;
    }
  }
  return features;
}
