/**
 * SQuAD 2.0 post-processing: from per-window start/end logits to one answer per example, as Hugging
 * Face's plain `postprocess_qa_predictions` (utils_qa.py, `version_2_with_negative=True`) does.
 *
 * @module
 */

import type { SquadExample, SquadFeature } from "./squad.ts";

/**
 * Options of {@linkcode postprocessSquad}.
 *
 * @example A low `nullThreshold` turns the span into "no answer"
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PostprocessSquadOptions } from "./squad_postprocess.ts";
 * import { postprocessSquad } from "./squad_postprocess.ts";
 *
 * const examples = [{ id: "a", question: "?", context: "Paris", answers: [], isImpossible: false }];
 * const features = [{ exampleIndex: 0, exampleId: "a", inputIds: [1, 5, 2], tokenTypeIds: [0, 1, 1],
 *   offsets: [null, [0, 5], null] as ([number, number] | null)[], contextStart: 1, windowStart: 0,
 *   startPosition: 0, endPosition: 0 }];
 * const options: PostprocessSquadOptions = { nBest: 5, maxAnswerLength: 10, nullThreshold: -20 };
 * const out = postprocessSquad(examples, features, [[0, 5, 0]], [[0, 5, 0]], options);
 * assert.deepEqual([out.nullScoreDiff.a, out.predictions.a], [-10, ""]);
 * ```
 */
export interface PostprocessSquadOptions {
  /** How many start and end candidates to pair per window, and answers to keep (default 20). */
  nBest?: number;
  /** Longest answer in tokens (default 30). */
  maxAnswerLength?: number;
  /** Predict "no answer" when `nullScoreDiff > nullThreshold` (default 0). */
  nullThreshold?: number;
}

/**
 * The predictions.
 *
 * @example One span, far above the null score
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SquadPredictions } from "./squad_postprocess.ts";
 * import { postprocessSquad } from "./squad_postprocess.ts";
 *
 * const examples = [{ id: "a", question: "?", context: "Paris", answers: [], isImpossible: false }];
 * const features = [{ exampleIndex: 0, exampleId: "a", inputIds: [1, 5, 2], tokenTypeIds: [0, 1, 1],
 *   offsets: [null, [0, 5], null] as ([number, number] | null)[], contextStart: 1, windowStart: 0,
 *   startPosition: 0, endPosition: 0 }];
 * const out: SquadPredictions = postprocessSquad(examples, features, [[0, 5, 0]], [[0, 5, 0]]);
 * assert.deepEqual([out.predictions.a, out.nullScoreDiff.a], ["Paris", -10]);
 * assert.equal(out.naProbs.a, 1 / (1 + Math.exp(10)));
 * ```
 */
export interface SquadPredictions {
  /** Per example id: the answer text, `""` for "no answer". */
  predictions: Record<string, string>;
  /**
   * Per example id: `nullScore − (start + end logit of the best non-null span)`, where `nullScore`
   * is the smallest `[CLS]` score over the example's windows; `Infinity` when no span qualifies.
   */
  nullScoreDiff: Record<string, number>;
  /**
   * Per example id: `sigmoid(nullScoreDiff)`, a no-answer probability for the official script.
   * The script only sorts and thresholds these, so `nullScoreDiff` itself works as well and keeps
   * apart differences above about 37, where the sigmoid rounds to exactly 1.
   */
  naProbs: Record<string, number>;
}

interface Candidate {
  score: number;
  startLogit: number;
  endLogit: number;
  text: string;
}

function identity(x: number): number {
  return x;
}

/** Indices of the `k` largest values, largest first; ties keep the lower index first. */
function topIndices(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => (values[b] as number) - (values[a] as number) || a - b);
  return idx.slice(0, k);
}

/**
 * Picks each example's answer from its windows' logits, as `postprocess_qa_predictions` does.
 * Per window: the `nBest` best start and end positions are paired; pairs outside the context,
 * reversed, or longer than `maxAnswerLength` tokens are skipped; a pair scores `start + end`. The
 * null (`[CLS]`) score is the smallest `start[0] + end[0]` over the example's windows. The best
 * non-empty answer is predicted unless `null − startLogit − endLogit > nullThreshold` (computed in
 * that order, as the reference does).
 *
 * Arithmetic follows NumPy's on the reference's arrays: with `Float32Array` logits (what a model
 * returns) every sum and difference is rounded to float32, as NumPy computes on float32 scalars;
 * plain arrays are summed in float64.
 *
 * Where this differs from the reference, on purpose:
 * - Only a window's own positions compete for the n-best (`logits` may be longer, e.g. padded to
 *   the batch; the extra positions are ignored). The reference ranks every position of its
 *   `max_length`-padded rows, so padding logits can take n-best slots there.
 * - Tie order among exactly equal logits: lower position first (NumPy's `argsort` leaves it
 *   unspecified).
 * - When no span qualifies, the answer is `""` with `nullScoreDiff` `Infinity`; the reference
 *   then invents the answer `"empty"` (score 0) or fails with an `IndexError`.
 *
 * @param examples The examples given to `featurizeSquad`.
 * @param features Its features.
 * @param startLogits Per feature, the start logits (`[length]`).
 * @param endLogits Per feature, the end logits (`[length]`).
 * @param options n-best size, maximum answer length and null threshold.
 * @returns Answers, null-score differences and no-answer probabilities by example id.
 *
 * @example Hand-built logits
 * ```ts
 * import { postprocessSquad } from "./squad_postprocess.ts";
 * import assert from "node:assert/strict";
 *
 * const context = "Paris is in France.";
 * const examples = [{ id: "a", question: "Where?", context, answers: [], isImpossible: false }];
 * const features = [{
 *   exampleIndex: 0, exampleId: "a", inputIds: [1, 9, 2, 5, 6, 7, 8, 2], tokenTypeIds: [],
 *   offsets: [null, null, null, [0, 5], [6, 8], [9, 11], [12, 19], null] as ([number, number] | null)[],
 *   contextStart: 3, windowStart: 0, startPosition: 0, endPosition: 0,
 * }];
 * const start = [0, 0, 0, 0, 0, 0, 5, 0];
 * const end = [0, 0, 0, 0, 0, 0, 5, 0];
 * const out = postprocessSquad(examples, features, [start], [end]);
 * assert.equal(out.predictions.a, "France.");
 * assert.equal(out.nullScoreDiff.a, -10);
 * ```
 */
