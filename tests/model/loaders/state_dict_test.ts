import assert from "node:assert/strict";
import {
  type DebertaConfig,
  parseDebertaConfig,
  readDebertaConfig,
} from "../../../model/config.ts";
import { parsePytorchBin } from "../../../model/pytorch_bin.ts";
import {
  CheckpointFormatError,
  type RawTensor,
  type StateDict,
  writeSafetensors,
} from "../../../model/safetensors.ts";
import {
  expectedDebertaShapes,
  mapDebertaWeights,
  readStateDict,
} from "../../../model/state_dict.ts";
import { GOLDEN_BIN, GOLDEN_CONFIG, GOLDEN_DIR, GOLDEN_SAFETENSORS } from "./_golden.ts";

const config = await readDebertaConfig(GOLDEN_CONFIG);
const goldenJson = JSON.parse(await Deno.readTextFile(GOLDEN_CONFIG)) as Record<string, unknown>;
const { stateDict: golden } = await readStateDict(GOLDEN_DIR);

function without(sd: StateDict, ...keys: string[]): Map<string, RawTensor> {
  const out = new Map(sd);
  for (const k of keys) assert.ok(out.delete(k), k);
  return out;
}

function variant(fields: Record<string, unknown>): DebertaConfig {
  return parseDebertaConfig({ ...goldenJson, ...fields }, "variant.json");
}

Deno.test("readStateDict() prefers model.safetensors in a folder", async () => {
  const { stateDict, file, format } = await readStateDict(GOLDEN_DIR);
  assert.equal(format, "safetensors");
  assert.equal(file, GOLDEN_SAFETENSORS);
  assert.equal(stateDict.size, 42);
});

Deno.test("readStateDict() falls back to pytorch_model.bin and fails clearly when neither exists", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(() => readStateDict(dir), (e: unknown) => {
      assert.ok(e instanceof Deno.errors.NotFound);
      assert.ok((e as Error).message.includes(dir));
      assert.match((e as Error).message, /model\.safetensors or pytorch_model\.bin/);
      return true;
    });
    await Deno.symlink(GOLDEN_BIN, `${dir}/pytorch_model.bin`); // a link, not a copy
    const { stateDict, file, format } = await readStateDict(dir);
    assert.equal(format, "pytorch");
    assert.equal(file, `${dir}/pytorch_model.bin`);
    assert.equal(stateDict.size, 42);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mapDebertaWeights() maps both golden files with nothing missing or unexpected", async () => {
  const bin = parsePytorchBin(await Deno.readFile(GOLDEN_BIN), GOLDEN_BIN);
  for (const [sd, source] of [[golden, GOLDEN_SAFETENSORS], [bin, GOLDEN_BIN]] as const) {
    const m = mapDebertaWeights(sd, config, { head: "classification", seed: 0, source });
    assert.deepEqual(m.missing, []);
    assert.deepEqual(m.unexpected, []);
    assert.deepEqual(m.ignored, []);
    assert.deepEqual(m.initialised, []);
    assert.deepEqual([...m.weights.keys()], [
      ...expectedDebertaShapes(config, "classification").keys(),
    ]);
    for (const [k, t] of m.weights) assert.equal(t, sd.get(k), k);
  }
});

Deno.test("mapDebertaWeights() initialises a removed classifier with the seeded init and says so", () => {
  const sd = without(golden, "classifier.weight", "classifier.bias");
  const a = mapDebertaWeights(sd, config, { head: "classification", seed: 7, source: "x" });
  assert.deepEqual(a.missing, ["classifier.weight", "classifier.bias"]);
  assert.deepEqual(a.initialised, ["classifier.weight", "classifier.bias"]);
  const w = a.weights.get("classifier.weight")!;
  assert.deepEqual(w.shape, [3, 32]);
  assert.ok(a.weights.get("classifier.bias")!.data.every((v) => v === 0));
  const values = [...w.data];
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  // N(0, initializer_range = 0.2) over 96 samples: the sample std is 0.2 ± ~0.015
  assert.ok(std > 0.15 && std < 0.25, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.08, `mean ${mean}`);
  const again = mapDebertaWeights(sd, config, { head: "classification", seed: 7, source: "x" });
  assert.deepEqual(again.weights.get("classifier.weight")!.data, w.data);
  const other = mapDebertaWeights(sd, config, { head: "classification", seed: 8, source: "x" });
  assert.notDeepEqual(other.weights.get("classifier.weight")!.data, w.data);
  // the pooler was present and is used as is
  assert.equal(a.weights.get("pooler.dense.weight"), golden.get("pooler.dense.weight"));
});

