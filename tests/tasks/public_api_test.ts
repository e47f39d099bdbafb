import assert from "node:assert/strict";
import { glueMetrics, readGlue, readSquad2, squad2Evaluate } from "../../mod.ts";

const FIXTURES = new URL("../../testdata/", import.meta.url);

Deno.test("readGlue() and glueMetrics() from the root mod.ts reproduce the golden RTE figures", async () => {
  const golden = JSON.parse(
    await Deno.readTextFile(new URL("golden/metrics/glue/rte.json", FIXTURES)),
  ) as {
    gold: number[];
    scenarios: { predictions: number[]; expected: Record<string, number> }[];
  };
  const examples = await readGlue("rte", "dev", new URL("data/glue/RTE/dev.tsv", FIXTURES));
  const labels = examples.map((e) => e.label as number);
  assert.deepEqual(labels, golden.gold);
  for (const scenario of golden.scenarios) {
    const m = glueMetrics("rte", scenario.predictions, labels);
    assert.equal(m.accuracy, scenario.expected.accuracy);
  }
});

Deno.test("readSquad2() and squad2Evaluate() from the root mod.ts match the official script", async () => {
  const golden = new URL("golden/metrics/squad2/", FIXTURES);
  const read = async <T>(name: string): Promise<T> =>
    JSON.parse(await Deno.readTextFile(new URL(name, golden))) as T;
  const dataset = await readSquad2(new URL("data/squad2/dev-v2.0.first2articles.json", FIXTURES));
  const predictions = await read<Record<string, string>>("first2articles.predictions.json");
  const naProbs = await read<Record<string, number>>("first2articles.na_probs.json");
  const expected = await read<{ runs: { output: Record<string, number> }[] }>(
    "first2articles.expected.json",
  );
  assert.deepEqual(squad2Evaluate(dataset, predictions), expected.runs[0]?.output);
  assert.deepEqual(squad2Evaluate(dataset, predictions, { naProbs }), expected.runs[1]?.output);
  assert.deepEqual(
    squad2Evaluate(dataset, predictions, { naProbs, threshold: 0.5 }),
    expected.runs[2]?.output,
  );
});
