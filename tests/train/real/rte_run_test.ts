/**
 * A short real-data run: RTE from `testdata/data/glue/RTE`, the tiny golden DeBERTa model, 20
 * TriAdaptLoRA steps (allocation every 4 steps after step 4, so ranks grow), evaluation at steps
 * 10 and 20, then `deno task eval` and `deno task export` (PEFT and merged) on the run folder.
 *
 * Tolerances (the issue asks for 1e-5): the PEFT reload computes `x·W0ᵀ + (x·lora_Aᵀ)·lora_Bᵀ`
 * with `lora_B = s·B·D`, which is how the TriAdaptLoRA forward already folds its factors, so the
 * logits agree bit for bit (measured max diff 0). The merged model adds `ΔW` to `W0` before the
 * product (one more float32 rounding per weight): measured max diff 1.1e-6 on logits of size
 * O(1), inside 1e-5. The adapters themselves move the logits by 9e-3 after 20 steps (checked >
 * 1e-3, so the comparisons are not trivially met by an un-adapted model).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../../model/load_model.ts";
import { parseSafetensors } from "../../../model/safetensors.ts";
import { main as evalMain } from "../../../train/eval_cli.ts";
import { main as exportMain } from "../../../train/export_cli.ts";
import { createGlueTask } from "../../../train/glue_task.ts";
import { defaultHyperParams, type HyperParams } from "../../../train/hyperparams.ts";
import { loadPeftFolder } from "../../../train/peft_export.ts";
import { loadTrainedRun } from "../../../train/real_task.ts";
import { runTraining } from "../../../train/run.ts";
import { readJsonLines } from "../../../train/run_folder.ts";
import {
  logitsOf,
  maxAbsDiff,
  RTE,
  rteDevBatch,
  TINY_MODEL,
  TOKENIZER,
  useWasm,
} from "./_real_helpers.ts";

const MAX_LENGTH = 64;

const HYPER: HyperParams = {
  ...defaultHyperParams(),
  batchSize: 8,
  epochs: 1,
  lr: 5e-3,
  warmupSteps: 2,
  weightDecay: 0.01,
  alpha: 8,
  dropout: 0,
  refRank: 3,
  initRank: 1,
  deltaRank: 1,
  initWarmup: 4,
  interval: 4,
  threshold: "linear",
  orthRegWeight: 0.3,
  maxLength: MAX_LENGTH,
};

Deno.test("runTraining() on RTE with the tiny model goes through readers, tokenizer, loop, evaluation and export", async (t) => {
  await useWasm();
  const root = await Deno.makeTempDir({ prefix: "triadapt-rte-" });
  const dir = join(root, "run");
  const task = await createGlueTask({
    task: "rte",
    model: TINY_MODEL,
    tokenizer: TOKENIZER,
    outOfRangeIds: "unk",
    data: RTE,
    maxLength: MAX_LENGTH,
    maxEvalExamples: 96,
  });
  try {
    assert.equal(task.numTrainExamples, 2490, "the whole RTE train split is read");
    assert.equal(task.numEvalExamples, 96);

    const result = { final: NaN, first: NaN };
    await t.step("20 TriAdaptLoRA steps with evaluation", async () => {
      const r = await runTraining({
        task,
        hyper: HYPER,
        settings: { method: "triadapt", seed: 3, maxSteps: 20, evalEvery: 10, logEvery: 5 },
        dir,
        backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
        progress: false,
      });
      assert.equal(r.step, 20);
      assert.equal(r.finished, true);
      assert.ok(r.events >= 1, `allocation must fire: ${r.events} events`);
      assert.ok(r.ranksTotal > 12, `ranks must grow beyond 12 × 1: ${r.ranksTotal}`);
      const lines = (await readJsonLines(join(dir, "metrics.jsonl"))) as {
        kind: string;
        step: number;
        metricName?: string;
        metric?: number;
        loss?: number;
      }[];
      const evals = lines.filter((l) => l.kind === "eval");
      assert.deepEqual(evals.map((l) => l.step), [10, 20]);
      for (const e of evals) {
        assert.equal(e.metricName, "accuracy");
        assert.ok(e.metric !== undefined && e.metric >= 0 && e.metric <= 1);
      }
      const train = lines.filter((l) => l.kind === "train");
      assert.ok(train.length >= 4 && train.every((l) => Number.isFinite(l.loss)));
      const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
      assert.equal(config.taskInfo.kind, "glue");
      assert.equal(config.taskInfo.options.model, TINY_MODEL);
      result.first = evals[0]?.metric as number;
      result.final = evals[1]?.metric as number;
    });

    await t.step("deno task eval reproduces the final evaluation exactly", async () => {
      const out: string[] = [];
      const errors: string[] = [];
      const code = await evalMain(["--run", dir, "--backend", "wasm"], {
        out: (l) => out.push(l),
        err: (l) => errors.push(l),
      });
      assert.equal(code, 0, errors.join("\n"));
      assert.match(errors[0] as string, /^triadapt eval: backend wasm/);
      const report = JSON.parse(out[0] as string);
      assert.equal(report.step, 20);
      assert.equal(report.metric, "accuracy");
      assert.equal(report.value, result.final);
      const saved = JSON.parse(await Deno.readTextFile(join(dir, "eval-dev.json")));
      assert.equal(saved.value, result.final);
      // An earlier checkpoint reproduces the evaluation of its own step.
      out.length = 0;
      const atTen = await evalMain(["--run", dir, "--checkpoint", "step-00000010"], {
        out: (l) => out.push(l),
        err: (l) => errors.push(l),
      });
      assert.equal(atTen, 0, errors.join("\n"));
      assert.equal(JSON.parse(out[0] as string).step, 10);
      assert.equal(JSON.parse(out[0] as string).value, result.first);
    });

    const run = await loadTrainedRun(dir);
    const batch = await rteDevBatch(16, MAX_LENGTH);
    const trained = await logitsOf(run.model, batch);
    try {
      await t.step(
        "the PEFT export reloads as plain LoRA with the same logits (1e-5)",
        async () => {
          const out: string[] = [];
          const code = await exportMain(["--run", dir, "--format", "peft"], {
            out: (l) => out.push(l),
            err: (l) => out.push(l),
          });
          assert.equal(code, 0, out.join("\n"));
          const peftDir = join(dir, "peft");
          const config = JSON.parse(await Deno.readTextFile(join(peftDir, "adapter_config.json")));
          assert.equal(config.peft_type, "LORA");
          assert.equal(config.task_type, "SEQ_CLS");
          assert.deepEqual(config.modules_to_save, ["classifier", "pooler"]);
          assert.equal(config.target_modules.length, 12);
          const ranks = Object.fromEntries(run.adapters.map((a) => [a.name, a.rank]));
          assert.deepEqual(config.rank_pattern, ranks);
          assert.deepEqual(config.alpha_pattern, ranks);
          const file = join(peftDir, "adapter_model.safetensors");
          const tensors = parseSafetensors(await Deno.readFile(file), file);
          const q = "base_model.model.deberta.encoder.layer.0.attention.self.query_proj";
          assert.deepEqual(tensors.get(`${q}.lora_A.weight`)?.shape, [ranks[q.slice(17)], 32]);
          assert.deepEqual(tensors.get(`${q}.lora_B.weight`)?.shape, [32, ranks[q.slice(17)]]);
          assert.deepEqual(tensors.get("base_model.model.classifier.weight")?.shape, [2, 32]);
          assert.deepEqual(tensors.get("base_model.model.pooler.dense.weight")?.shape, [32, 32]);
          assert.equal(tensors.size, 12 * 2 + 4);
          const peft = await loadPeftFolder(peftDir);
          try {
            const reloaded = await logitsOf(peft.model, batch);
            const diff = maxAbsDiff(trained, reloaded);
            assert.ok(diff < 1e-5, `PEFT reload logits differ by ${diff}`);
          } finally {
            peft.dispose();
          }
        },
      );

      await t.step(
        "the merged export loads with loadModel and gives the same logits (1e-5)",
        async () => {
          const out: string[] = [];
          const code = await exportMain(["--run", dir, "--format", "merged"], {
            out: (l) => out.push(l),
            err: (l) => out.push(l),
          });
          assert.equal(code, 0, out.join("\n"));
          const mergedDir = join(dir, "merged");
          const config = JSON.parse(await Deno.readTextFile(join(mergedDir, "config.json")));
          assert.equal(config.num_labels, 2);
          assert.deepEqual(config.id2label, { "0": "entailment", "1": "not_entailment" });
          assert.deepEqual(
            await Deno.readFile(join(mergedDir, "spm.model")),
            await Deno.readFile(TOKENIZER),
          );
          const merged = await loadModel(mergedDir);
          try {
            assert.equal(merged.numLabels, 2);
            const diff = maxAbsDiff(trained, await logitsOf(merged, batch));
            assert.ok(diff < 1e-5, `merged logits differ by ${diff}`);
            // And the merge is not a no-op: the base model with the trained head differs.
            const base = run.task.buildModel(0);
            try {
              for (const [name, v] of run.model.namedTrainableVariables()) {
                base.namedTrainableVariables().get(name)?.assign(v);
              }
              const unadapted = await logitsOf(base, batch);
              assert.ok(maxAbsDiff(trained, unadapted) > 1e-3, "adapters must change the logits");
            } finally {
              base.dispose();
            }
          } finally {
            merged.dispose();
          }
        },
      );
    } finally {
      run.dispose();
    }
  } finally {
    task.dispose();
    await Deno.remove(root, { recursive: true });
  }
});
