import assert from "node:assert/strict";
import { collate } from "../../train/features/collate.ts";
import { featurizeGlue, maxLengthFor } from "../../train/features/glue.ts";
import { FIXTURES, glueExamples, unigramTokenizer } from "./_fixtures.ts";
import { GLUE_TASKS, readGlue, SQUAD2_TASK } from "../../train/tasks/mod.ts";

Deno.test("featurizeGlue() encodes real RTE pairs within the task's maximum length", async () => {
  // Arrange
  const tok = await unigramTokenizer();
  const examples = await glueExamples(
    "RTE/dev.tsv",
    ["sentence1", "sentence2"],
    "label",
    (v) => (v === "entailment" ? 0 : 1),
  );
  // Act: the paper's 320, and a short length that forces truncation.
  for (const maxLength of [maxLengthFor("RTE"), 48]) {
    const features = featurizeGlue(examples, tok, { maxLength });
    // Assert
    assert.equal(features.length, examples.length);
    let truncated = 0;
    for (const [i, f] of features.entries()) {
      const ex = examples[i]!;
      assert.ok(f.inputIds.length <= maxLength);
      const p = tok.encodePair(ex.textA, ex.textB, { maxLength });
      assert.deepEqual(f, {
        inputIds: p.inputIds,
        tokenTypeIds: p.tokenTypeIds,
        idx: ex.idx,
        label: ex.label,
      });
      if (f.inputIds.length === maxLength) truncated++;
    }
    if (maxLength === 48) assert.ok(truncated > 100, `${truncated}`);
  }
});

Deno.test("featurizeGlue() encodes single sentences (SST-2) as [CLS] A [SEP] with float labels kept", async () => {
  const tok = await unigramTokenizer();
  const examples = (await glueExamples("SST-2/dev.tsv", ["sentence"], "label", Number)).slice(
    0,
    100,
  );
  const features = featurizeGlue(examples, tok, { maxLength: maxLengthFor("sst-2") });
  for (const f of features) {
    assert.equal(f.inputIds[0], tok.special.cls);
    assert.equal(f.inputIds.at(-1), tok.special.sep);
    assert.equal(f.inputIds.filter((id) => id === tok.special.sep).length, 1);
    assert.ok(f.tokenTypeIds.every((t) => t === 0));
  }
  const [stsb] = featurizeGlue([{ textA: "a", textB: "b", label: 3.8 }], tok, { maxLength: 128 });
  assert.equal(stsb?.label, 3.8);
  assert.equal(stsb?.idx, 0);
  assert.equal("label" in featurizeGlue([{ textA: "a" }], tok, { maxLength: 8 })[0]!, false);
});

Deno.test("featurizeGlue() and maxLengthFor() reject bad input", async () => {
  const tok = await unigramTokenizer();
  assert.throws(() => featurizeGlue([{ textA: "a" }], tok, { maxLength: 2 }), RangeError);
  assert.throws(
    () => featurizeGlue([{ textA: "a", label: NaN }], tok, { maxLength: 8 }),
    RangeError,
  );
  assert.throws(
    () => featurizeGlue([{ textA: 3 as unknown as string }], tok, { maxLength: 8 }),
    TypeError,
  );
  assert.equal(maxLengthFor("MNLI-m"), 256);
  assert.equal(maxLengthFor("QNLI"), 512);
  assert.throws(() => maxLengthFor("wnli"), RangeError);
});

Deno.test("collate() pads real features to the batch's longest and keeps labels", async () => {
  const tok = await unigramTokenizer();
  const examples = await glueExamples(
    "RTE/dev.tsv",
    ["sentence1", "sentence2"],
    "label",
    (v) => (v === "entailment" ? 0 : 1),
  );
  const features = featurizeGlue(examples.slice(0, 40), tok, { maxLength: 320 });
  const indices = [3, 17, 0, 39, 8];
  const batch = collate(features, indices);
  const longest = Math.max(...indices.map((i) => features[i]!.inputIds.length));
  assert.deepEqual(batch.labels, indices.map((i) => examples[i]!.label));
  for (const [row, i] of indices.entries()) {
    const f = features[i]!;
    const n = f.inputIds.length;
    assert.equal(batch.inputIds[row]!.length, longest);
    assert.deepEqual(batch.inputIds[row]!.slice(0, n), f.inputIds);
    assert.ok(batch.inputIds[row]!.slice(n).every((v) => v === tok.special.pad));
    assert.deepEqual(batch.attentionMask[row], [
      ...Array(n).fill(1),
      ...Array(longest - n).fill(0),
    ]);
    assert.deepEqual(batch.tokenTypeIds[row]!.slice(0, n), f.tokenTypeIds);
  }
});

Deno.test("collate() rejects bad indices and half-labelled batches", () => {
  const features = [
    { inputIds: [1, 2], tokenTypeIds: [0, 0], label: 1 },
    { inputIds: [1, 2], tokenTypeIds: [0, 0] },
  ];
  assert.throws(() => collate(features, [2]), RangeError);
  assert.throws(() => collate(features, [0.5]), RangeError);
  assert.throws(() => collate(features, [0, 1]), TypeError);
  assert.equal(collate(features, [1]).labels, undefined);
  assert.equal(collate(features, [0, 1, 0].slice(1, 2), { multipleOf: 8 }).inputIds[0]!.length, 8);
});

Deno.test("maxLengthFor() agrees with the task table for every GLUE task and SQuAD 2.0", () => {
  for (const [name, spec] of Object.entries(GLUE_TASKS)) {
    assert.equal(maxLengthFor(name), spec.maxLength, name);
    assert.equal(maxLengthFor(spec.gluePrefix), spec.maxLength, spec.gluePrefix);
  }
  assert.equal(maxLengthFor("squad_v2"), SQUAD2_TASK.maxLength);
});

Deno.test("featurizeGlue() takes readGlue()'s examples as they are (CoLA, header-less)", async () => {
  const tok = await unigramTokenizer();
  const examples = await readGlue("cola", "dev", new URL("data/glue/CoLA/dev.tsv", FIXTURES));
  const features = featurizeGlue(examples.slice(0, 50), tok, { maxLength: maxLengthFor("cola") });
  assert.deepEqual(features.map((f) => f.label), examples.slice(0, 50).map((e) => e.label));
  assert.deepEqual(features.map((f) => f.idx), examples.slice(0, 50).map((e) => e.idx));
  assert.ok(features.every((f) => f.tokenTypeIds.every((t) => t === 0)));
});

Deno.test("featurizeGlue() passes the truncation strategy to the tokenizer", async () => {
  const tok = await unigramTokenizer();
  const textA = "one two three four five six seven eight nine ten";
  const textB = `${textA} ${textA}`;
  const n = (t: "longest_first" | "longest_first_fast") =>
    featurizeGlue([{ textA, textB }], tok, { maxLength: 18, truncation: t })[0]!
      .tokenTypeIds.filter((x) => x === 0).length - 2;
  const a = tok.encode(textA).ids.length;
  assert.ok(a >= 8, `${a}`); // both segments must be cut to the odd budget 15
  assert.equal(n("longest_first"), 8);
  assert.equal(n("longest_first_fast"), 7);
});
