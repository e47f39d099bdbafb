/**
 * The GLUE task: losses computed by hand from the same logits, the STS-B regression head, data
 * errors (file + line, `skipBadRows`), vocabulary checks and the base checkpoint's head handling.
 */

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { collate } from "../../../train/features/collate.ts";
import { featurizeGlue } from "../../../train/features/glue.ts";
import { createGlueTask, fitTokenIds, loadBaseCheckpoint } from "../../../train/glue_task.ts";
import { DataFormatError } from "../../../train/tasks/data_format_error.ts";
import { readGlue } from "../../../train/tasks/read_glue.ts";
import { createSquadTask } from "../../../train/squad_task.ts";
import { assertNoTensorLeak } from "../../_tensor_helpers.ts";
import {
  fixturePath,
  RTE,
  TINY_MODEL,
  TOKENIZER,
  useWasm,
  writeRteFolder,
  writeSmallModelFolder,
} from "./_real_helpers.ts";

const TINY = { model: TINY_MODEL, tokenizer: TOKENIZER, outOfRangeIds: "unk" } as const;

Deno.test("createGlueTask() loss is the mean cross-entropy of the model's logits", async () => {
  await useWasm();
  const task = await createGlueTask({
    ...TINY,
    task: "rte",
    data: RTE,
    maxLength: 48,
    maxTrainExamples: 6,
    maxEvalExamples: 4,
  });
  const model = task.buildModel(5);
  try {
    const indices = [4, 0, 2];
    const loss = task.loss(model, indices, { training: false, seed: 0 });
    const got = (await loss.data())[0] as number;
    loss.dispose();
    // Oracle: features built independently, logits from a plain forward, CE in float64.
    const examples = (await readGlue("rte", "train", RTE)).slice(0, 6);
    const features = featurizeGlue(examples, task.tokenizer, { maxLength: 48 });
    fitTokenIds(features, 100, task.tokenizer.special.unk, "unk", TOKENIZER);
    const batch = collate(features, indices, { padId: 0 });
    const out = model.forward(batch);
    const logits = await out.logits.array() as number[][];
    tf.dispose([out.logits, out.lastHiddenState]);
    let ce = 0;
    logits.forEach((row, i) => {
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      ce += lse - (row[batch.labels?.[i] as number] as number);
    });
    ce /= indices.length;
    assert.ok(Math.abs(got - ce) < 1e-5, `loss ${got} vs oracle ${ce}`);
    assert.ok(got > 0);
  } finally {
    model.dispose();
    task.dispose();
  }
});

Deno.test("createGlueTask() trains STS-B as one-output regression with MSE and reports Pearson", async () => {
  await useWasm();
  const task = await createGlueTask({
    ...TINY,
    task: "STS-B",
    data: fixturePath("data/glue/STS-B"),
    maxLength: 48,
    maxTrainExamples: 5,
    maxEvalExamples: 8,
  });
  const model = task.buildModel(1);
  try {
    assert.equal(model.numLabels, 1);
    assert.equal(model.head, "regression");
    assert.equal(task.metricName, "pearson");
    const loss = task.loss(model, [0, 1, 2, 3], { training: false, seed: 0 });
    const got = (await loss.data())[0] as number;
    loss.dispose();
    const examples = (await readGlue("stsb", "train", fixturePath("data/glue/STS-B"))).slice(0, 4);
    const features = featurizeGlue(examples, task.tokenizer, { maxLength: 48 });
    fitTokenIds(features, 100, task.tokenizer.special.unk, "unk", TOKENIZER);
    const batch = collate(features, [0, 1, 2, 3], { padId: 0 });
    const out = model.forward(batch);
    const preds = Array.from(await out.logits.data());
    tf.dispose([out.logits, out.lastHiddenState]);
    const mse = preds.reduce((s, p, i) => s + (p - (batch.labels?.[i] as number)) ** 2, 0) / 4;
    assert.ok(Math.abs(got - mse) < 1e-4 * Math.max(1, mse), `loss ${got} vs oracle ${mse}`);
    const ev = await task.evaluate(model, { ranks: new Map() });
    assert.equal(ev.metric, "pearson");
    assert.deepEqual(Object.keys(ev.all), ["pearson", "spearman", "pearson_spearman_mean"]);
  } finally {
    model.dispose();
    task.dispose();
  }
});

