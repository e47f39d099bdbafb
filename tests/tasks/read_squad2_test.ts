import assert from "node:assert/strict";
import { DataFormatError, parseSquad2, readSquad2 } from "../../train/tasks/mod.ts";

const SQUAD = new URL("../../testdata/data/squad2/", import.meta.url);

const FILES: [string, number, number, number, number][] = [
  // file, articles, questions, HasAns, NoAns (SOURCES.md)
  ["dev-v2.0.first2articles.json", 2, 626, 293, 333],
  ["cs224n-dev-v2.0.json", 16, 6078, 2910, 3168],
];

for (const [file, articles, questions, hasAns, noAns] of FILES) {
  Deno.test(`readSquad2() reads ${file} with its documented counts`, async () => {
    const examples = await readSquad2(new URL(file, SQUAD));
    assert.equal(examples.length, questions);
    assert.equal(new Set(examples.map((e) => e.title)).size, articles);
    assert.equal(new Set(examples.map((e) => e.id)).size, questions);
    assert.equal(examples.filter((e) => !e.isImpossible).length, hasAns);
    assert.equal(examples.filter((e) => e.isImpossible).length, noAns);
    for (const e of examples) {
      assert.equal(e.isImpossible, e.answers.length === 0, e.id);
      if (e.isImpossible) assert.ok((e.plausibleAnswers?.length ?? 0) > 0, e.id);
      for (const a of [...e.answers, ...(e.plausibleAnswers ?? [])]) {
        assert.equal(e.context.slice(a.answerStart, a.answerStart + a.text.length), a.text, e.id);
      }
    }
  });
}

Deno.test("readSquad2() keeps the first question of the official dev set intact", async () => {
  const [first] = await readSquad2(new URL("dev-v2.0.first2articles.json", SQUAD));
  assert.equal(first?.id, "56ddde6b9a695914005b9628");
  assert.equal(first?.title, "Normans");
  assert.equal(first?.question, "In what country is Normandy located?");
  assert.equal(first?.answers.length, 4);
  assert.deepEqual(first?.answers[0], { text: "France", answerStart: 159 });
  assert.equal(first?.plausibleAnswers, undefined);
});

Deno.test("parseSquad2() converts Python code-point offsets to JavaScript string offsets", () => {
  const context = "\u{1F600} smile at Rollo";
  const doc = {
    data: [{
      title: "T",
      paragraphs: [{
        context,
        qas: [{
          id: "q",
          question: "Who?",
          answers: [{ text: "Rollo", answer_start: 11 }], // code points: the emoji counts 1
          is_impossible: false,
        }],
      }],
    }],
  };
  const [q] = parseSquad2(doc);
  assert.equal(q?.answers[0]?.answerStart, 12);
  assert.equal(context.slice(12, 17), "Rollo");
});

Deno.test("parseSquad2() derives isImpossible from answers when the field is missing", () => {
  const doc = {
    data: [{
      title: "T",
      paragraphs: [{
        context: "x",
        qas: [
          { id: "a", question: "?", answers: [{ text: "x", answer_start: 0 }] },
          { id: "b", question: "?", answers: [] },
        ],
      }],
    }],
  };
  assert.deepEqual(parseSquad2(doc).map((e) => e.isImpossible), [false, true]);
});

Deno.test("parseSquad2() names the JSON path of a missing or mistyped field", () => {
  const doc = (qa: Record<string, unknown>) => ({
    data: [{ title: "T", paragraphs: [{ context: "c", qas: [qa] }] }],
  });
  const check = (value: unknown, pattern: RegExp) =>
    assert.throws(() => parseSquad2(value, "dev.json"), (e: unknown) => {
      assert.ok(e instanceof DataFormatError);
      assert.match(e.message, pattern);
      return true;
    });
  check(
    doc({ id: "q", question: "?" }),
    /^Cannot read dev\.json at data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers as answers must be an array: current value is undefined$/,
  );
  check(
    doc({ id: "q", question: "?", answers: [{ text: "c", answer_start: "0" }] }),
    /qas\[0\]\.answers\[0\]\.answer_start as answer_start must be a non-negative integer/,
  );
  check(doc({ id: 7, question: "?", answers: [] }), /qas\[0\]\.id as id must be a string/);
  check({ version: "v2.0" }, /at data as data must be an array/);
});

Deno.test("readSquad2() names a missing or unparsable file", async () => {
  await assert.rejects(
    () => readSquad2("/nonexistent/dev-v2.0.json"),
    (e: unknown) =>
      e instanceof Deno.errors.NotFound && /\/nonexistent\/dev-v2\.0\.json/.test(e.message),
  );
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, '{"data": [');
    await assert.rejects(() => readSquad2(file), DataFormatError);
  } finally {
    await Deno.remove(file);
  }
});
