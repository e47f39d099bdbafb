/**
 * A step that cannot fit the backend's memory stops before anything is allocated, with one
 * line (what the step needs, what the backend has, which flags fix it) and exit 1 (METHOD §22).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { main as trainMain } from "../../../train/cli.ts";
import { capture, writeRteFolder, writeSmallModelFolder } from "./_real_helpers.ts";

const PAIRS: readonly (readonly [string, string, string])[] = Array.from(
  { length: 8 },
  (_, i) => [`The cat sat ${i}.`, "A cat sat.", i % 2 === 0 ? "entailment" : "not_entailment"],
);

/** A DeBERTa-v3-base config.json and a tokenizer, no weights: the estimate needs no more. */
async function writeBaseShapedFolder(dir: string): Promise<string> {
  const small = await writeSmallModelFolder(join(dir, "..", "small-for-spm"));
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(join(small, "spm.model"), join(dir, "spm.model"));
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({
      model_type: "deberta-v2",
      vocab_size: 128100,
      hidden_size: 768,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      intermediate_size: 3072,
      max_position_embeddings: 512,
      relative_attention: true,
      position_buckets: 256,
      pos_att_type: ["p2c", "c2p"],
      share_att_key: true,
      norm_rel_ebd: "layer_norm",
      position_biased_input: false,
      type_vocab_size: 0,
      layer_norm_eps: 1e-7,
    }),
  );
  return dir;
}

async function train(args: string[]): Promise<{ code: number; err: string; out: string }> {
  const err = capture();
  const out = capture();
  const code = await trainMain(args, { stdout: out, stderr: err, progress: false });
  return { code, err: err.text(), out: out.text() };
}

Deno.test("train CLI: a base-shaped step that cannot fit wasm stops with one line naming need, limit and --recompute selective; exit 1, no run folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "triadapt-mem-" });
  try {
    // Arrange: a base-shaped folder without weights (none may be read), an RTE folder.
    const model = await writeBaseShapedFolder(join(root, "base"));
    const data = await writeRteFolder(join(root, "RTE"), PAIRS, PAIRS);
    const out = join(root, "run");
    const common = ["--model", model, "--task", "rte", "--data", data, "--out", out];
    const started = performance.now();
    // Act: plain activations at 8 × 128 (about 15 GiB), and 64 × 512 even with recomputation.
    const plain = await train([
      ...common,
      "--batch-size",
      "8",
      "--max-length",
      "128",
      "--recompute",
      "off",
      "--workers",
      "1",
    ]);
    const huge = await train([
      ...common,
      "--batch-size",
      "64",
      "--max-length",
      "512",
      "--workers",
      "1",
    ]);
    const seconds = (performance.now() - started) / 1000;
    // Assert: one line each, exit 1, nothing built.
    assert.equal(plain.code, 1, plain.err);
    assert.equal(plain.err.trim().split("\n").length, 1, plain.err);
    assert.match(
      plain.err,
      /^error: Cannot run a training step as it needs about 1\d\.\d GiB \(8 × 128 tokens per pass, 12 layers, recompute off\) and the backend has 4\.0 GiB: use --recompute selective \(about [23]\.\d GiB\), or --micro-batch \/ --workers/,
    );
    assert.equal(huge.code, 1, huge.err);
    assert.equal(huge.err.trim().split("\n").length, 1, huge.err);
    assert.match(
      huge.err,
      /recompute on\) and the backend has 4\.0 GiB: use --micro-batch \d+ \(about \d\.\d GiB\)/,
    );
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
    assert.ok(seconds < 10, `the refusal must come before any weight is built: took ${seconds} s`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train CLI: --recompute auto picks selective recomputation where a plain base-shaped step would not fit, full recomputation where only that fits (the plan passes)", async () => {
  const { planStepMemory, stepMemoryRequest } = await import("../../../train/memory_plan.ts");
  const encoder = {
    numHiddenLayers: 12,
    hiddenSize: 768,
    intermediateSize: 3072,
    numAttentionHeads: 12,
    vocabSize: 128100,
  };
  const options = {
    batchSize: 8,
    maxLength: 128,
    refRank: 8,
    initRank: 4,
    adaloraInitRank: 12,
    backend: "wasm",
  };
  assert.equal(planStepMemory(stepMemoryRequest(encoder, options, 1)).recompute, "selective");
  // A batch of 12 × 128 fits only with whole layers recomputed (estimates: plain 23.7 GiB,
  // selective 3.9 GiB, on 3.0 GiB, against 4 GiB × the plan's 0.85 headroom = 3.4 GiB).
  assert.equal(
    planStepMemory(stepMemoryRequest(encoder, { ...options, batchSize: 12 }, 1))
      .recompute,
    true,
  );
  assert.equal(
    planStepMemory(
      stepMemoryRequest({ ...encoder, numHiddenLayers: 1 }, { ...options, batchSize: 1 }, 1),
    ).recompute,
    false,
  );
});

Deno.test("train CLI: a small checkpoint under a forced 1 MiB heap (TRIADAPT_HEAP_LIMIT_MIB) stops with the one line, exit 1", async () => {
  const root = await Deno.makeTempDir({ prefix: "triadapt-mem-" });
  const before = Deno.env.get("TRIADAPT_HEAP_LIMIT_MIB");
  Deno.env.set("TRIADAPT_HEAP_LIMIT_MIB", "1");
  try {
    const model = await writeSmallModelFolder(join(root, "model"));
    const data = await writeRteFolder(join(root, "RTE"), PAIRS, PAIRS);
    const r = await train([
      "--model",
      model,
      "--task",
      "rte",
      "--data",
      data,
      "--out",
      join(root, "run"),
      "--batch-size",
      "4",
      "--max-length",
      "32",
      "--workers",
      "1",
    ]);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(
      r.err,
      /^error: Cannot run a training step as it needs about [\d.]+ MiB .* and the backend has 1\.0 MiB: use /,
    );
  } finally {
    if (before === undefined) Deno.env.delete("TRIADAPT_HEAP_LIMIT_MIB");
    else Deno.env.set("TRIADAPT_HEAP_LIMIT_MIB", before);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a wasm Aborted() or allocation failure during a step becomes one line with the estimate, the limit and the fixes", async () => {
  const { isOutOfMemory, outOfMemoryError, StepMemoryError, stepMemoryRequest } = await import(
    "../../../train/memory_plan.ts"
  );
  const request = stepMemoryRequest(
    {
      numHiddenLayers: 12,
      hiddenSize: 768,
      intermediateSize: 3072,
      numAttentionHeads: 12,
      vocabSize: 128100,
    },
    {
      batchSize: 8,
      maxLength: 128,
      refRank: 8,
      initRank: 4,
      adaloraInitRank: 12,
      backend: "wasm",
      recompute: "off",
    },
    1,
  );
  for (
    const thrown of [
      new Error("Aborted(). Build with -sASSERTIONS for more info."),
      new RangeError("Array buffer allocation failed"),
      new Error("WebAssembly.Memory.grow(): Maximum memory size exceeded\n  at stack"),
    ]
  ) {
    assert.ok(isOutOfMemory(thrown), thrown.message);
    const e = outOfMemoryError(thrown, request);
    assert.ok(e instanceof StepMemoryError);
    assert.equal(e.message.split("\n").length, 1);
    assert.match(
      e.message,
      /ran out of memory .*estimated need about 1\d\.\d GiB.*the backend has 4\.0 GiB\): use --recompute on --micro-batch/,
    );
  }
  assert.ok(!isOutOfMemory(new RangeError("Cannot parse --lr as it must be positive")));
});
