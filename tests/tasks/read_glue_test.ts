import assert from "node:assert/strict";
import { parquetWriteBuffer } from "hyparquet-writer";
import {
  DataFormatError,
  GLUE_TASKS,
  type GlueExample,
  type GlueSplit,
  type GlueTaskName,
  parseGlueJsonl,
  parseGlueTsv,
  readGlue,
} from "../../train/tasks/mod.ts";

const GLUE = new URL("../../testdata/data/glue/", import.meta.url);
const GOLDEN = new URL("../../testdata/golden/metrics/glue/", import.meta.url);

const REAL_FILES: [GlueTaskName, string, GlueSplit][] = [
  ["cola", "CoLA/train.tsv", "train"],
  ["cola", "CoLA/dev.tsv", "dev"],
  ["sst2", "SST-2/dev.tsv", "dev"],
  ["mrpc", "MRPC/train.tsv", "train"],
  ["mrpc", "MRPC/dev.tsv", "dev"],
  ["stsb", "STS-B/train.tsv", "train"],
  ["stsb", "STS-B/dev.tsv", "dev"],
  ["qnli", "QNLI/dev.tsv", "dev"],
  ["rte", "RTE/train.tsv", "train"],
  ["rte", "RTE/dev.tsv", "dev"],
];
/** testdata keeps the first 2,000 of SST-2 train's 67,349 rows (testdata/SOURCES.md). */
const SST2_TRAIN_ROWS = 2000;

Deno.test("readGlue() reads every whole real GLUE file with the official row count", async () => {
  for (const [task, file, split] of REAL_FILES) {
    const examples = await readGlue(task, split, new URL(file, GLUE));
    assert.equal(examples.length, GLUE_TASKS[task].sizes[split], file);
    assert.ok(examples.every((e) => e.label !== undefined && typeof e.textA === "string"), file);
    assert.equal(
      examples.every((e) => e.textB !== undefined),
      GLUE_TASKS[task].hf.textB !== undefined,
    );
    assert.deepEqual(examples.map((e) => e.idx), examples.map((_, i) => i), file);
  }
});

Deno.test("readGlue() reads every row of the SST-2 train subset, first and last verbatim", async () => {
  const examples = await readGlue("sst2", "train", new URL("SST-2/train.tsv", GLUE));
  assert.equal(examples.length, SST2_TRAIN_ROWS);
  assert.deepEqual(examples[0], {
    textA: "hide new secretions from the parental units ",
    label: 0,
    idx: 0,
  });
  assert.deepEqual(examples.at(-1), {
    textA: "that these women are spectacular ",
    label: 1,
    idx: SST2_TRAIN_ROWS - 1,
  });
});

const DEV: [GlueTaskName, string][] = [
  ["cola", "CoLA"],
  ["sst2", "SST-2"],
  ["mrpc", "MRPC"],
  ["stsb", "STS-B"],
  ["qnli", "QNLI"],
  ["rte", "RTE"],
];

Deno.test("readGlue() parses each real dev file's labels exactly as the golden gold lists", async () => {
  for (const [task, dir] of DEV) {
    const golden = JSON.parse(await Deno.readTextFile(new URL(`${task}.json`, GOLDEN)));
    const examples = await readGlue(dir, "dev", new URL(dir, GLUE));
    assert.deepEqual(examples.map((e) => e.label), golden.gold, task);
  }
});

Deno.test("readGlue() keeps quotes, trailing spaces and text verbatim", async () => {
  const sst = await readGlue("SST-2", "dev", new URL("SST-2/dev.tsv", GLUE));
  assert.equal(sst[0]?.textA, "it 's a charming and often affecting journey . ");
  const mrpc = await readGlue("mrpc", "dev", new URL("MRPC/dev.tsv", GLUE));
  assert.equal(
    mrpc[0]?.textB,
    '" The foodservice pie business does not fit our long-term growth strategy .',
  );
  const cola = await readGlue("cola", "dev", new URL("CoLA/dev.tsv", GLUE));
  assert.deepEqual(cola[0], {
    textA: "The sailors rode the breeze clear of the rocks.",
    label: 1,
    idx: 0,
  });
  assert.equal(cola.at(-1)?.textA.endsWith("himself."), true); // no final newline in the file
});

