import assert from "node:assert/strict";
import {
  GLUE_TASKS,
  hfSplitName,
  resolveGlueSplit,
  resolveGlueTask,
  SQUAD2_TASK,
} from "../../train/tasks/mod.ts";

Deno.test("resolveGlueTask() accepts GLUE and Hugging Face spellings, case-insensitively", () => {
  const cases: [string, string][] = [
    ["CoLA", "cola"],
    ["SST-2", "sst2"],
    ["sst2", "sst2"],
    ["MRPC", "mrpc"],
    ["STS-B", "stsb"],
    ["sts_b", "stsb"],
    ["QQP", "qqp"],
    ["MNLI", "mnli"],
    ["qnli", "qnli"],
    ["Rte", "rte"],
  ];
  for (const [input, name] of cases) assert.equal(resolveGlueTask(input).name, name, input);
  assert.throws(() => resolveGlueTask("wnli"), /must be one of cola, sst2/);
  assert.throws(() => resolveGlueTask("constructor"), RangeError);
});

Deno.test("resolveGlueSplit() maps Hugging Face split names and rejects splits a task lacks", () => {
  const mnli = resolveGlueTask("mnli");
  assert.equal(resolveGlueSplit(mnli, "validation_mismatched"), "dev_mismatched");
  assert.equal(resolveGlueSplit(mnli, "test_matched"), "test_matched");
  assert.throws(() => resolveGlueSplit(mnli, "dev"), RangeError);
  assert.equal(resolveGlueSplit(resolveGlueTask("rte"), "Validation"), "dev");
  assert.throws(() => resolveGlueSplit(resolveGlueTask("rte"), "dev_matched"), RangeError);
  assert.equal(hfSplitName("dev"), "validation");
  assert.equal(hfSplitName("test_mismatched"), "test_mismatched");
});

Deno.test("GLUE_TASKS holds the official sizes, label maps, metrics and paper max lengths", () => {
  const expected: Record<string, [Record<string, number>, number, string]> = {
    cola: [{ train: 8551, dev: 1043, test: 1063 }, 64, "matthews_corrcoef"],
    sst2: [{ train: 67349, dev: 872, test: 1821 }, 128, "accuracy"],
    mrpc: [{ train: 3668, dev: 408, test: 1725 }, 320, "accuracy"],
    stsb: [{ train: 5749, dev: 1500, test: 1379 }, 128, "pearson"],
    qqp: [{ train: 363846, dev: 40430, test: 390965 }, 320, "accuracy"],
    mnli: [
      {
        train: 392702,
        dev_matched: 9815,
        dev_mismatched: 9832,
        test_matched: 9796,
        test_mismatched: 9847,
      },
      256,
      "accuracy",
    ],
    qnli: [{ train: 104743, dev: 5463, test: 5463 }, 512, "accuracy"],
    rte: [{ train: 2490, dev: 277, test: 3000 }, 320, "accuracy"],
  };
  assert.deepEqual(Object.keys(GLUE_TASKS).sort(), Object.keys(expected).sort());
  for (const [name, [sizes, maxLength, main]] of Object.entries(expected)) {
    const spec = resolveGlueTask(name);
    assert.deepEqual(spec.sizes, sizes, name);
    assert.equal(spec.maxLength, maxLength, name);
    assert.equal(spec.main, main, name);
    assert.ok(Object.isFrozen(spec), name);
  }
  assert.deepEqual(GLUE_TASKS.rte.labels, ["entailment", "not_entailment"]);
  assert.deepEqual(GLUE_TASKS.qnli.labels, ["entailment", "not_entailment"]);
  assert.deepEqual(GLUE_TASKS.mnli.labels, ["entailment", "neutral", "contradiction"]);
  assert.equal(GLUE_TASKS.stsb.kind, "regression");
  assert.equal(SQUAD2_TASK.maxLength, 384);
  assert.deepEqual(SQUAD2_TASK.sizes, { train: 130319, dev: 11873 });
});
