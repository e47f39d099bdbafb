/**
 * GLUE featurisation: single sentences and sentence pairs through the tokenizer, truncated to the
 * task's maximum length.
 *
 * @module
 */

import type { Tokenizer, Truncation } from "../../model/tokenizer.ts";

import type { GlueExample } from "../tasks/parse_glue.ts";
export type { GlueExample };

/**
 * One model input, not yet padded.
 *
 * @example A single sentence keeps its `idx`
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 * import type { GlueFeature } from "./glue.ts";
 * import { featurizeGlue } from "./glue.ts";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const [f]: GlueFeature[] = featurizeGlue([{ textA: "Fine.", idx: 7 }], tok, { maxLength: 16 });
 * assert.equal(f?.idx, 7);
 * assert.equal(f?.label, undefined);
 * assert.ok(f?.tokenTypeIds.every((t) => t === 0));
 * ```
 */
export interface GlueFeature {
  /** `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated. */
  inputIds: number[];
  /** 0 through the first `[SEP]`, 1 after it. */
  tokenTypeIds: number[];
  /** The example's label, when it has one. */
  label?: number;
  /** The example's `idx`, or its position in the input when it has none. */
  idx: number;
}

/**
 * Options of {@linkcode featurizeGlue}.
 *
 * @example Truncation to `maxLength`, `[SEP]` kept last
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 * import type { FeaturizeGlueOptions } from "./glue.ts";
 * import { featurizeGlue } from "./glue.ts";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const options: FeaturizeGlueOptions = { maxLength: 8, truncation: "longest_first" };
 * const [f] = featurizeGlue([{ textA: "The cat sat on the mat. ".repeat(4) }], tok, options);
 * assert.equal(f?.inputIds.length, 8);
 * assert.equal(f?.inputIds.at(-1), tok.special.sep);
 * ```
 */
export interface FeaturizeGlueOptions {
  /** Maximum length including special tokens (see {@linkcode GLUE_MAX_LENGTH}). */
  maxLength: number;
  /**
   * Truncation strategy (default `"longest_first"`, Hugging Face's Python tokenizers; use
   * `"longest_first_fast"` to match its fast tokenizers, which `AutoTokenizer` loads by default).
   */
  truncation?: Truncation;
}

/**
 * Maximum sequence length per task for DeBERTa-v3-base (docs/METHOD.md §16).
 *
 * @example Look up RTE
 * ```ts
 * import { GLUE_MAX_LENGTH } from "./glue.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(GLUE_MAX_LENGTH.rte, 320);
 * ```
 */
export const GLUE_MAX_LENGTH: Readonly<Record<string, number>> = Object.freeze({
  mnli: 256,
  sst2: 128,
  cola: 64,
  qqp: 320,
  qnli: 512,
  rte: 320,
  mrpc: 320,
  stsb: 128,
  squad2: 384,
});

/**
 * The maximum sequence length of a task, by name (`"RTE"`, `"sst-2"`, `"STS-B"`, `"squad_v2"`…;
 * case, `-` and `_` are ignored).
 *
 * @param task The task name.
 * @returns The maximum length including special tokens (docs/METHOD.md §16).
 *
 * @example Names are normalised
 * ```ts
 * import { maxLengthFor } from "./glue.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(maxLengthFor("SST-2"), 128);
 * assert.equal(maxLengthFor("squad_v2"), 384);
 * ```
 */
export function maxLengthFor(task: string): number {
  let key = task.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (key === "squadv2" || key === "squad20") key = "squad2";
  if (key === "mnlim" || key === "mnlimm" || key === "mnlimatched" || key === "mnlimismatched") {
    key = "mnli";
  }
  const v = GLUE_MAX_LENGTH[key];
  if (v === undefined) {
    throw new RangeError(
      `Cannot find the maximum length as task must be one of ${
        Object.keys(GLUE_MAX_LENGTH).join(", ")
      }: current value is ${task}`,
    );
  }
  return v;
}

/**
 * Encodes GLUE examples (the `GlueExample` shape the task readers produce) as `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated to `maxLength`.
 * Padding happens per batch in {@linkcode collate}.
 *
 * @param examples The examples.
 * @param tokenizer The tokenizer.
 * @param options The maximum length and truncation.
 * @returns One feature per example, in order.
 *
 * @example A pair
 * ```ts
 * import { featurizeGlue } from "./glue.ts";
 * import { createTokenizer } from "../../model/tokenizer.ts";
 * import { tinySpmModel } from "../../model/_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a tiny in-memory SentencePiece model
 * const [f] = featurizeGlue([{ textA: "A cat sat.", textB: "A cat.", label: 1 }], tok, { maxLength: 64 });
 * assert.equal(f?.inputIds[0], tok.special.cls);
 * assert.equal(f?.label, 1);
 * assert.equal(f?.idx, 0);
 * ```
 */
export function featurizeGlue(
  examples: readonly GlueExample[],
  tokenizer: Pick<Tokenizer, "encodePair">,
  options: FeaturizeGlueOptions,
): GlueFeature[] {
  const { maxLength, truncation = "longest_first" } = options;
  if (!Number.isInteger(maxLength) || maxLength < 3) {
    throw new RangeError(
      `Cannot featurize as maxLength must be an integer >= 3: current value is ${maxLength}`,
    );
  }
  return examples.map((ex, i) => {
    if (typeof ex.textA !== "string" || (ex.textB !== undefined && typeof ex.textB !== "string")) {
      throw new TypeError(
        `Cannot featurize example ${i} as textA and textB must be strings: current types are ${typeof ex
          .textA} and ${typeof ex.textB}`,
      );
    }
    if (ex.label !== undefined && !Number.isFinite(ex.label)) {
      throw new RangeError(
        `Cannot featurize example ${i} as label must be a finite number: current value is ${ex.label}`,
      );
    }
    const p = tokenizer.encodePair(ex.textA, ex.textB, { maxLength, truncation, offsets: false });
    const f: GlueFeature = { inputIds: p.inputIds, tokenTypeIds: p.tokenTypeIds, idx: ex.idx ?? i };
    if (ex.label !== undefined) f.label = ex.label;
    return f;
  });
}
