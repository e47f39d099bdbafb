import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { loadModel } from "../../../model/load_model.ts";
import type { LoadReport } from "../../../model/load_model.ts";
import { maxAbsDiff, readGoldenJson, TINY_A } from "./_golden.ts";
import type { GoldenBatch } from "./_golden.ts";

assert.ok(await tf.setBackend("wasm"), "wasm backend must initialise");

Deno.test("loadModel() reads both checkpoint formats of a folder and reproduces golden_b logits", async () => {
  const g = await readGoldenJson<GoldenBatch>("golden_b.json");
  for (const format of [undefined, "safetensors", "pytorch"] as const) {
    let report: LoadReport | undefined;
    const model = await loadModel(format === "pytorch" ? fileURLToPath(TINY_A) : TINY_A, {
      ...(format === undefined ? {} : { format }),
      onLoad: (r) => (report = r),
    });
    try {
      assert.equal(report!.format, format ?? "safetensors");
      assert.equal(report!.head, "classification");
      assert.deepEqual(report!.initialised, []);
      assert.deepEqual(report!.unexpected, []);
      const out = model.forward({ inputIds: g.input_ids, attentionMask: g.attention_mask });
      const d = maxAbsDiff(out.logits, g.logits);
      assert.ok(d < 1e-4, `${format}: logits differ by ${d}`);
      tf.dispose([out.logits, out.lastHiddenState]);
    } finally {
      model.dispose();
    }
  }
});

Deno.test("loadModel() initialises a requested head the checkpoint lacks, from the seed", async () => {
  const reports: LoadReport[] = [];
  const a = await loadModel(TINY_A, {
    head: "question-answering",
    seed: 5,
    onLoad: (r) => reports.push(r),
  });
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
  let b: Awaited<ReturnType<typeof loadModel>>;
  try {
    b = await loadModel(TINY_A, { head: "question-answering", seed: 5 });
    // a clean load says nothing
    (await loadModel(TINY_A)).dispose();
  } finally {
    console.warn = warn;
  }
  try {
    // without onLoad, the load says what it initialised (as transformers warns)
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0]!, /model\.safetensors/);
    assert.match(
      warnings[0]!,
      /newly initialised from the seed: qa_outputs\.weight, qa_outputs\.bias/,
    );
    assert.deepEqual(reports[0]!.initialised, ["qa_outputs.weight", "qa_outputs.bias"]);
    assert.ok(reports[0]!.ignored.includes("classifier.weight"));
    const ids = { inputIds: [[1, 30, 31, 2]] };
    const la = tf.tidy(() => a.forward(ids).logits.dataSync());
    const lb = tf.tidy(() => b.forward(ids).logits.dataSync());
    assert.equal(la.length, 8);
    assert.deepEqual(la, lb);
  } finally {
    a.dispose();
    b.dispose();
  }
});