/**
 * The Hugging Face columns of `examples`, as the Hub's parquet has them. The Hub stores the
 * STS-B label as float32 (`float32: true`); a float64 column keeps every TSV score exactly.
 */
function hfColumns(task: GlueTaskName, examples: readonly GlueExample[], float32 = false) {
  const spec = GLUE_TASKS[task];
  const columns: { name: string; data: unknown[]; type: string }[] = [
    { name: spec.hf.textA, data: examples.map((e) => e.textA), type: "STRING" },
  ];
  if (spec.hf.textB !== undefined) {
    columns.push({ name: spec.hf.textB, data: examples.map((e) => e.textB), type: "STRING" });
  }
  columns.push(
    spec.kind === "regression"
      ? { name: "label", data: examples.map((e) => e.label), type: float32 ? "FLOAT" : "DOUBLE" }
      : { name: "label", data: examples.map((e) => BigInt(e.label ?? -1)), type: "INT64" },
    { name: "idx", data: examples.map((e) => e.idx), type: "INT32" },
  );
  return columns;
}

function toJsonl(task: GlueTaskName, examples: readonly GlueExample[], float32 = false): string {
  const spec = GLUE_TASKS[task];
  return examples.map((e) => {
    const row: Record<string, unknown> = { [spec.hf.textA]: e.textA };
    if (spec.hf.textB !== undefined) row[spec.hf.textB] = e.textB;
    // A float32 label written out by Python is the double equal to the float32 value.
    row.label = float32 ? Math.fround(e.label as number) : e.label ?? -1;
    row.idx = e.idx;
    return JSON.stringify(row);
  }).join("\n") + "\n";
}

