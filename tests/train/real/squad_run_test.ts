/**
 * SQuAD 2.0 end to end on the tiny model: windows from the real dev subset
 * (`dev-v2.0.first2articles.json`, first 12 questions for training and 6 for evaluation), 6
 * TriAdaptLoRA steps, official-metric evaluation, and a PEFT export whose plain-LoRA reload
 * gives the same start/end logits (1e-5; measured 0, see `rte_run_test.ts` for why).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createSquadTask } from "../../../train/squad_task.ts";
import { defaultHyperParams } from "../../../train/hyperparams.ts";
import { exportRun } from "../../../train/export_cli.ts";
import { loadPeftFolder } from "../../../train/peft_export.ts";
import { loadTrainedRun } from "../../../train/real_task.ts";
import { runTraining } from "../../../train/run.ts";
import {
  fixturePath,
  logitsOf,
  maxAbsDiff,
  TINY_MODEL,
  TOKENIZER,
  useWasm,
} from "./_real_helpers.ts";

const DATA = fixturePath("data/squad2/dev-v2.0.first2articles.json");

Deno.test("createSquadTask() trains, evaluates with the official metric and exports a span head", async () => {
  await useWasm();
  const root = await Deno.makeTempDir({ prefix: "triadapt-squad-" });
  const dir = join(root, "run");
  const task = await createSquadTask({
    model: TINY_MODEL,
    tokenizer: TOKENIZER,
    outOfRangeIds: "unk",
    data: DATA,
    maxLength: 64,
    docStride: 16,
    maxQueryLength: 16,
    maxTrainExamples: 12,
    maxEvalExamples: 6,
  });
  try {
    assert.ok(task.numTrainExamples > 12, `long contexts make several windows each`);
    const result = await runTraining({
      task,
      hyper: {
        ...defaultHyperParams(),
        batchSize: 4,
        lr: 5e-3,
        warmupSteps: 1,
        alpha: 8,
        refRank: 2,
        initRank: 1,
        deltaRank: 1,
        initWarmup: 2,
        interval: 2,
        threshold: "linear",
        orthRegWeight: 0.1,
      },
      settings: { method: "triadapt", seed: 0, maxSteps: 6, evalEvery: 6, logEvery: 2 },
      dir,
      backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
      progress: false,
    });
    assert.equal(result.step, 6);
    assert.equal(result.final?.metric, "f1");
    const all = result.final?.all ?? {};
    assert.equal(all["total"], 6);
    assert.ok((all["f1"] as number) >= 0 && (all["f1"] as number) <= 100);
    assert.ok("best_f1" in all && "exact" in all);

    await exportRun(dir, { format: "peft" });
    const config = JSON.parse(await Deno.readTextFile(join(dir, "peft", "adapter_config.json")));
    assert.equal(config.task_type, "QUESTION_ANS");
    assert.deepEqual(config.modules_to_save, ["qa_outputs"]);
    const run = await loadTrainedRun(dir);
    const peft = await loadPeftFolder(join(dir, "peft"));
    try {
      const batch = {
        inputIds: [[1, 20, 30, 2, 40, 50, 60, 2], [1, 21, 2, 41, 51, 2, 0, 0]],
        attentionMask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0, 0]],
        tokenTypeIds: [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 0, 0]],
      };
      const trained = await logitsOf(run.model, batch);
      assert.equal(trained.length, 2 * 8 * 2);
      const diff = maxAbsDiff(trained, await logitsOf(peft.model, batch));
      assert.ok(diff < 1e-5, `PEFT reload start/end logits differ by ${diff}`);
    } finally {
      peft.dispose();
      run.dispose();
    }
  } finally {
    task.dispose();
    await Deno.remove(root, { recursive: true });
  }
});
