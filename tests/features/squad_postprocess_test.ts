import assert from "node:assert/strict";
import type { SquadExample, SquadFeature } from "../../train/features/squad.ts";
import { featurizeSquad } from "../../train/features/squad.ts";
import { postprocessSquad } from "../../train/features/squad_postprocess.ts";
import { squadExamples, unigramTokenizer } from "./_fixtures.ts";

// "[CLS] q [SEP] Paris is in France . [SEP]" with hand-set offsets into the context.
const context = "Paris is in France. Rome is in Italy.";
const examples: SquadExample[] = [{
  id: "a",
  question: "Where?",
  context,
  answers: [],
  isImpossible: false,
}];
function feature(offsets: ([number, number] | null)[], windowStart = 0): SquadFeature {
  return {
    exampleIndex: 0,
    exampleId: "a",
    inputIds: offsets.map(() => 5),
    tokenTypeIds: offsets.map(() => 0),
    offsets,
    contextStart: 3,
    windowStart,
    startPosition: 0,
    endPosition: 0,
  };
}
const f0 = feature([null, null, null, [0, 5], [6, 8], [9, 11], [12, 18], [18, 19], null]);

Deno.test("postprocessSquad() picks the best-scoring span inside the context", () => {
  const start = [1, 9, 0, 0, 0, 0, 4, 0, 9]; // question and final [SEP] are not answers
  const end = [1, 0, 9, 0, 0, 0, 3, 2, 9];
  const out = postprocessSquad(examples, [f0], [start], [end]);
  assert.equal(out.predictions.a, "France");
  assert.equal(out.nullScoreDiff.a, 2 - 7);
  assert.ok(Math.abs(out.naProbs.a! - 1 / (1 + Math.exp(5))) < 1e-12);
});

Deno.test("postprocessSquad() skips reversed spans and spans longer than maxAnswerLength", () => {
  const start = [0, 0, 0, 1, 0, 0, 5, 0, 0];
  const end = [0, 0, 0, 6, 0, 0, 0, 0.5, 0];
  // end 3 < start 6 is reversed, so the best is start 3 → end 3 ("Paris", 7) over 6 → 7 (5.5).
  assert.equal(postprocessSquad(examples, [f0], [start], [end]).predictions.a, "Paris");
  // End logits favour 7; with maxAnswerLength 2 the span 3 → 7 is too long, so 3 → 3 wins.
  const end2 = [0, 0, 0, 0, 0, 0, 0, 6, 0];
  assert.equal(postprocessSquad(examples, [f0], [start], [end2]).predictions.a, "France.");
  assert.equal(
    postprocessSquad(examples, [f0], [[0, 0, 0, 6, 0, 0, 0, 0, 0]], [end2], { maxAnswerLength: 2 })
      .predictions.a,
    "Paris",
  );
  // nBest 1 pairs only the top start with the top end.
  const top1 = postprocessSquad(examples, [f0], [start], [end], { nBest: 1 });
  assert.equal(top1.predictions.a, "");
  assert.equal(top1.nullScoreDiff.a, Infinity);
});

Deno.test("postprocessSquad() predicts no answer when the null score wins by more than the threshold", () => {
  const start = new Float32Array([6, 0, 0, 0, 0, 0, 4, 0, 0]);
  const end = new Float32Array([6, 0, 0, 0, 0, 0, 3, 0, 0]);
  const out = postprocessSquad(examples, [f0], [start], [end]);
  assert.equal(out.nullScoreDiff.a, 12 - 7);
  assert.equal(out.predictions.a, "");
  assert.equal(
    postprocessSquad(examples, [f0], [start], [end], { nullThreshold: 5 }).predictions.a,
    "France",
  );
});

Deno.test("postprocessSquad() takes the smallest null score over windows and the best span of any window", () => {
  const f1 = feature([null, null, null, [20, 24], [25, 27], [28, 30], [31, 36], [36, 37], null], 5);
  const out = postprocessSquad(
    examples,
    [f0, f1],
    [[9, 0, 0, 0, 0, 0, 1, 0, 0], [2, 0, 0, 0, 0, 0, 4, 0, 0]],
    [[9, 0, 0, 0, 0, 0, 1, 0, 0], [2, 0, 0, 0, 0, 0, 4, 0, 0]],
  );
  assert.equal(out.predictions.a, "Italy");
  assert.equal(out.nullScoreDiff.a, 4 - 8);
});

