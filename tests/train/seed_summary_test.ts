import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatSeedSummary,
  formatTable,
  meanStd,
  type SeedResult,
  summariseSeeds,
} from "../../train/seed_summary.ts";

const METHOD = new URL("../../docs/METHOD.md", import.meta.url);
const TASK_IDS: Record<string, string> = {
  "MNLI": "mnli",
  "SST-2": "sst2",
  "CoLA": "cola",
  "QQP": "qqp",
  "QNLI": "qnli",
  "RTE": "rte",
  "MRPC": "mrpc",
  "STS-B": "stsb",
};

Deno.test("meanStd() matches hand-computed sample statistics", () => {
  // Python: statistics.stdev([0.8784, 0.87, 0.8845]) = 0.0072803388199542615
  const s = meanStd([0.8784, 0.87, 0.8845]);
  assert.ok(Math.abs(s.mean - 0.87763333333) < 1e-10);
  assert.ok(Math.abs(s.std - 0.0072803388199542615) < 1e-15, String(s.std));
  assert.equal(s.n, 3);
  assert.deepEqual(meanStd([2, 4, 4, 4, 5, 5, 7, 9]).mean, 5);
  assert.ok(Math.abs(meanStd([2, 4, 4, 4, 5, 5, 7, 9]).std - Math.sqrt(32 / 7)) < 1e-12);
});

Deno.test("meanStd() rejects empty and non-finite input", () => {
  assert.throws(() => meanStd([]), RangeError);
  assert.throws(() => meanStd([1, NaN]), /values\[1\]/);
});

Deno.test("meanStd() is shift-invariant in std and scales with a constant factor (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 8 }),
      fc.double({ min: -10, max: 10, noNaN: true }),
      (xs, c) => {
        const base = meanStd(xs);
        const shifted = meanStd(xs.map((x) => x + c));
        const scaled = meanStd(xs.map((x) => x * c));
        assert.ok(Math.abs(shifted.std - base.std) <= 1e-9 * (1 + Math.abs(c)));
        assert.ok(Math.abs(shifted.mean - (base.mean + c)) <= 1e-9 * (1 + Math.abs(c)));
        assert.ok(Math.abs(scaled.std - Math.abs(c) * base.std) <= 1e-9 * (1 + Math.abs(c)));
        assert.ok(base.std >= 0);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("summariseSeeds() groups by method and task, Table I task order, and rejects duplicates", () => {
  const results: SeedResult[] = [
    { method: "LoRA", task: "rte", seed: 0, value: 0.8 },
    { method: "LoRA", task: "cola", seed: 0, value: 0.6 },
    { method: "AdaLoRA", task: "rte", seed: 0, value: 0.85 },
    { method: "LoRA", task: "rte", seed: 1, value: 0.82 },
  ];
  const cells = summariseSeeds(results);
  assert.deepEqual(cells.map((c) => [c.method, c.task, c.n]), [
    ["LoRA", "cola", 1],
    ["LoRA", "rte", 2],
    ["AdaLoRA", "rte", 1],
  ]);
  assert.throws(() => summariseSeeds([...results, results[0]!]), /appear once/);
});

Deno.test("formatSeedSummary() prints a Table-I-style markdown table with mean ± std", () => {
  const text = formatSeedSummary([
    { method: "TriAdaptLoRA linear", task: "rte", seed: 0, value: 0.8784 },
    { method: "TriAdaptLoRA linear", task: "rte", seed: 1, value: 0.87 },
    { method: "TriAdaptLoRA linear", task: "rte", seed: 2, value: 0.8845 },
    { method: "TriAdaptLoRA linear", task: "cola", seed: 0, value: 0.716 },
    { method: "TriAdaptLoRA linear", task: "cola", seed: 1, value: 0.7 },
    { method: "TriAdaptLoRA linear", task: "cola", seed: 2, value: 0.72 },
    { method: "LoRA", task: "rte", seed: 0, value: 0.8207 },
  ]);
  assert.equal(
    text,
    [
      "| method              |         CoLA |          RTE |   avg |",
      "|:--------------------|-------------:|-------------:|------:|",
      "| TriAdaptLoRA linear | 71.20 ± 1.06 | 87.76 ± 0.73 | 79.48 |",
      "| LoRA                |            – |        82.07 |     – |",
      "Mean over 1/3 seeds (0, 1, 2); ± is the sample standard deviation (n − 1).",
      "",
    ].join("\n"),
  );
});

Deno.test("formatSeedSummary() reproduces Table I's avg column from the published task means", async () => {
  // Arrange: the §17 table of docs/METHOD.md (Table I), one "seed" per published mean.
  const text = await Deno.readTextFile(METHOD);
  const section = text.slice(text.indexOf("## §17 "), text.indexOf("## §18 "));
  const lines = section.split("\n").filter((l) =>
    l.startsWith("| ") && !l.startsWith("| method") && !/^\|\s*:?-/.test(l)
  );
  const header = section.split("\n").find((l) => l.startsWith("| method")) ?? "";
  const tasks = header.split("|").slice(2, -2).map((c) => c.trim());
  assert.equal(tasks.length, 8);
  const results: SeedResult[] = [];
  const published = new Map<string, number>();
  for (const line of lines) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    const method = cells[0] ?? "";
    tasks.forEach((t, i) => {
      results.push({ method, task: TASK_IDS[t] ?? t, seed: 0, value: Number(cells[i + 1]) / 100 });
    });
    published.set(method, Number(cells.at(-1)));
  }
  assert.equal(published.size, 6);
  // Act
  const table = formatSeedSummary(results);
  // Assert: every method's avg matches the published one to the printed precision.
  for (const [method, avg] of published) {
    const row = table.split("\n").find((l) => l.startsWith(`| ${method} `)) ?? "";
    const printed = Number(row.split("|").slice(1, -1).at(-1)?.trim());
    assert.ok(Math.abs(printed - avg) <= 0.011, `${method}: ${printed} vs ${avg}`);
  }
  assert.ok(table.includes("| 89.61 |") || table.includes("|  89.61 |"));
});

Deno.test("formatTable() aligns numbers right, text left, and escapes pipes in markdown", () => {
  const plain = formatTable(["metric", "value"], [["accuracy", "87.84"], ["loss", "0.3"]]);
  assert.equal(plain, "metric    value\n--------  -----\naccuracy  87.84\nloss        0.3");
  const md = formatTable(["a|b", "n"], [["x|y", "1"]], { markdown: true });
  assert.equal(md, "| a\\|b |   n |\n|:-----|----:|\n| x\\|y |   1 |");
  assert.equal(formatTable(["a", "b"], [["1"]]), "a  b\n-  -\n1");
  assert.throws(() => formatTable(["a"], [["1", "2"]]), RangeError);
});
