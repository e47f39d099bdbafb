/**
 * The answer normalisation and per-answer scores of the official SQuAD 2.0 evaluation script
 * (`evaluate-v2.0.py`: `normalize_answer`, `compute_exact`, `compute_f1`), ported with Python's
 * string semantics.
 *
 * @module
 */

/** Python's `string.punctuation` (ASCII only: typographic quotes are not removed). */
const PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

/**
 * Python's `re.sub(r'\b(a|an|the)\b', ' ', text, flags=re.UNICODE)`: a Python word character is
 * any Unicode letter or number or `_`, while JavaScript's `\b` only knows ASCII, so the
 * boundaries are spelled out.
 */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** The characters Python's `str.split()` splits on (`str.isspace()`), control separators included. */
const PY_WHITESPACE =
  // deno-lint-ignore no-control-regex
  /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

function pySplit(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((token) => token.length > 0);
}

/**
 * Normalises an answer as the official script: lower-case, remove ASCII punctuation, replace
 * the words `a`, `an`, `the` by a space, collapse whitespace (Python's definition, so e.g. a
 * no-break space splits, U+FEFF does not).
 *
 * @param text An answer.
 * @returns The normalised answer; `""` for answers made only of articles and punctuation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeAnswer } from "./squad2_normalize.ts";
 *
 * assert.equal(normalizeAnswer("The  10th, and 11th Centuries."), "10th and 11th centuries");
 * assert.equal(normalizeAnswer("“quoted”"), "“quoted”");
 * assert.equal(normalizeAnswer("the"), "");
 * ```
 */
export function normalizeAnswer(text: string): string {
  let kept = "";
  for (const ch of text.toLowerCase()) if (!PUNCTUATION.has(ch)) kept += ch;
  return pySplit(kept.replace(ARTICLES, " ")).join(" ");
}

function tokens(text: string): string[] {
  return text ? pySplit(normalizeAnswer(text)) : [];
}

/**
 * Exact match after normalisation (`compute_exact`).
 *
 * @param gold A gold answer.
 * @param prediction The predicted answer.
 * @returns 1 or 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeExact } from "./squad2_normalize.ts";
 *
 * assert.equal(computeExact("U.S.", "US"), 1);
 * assert.equal(computeExact("well-known", "well known"), 0);
 * ```
 */
export function computeExact(gold: string, prediction: string): number {
  return normalizeAnswer(gold) === normalizeAnswer(prediction) ? 1 : 0;
}

/**
 * Token F1 after normalisation (`compute_f1`): bag-of-tokens overlap; when either side has no
 * tokens, 1 if both have none, else 0.
 *
 * @param gold A gold answer.
 * @param prediction The predicted answer.
 * @returns F1 in [0, 1], in the script's operation order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeF1 } from "./squad2_normalize.ts";
 *
 * assert.equal(computeF1("cat cat dog", "cat dog dog"), 0.6666666666666666);
 * assert.equal(computeF1("a an the", ""), 1);
 * ```
 */
export function computeF1(gold: string, prediction: string): number {
  const goldTokens = tokens(gold);
  const predTokens = tokens(prediction);
  if (goldTokens.length === 0 || predTokens.length === 0) {
    return goldTokens.length === predTokens.length ? 1 : 0;
  }
  const counts = new Map<string, number>();
  for (const token of goldTokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  let numSame = 0;
  for (const token of predTokens) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      numSame++;
      counts.set(token, left - 1);
    }
  }
  if (numSame === 0) return 0;
  const precision = numSame / predTokens.length;
  const recall = numSame / goldTokens.length;
  return (2 * precision * recall) / (precision + recall);
}
