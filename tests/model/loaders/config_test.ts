import assert from "node:assert/strict";
import { parseDebertaConfig, readDebertaConfig } from "../../../model/config.ts";
import { GOLDEN_CONFIG } from "./_golden.ts";

const goldenJson = JSON.parse(await Deno.readTextFile(GOLDEN_CONFIG)) as Record<string, unknown>;

function withField(field: string, value: unknown): Record<string, unknown> {
  return { ...goldenJson, [field]: value };
}

Deno.test("readDebertaConfig() resolves the golden tiny-a config", async () => {
  const c = await readDebertaConfig(GOLDEN_CONFIG);
  assert.equal(c.modelType, "deberta-v2");
  assert.equal(c.vocabSize, 100);
  assert.equal(c.hiddenSize, 32);
  assert.equal(c.numHiddenLayers, 2);
  assert.equal(c.numAttentionHeads, 4);
  assert.equal(c.attentionHeadSize, 8);
  assert.equal(c.intermediateSize, 64);
  assert.equal(c.hiddenAct, "gelu");
  assert.equal(c.maxPositionEmbeddings, 64);
  assert.equal(c.relativeAttention, true);
  assert.deepEqual(c.posAttType, ["p2c", "c2p"]);
  assert.equal(c.positionBuckets, 8);
  assert.equal(c.maxRelativePositions, 64); // -1 falls back to max_position_embeddings
  assert.equal(c.posEbdSize, 8);
  assert.equal(c.shareAttKey, true);
  assert.equal(c.normRelEbd, "layer_norm");
  assert.equal(c.positionBiasedInput, false);
  assert.equal(c.typeVocabSize, 0);
  assert.equal(c.layerNormEps, 1e-7);
  assert.equal(c.initializerRange, 0.2);
  assert.equal(c.padTokenId, 0);
  assert.equal(c.poolerHiddenSize, 32);
  assert.equal(c.poolerHiddenAct, "gelu");
  assert.equal(c.poolerDropout, 0);
  assert.equal(c.numLabels, 3);
  assert.deepEqual(c.id2label, ["LABEL_0", "LABEL_1", "LABEL_2"]);
  assert.equal(c.problemType, null);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.posAttType) && Object.isFrozen(c.id2label));
});

Deno.test("parseDebertaConfig() reads pos_att_type as a list or a '|' string", () => {
  assert.deepEqual(parseDebertaConfig(withField("pos_att_type", "p2c|c2p"), "s").posAttType, [
    "p2c",
    "c2p",
  ]);
  assert.deepEqual(parseDebertaConfig(withField("pos_att_type", "C2P | p2c"), "s").posAttType, [
    "c2p",
    "p2c",
  ]);
  assert.deepEqual(parseDebertaConfig(withField("pos_att_type", ["c2p"]), "s").posAttType, ["c2p"]);
  assert.deepEqual(parseDebertaConfig(withField("pos_att_type", null), "s").posAttType, []);
  assert.throws(
    () => parseDebertaConfig(withField("pos_att_type", "p2p|c2p"), "cfg.json"),
    (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /cfg\.json/);
      assert.match(e.message, /pos_att_type/);
      assert.match(e.message, /p2p/);
      return true;
    },
  );
  assert.throws(() => parseDebertaConfig(withField("pos_att_type", 3), "s"), TypeError);
});

Deno.test("parseDebertaConfig() resolves max_relative_positions below 1 to max_position_embeddings", () => {
  assert.equal(
    parseDebertaConfig(withField("max_relative_positions", -1), "s").maxRelativePositions,
    64,
  );
  assert.equal(
    parseDebertaConfig(withField("max_relative_positions", 0), "s").maxRelativePositions,
    64,
  );
  assert.equal(
    parseDebertaConfig(withField("max_relative_positions", 24), "s").maxRelativePositions,
    24,
  );
  const noBuckets = parseDebertaConfig({
    ...withField("max_relative_positions", 24),
    position_buckets: -1,
  }, "s");
  assert.equal(noBuckets.posEbdSize, 24);
});

