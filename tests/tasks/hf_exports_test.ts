import assert from "node:assert/strict";
import { parquetWriteBuffer } from "hyparquet-writer";
import {
  DataFormatError,
  GLUE_TASKS,
  parseGlueJsonl,
  parseGlueTsv,
  readGlue,
} from "../../train/tasks/mod.ts";

const GLUE = new URL("../../testdata/data/glue/", import.meta.url);

type Column = { name: string; data: unknown[]; type: string };

/** Writes a Hub-style parquet file (`hyparquet-writer`'s column type names). */
async function writeParquet(file: string, columns: Column[]): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const bytes = parquetWriteBuffer({ columnData: columns as any });
  await Deno.writeFile(file, new Uint8Array(bytes));
}

const PARSE = "( ( A b ) )\t( ( C d ) )\t(ROOT (S (NP A) (VP b)))\t(ROOT (S (NP C) (VP d)))";
const MNLI_DEV = [
  "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label",
  `0\t63735\t63735n\tslate\t${PARSE}\tThe new rights are nice enough\tEveryone really likes the newest benefits \tneutral\tentailment\tneutral\tneutral\tneutral\tneutral`,
  `1\t91383\t91383c\tgovernment\t${PARSE}\tThis site includes a list "of all.\tThe articles are not able to be searched.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction`,
  `2\t755\t755e\ttelephone\t${PARSE}\tyeah i know\tI know.\tentailment\tentailment\tentailment\tentailment\tentailment\tentailment`,
].join("\n") + "\n";

