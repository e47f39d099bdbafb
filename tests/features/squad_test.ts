import assert from "node:assert/strict";
import { fc } from "../_fc.ts";
import { featurizeSquad, type SquadFeature } from "../../train/features/squad.ts";
import { FIXTURES, squadExamples, unigramTokenizer } from "./_fixtures.ts";
import { readSquad2 } from "../../train/tasks/read_squad2.ts";

/** Settings: the paper's, and short windows that split every context many times. */
const SETTINGS = [
  { maxLength: 384, docStride: 128, maxQueryLength: 64 },
  { maxLength: 96, docStride: 24, maxQueryLength: 32 },
] as const;

function byExample(features: readonly SquadFeature[]): Map<number, SquadFeature[]> {
  const m = new Map<number, SquadFeature[]>();
  for (const f of features) m.set(f.exampleIndex, [...(m.get(f.exampleIndex) ?? []), f]);
  return m;
}

Deno.test("featurizeSquad() maps every answerable example's gold span back to the exact answer", async () => {
  // Arrange
  const tok = await unigramTokenizer();
  const examples = await squadExamples();
  const answerable = examples.filter((e) => !e.isImpossible).length;
  assert.ok(answerable > 250);
  for (const options of SETTINGS) {
    // Act
    const groups = byExample(featurizeSquad(examples, tok, options));
    // Assert
    let mapped = 0;
    for (const [e, fs] of groups) {
      const ex = examples[e]!;
      const labelled = fs.filter((f) => f.startPosition !== 0);
      if (ex.isImpossible) {
        assert.equal(labelled.length, 0, `impossible ${ex.id} must point at [CLS]`);
        assert.ok(fs.every((f) => f.endPosition === 0));
        continue;
      }
      assert.ok(labelled.length >= 1, `${ex.id}: no window holds the answer`);
      for (const f of labelled) {
        const [s] = f.offsets[f.startPosition]!;
        const [, t] = f.offsets[f.endPosition]!;
        assert.equal(ex.context.slice(s, t), ex.answers[0]!.text, ex.id);
        assert.equal(f.tokenTypeIds[f.startPosition], 1);
      }
      mapped++;
    }
    assert.equal(mapped, answerable);
  }
});

Deno.test("featurizeSquad() windows cover the whole context with docStride overlap", async () => {
  const tok = await unigramTokenizer();
  const examples = await squadExamples();
  const contexts = new Map(examples.map((e) => [e.context, e]));
  const paragraphs = [...contexts.values()];
  for (const options of SETTINGS) {
    const groups = byExample(featurizeSquad(paragraphs, tok, options));
    let multi = 0;
    for (const [e, fs] of groups) {
      const ctx = tok.encode(paragraphs[e]!.context);
      const covered: number[] = [];
      for (const [w, f] of fs.entries()) {
        const n = f.inputIds.length - f.contextStart - 1;
        assert.ok(f.inputIds.length <= options.maxLength);
        assert.equal(f.inputIds[0], tok.special.cls);
        assert.equal(f.inputIds[f.contextStart - 1], tok.special.sep);
        assert.equal(f.inputIds.at(-1), tok.special.sep);
        assert.deepEqual(
          f.inputIds.slice(f.contextStart, -1),
          ctx.ids.slice(f.windowStart, f.windowStart + n),
        );
        assert.deepEqual(
          f.offsets.slice(f.contextStart, -1),
          ctx.offsets.slice(f.windowStart, f.windowStart + n),
        );
        assert.ok(f.offsets.slice(0, f.contextStart).every((o) => o === null));
        assert.equal(f.tokenTypeIds.indexOf(1), f.contextStart);
        if (w > 0) {
          const prev = fs[w - 1]!;
          const prevEnd = prev.windowStart + prev.inputIds.length - prev.contextStart - 1;
          assert.equal(
            prevEnd - f.windowStart,
            options.docStride,
            "consecutive windows overlap by docStride",
          );
        }
        for (let i = f.windowStart; i < f.windowStart + n; i++) covered[i] = 1;
      }
      assert.equal(covered.filter((c) => c === 1).length, ctx.ids.length);
      if (fs.length > 1) multi++;
    }
    if (options.maxLength === 96) assert.ok(multi > 20, `${multi}`);
  }
});