Deno.test("parseDebertaConfig() applies the HF defaults for absent fields", () => {
  const c = parseDebertaConfig({ model_type: "deberta-v2" }, "bare");
  assert.equal(c.hiddenSize, 1536);
  assert.equal(c.relativeAttention, false);
  assert.equal(c.positionBuckets, -1);
  assert.equal(c.shareAttKey, false);
  assert.equal(c.normRelEbd, "none");
  assert.equal(c.positionBiasedInput, true);
  assert.equal(c.maxRelativePositions, 512);
  assert.equal(c.numLabels, 2);
  assert.deepEqual(c.id2label, ["LABEL_0", "LABEL_1"]);
  assert.equal(c.poolerHiddenSize, 1536);
  assert.equal(c.initializerRange, 0.02);
  assert.equal(c.layerNormEps, 1e-7);
  assert.deepEqual(c.posAttType, []);
  assert.equal(c.typeVocabSize, 0);
  assert.equal(c.hiddenAct, "gelu");
  assert.equal(c.clsDropout, null);
  assert.equal(
    parseDebertaConfig({ model_type: "deberta-v2", cls_dropout: 0.15 }, "c").clsDropout,
    0.15,
  );
  assert.throws(
    () => parseDebertaConfig({ model_type: "deberta-v2", cls_dropout: 1.5 }, "c.json"),
    (e: unknown) =>
      e instanceof RangeError && /c\.json/.test(e.message) && /cls_dropout/.test(e.message),
  );
});

Deno.test("parseDebertaConfig() takes num_labels from id2label and checks they agree", () => {
  const c = parseDebertaConfig({
    ...withField("id2label", { "1": "pos", "0": "neg" }),
    num_labels: 2,
  }, "s");
  assert.equal(c.numLabels, 2);
  assert.deepEqual(c.id2label, ["neg", "pos"]);
  const one = parseDebertaConfig({
    model_type: "deberta-v2",
    num_labels: 1,
    problem_type: "regression",
  }, "s");
  assert.equal(one.numLabels, 1);
  assert.equal(one.problemType, "regression");
  assert.throws(() => parseDebertaConfig({ ...goldenJson, num_labels: 5 }, "s"), RangeError);
  assert.throws(
    () => parseDebertaConfig(withField("id2label", { "0": "a", "2": "b" }), "s"),
    RangeError,
  );
});

Deno.test("parseDebertaConfig() refuses unsupported hidden_act and model_type with clear errors", () => {
  assert.throws(
    () => parseDebertaConfig(withField("hidden_act", "gelu_new"), "cfg.json"),
    (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /^Cannot read config cfg\.json as "hidden_act" must be/);
      assert.match(e.message, /current value is "gelu_new"$/);
      return true;
    },
  );
  assert.throws(() => parseDebertaConfig(withField("pooler_hidden_act", "tanh"), "s"), RangeError);
  for (const modelType of ["deberta", "bert", undefined]) {
    assert.throws(
      () => parseDebertaConfig(withField("model_type", modelType), "cfg.json"),
      (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.match(e.message, /model_type/);
        return true;
      },
    );
  }
});

Deno.test("parseDebertaConfig() refuses wrong types and values that change the math", () => {
  assert.throws(() => parseDebertaConfig(withField("hidden_size", "32"), "s"), TypeError);
  assert.throws(
    () => parseDebertaConfig(withField("hidden_size", 30), "s"),
    /multiple of num_attention_heads/,
  );
  assert.throws(() => parseDebertaConfig(withField("share_att_key", 1), "s"), TypeError);
  assert.throws(() => parseDebertaConfig(withField("norm_rel_ebd", "batch_norm"), "s"), RangeError);
  assert.throws(() => parseDebertaConfig(withField("layer_norm_eps", 0), "s"), RangeError);
  assert.throws(() => parseDebertaConfig(withField("embedding_size", 16), "s"), /embed_proj/);
  assert.throws(
    () => parseDebertaConfig(withField("conv_kernel_size", 3), "s"),
    /conv_kernel_size/,
  );
  assert.throws(() => parseDebertaConfig(withField("pooler_hidden_size", 16), "s"), RangeError);
  assert.throws(() => parseDebertaConfig(withField("type_vocab_size", -1), "s"), RangeError);
  assert.throws(() => parseDebertaConfig([], "s"), TypeError);
});

Deno.test("readDebertaConfig() names the file when it is not JSON", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, "{ not json");
    await assert.rejects(() => readDebertaConfig(path), (e: unknown) => {
      assert.ok(e instanceof SyntaxError);
      assert.ok((e as Error).message.includes(path));
      return true;
    });
  } finally {
    await Deno.remove(path);
  }
});
