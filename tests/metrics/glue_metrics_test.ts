import assert from "node:assert/strict";
import {
  accuracy,
  f1Binary,
  glueMetrics,
  matthewsCorrcoef,
  mnliMetrics,
  pearson,
  rankAverage,
  spearman,
} from "../../train/metrics/mod.ts";

const GOLDEN = new URL("../../testdata/golden/metrics/glue/", import.meta.url);
// The golden README asks for 1e-12; integer-count metrics come out bit-identical, Pearson within
// ~3e-16 (SciPy's BLAS nrm2/ddot round differently from any scalar loop).
const TOL = 1e-12;

interface GoldenTask {
  task: string;
  gold: number[];
  scenarios: { name: string; predictions: number[]; expected: Record<string, number> }[];
}

async function golden<T>(name: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(new URL(name, GOLDEN))) as T;
}

for (const task of ["cola", "sst2", "mrpc", "stsb", "qnli", "rte"]) {
  Deno.test(`glueMetrics() reproduces every golden ${task} figure to 1e-12`, async () => {
    const g = await golden<GoldenTask>(`${task}.json`);
    let checked = 0;
    for (const scenario of g.scenarios) {
      const m = glueMetrics(task, scenario.predictions, g.gold) as unknown as Record<
        string,
        number
      >;
      for (const [key, expected] of Object.entries(scenario.expected)) {
        const actual = m[key];
        assert.equal(typeof actual, "number", `${scenario.name}.${key} missing`);
        assert.ok(
          Math.abs((actual as number) - expected) <= TOL,
          `${task} ${scenario.name} ${key}: ${actual} vs ${expected}`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 3);
  });
}

Deno.test("glueMetrics() classification figures are bit-identical to scikit-learn", async () => {
  for (const task of ["cola", "sst2", "mrpc", "qnli", "rte"]) {
    const g = await golden<GoldenTask>(`${task}.json`);
    for (const s of g.scenarios) {
      const m = glueMetrics(task, s.predictions, g.gold) as unknown as Record<string, number>;
      for (const [key, expected] of Object.entries(s.expected)) assert.equal(m[key], expected);
    }
  }
});

Deno.test("glueMetrics() names the paper's main metric and the GLUE score", () => {
  const cases: [string, string, string][] = [
    ["CoLA", "matthews_corrcoef", "matthews_corrcoef"],
    ["SST-2", "accuracy", "accuracy"],
    ["mrpc", "accuracy", "accuracy_f1_mean"],
    ["QQP", "accuracy", "accuracy_f1_mean"],
    ["STS-B", "pearson", "pearson_spearman_mean"],
    ["mnli", "accuracy", "accuracy"],
    ["QNLI", "accuracy", "accuracy"],
    ["rte", "accuracy", "accuracy"],
  ];
  for (const [task, main, glue] of cases) {
    const isStsb = task === "STS-B";
    const m = glueMetrics(task, isStsb ? [0.5, 2, 4.5] : [0, 1, 1], isStsb ? [1, 2, 4] : [0, 1, 0]);
    assert.equal(m.main, main, task);
    assert.equal(m.glueScoreMetric, glue, task);
    assert.equal(m.mainValue, (m as unknown as Record<string, number>)[main]);
    assert.equal(m.glueScore, (m as unknown as Record<string, number>)[glue]);
  }
});

Deno.test("glueMetrics() reports only the task's own figures", () => {
  const qqp = glueMetrics("qqp", [1, 0, 1, 1], [1, 0, 0, 1]);
  assert.deepEqual(Object.keys(qqp), [
    "task",
    "n",
    "accuracy",
    "f1",
    "accuracy_f1_mean",
    "main",
    "mainValue",
    "glueScoreMetric",
    "glueScore",
  ]);
  assert.equal(qqp.f1, 0.8);
  assert.equal(qqp.accuracy_f1_mean, (0.75 + 0.8) / 2);
  assert.equal("matthews_corrcoef" in glueMetrics("rte", [0], [0]), false);
});

interface EdgeCase {
  name: string;
  kind: "binary_classification" | "regression";
  gold: number[];
  predictions: number[];
  expected: Record<string, number | null>;
}

Deno.test("metrics give the reference values on every golden edge case (NaN where SciPy gives NaN)", async () => {
  const { cases } = await golden<{ cases: EdgeCase[] }>("edge_cases.json");
  const fns: Record<string, (y: number[], p: number[]) => number> = {
    accuracy,
    f1: f1Binary,
    matthews_corrcoef: matthewsCorrcoef,
    pearson,
    spearman,
  };
  let nulls = 0;
  for (const c of cases) {
    for (const [key, expected] of Object.entries(c.expected)) {
      const actual = (fns[key] as (y: number[], p: number[]) => number)(c.gold, c.predictions);
      if (expected === null) {
        nulls++;
        assert.ok(Number.isNaN(actual), `${c.name} ${key}: ${actual} should be NaN`);
      } else {
        assert.ok(Math.abs(actual - expected) <= TOL, `${c.name} ${key}: ${actual} vs ${expected}`);
      }
    }
  }
  assert.equal(nulls, 2);
});

Deno.test("glueMetrics() gives NaN for constant STS-B predictions and 0 MCC for constant CoLA ones", () => {
  const stsb = glueMetrics("stsb", [2.5, 2.5, 2.5], [0, 1, 2]);
  assert.ok(Number.isNaN(stsb.pearson));
  assert.ok(Number.isNaN(stsb.spearman));
  assert.ok(Number.isNaN(stsb.mainValue));
  const cola = glueMetrics("cola", [1, 1, 1], [0, 1, 1]);
  assert.equal(cola.matthews_corrcoef, 0);
});

Deno.test("rankAverage() gives tied values their average rank", () => {
  assert.deepEqual(Array.from(rankAverage([1, 2, 2, 3, 4, 4, 5])), [1, 2.5, 2.5, 4, 5.5, 5.5, 7]);
  assert.deepEqual(Array.from(rankAverage([3, 3, 3])), [2, 2, 2]);
});

Deno.test("pearson() follows SciPy for two points and rejects one", () => {
  assert.equal(pearson([0, 1], [5, 2]), -1);
  assert.throws(() => pearson([1], [1]), RangeError);
  assert.ok(Number.isNaN(pearson([0, NaN, 2], [1, 2, 3])));
  assert.ok(Number.isNaN(spearman([0, NaN, 2], [1, 2, 3])));
});

Deno.test("matthewsCorrcoef() handles three classes as scikit-learn", () => {
  // sklearn.metrics.matthews_corrcoef([0,1,2,0,1,2], [0,2,1,0,1,2]) = 0.5
  assert.equal(matthewsCorrcoef([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 1, 2]), 0.5);
});

Deno.test("mnliMetrics() reports matched and mismatched accuracy", () => {
  const m = mnliMetrics(
    { predictions: [0, 1, 2, 1], labels: [0, 1, 2, 2] },
    { predictions: [2, 2], labels: [2, 0] },
  );
  assert.equal(m.accuracy_matched, 0.75);
  assert.equal(m.accuracy_mismatched, 0.5);
  assert.equal(m.mainValue, 0.75);
  assert.equal(m.glueScore, 0.625);
});

Deno.test("glueMetrics() rejects mismatched lengths, bad classes and empty input", () => {
  assert.throws(() => glueMetrics("rte", [0, 1], [0]), TypeError);
  assert.throws(() => glueMetrics("rte", [0, 2], [0, 1]), /predictions\[1\] must be in \[0, 1\]/);
  assert.throws(() => glueMetrics("mnli", [0, 3], [0, 1]), RangeError);
  assert.throws(() => glueMetrics("sst2", [0.5], [0]), TypeError);
  assert.throws(() => glueMetrics("sst2", [], []), RangeError);
  assert.throws(() => glueMetrics("stsb", [1], [1]), RangeError);
  assert.throws(() => glueMetrics("wnli", [0], [0]), RangeError);
});

Deno.test("glueMetrics() accepts typed arrays", () => {
  const m = glueMetrics("sst2", new Int32Array([1, 0, 1]), Float32Array.from([1, 1, 1]));
  assert.equal(m.accuracy, 2 / 3);
});

Deno.test("pearson() and spearman() give NaN for a constant side whose mean is inexact", () => {
  // mean([0.1, 0.1, 0.1]) is 0.10000000000000002: without the constant-input check, the centred
  // values are tiny but non-zero and a finite r comes out. SciPy checks first and gives NaN.
  assert.ok(Number.isNaN(pearson([1, 2, 3], [0.1, 0.1, 0.1])));
  assert.ok(Number.isNaN(pearson([0.1, 0.1, 0.1], [1, 2, 3])));
  assert.ok(Number.isNaN(spearman([1, 2, 3], [0.1, 0.1, 0.1])));
});

Deno.test("spearman() ranks infinite predictions like SciPy's rankdata", () => {
  // Ranks of [inf, -inf, inf, 0] are [3.5, 1, 3.5, 2]; against [1, 2, 3, 4] that gives
  // r = -1 / sqrt(5 · 4.5).
  assert.deepEqual(Array.from(rankAverage([Infinity, -Infinity, Infinity, 0])), [3.5, 1, 3.5, 2]);
  const r = spearman([1, 2, 3, 4], [Infinity, -Infinity, Infinity, 0]);
  assert.ok(Math.abs(r + 1 / Math.sqrt(22.5)) < 1e-15, String(r));
});