export function postprocessSquad(
  examples: readonly SquadExample[],
  features: readonly SquadFeature[],
  startLogits: readonly ArrayLike<number>[],
  endLogits: readonly ArrayLike<number>[],
  options: PostprocessSquadOptions = {},
): SquadPredictions {
  const { nBest = 20, maxAnswerLength = 30, nullThreshold = 0 } = options;
  for (const [name, v] of [["nBest", nBest], ["maxAnswerLength", maxAnswerLength]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(
        `Cannot post-process as ${name} must be a positive integer: current value is ${v}`,
      );
    }
  }
  if (!Number.isFinite(nullThreshold)) {
    throw new RangeError(
      `Cannot post-process as nullThreshold must be finite: current value is ${nullThreshold}`,
    );
  }
  if (startLogits.length !== features.length || endLogits.length !== features.length) {
    throw new TypeError(
      `Cannot post-process as there must be one logit row per feature: current counts are ${startLogits.length} and ${endLogits.length} for ${features.length} features`,
    );
  }
  const byExample: number[][] = examples.map(() => []);
  features.forEach((f, i) => {
    const list = byExample[f.exampleIndex];
    if (list === undefined) {
      throw new RangeError(
        `Cannot post-process feature ${i} as exampleIndex must be in [0, ${examples.length}): current value is ${f.exampleIndex}`,
      );
    }
    list.push(i);
  });
  const out: SquadPredictions = { predictions: {}, nullScoreDiff: {}, naProbs: {} };
  for (const [e, ex] of examples.entries()) {
    const candidates: Candidate[] = [];
    let nullScore = Infinity;
    let allFloat32 = true;
    for (const fi of byExample[e] as number[]) {
      const f = features[fi] as SquadFeature;
      const start = startLogits[fi] as ArrayLike<number>;
      const end = endLogits[fi] as ArrayLike<number>;
      if (start.length < f.offsets.length || end.length < f.offsets.length) {
        throw new TypeError(
          `Cannot post-process feature ${fi} as its logits must cover its ${f.offsets.length} positions: current lengths are ${start.length} and ${end.length}`,
        );
      }
      const round = start instanceof Float32Array && end instanceof Float32Array
        ? Math.fround
        : identity;
      if (round === identity) allFloat32 = false;
      nullScore = Math.min(nullScore, round((start[0] as number) + (end[0] as number)));
      const starts = topIndices(Array.prototype.slice.call(start, 0, f.offsets.length), nBest);
      const ends = topIndices(Array.prototype.slice.call(end, 0, f.offsets.length), nBest);
      for (const s of starts) {
        const so = f.offsets[s];
        if (so == null) continue;
        for (const t of ends) {
          const eo = f.offsets[t];
          if (eo == null || t < s || t - s + 1 > maxAnswerLength) continue;
          candidates.push({
            score: round((start[s] as number) + (end[t] as number)),
            startLogit: start[s] as number,
            endLogit: end[t] as number,
            text: ex.context.slice(so[0], eo[1]),
          });
        }
      }
    }
    // Sort by score (stable, as Python's sorted: ties keep window and n-best order). The reference
    // keeps the top nBest of these plus the null answer and takes the first non-empty one: the
    // same answer as the first non-empty one overall whenever the reference finds one at all.
    candidates.sort((a, b) => b.score - a.score);
    const best = candidates.find((c) => c.text !== "");
    let diff = Infinity;
    if (best !== undefined) {
      const round = allFloat32 ? Math.fround : identity;
      diff = round(round(nullScore - best.startLogit) - best.endLogit);
    }
    out.nullScoreDiff[ex.id] = diff;
    out.naProbs[ex.id] = 1 / (1 + Math.exp(-diff));
    out.predictions[ex.id] = best === undefined || diff > nullThreshold ? "" : best.text;
  }
  return out;
}