Deno.test("featurizeSquad() covers any context for any valid window settings", async () => {
  const tok = await unigramTokenizer();
  const words = fc.constantFrom(
    "Normans",
    "in",
    "the",
    "10th",
    "century,",
    "France",
    "Rollo",
    "and",
  );
  fc.assert(
    fc.property(
      fc.array(words, { maxLength: 120 }),
      fc.integer({ min: 8, max: 80 }),
      fc.integer({ min: 0, max: 40 }),
      (ws, extra, stride) => {
        const context = ws.join(" ");
        const q = "Who came?";
        const maxLength = tok.encode(q).ids.length + 3 + stride + 1 + extra;
        const fs = featurizeSquad(
          [{ id: "x", question: q, context, answers: [], isImpossible: true }],
          tok,
          { maxLength, docStride: stride },
        );
        const n = tok.encode(context).ids.length;
        const last = fs.at(-1)!;
        assert.equal(fs[0]!.windowStart, 0);
        assert.equal(last.windowStart + last.inputIds.length - last.contextStart - 1, n);
        assert.ok(fs.every((f) => f.inputIds.length <= maxLength && f.startPosition === 0));
      },
    ),
  );
});

Deno.test("featurizeSquad() strips the question, cuts it to maxQueryLength and rejects a stride that cannot fit", async () => {
  const tok = await unigramTokenizer();
  const ex = {
    id: "a",
    question: "   " + "why ".repeat(50),
    context: "Because.",
    answers: [],
    isImpossible: true,
  };
  const [f] = featurizeSquad([ex], tok, { maxQueryLength: 10 });
  assert.equal(f!.contextStart, 12);
  assert.deepEqual(f!.inputIds.slice(1, 11), tok.encode(ex.question.trimStart()).ids.slice(0, 10));
  assert.throws(
    () => featurizeSquad([ex], tok, { maxLength: 20, docStride: 8, maxQueryLength: 10 }),
    RangeError,
  );
  assert.throws(() => featurizeSquad([ex], tok, { docStride: -1 }), RangeError);
});

Deno.test("featurizeSquad() starts an answer whose answer_start is on a space at the next token", async () => {
  const tok = await unigramTokenizer();
  const context = "Rollo came from France in 911.";
  const at = context.indexOf(" France"); // the space before the word
  const [f] = featurizeSquad([{
    id: "s",
    question: "From where?",
    context,
    isImpossible: false,
    answers: [{ text: " France", answerStart: at }],
  }], tok);
  const [s] = f!.offsets[f!.startPosition]!;
  const [, e] = f!.offsets[f!.endPosition]!;
  assert.equal(context.slice(s, e), "France");
});

Deno.test("featurizeSquad() keeps the whole question with maxQueryLength Infinity (run_qa.py)", async () => {
  const tok = await unigramTokenizer();
  const question = "why ".repeat(80);
  const ex = { id: "q", question, context: "Because.", answers: [], isImpossible: true };
  const [f] = featurizeSquad([ex], tok, { maxLength: 512, maxQueryLength: Infinity });
  assert.equal(f!.contextStart, tok.encode(question).ids.length + 2);
  assert.ok(f!.contextStart > 66);
  assert.throws(() => featurizeSquad([ex], tok, { maxQueryLength: 1.5 }), RangeError);
});

Deno.test("featurizeSquad() takes readSquad2()'s examples as they are", async () => {
  const tok = await unigramTokenizer();
  const examples = await readSquad2(
    new URL("data/squad2/dev-v2.0.first2articles.json", FIXTURES),
  );
  const features = featurizeSquad(examples.slice(0, 40), tok);
  assert.deepEqual(new Set(features.map((f) => f.exampleIndex)).size, 40);
  for (const f of features) {
    const ex = examples[f.exampleIndex]!;
    if (f.startPosition === 0) continue;
    const [s] = f.offsets[f.startPosition]!;
    const [, e] = f.offsets[f.endPosition]!;
    assert.equal(ex.context.slice(s, e), ex.answers[0]!.text);
  }
});
