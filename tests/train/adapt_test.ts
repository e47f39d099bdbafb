/** `adaptModel`: one call from a loaded model to adapters + controller + optimizer. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { DebertaModel } from "../../model/deberta_v3.ts";
import { createDebertaModel } from "../../model/deberta_v3.ts";
import { parseDebertaConfig } from "../../model/config.ts";
import { randomDebertaWeights } from "../../model/random_weights.ts";
import { initBackend } from "../../ops/backend.ts";
import { defaultHyperParams, type TrainMethod } from "../../train/hyperparams.ts";
import { Trainer } from "../../train/loop.ts";
import { createPlantedTask } from "../../train/planted/planted_task.ts";
import { type AdaptConfig, adaptModel, runTraining } from "../../train/run.ts";
import { TINY_HYPER, TINY_PLANTED } from "./loop/_tiny.ts";

await initBackend("wasm");

const CONFIG = parseDebertaConfig({
  model_type: "deberta-v2",
  vocab_size: 20,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 16,
  num_labels: 2,
}, "inline");

function tinyModel(): DebertaModel {
  return createDebertaModel(CONFIG, randomDebertaWeights(CONFIG, 3));
}

const SCHEDULE = {
  totalSteps: 20,
  refRank: 2,
  initRank: 1,
  deltaRank: 1,
  initWarmup: 4,
  interval: 4,
  topH: 2,
  tinit: 2,
  tfinal: 2,
  deltaT: 2,
  adaloraInitRank: 3,
} as const;

const CASES: readonly (readonly [TrainMethod, string, number])[] = [
  ["triadapt", "triadaptlora", 1],
  ["lora", "lora", 2],
  ["adalora", "adalora", 3],
  ["increlora", "increlora", 1],
];

for (const [method, adapterMethod, rank] of CASES) {
  Deno.test(`adaptModel(${method}) injects ${adapterMethod} adapters of rank ${rank} in every target, with its controller and every block registered`, () => {
    const model = tinyModel();
    const before = tf.memory().numTensors;
    return adaptModel(model, { method, ...SCHEDULE }).then((adapted) => {
      assert.equal(adapted.adapters.length, 12); // 6 families × 2 layers
      assert.ok(adapted.adapters.every((a) => a.method === adapterMethod && a.rank === rank));
      assert.equal(adapted.controller.method, method);
      assert.equal(adapted.controller.targetBudget, 2 * 12);
      const keys = adapted.optimizer.blockKeys;
      assert.deepEqual(keys, [
        ...adapted.adapters.flatMap((a) => a.parameterBlocks().map((b) => b.key)),
        "head",
      ]);
      assert.equal(adapted.hyper.alpha, 32, "the schema default alpha");
      assert.equal(
        adapted.hyper.orthRegWeight,
        method === "lora" ? 0 : defaultHyperParams().orthRegWeight,
      );
      assert.equal(adapted.seed, 0);
      adapted.dispose();
      assert.equal(tf.memory().numTensors, before, "dispose() frees every adapter tensor");
      // The model runs again without adapters.
      const out = model.forward({ inputIds: [[1, 5, 2]] });
      tf.dispose([out.logits, out.lastHiddenState]);
      model.dispose();
    });
  });
}

Deno.test("adaptModel() with the same seed builds bit-identical adapters; another seed differs", async () => {
  const read = async (seed: number): Promise<Float32Array[]> => {
    const model = tinyModel();
    const adapted = await adaptModel(model, { method: "lora", totalSteps: 4, seed, refRank: 2 });
    const out: Float32Array[] = [];
    for (const a of adapted.adapters) {
      for (const t of Object.values((await a.snapshot()).tensors)) out.push(t.data);
    }
    adapted.dispose();
    model.dispose();
    return out;
  };
  const a = await read(5);
  assert.deepEqual(await read(5), a);
  assert.notDeepEqual(await read(6), a);
});

Deno.test("adaptModel() targets only the modules named in targets", async () => {
  const model = tinyModel();
  const adapted = await adaptModel(model, {
    method: "lora",
    totalSteps: 4,
    targets: ["query_proj", "value_proj"],
  });
  assert.deepEqual(
    adapted.adapters.map((a) => a.name.replace(/^.*layer\.(\d+)\..*\.(\w+)$/, "$1.$2")),
    ["0.query_proj", "0.value_proj", "1.query_proj", "1.value_proj"],
  );
  adapted.dispose();
  model.dispose();
});

Deno.test("adaptModel() refuses unknown fields, methods and inconsistent schedules before making any tensor", async () => {
  const model = tinyModel();
  const before = tf.memory().numTensors;
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ method: "triadapt", totalSteps: 100, refrank: 4 }, /current field is refrank/],
    [
      { method: "dora", totalSteps: 100 },
      /method must be one of triadapt, lora, adalora, increlora/,
    ],
    [{ method: "lora", totalSteps: 0 }, /totalSteps must be an integer >= 1/],
    [{ method: "lora", totalSteps: 10, alpha: "32" }, /alpha must be a number/],
    [
      { method: "triadapt", totalSteps: 10, initRank: 4, refRank: 2 },
      /initRank must be <= refRank/,
    ],
    [{ method: "triadapt", totalSteps: 50 }, /initWarmup|t0|totalSteps/], // default t0 200 >= T
    [{ method: "adalora", totalSteps: 10, tinit: 5, tfinal: 5 }, /tinit|tfinal/],
  ];
  for (const [config, message] of bad) {
    await assert.rejects(
      () => adaptModel(model, config as unknown as AdaptConfig),
      message,
      JSON.stringify(config),
    );
  }
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("new Trainer({ task, ...adaptModel() }) trains and grows, and runTraining() built the same way gives the same run", async () => {
  const hyper = { ...TINY_HYPER };
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 2 });
  const model = task.buildModel(2);
  const adapted = await adaptModel(model, {
    ...hyper,
    method: "triadapt",
    totalSteps: 12,
    seed: 2,
  });
  const trainer = new Trainer({ task, ...adapted });
  assert.equal(trainer.optimizer, adapted.optimizer);
  const losses: number[] = [];
  for (let i = 0; i < 12; i++) losses.push((await trainer.runStep()).loss);
  const ranks = trainer.controller.ranks();
  assert.ok(trainer.controller.events > 0);
  // Every grown block reached the optimizer (the controller synced it).
  assert.deepEqual(
    trainer.optimizer.blockKeys.filter((k) => k !== "head").sort(),
    trainer.adapters.flatMap((a) => a.parameterBlocks().map((b) => b.key)).sort(),
  );
  assert.ok(trainer.optimizer.blockKeys.length > trainer.adapters.length + 1, "blocks grew");
  trainer.dispose();
  const dir = `${await Deno.makeTempDir()}/run`;
  try {
    const result = await runTraining({
      task,
      hyper,
      dir,
      progress: false,
      settings: { method: "triadapt", seed: 2, logEvery: 1, maxSteps: 12 },
      backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
    });
    const lines = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l) as { kind: string; loss?: number });
    const runLosses = lines.filter((l) => l.kind === "train").map((l) => l.loss);
    assert.deepEqual(runLosses, losses, "runTraining wires its run through adaptModel");
    assert.deepEqual(Object.values(result.ranks), ranks);
  } finally {
    task.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