Deno.test("createGlueTask() names the file and line of a malformed row, and skipBadRows counts it", async () => {
  const root = await Deno.makeTempDir({ prefix: "triadapt-glue-" });
  try {
    const data = await writeRteFolder(
      join(root, "RTE"),
      [["A man sleeps.", "A man rests.", "entailment"], ["It rains.", "It is dry.", "maybe"]],
      [["A cat.", "An animal.", "entailment"], ["Sun.", "Night.", "not_entailment"]],
    );
    await assert.rejects(
      () => createGlueTask({ ...TINY, task: "rte", data }),
      (error: unknown) => {
        assert.ok(error instanceof DataFormatError);
        assert.match(error.message, /train\.tsv/);
        assert.match(error.message, /line 3/);
        return true;
      },
    );
    const task = await createGlueTask({ ...TINY, task: "rte", data, skipBadRows: true });
    assert.deepEqual(task.skipped, { train: 1, eval: 0 });
    assert.equal(task.numTrainExamples, 1);
    assert.equal(task.describe().skippedRows && true, true);
    task.dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createGlueTask() rejects token ids beyond the model's vocabulary unless told to map them", async () => {
  await assert.rejects(
    () =>
      createGlueTask({
        model: TINY_MODEL,
        tokenizer: TOKENIZER,
        task: "rte",
        data: RTE,
        maxTrainExamples: 2,
        maxEvalExamples: 2,
      }),
    /vocab_size 100: current max id is \d+/,
  );
});

Deno.test("createGlueTask() uses the model folder's spm.model and records absolute paths", async () => {
  await useWasm();
  const root = await Deno.makeTempDir({ prefix: "triadapt-glue-" });
  try {
    await writeSmallModelFolder(join(root, "model"));
    await writeRteFolder(join(root, "RTE"), [["A b.", "C d.", "entailment"]], [[
      "E f.",
      "G h.",
      "not_entailment",
    ]]);
    // Relative paths (no chdir: it would move every test of the process).
    const rel = (p: string): string => relative(Deno.cwd(), join(root, p));
    const task = await createGlueTask({
      task: "rte",
      model: rel("model"),
      data: rel("RTE/train.tsv"),
    });
    const info = task.describe() as { options: { model: string; data: string } };
    assert.equal(info.options.model, join(root, "model"));
    assert.equal(info.options.data, join(root, "RTE/train.tsv"));
    assert.equal(task.numEvalExamples, 1, "dev.tsv is found next to the training file");
    task.dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadBaseCheckpoint() keeps a head of the right shape and drops one of another", async () => {
  const three = await loadBaseCheckpoint(TINY_MODEL, "classification", ["a", "b", "c"]);
  assert.deepEqual(three.dropped, []);
  assert.equal(three.rawConfig.num_labels, 3);
  const regression = await loadBaseCheckpoint(TINY_MODEL, "regression", []);
  assert.deepEqual(regression.dropped, ["classifier.bias", "classifier.weight"]);
  assert.equal(regression.rawConfig.problem_type, "regression");
  const qa = await loadBaseCheckpoint(TINY_MODEL, "question-answering", []);
  assert.deepEqual(qa.rawConfig.architectures, ["DebertaV2ForQuestionAnswering"]);
  const model = qa.build(0);
  assert.equal(model.head, "question-answering");
  model.dispose();
});

Deno.test("createGlueTask() and createSquadTask() evaluate and loss leak no tensors", async () => {
  await useWasm();
  const glue = await createGlueTask({
    ...TINY,
    task: "rte",
    data: RTE,
    maxLength: 32,
    maxTrainExamples: 4,
    maxEvalExamples: 3,
  });
  const squad = await createSquadTask({
    ...TINY,
    data: fixturePath("data/squad2/dev-v2.0.first2articles.json"),
    maxLength: 48,
    docStride: 8,
    maxQueryLength: 12,
    maxTrainExamples: 1,
    maxEvalExamples: 1,
  });
  for (const task of [glue, squad]) {
    const model = task.buildModel(0);
    try {
      await assertNoTensorLeak(async () => {
        const loss = tf.tidy(() => task.loss(model, [0, 1], { training: true, seed: 1 }));
        loss.dispose();
        await task.evaluate(model, { ranks: new Map() });
      }, `${task.name} loss + evaluate`);
    } finally {
      model.dispose();
    }
  }
});
