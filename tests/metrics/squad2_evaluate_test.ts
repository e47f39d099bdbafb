import assert from "node:assert/strict";
import {
  computeExact,
  computeF1,
  normalizeAnswer,
  squad2Evaluate,
  squad2RawScores,
} from "../../train/metrics/mod.ts";
import { readSquad2, type Squad2Example } from "../../train/tasks/mod.ts";

const FIXTURES = new URL("../../testdata/", import.meta.url);
const GOLDEN = new URL("golden/metrics/squad2/", FIXTURES);
// Figures are compared to 1e-12 as the golden README asks; in practice every key is identical
// to the official script's output, which the second assertion checks.
const TOL = 1e-12;

interface Expected {
  data_file: string;
  runs: { command: string; output: Record<string, number> }[];
}

async function json<T>(url: URL): Promise<T> {
  return JSON.parse(await Deno.readTextFile(url)) as T;
}

async function load(prefix: string) {
  const expected = await json<Expected>(new URL(`${prefix}.expected.json`, GOLDEN));
  // data_file is relative to the reference folder the goldens came from; testdata/ has its layout.
  const dataFile = expected.data_file.slice(expected.data_file.indexOf("/") + 1);
  const dataset = await readSquad2(new URL(dataFile, FIXTURES));
  const predictions = await json<Record<string, string>>(
    new URL(`${prefix}.predictions.json`, GOLDEN),
  );
  const naProbs = await json<Record<string, number>>(new URL(`${prefix}.na_probs.json`, GOLDEN));
  return { expected, dataset, predictions, naProbs };
}

for (const prefix of ["first2articles", "cs224n_dev"]) {
  Deno.test(`squad2Evaluate() matches the official script's three ${prefix} runs`, async () => {
    const { expected, dataset, predictions, naProbs } = await load(prefix);
    const options = [{}, { naProbs }, { naProbs, threshold: 0.5 }];
    assert.equal(expected.runs.length, 3);
    expected.runs.forEach((run, i) => {
      const out = squad2Evaluate(dataset, predictions, options[i]) as unknown as Record<
        string,
        number
      >;
      assert.deepEqual(Object.keys(out), Object.keys(run.output), run.command);
      for (const [key, value] of Object.entries(run.output)) {
        assert.ok(Math.abs((out[key] as number) - value) <= TOL, `${run.command}: ${key}`);
      }
      assert.deepEqual(out, run.output, `bit-identical: ${run.command}`);
    });
  });

  Deno.test(`squad2RawScores() equals get_raw_scores() per question on ${prefix}`, async () => {
    const { dataset, predictions } = await load(prefix);
    const perQuestion = await json<{
      questions: Record<string, { exact: number; f1: number; has_answer: boolean }>;
    }>(new URL(`${prefix}.per_question.json`, GOLDEN));
    const raw = squad2RawScores(dataset, predictions);
    const qids = Object.keys(perQuestion.questions);
    assert.equal(raw.size, qids.length);
    for (const qid of qids) {
      const want = perQuestion.questions[qid]!;
      assert.deepEqual(raw.get(qid), { exact: want.exact, f1: want.f1 }, qid);
    }
  });
}

Deno.test("squad2Evaluate() reproduces the find_best_thresh quirk (best_f1 below f1)", async () => {
  const { dataset, predictions, naProbs } = await load("cs224n_dev");
  const out = squad2Evaluate(dataset, predictions, { naProbs });
  assert.ok((out.best_f1 as number) < out.f1);
  assert.equal(out.best_f1_thresh, 1.0);
});

Deno.test("squad2Evaluate() gives the same figures for a Map of na_probs in file order", async () => {
  const { dataset, predictions, naProbs } = await load("first2articles");
  const asMap = new Map(Object.entries(naProbs));
  assert.deepEqual(
    squad2Evaluate(dataset, new Map(Object.entries(predictions)), { naProbs: asMap }),
    squad2Evaluate(dataset, predictions, { naProbs }),
  );
});

Deno.test("squad2Evaluate() accepts the raw official JSON document", async () => {
  const { dataset, predictions } = await load("first2articles");
  const raw = await json<{ data: unknown }>(
    new URL("data/squad2/dev-v2.0.first2articles.json", FIXTURES),
  );
  assert.deepEqual(squad2Evaluate(raw, predictions), squad2Evaluate(dataset, predictions));
});