Deno.test("readGlue() reads MNLI from Hub parquet (premise/hypothesis) exactly as from the GLUE TSV", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fromTsv = parseGlueTsv(MNLI_DEV, "mnli", "dev_matched").examples;
    assert.deepEqual(fromTsv.map((e) => e.label), [1, 2, 0]);
    await Deno.mkdir(`${dir}/mnli`);
    await writeParquet(`${dir}/mnli/validation_matched-00000-of-00001.parquet`, [
      { name: "premise", data: fromTsv.map((e) => e.textA), type: "STRING" },
      { name: "hypothesis", data: fromTsv.map((e) => e.textB), type: "STRING" },
      { name: "label", data: fromTsv.map((e) => BigInt(e.label as number)), type: "INT64" },
      { name: "idx", data: fromTsv.map((e) => e.idx), type: "INT32" },
    ]);
    // A decoy with the other split's name must not be picked up.
    await writeParquet(`${dir}/mnli/validation_mismatched-00000-of-00001.parquet`, [
      { name: "premise", data: ["x"], type: "STRING" },
      { name: "hypothesis", data: ["y"], type: "STRING" },
      { name: "label", data: [0n], type: "INT64" },
      { name: "idx", data: [0], type: "INT32" },
    ]);
    assert.deepEqual(await readGlue("MNLI", "validation_matched", dir), fromTsv);
    assert.equal((await readGlue("mnli", "dev_mismatched", dir)).length, 1);
    // Hub test splits carry label -1: readable for prediction, without labels.
    await writeParquet(`${dir}/mnli/test_matched-00000-of-00001.parquet`, [
      { name: "premise", data: ["He was a big man."], type: "STRING" },
      { name: "hypothesis", data: ["He was big."], type: "STRING" },
      { name: "label", data: [-1n], type: "INT64" },
      { name: "idx", data: [0], type: "INT32" },
    ]);
    assert.deepEqual(await readGlue("mnli", "test_matched", `${dir}/mnli`), [
      { textA: "He was a big man.", textB: "He was big.", idx: 0 },
    ]);
    // The GLUE column names are not the Hub's: a parquet file with sentence1/2 is rejected.
    await writeParquet(`${dir}/wrong.parquet`, [
      { name: "sentence1", data: ["a"], type: "STRING" },
      { name: "sentence2", data: ["b"], type: "STRING" },
      { name: "label", data: [0n], type: "INT64" },
    ]);
    await assert.rejects(
      () => readGlue("mnli", "dev_matched", `${dir}/wrong.parquet`),
      /wrong\.parquet as the parquet schema must have a column "premise"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() reads QQP from Hub parquet and JSONL (question1/question2)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tsv = [
      "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
      "201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics so beautiful?\t0",
      '263843\t69383\t380476\tWhat is "social network" research?\tI handle social media, what can I do?\t1',
    ].join("\n") + "\n";
    await Deno.writeTextFile(`${dir}/dev.tsv`, tsv);
    const fromTsv = await readGlue("QQP", "dev", `${dir}/dev.tsv`);
    assert.deepEqual(fromTsv.map((e) => e.label), [0, 1]);
    await writeParquet(`${dir}/validation-00000-of-00001.parquet`, [
      { name: "question1", data: fromTsv.map((e) => e.textA), type: "STRING" },
      { name: "question2", data: fromTsv.map((e) => e.textB), type: "STRING" },
      { name: "label", data: fromTsv.map((e) => BigInt(e.label as number)), type: "INT64" },
      { name: "idx", data: fromTsv.map((e) => e.idx), type: "INT32" },
    ]);
    const jsonl = fromTsv.map((e) =>
      JSON.stringify({ question1: e.textA, question2: e.textB, label: e.label, idx: e.idx })
    ).join("\n") + "\n";
    await Deno.writeTextFile(`${dir}/validation.jsonl`, jsonl);
    assert.deepEqual(
      await readGlue("qqp", "dev", `${dir}/validation-00000-of-00001.parquet`),
      fromTsv,
    );
    assert.deepEqual(await readGlue("qqp", "dev", `${dir}/validation.jsonl`), fromTsv);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() restores STS-B labels from a pandas-written JSONL (10 decimal places)", async () => {
  // Dataset.to_json goes through pandas' to_json (double_precision=10): the float32 label 2.4
  // (2.4000000953674316) is written as 2.4000000954.
  const dir = await Deno.makeTempDir();
  try {
    const fromTsv = await readGlue("stsb", "dev", new URL("STS-B/dev.tsv", GLUE));
    const jsonl = fromTsv.map((e) => {
      const label = Number(Math.fround(e.label as number).toFixed(10)).toString();
      const row = JSON.stringify({ sentence1: e.textA, sentence2: e.textB, label: 0, idx: e.idx });
      return row.replace('"label":0', `"label":${label}`);
    }).join("\n") + "\n";
    assert.ok(jsonl.includes('"label":2.4000000954'), "the fixture has pandas' rounding");
    await Deno.writeTextFile(`${dir}/validation.jsonl`, jsonl);
    const fromJsonl = await readGlue("stsb", "dev", `${dir}/validation.jsonl`);
    let exact = 0;
    for (const [i, e] of fromTsv.entries()) {
      const want = e.label as number;
      const got = fromJsonl[i]?.label as number;
      // Up to 7 significant digits survive float32 exactly (see read_glue_test.ts).
      if (Number(want.toPrecision(7)) === want) {
        assert.equal(got, want, `row ${i}`);
        exact++;
      } else assert.equal(Math.fround(got), Math.fround(want), `row ${i}`);
    }
    assert.ok(exact > 1400, `only ${exact} exact`);
    // A genuine float64 label is left alone.
    const plain = '{"sentence1":"A.","sentence2":"B.","label":0.1234567891,"idx":0}\n';
    await Deno.writeTextFile(`${dir}/plain.jsonl`, plain);
    assert.equal((await readGlue("stsb", "dev", `${dir}/plain.jsonl`))[0]?.label, 0.1234567891);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() names the parquet row of a bad label and skipBadRows reports it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/train-00000-of-00001.parquet`;
    await writeParquet(file, [
      { name: "sentence1", data: ["A.", "B.", "C."], type: "STRING" },
      { name: "sentence2", data: ["a.", "b.", "c."], type: "STRING" },
      { name: "label", data: [0n, 7n, 1n], type: "INT64" },
      { name: "idx", data: [0, 1, 2], type: "INT32" },
    ]);
    await assert.rejects(() => readGlue("rte", "train", dir), (e: unknown) => {
      assert.ok(e instanceof DataFormatError);
      assert.equal(e.unit, "row");
      assert.equal(e.line, 2);
      assert.equal(
        e.message,
        `Cannot read ${file} row 2 as label must be an integer class index in [0, 1] ` +
          "(or -1 for unlabeled): current value is 7",
      );
      return true;
    });
    const report = await readGlue("rte", "train", dir, { skipBadRows: true });
    assert.deepEqual(report.examples.map((e) => e.idx), [0, 2]);
    assert.deepEqual(report.skipped.map((s) => [s.file, s.line]), [[file, 2]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() reads header-less CoLA and the BOM header of MRPC from the real files", async () => {
  // Mutation guards: CoLA's first line is data (not a header), MRPC's BOM must not hide "Quality".
  const cola = await readGlue("cola", "train", new URL("CoLA/train.tsv", GLUE));
  assert.deepEqual(cola[0], {
    textA: "Our friends won't buy this analysis, let alone the next one we propose.",
    label: 1,
    idx: 0,
  });
  const mrpc = await readGlue("mrpc", "train", new URL("MRPC/train.tsv", GLUE));
  assert.equal(mrpc.length, GLUE_TASKS.mrpc.sizes.train);
  assert.equal(mrpc[0]?.label, 1);
  assert.ok(mrpc[0]?.textA.startsWith("Amrozi accused his brother"));
});

Deno.test("parseGlueTsv() names the line of a row with too many fields", () => {
  const text = "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\textra\n";
  assert.throws(
    () => parseGlueTsv(text, "rte", "dev", { source: "dev.tsv" }),
    /^DataFormatError: Cannot read dev\.tsv line 2 as a row must have 4 tab-separated fields: current value is 5$/,
  );
  const cola = "gj04\t1\t\tA sentence.\textra\n";
  assert.throws(() => parseGlueTsv(cola, "cola", "train"), /line 1 as a row must have 4/);
});

Deno.test("parseGlueTsv() reads the labels of a test file that has them", () => {
  const text = "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot_entailment\n";
  assert.deepEqual(parseGlueTsv(text, "rte", "test").examples, [
    { textA: "A.", textB: "B.", label: 1, idx: 0 },
  ]);
});

Deno.test("readGlue() names the line of invalid UTF-8 in a TSV or JSONL file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const head = new TextEncoder().encode(
      "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tC",
    );
    const tail = new TextEncoder().encode(".\tD.\tentailment\n");
    const bytes = new Uint8Array([...head, 0xc3, 0x28, ...tail]); // 0xc3 needs a continuation
    await Deno.writeFile(`${dir}/dev.tsv`, bytes);
    await assert.rejects(
      () => readGlue("rte", "dev", `${dir}/dev.tsv`),
      (e: unknown) => {
        assert.ok(e instanceof DataFormatError);
        assert.equal(e.line, 3);
        assert.equal(
          e.message,
          `Cannot read ${dir}/dev.tsv line 3 as text must be valid UTF-8: current value has an ` +
            "invalid byte 0xc3 at byte 4 of the line",
        );
        return true;
      },
    );
    // A surrogate encoded in UTF-8 (CESU) is invalid too.
    await Deno.writeFile(`${dir}/v.jsonl`, new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d, 0x0a]));
    await assert.rejects(
      () => readGlue("rte", "dev", `${dir}/v.jsonl`),
      /line 1 as text must be valid UTF-8/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() names byte 1 of line 1 for a file starting with an invalid byte", async () => {
  const file = await Deno.makeTempFile({ suffix: ".tsv" });
  try {
    await Deno.writeFile(file, new Uint8Array([0xff, 0x0a, 0x41, 0x0a]));
    await assert.rejects(
      () => readGlue("sst2", "train", file),
      /line 1 as text must be valid UTF-8: current value has an invalid byte 0xff at byte 1 of/,
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("parseGlueJsonl() restores float32 labels that need 7 significant digits", () => {
  // float32(1.234567) is 1.2345670461654663; 1.234567 is the shortest decimal rounding to it.
  for (const want of [1.234567, 0.6666667, 3.141593]) {
    const line = `{"sentence1":"A.","sentence2":"B.","label":${Math.fround(want)},"idx":0}\n`;
    assert.equal(parseGlueJsonl(line, "stsb", "dev").examples[0]?.label, want);
  }
});