Deno.test("readGlue() yields identical examples from TSV, HF parquet and HF JSONL", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [task, glueDir] of DEV) {
      const fromTsv = await readGlue(task, "dev", new URL(glueDir, GLUE));
      const hubDir = `${dir}/${task}`;
      await Deno.mkdir(hubDir);
      const bytes = parquetWriteBuffer({
        // deno-lint-ignore no-explicit-any
        columnData: hfColumns(task, fromTsv) as any,
        rowGroupSize: 1000,
      });
      await Deno.writeFile(`${hubDir}/validation-00000-of-00001.parquet`, new Uint8Array(bytes));
      await Deno.writeTextFile(`${dir}/${task}.validation.jsonl`, toJsonl(task, fromTsv));
      const fromParquet = await readGlue(task, "validation", hubDir);
      const fromJsonl = await readGlue(task, "dev", `${dir}/${task}.validation.jsonl`);
      assert.deepEqual(fromParquet, fromTsv, `${task} parquet`);
      assert.deepEqual(fromJsonl, fromTsv, `${task} jsonl`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() restores float32 STS-B labels (as on the Hub) to their TSV decimals", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fromTsv = await readGlue("stsb", "dev", new URL("STS-B/dev.tsv", GLUE));
    const bytes = parquetWriteBuffer({
      // deno-lint-ignore no-explicit-any
      columnData: hfColumns("stsb", fromTsv, true) as any,
    });
    await Deno.writeFile(`${dir}/validation-00000-of-00001.parquet`, new Uint8Array(bytes));
    await Deno.writeTextFile(`${dir}/validation.jsonl`, toJsonl("stsb", fromTsv, true));
    const fromParquet = await readGlue("stsb", "dev", `${dir}/validation-00000-of-00001.parquet`);
    const fromJsonl = await readGlue("stsb", "dev", `${dir}/validation.jsonl`);
    assert.deepEqual(fromJsonl, fromParquet);
    let exact = 0;
    for (const [i, e] of fromTsv.entries()) {
      const label = e.label as number;
      const restored = fromParquet[i]?.label as number;
      // Scores of up to 7 significant digits come back exactly; longer ones (e.g.
      // 2.33333333333333) only to float32 precision, which is all the Hub file holds.
      if (Number(label.toPrecision(7)) === label) {
        assert.equal(restored, label, `row ${i}`);
        exact++;
      } else {
        assert.equal(Math.fround(restored), Math.fround(label), `row ${i}`);
        assert.ok(Math.abs(restored - label) <= 2 ** -21, `row ${i}`);
      }
    }
    assert.ok(exact > 1400, `only ${exact} exact`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() finds Hub shards in <split>/ folders and under a root folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rte = await readGlue("rte", "dev", new URL("RTE/dev.tsv", GLUE));
    const half = Math.ceil(rte.length / 2);
    await Deno.mkdir(`${dir}/rte/validation`, { recursive: true });
    for (const [i, part] of [rte.slice(0, half), rte.slice(half)].entries()) {
      const bytes = parquetWriteBuffer({
        // deno-lint-ignore no-explicit-any
        columnData: hfColumns("rte", part) as any,
      });
      await Deno.writeFile(`${dir}/rte/validation/000${i}.parquet`, new Uint8Array(bytes));
    }
    assert.deepEqual(await readGlue("RTE", "dev", dir), rte);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseGlueTsv() reads MNLI train, dev_matched and test_matched in the GLUE layout", () => {
  const parse = "( ( A b ) )\t( ( C d ) )\t(ROOT (S (NP A) (VP b)))\t(ROOT (S (NP C) (VP d)))";
  const train = [
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label",
    `0\t31193\t31193n\tgovernment\t${parse}\tConceptually cream skimming has two basic dimensions.\tProduct and geography are what make cream skimming work. \tneutral\tneutral`,
    `1\t101457\t101457e\ttelephone\t${parse}\tyou know during the season\tYou lose the things.\tentailment\tentailment`,
    `2\t134793\t134793e\tfiction\t${parse}\tOne of our number "will carry out\tA member will carry out.\tcontradiction\tcontradiction`,
  ].join("\n") + "\n";
  const t = parseGlueTsv(train, "MNLI", "train").examples;
  assert.deepEqual(t.map((e) => e.label), [1, 0, 2]);
  assert.equal(t[0]?.textB, "Product and geography are what make cream skimming work. ");
  assert.equal(t[2]?.textA, 'One of our number "will carry out');

  const dev = [
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label",
    `0\t63735\t63735n\tslate\t${parse}\tThe new rights are nice enough\tEveryone really likes the newest benefits \tneutral\tentailment\tneutral\tneutral\tneutral\tneutral`,
    `1\t91383\t91383c\tgovernment\t${parse}\tThis site includes a list.\tThe Government Executive articles housed on the website are not able to be searched.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction`,
  ].join("\n") + "\n";
  const d = parseGlueTsv(dev, "mnli", "dev_matched").examples;
  assert.deepEqual(d.map((e) => e.label), [1, 2]);
  assert.equal(d[1]?.textA, "This site includes a list.");
  assert.throws(() => parseGlueTsv(dev, "mnli", "dev"), RangeError); // MNLI has no plain dev

  const test = [
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2",
    `0\t31349\t31349n\tfiction\t${parse}\tHe was a big man.\tHe was big.`,
  ].join("\n") + "\n";
  assert.deepEqual(parseGlueTsv(test, "mnli", "test_matched").examples, [
    { textA: "He was a big man.", textB: "He was big.", idx: 0 },
  ]);
});

Deno.test("parseGlueTsv() reads QQP train/dev and test in the GLUE layout", () => {
  const dev = [
    "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
    "201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics so beautiful?\t0",
    '263843\t69383\t380476\tI want to pursue PhD in Computer Science about "social network", what is the open problem?\tI handle social media, what can I do?\t1',
  ].join("\n") + "\n";
  const d = parseGlueTsv(dev, "QQP", "dev").examples;
  assert.deepEqual(d.map((e) => e.label), [0, 1]);
  assert.equal(d[1]?.textA.includes('"social network"'), true);
  const test = "id\tquestion1\tquestion2\n0\tWhy do rockets look white?\tWhy are rockets white?\n";
  assert.deepEqual(parseGlueTsv(test, "qqp", "test").examples, [
    { textA: "Why do rockets look white?", textB: "Why are rockets white?", idx: 0 },
  ]);
});

Deno.test("parseGlueTsv() reads unlabeled test files of every task", () => {
  const cases: [string, string, string][] = [
    [
      "cola",
      "index\tsentence\n0\tBill whistled past the house.\n",
      "Bill whistled past the house.",
    ],
    [
      "sst2",
      "index\tsentence\n0\tuneasy mishmash of styles and genres .\n",
      "uneasy mishmash of styles and genres .",
    ],
    [
      "mrpc",
      "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tPCCW 's chief.\tCurrent Chief.\n",
      "PCCW 's chief.",
    ],
    [
      "stsb",
      "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her hair.\tA girl is brushing her hair.\n",
      "A girl is styling her hair.",
    ],
    ["qnli", "index\tquestion\tsentence\n0\tWhat?\tThis.\n", "What?"],
    ["rte", "index\tsentence1\tsentence2\n0\tMaude sat.\tShe sat.\n", "Maude sat."],
  ];
  for (const [task, text, first] of cases) {
    const [example] = parseGlueTsv(text, task, "test").examples;
    assert.equal(example?.textA, first, task);
    assert.equal(example?.label, undefined, task);
    assert.equal(example?.idx, 0, task);
  }
});

Deno.test("parseGlueTsv() accepts a BOM and CRLF line ends", () => {
  const text = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\tA .\tB .\r\n";
  assert.deepEqual(parseGlueTsv(text, "mrpc", "train").examples, [
    { textA: "A .", textB: "B .", label: 1, idx: 0 },
  ]);
});

const RTE_HEADER = "index\tsentence1\tsentence2\tlabel";

function rejects(fn: () => unknown, line: number, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DataFormatError, String(error));
    assert.ok(error instanceof SyntaxError);
    assert.equal(error.line, line);
    assert.match(error.message, new RegExp(`line ${line} as`));
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("parseGlueTsv() names the line of a row with the wrong number of fields", () => {
  const text = `${RTE_HEADER}\n0\tA.\tB.\tentailment\n1\tA.\tentailment\n`;
  rejects(
    () => parseGlueTsv(text, "rte", "dev", { source: "RTE/dev.tsv" }),
    3,
    /^Cannot read RTE\/dev\.tsv line 3 as a row must have 4 tab-separated fields: current value is 3$/,
  );
  rejects(() => parseGlueTsv(`${RTE_HEADER}\n\n`, "rte", "dev"), 2, /fields: current value is 1/);
});

Deno.test("parseGlueTsv() names the line of an unknown label or a non-numeric score", () => {
  rejects(
    () => parseGlueTsv(`${RTE_HEADER}\n0\tA.\tB.\tmaybe\n`, "rte", "dev"),
    2,
    /label must be one of entailment, not_entailment: current value is "maybe"/,
  );
  rejects(
    () => parseGlueTsv("sentence\tlabel\ngood .\t1\nbad .\t1.0\n", "sst2", "train"),
    3,
    /label must be one of 0, 1: current value is "1.0"/,
  );
  const sts =
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n" +
    "0\tg\tf\ty\t0\tnone\tnone\tA.\tB.\t5.000\n1\tg\tf\ty\t1\tnone\tnone\tA.\tB.\tfive\n" +
    "2\tg\tf\ty\t2\tnone\tnone\tA.\tB.\t\n";
  rejects(
    () => parseGlueTsv(sts, "stsb", "dev"),
    3,
    /score must be a decimal number: current value is "five"/,
  );
  const { examples, skipped } = parseGlueTsv(sts, "stsb", "dev", { skipBadRows: true });
  assert.deepEqual(examples, [{ textA: "A.", textB: "B.", label: 5, idx: 0 }]);
  assert.deepEqual(skipped.map((s) => s.line), [3, 4]);
  assert.match(skipped[1]?.reason ?? "", /current value is ""/);
});

Deno.test("parseGlueTsv() rejects a header without a required column, even when skipping", () => {
  const text = "Quality\t#1 ID\t#2 ID\t#1 String\tSecond\n1\t1\t2\tA\tB\n";
  rejects(
    () => parseGlueTsv(text, "mrpc", "dev", { skipBadRows: true }),
    1,
    /header must have a column "#2 String"/,
  );
  rejects(() => parseGlueTsv("", "rte", "dev"), 1, /header line/);
});

Deno.test("readGlue() skipBadRows reports the skipped rows and keeps the others' idx", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/dev.tsv`;
    await Deno.writeTextFile(
      file,
      `${RTE_HEADER}\n0\tA.\tB.\tentailment\n1\tbroken\n2\tC.\tD.\tnope\n3\tE.\tF.\tnot_entailment\n`,
    );
    await assert.rejects(() => readGlue("rte", "dev", dir), new RegExp(`${file} line 3`));
    const report = await readGlue("rte", "dev", dir, { skipBadRows: true });
    assert.deepEqual(report.examples.map((e) => [e.idx, e.label]), [[0, 0], [3, 1]]);
    assert.deepEqual(report.skipped.map((s) => [s.file, s.line]), [[file, 3], [file, 4]]);
    assert.deepEqual(report.files, [file]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readGlue() names a missing file or split folder", async () => {
  await assert.rejects(
    () => readGlue("rte", "dev", "/nonexistent/RTE/dev.tsv"),
    (e: unknown) =>
      e instanceof Deno.errors.NotFound && /\/nonexistent\/RTE\/dev\.tsv/.test(e.message),
  );
  await assert.rejects(
    () => readGlue("rte", "test", new URL("RTE", GLUE)),
    (e: unknown) => e instanceof Deno.errors.NotFound && /RTE\/test\.tsv/.test(e.message),
  );
  await assert.rejects(
    () => readGlue("rte", "dev", new URL("STS-B/readme.txt", GLUE)),
    DataFormatError,
  );
  await assert.rejects(() => readGlue("rte", "dev", new URL("../SOURCES.md", GLUE)), TypeError);
});

Deno.test("parseGlueJsonl() names the line of a bad record and treats -1 as unlabeled in test", () => {
  const good = '{"sentence1":"A.","sentence2":"B.","label":0,"idx":0}';
  rejects(
    () => parseGlueJsonl(`${good}\n{"sentence1":"A.","label":0}\n`, "rte", "dev"),
    2,
    /column "sentence2" must be a string/,
  );
  rejects(() => parseGlueJsonl(`${good}\nnot json\n`, "rte", "dev"), 2, /one JSON object/);
  rejects(
    () => parseGlueJsonl(`${good.replace('"label":0', '"label":-1')}\n`, "rte", "dev"),
    1,
    /label must be present/,
  );
  rejects(
    () => parseGlueJsonl(`${good.replace('"label":0', '"label":2')}\n`, "rte", "dev"),
    1,
    /class index in \[0, 1\]/,
  );
  const test = parseGlueJsonl(`${good.replace('"label":0', '"label":-1')}\n`, "rte", "test");
  assert.deepEqual(test.examples, [{ textA: "A.", textB: "B.", idx: 0 }]);
});

Deno.test("readGlue() rejects a parquet file without a required column", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = parquetWriteBuffer({
      columnData: [
        { name: "sentence1", data: ["A."], type: "STRING" },
        { name: "label", data: [0n], type: "INT64" },
      ],
    });
    await Deno.writeFile(`${dir}/validation-00000-of-00001.parquet`, new Uint8Array(bytes));
    await assert.rejects(
      () => readGlue("rte", "dev", dir),
      (e: unknown) =>
        e instanceof DataFormatError &&
        /parquet schema must have a column "sentence2"/.test(e.message) &&
        e.message.includes(`${dir}/validation-00000-of-00001.parquet`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
