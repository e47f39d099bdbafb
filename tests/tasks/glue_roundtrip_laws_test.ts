import assert from "node:assert/strict";
import { fc } from "../_fc.ts";
import { GLUE_TASKS, parseGlueJsonl, parseGlueTsv } from "../../train/tasks/mod.ts";

/** Any text a GLUE TSV field can hold: everything but tab and line breaks (quotes included). */
const field = fc.string({ unit: "grapheme", maxLength: 20 })
  .map((s) => s.replace(/[\t\n\r]/g, " "));
const rows = fc.array(
  fc.record({ a: field, b: field, label: fc.integer({ min: 0, max: 1 }) }),
  { maxLength: 15 },
);

Deno.test("parseGlueTsv() reads back every RTE row written in the GLUE layout", () => {
  fc.assert(fc.property(rows, (input) => {
    // Arrange
    const names = GLUE_TASKS.rte.labels;
    const text = ["index\tsentence1\tsentence2\tlabel"]
      .concat(input.map((r, i) => `${i}\t${r.a}\t${r.b}\t${names[r.label]}`))
      .join("\n") + "\n";
    // Act
    const { examples, skipped } = parseGlueTsv(text, "rte", "train");
    // Assert
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      examples,
      input.map((r, i) => ({ textA: r.a, textB: r.b, label: r.label, idx: i })),
    );
  }));
});

Deno.test("parseGlueJsonl() reads back every record written with the Hub columns", () => {
  fc.assert(fc.property(rows, (input) => {
    const text = input.map((r, i) =>
      JSON.stringify({ question: r.a, sentence: r.b, label: r.label, idx: i }) + "\n"
    ).join("");
    const { examples } = parseGlueJsonl(text, "QNLI", "validation");
    assert.deepEqual(
      examples,
      input.map((r, i) => ({ textA: r.a, textB: r.b, label: r.label, idx: i })),
    );
  }));
});