Deno.test("postprocessSquad() recovers gold answers from one-hot logits on real SQuAD features", async () => {
  // Arrange: logits that put 10 on each feature's labelled start/end (the [CLS] when unanswerable).
  const tok = await unigramTokenizer();
  const all = await squadExamples();
  const features = featurizeSquad(all, tok, { maxLength: 96, docStride: 24, maxQueryLength: 32 });
  const oneHot = (n: number, at: number): Float32Array => {
    const v = new Float32Array(n);
    v[at] = 10;
    return v;
  };
  const starts = features.map((f) => oneHot(f.inputIds.length, f.startPosition));
  const ends = features.map((f) => oneHot(f.inputIds.length, f.endPosition));
  // Act
  const out = postprocessSquad(all, features, starts, ends);
  // Assert
  for (const ex of all) {
    assert.equal(out.predictions[ex.id], ex.isImpossible ? "" : ex.answers[0]!.text, ex.id);
    assert.ok(ex.isImpossible ? out.nullScoreDiff[ex.id]! > 0 : out.nullScoreDiff[ex.id]! < 0);
  }
});

Deno.test("postprocessSquad() rejects mismatched logits and options", () => {
  assert.throws(() => postprocessSquad(examples, [f0], [], []), TypeError);
  assert.throws(() => postprocessSquad(examples, [f0], [[0]], [[0]]), TypeError);
  assert.throws(
    () =>
      postprocessSquad(examples, [f0], [new Array(9).fill(0)], [new Array(9).fill(0)], {
        nBest: 0,
      }),
    RangeError,
  );
  assert.throws(
    () =>
      postprocessSquad(examples, [{ ...f0, exampleIndex: 3 }], [new Array(9).fill(0)], [
        new Array(9).fill(0),
      ]),
    RangeError,
  );
});

Deno.test("postprocessSquad() computes null − start − end in the reference's operation order", () => {
  // null = 0.1 + 0.7 = 0.7999999999999999; (null − 0.1) − 0.2 = 0.49999999999999994, whereas
  // null − (0.1 + 0.2) = 0.4999999999999999.
  const start = [0.1, 0, 0, 0, 0, 0, 0.1, 0, 0];
  const end = [0.7, 0, 0, 0, 0, 0, 0.2, 0, 0];
  const out = postprocessSquad(examples, [f0], [start], [end]);
  assert.equal(out.predictions.a, "");
  assert.equal(out.nullScoreDiff.a, 0.49999999999999994);
});

Deno.test("postprocessSquad() rounds scores to float32 for Float32Array logits, as NumPy does", () => {
  // One-token answers only. In float32, 1 + 2^-24 rounds to 1, so the two spans tie and the
  // earlier one wins; in float64 the later span scores higher.
  const tiny = 2 ** -24;
  const start = [0, 0, 0, 1, 0, 0, 1, 0, 0];
  const end = [0, 0, 0, 0, 0, 0, tiny, 0, 0];
  const options = { maxAnswerLength: 1 };
  const f64 = postprocessSquad(examples, [f0], [start], [end], options);
  const f32 = postprocessSquad(examples, [f0], [Float32Array.from(start)], [
    Float32Array.from(end),
  ], options);
  assert.equal(f64.predictions.a, "France");
  assert.equal(f32.predictions.a, "Paris");
  // The difference is rounded to float32 as well: 0 − 1 − 2^-24 is −1 in float32.
  assert.equal(f64.nullScoreDiff.a, -1 - tiny);
  assert.equal(f32.nullScoreDiff.a, -1);
});

Deno.test("postprocessSquad() allows a span of exactly maxAnswerLength tokens and no longer", () => {
  // Best span: start 3 → end 6 ("Paris is in France"), 4 tokens.
  const start = [0, 0, 0, 5, 0, 0, 0, 0, 0];
  const end = [0, 0, 0, 0, 0, 0, 5, 0, 0];
  const at = (maxAnswerLength: number): string | undefined =>
    postprocessSquad(examples, [f0], [start], [end], { maxAnswerLength }).predictions.a;
  assert.equal(at(4), "Paris is in France");
  assert.notEqual(at(3), "Paris is in France");
});

Deno.test("postprocessSquad() passes over a best span whose text is empty", () => {
  // Position 3 is an empty-span token (a bare dummy-prefix marker): its span scores best but has
  // no text, so the next span is the answer, as the reference's "first non-empty" loop picks it.
  const g = feature([null, null, null, [0, 0], [0, 5], [6, 8], [9, 11], [12, 18], null]);
  const start = [0, 0, 0, 9, 4, 0, 0, 0, 0];
  const end = [0, 0, 0, 9, 4, 0, 0, 0, 0];
  const out = postprocessSquad(examples, [g], [start], [end], { maxAnswerLength: 1 });
  assert.equal(out.predictions.a, "Paris");
  assert.equal(out.nullScoreDiff.a, -8);
});