Deno.test("mapDebertaWeights() builds QA and regression heads and ignores the unused head", () => {
  const qa = mapDebertaWeights(golden, config, {
    head: "question-answering",
    seed: 1,
    source: "x",
  });
  assert.deepEqual(qa.initialised, ["qa_outputs.weight", "qa_outputs.bias"]);
  assert.deepEqual(qa.weights.get("qa_outputs.weight")!.shape, [2, 32]);
  assert.deepEqual(qa.ignored.sort(), [
    "classifier.bias",
    "classifier.weight",
    "pooler.dense.bias",
    "pooler.dense.weight",
  ]);
  const none = mapDebertaWeights(golden, config, { head: "none", seed: 1, source: "x" });
  assert.equal(none.weights.size, 38);
  const bare = without(golden, "classifier.weight", "classifier.bias");
  const reg = mapDebertaWeights(bare, config, { head: "regression", seed: 1, source: "x" });
  assert.deepEqual(reg.weights.get("classifier.weight")!.shape, [1, 32]);
});

Deno.test("mapDebertaWeights() refuses a shape mismatching the config, naming file and tensor", () => {
  assert.throws(
    () =>
      mapDebertaWeights(golden, variant({ vocab_size: 101 }), {
        head: "classification",
        seed: 0,
        source: "ck.safetensors",
      }),
    (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.equal(
        e.message,
        'Cannot map tensor "deberta.embeddings.word_embeddings.weight" of ck.safetensors as its shape must be [101, 32] (from the config): current value is [100, 32]',
      );
      return true;
    },
  );
  // a 3-label classifier cannot serve as a regression head
  assert.throws(
    () => mapDebertaWeights(golden, config, { head: "regression", seed: 0, source: "ck" }),
    /"classifier\.weight".*\[1, 32\].*\[3, 32\]/,
  );
  // position_buckets decides the rel_embeddings rows
  assert.throws(
    () =>
      mapDebertaWeights(golden, variant({ position_buckets: 16 }), {
        head: "none",
        seed: 0,
        source: "ck",
      }),
    /rel_embeddings.*\[32, 32\].*\[16, 32\]/,
  );
});

Deno.test("mapDebertaWeights() refuses missing base weights with no partial result", () => {
  const sd = without(golden, "deberta.encoder.layer.1.output.dense.bias");
  assert.throws(
    () => mapDebertaWeights(sd, config, { head: "classification", seed: 0, source: "cut.bin" }),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointFormatError);
      assert.match(e.message, /cut\.bin/);
      assert.match(e.message, /lacks 1 \(deberta\.encoder\.layer\.1\.output\.dense\.bias\)/);
      return true;
    },
  );
  // share_att_key false needs pos_key_proj / pos_query_proj in every layer
  assert.throws(
    () =>
      mapDebertaWeights(golden, variant({ share_att_key: false }), {
        head: "none",
        seed: 0,
        source: "s",
      }),
    /lacks 8 \(deberta\.encoder\.layer\.0\.attention\.self\.pos_key_proj\.weight/,
  );
});

Deno.test("mapDebertaWeights() ignores known-unused keys and reports unexpected ones", () => {
  const sd = new Map(golden);
  const f = (n: number): RawTensor => ({ shape: [n], dtype: "F32", data: new Float32Array(n) });
  sd.set("deberta.embeddings.position_ids", {
    shape: [1, 64],
    dtype: "I64",
    data: new Int32Array(64),
  });
  sd.set("deberta.embeddings.position_embeddings.weight", {
    shape: [64, 32],
    dtype: "F32",
    data: new Float32Array(2048),
  });
  sd.set("lm_predictions.lm_head.bias", f(100));
  sd.set("mask_predictions.dense.weight", f(4));
  sd.set("encoder.extra", f(1));
  const m = mapDebertaWeights(sd, config, { head: "classification", seed: 0, source: "x" });
  assert.deepEqual(m.ignored, [
    "deberta.embeddings.position_ids",
    "deberta.embeddings.position_embeddings.weight",
    "lm_predictions.lm_head.bias",
    "mask_predictions.dense.weight",
  ]);
  assert.deepEqual(m.unexpected, ["encoder.extra"]);
  assert.deepEqual(m.missing, []);
});