Deno.test("squad2Evaluate() breaks na_prob ties in key order, like Python's stable sort", () => {
  const q = (id: string, answer?: string): Squad2Example => ({
    id,
    title: "",
    question: "",
    context: "",
    isImpossible: answer === undefined,
    answers: answer === undefined ? [] : [{ text: answer, answerStart: 0 }],
  });
  const dataset = [q("h", "x"), q("n")];
  const predictions = { h: "x", n: "y" };
  // Start score = 1 (one NoAns). Tied at 0.5: visiting h first reaches 2 (threshold 0.5);
  // visiting n first drops to 0 (-1 for a non-empty NoAns answer), then h only gets back to 1,
  // which is not above the start, so the threshold stays 0.0.
  const hFirst = squad2Evaluate(dataset, predictions, {
    naProbs: new Map([["h", 0.5], ["n", 0.5]]),
  });
  const nFirst = squad2Evaluate(dataset, predictions, {
    naProbs: new Map([["n", 0.5], ["h", 0.5]]),
  });
  assert.equal(hFirst.best_exact, 100);
  assert.equal(hFirst.best_exact_thresh, 0.5);
  assert.equal(nFirst.best_exact, 50);
  assert.equal(nFirst.best_exact_thresh, 0.0);
});

Deno.test("squad2Evaluate() omits HasAns_* without answerable questions", () => {
  const dataset: Squad2Example[] = [
    { id: "a", title: "", question: "", context: "", answers: [], isImpossible: true },
  ];
  assert.deepEqual(squad2Evaluate(dataset, { a: "the" }), {
    exact: 100,
    f1: 100,
    total: 1,
    NoAns_exact: 100,
    NoAns_f1: 100,
    NoAns_total: 1,
  });
});

Deno.test("squad2Evaluate() rejects a missing prediction or na_prob by qid", async () => {
  const { dataset, predictions, naProbs } = await load("first2articles");
  const fewer = { ...predictions };
  delete fewer["56ddde6b9a695914005b9629"];
  assert.throws(
    () => squad2Evaluate(dataset, fewer),
    (e: unknown) =>
      e instanceof RangeError && /1 missing, first is 56ddde6b9a695914005b9629/.test(e.message),
  );
  const fewerProbs = { ...naProbs };
  delete fewerProbs["56ddde6b9a695914005b9628"];
  assert.throws(
    () => squad2Evaluate(dataset, predictions, { naProbs: fewerProbs }),
    /na_prob: missing for 56ddde6b9a695914005b9628/,
  );
  assert.throws(() => squad2Evaluate([], {}), RangeError);
});

interface NormCase {
  gold: string;
  prediction: string;
  normalized_gold: string;
  normalized_prediction: string;
  exact: number;
  f1: number;
}

Deno.test("normalizeAnswer(), computeExact() and computeF1() match every golden case", async () => {
  const { cases } = await json<{ cases: NormCase[] }>(new URL("normalization_cases.json", GOLDEN));
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    assert.equal(normalizeAnswer(c.gold), c.normalized_gold, c.gold);
    assert.equal(normalizeAnswer(c.prediction), c.normalized_prediction, c.prediction);
    assert.equal(computeExact(c.gold, c.prediction), c.exact, `${c.gold} / ${c.prediction}`);
    assert.equal(computeF1(c.gold, c.prediction), c.f1, `${c.gold} / ${c.prediction}`);
  }
});

Deno.test("normalizeAnswer() follows Python's Unicode word boundaries, whitespace and lower()", () => {
  // Expected values printed by the script's normalize_answer under Python 3.11.
  const cases: [string, string][] = [
    ["\u00e9the cat", "\u00e9the cat"], // é is a word character in Python's re
    ["the\u00e9", "the\u00e9"],
    ["a\u00a0b", "b"], // no-break space is whitespace
    ["x\u0085the\u0085y", "x y"], // so is NEL
    ["x\x1cy", "x y"], // and the ASCII separators
    ["x\ufeffy", "x\ufeffy"], // but not U+FEFF (JavaScript's \s includes it)
    ["x\u200by", "x\u200by"],
    ["The_the", "thethe"],
    ["\u03a3\u0391\u03a3 the", "\u03c3\u03b1\u03c2"], // final sigma
    ["\u0130stanbul", "i\u0307stanbul"],
    ["a1 the2 an", "a1 the2"],
    ["\u00bfthe?", "\u00bf"],
    ["1the", "1the"],
    ["the-end", "theend"],
    ["caf\u00e9 the \uff12the", "caf\u00e9 \uff12the"], // fullwidth digit is a word character
    ["an\u2003apple", "apple"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(normalizeAnswer(input), expected, JSON.stringify(input));
  }
});