Deno.test("mapDebertaWeights() accepts gamma/beta LayerNorm names and a checkpoint without the deberta. prefix", () => {
  const renamed = new Map<string, RawTensor>();
  for (const [k, t] of golden) {
    const key = k.replace(/^deberta\./, "").replace(/LayerNorm\.weight$/, "LayerNorm.gamma")
      .replace(
        /LayerNorm\.bias$/,
        "LayerNorm.beta",
      );
    renamed.set(key, t);
  }
  const m = mapDebertaWeights(renamed, config, { head: "classification", seed: 0, source: "x" });
  assert.deepEqual([m.missing, m.unexpected, m.initialised], [[], [], []]);
  assert.equal(
    m.weights.get("deberta.encoder.LayerNorm.weight"),
    golden.get("deberta.encoder.LayerNorm.weight"),
  );
});

Deno.test("mapDebertaWeights() refuses integer data for a weight", () => {
  const sd = new Map(golden);
  sd.set("classifier.bias", { shape: [3], dtype: "I64", data: new Int32Array(3) });
  assert.throws(
    () => mapDebertaWeights(sd, config, { head: "classification", seed: 0, source: "x" }),
    /floating point.*I64/,
  );
});

Deno.test("expectedDebertaShapes() gives 202 weights for DeBERTa-v3-base with a classifier", () => {
  const base = parseDebertaConfig({
    model_type: "deberta-v2",
    vocab_size: 128100,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
    max_position_embeddings: 512,
    relative_attention: true,
    position_buckets: 256,
    max_relative_positions: -1,
    pos_att_type: "p2c|c2p",
    norm_rel_ebd: "layer_norm",
    share_att_key: true,
    position_biased_input: false,
    type_vocab_size: 0,
  }, "v3-base");
  const table = expectedDebertaShapes(base, "classification");
  assert.equal(table.size, 3 + 12 * 16 + 3 + 4);
  assert.deepEqual(table.get("deberta.encoder.rel_embeddings.weight"), [512, 768]);
  assert.deepEqual(table.get("deberta.encoder.layer.11.intermediate.dense.weight"), [3072, 768]);
  assert.deepEqual(table.get("classifier.weight"), [2, 768]);
  assert.equal(table.has("deberta.embeddings.position_embeddings.weight"), false);
});

Deno.test("readStateDict() merges a sharded safetensors checkpoint and checks its index", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const keys = [...golden.keys()];
    const shards = [keys.slice(0, 20), keys.slice(20)];
    const weightMap: Record<string, string> = {};
    for (const [i, part] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await Deno.writeFile(
        `${dir}/${file}`,
        writeSafetensors(new Map(part.map((k) => [k, golden.get(k)!]))),
      );
      for (const k of part) weightMap[k] = file;
    }
    const index = `${dir}/model.safetensors.index.json`;
    await Deno.writeTextFile(index, JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const { stateDict, file, format } = await readStateDict(dir);
    assert.equal(file, index);
    assert.equal(format, "safetensors");
    assert.equal(stateDict.size, 42);
    for (const [k, t] of golden) assert.deepEqual(stateDict.get(k)!.data, t.data, k);
    // a tensor listed in the index but absent from its shard
    await Deno.writeTextFile(
      index,
      JSON.stringify({
        weight_map: { ...weightMap, "extra.weight": "model-00001-of-00002.safetensors" },
      }),
    );
    await assert.rejects(() => readStateDict(dir), /"extra\.weight"/);
    // shard names are file names, never paths
    await Deno.writeTextFile(index, JSON.stringify({ weight_map: { x: "../model.safetensors" } }));
    await assert.rejects(() => readStateDict(dir), CheckpointFormatError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
