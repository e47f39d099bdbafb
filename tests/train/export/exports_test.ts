/**
 * PEFT and merged exports for every method, on the tiny golden model with seeded, perturbed
 * adapters (so B ≠ 0, D is a full triangle pair, AdaLoRA/IncreLoRA E ≠ 0). Each export is
 * reloaded the way its consumer would (plain LoRA for PEFT, `loadModel` for the merged folder)
 * and must reproduce the adapted model's logits within 1e-5 (the bound; PEFT reloads
 * re-associate nothing, the merged weights add one float32 rounding per entry: measured ≤ 7.3e-7).
 */

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { DebertaModel } from "../../../model/deberta_v3.ts";
import { injectAdapters } from "../../../model/inject.ts";
import { loadModel } from "../../../model/load_model.ts";
import { parseSafetensors, writeSafetensors } from "../../../model/safetensors.ts";
import type { Adapter, AdapterMethod } from "../../../ops/adapter.ts";
import { createAdapter } from "../../../ops/registry.ts";
import type { TriAdaptLoraAdapter } from "../../../ops/triadapt_lora.ts";
import type { IncreLoraAdapter } from "../../../ops/increlora.ts";
import { loadBaseCheckpoint } from "../../../train/glue_task.ts";
import { writeMergedFolder } from "../../../train/merged_export.ts";
import {
  loadPeftFolder,
  PEFT_PREFIX,
  peftModulesToSave,
  writePeftFolder,
} from "../../../train/peft_export.ts";
import { logitsOf, maxAbsDiff, TINY_MODEL, TOKENIZER, useWasm } from "../real/_real_helpers.ts";

const BATCH = {
  inputIds: [[1, 17, 42, 9, 2], [1, 5, 6, 2, 0]],
  attentionMask: [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]],
  tokenTypeIds: [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
};

function makeAdapters(model: DebertaModel, method: AdapterMethod): Adapter[] {
  let i = 0;
  const made = injectAdapters(model, (m) => {
    const common = {
      name: m.name,
      inFeatures: m.inFeatures,
      outFeatures: m.outFeatures,
      seed: 100 + i++,
      alpha: 6,
    };
    switch (method) {
      case "lora":
        return createAdapter("lora", { ...common, rank: 3 }) as Adapter;
      case "adalora":
        return createAdapter("adalora", { ...common, initialRank: 3 }) as Adapter;
      case "increlora":
        return createAdapter("increlora", { ...common, initialRank: 1 }) as Adapter;
      case "triadaptlora":
        return createAdapter("triadaptlora", { ...common, initialRank: 1 }) as Adapter;
    }
  });
  return [...made.values()];
}

function perturb(adapters: readonly Adapter[], seed: number): void {
  let s = seed;
  for (const a of adapters) {
    for (const v of a.trainableVariables()) {
      tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.2, "float32", s++)));
    }
  }
}

Deno.test("writePeftFolder() exports every method losslessly and the reload as plain LoRA matches (1e-5)", async () => {
  await useWasm();
  const base = await loadBaseCheckpoint(TINY_MODEL, "classification", ["x", "y"]);
  for (const method of ["triadaptlora", "lora", "adalora", "increlora"] as const) {
    const root = await Deno.makeTempDir({ prefix: `triadapt-export-${method}-` });
    const model = base.build(2, { modelDropout: false });
    const adapters = makeAdapters(model, method);
    try {
      if (method === "triadaptlora") {
        (adapters[0] as TriAdaptLoraAdapter).grow(2);
        (adapters[5] as TriAdaptLoraAdapter).grow(1);
      }
      if (method === "increlora") (adapters[3] as IncreLoraAdapter).grow(2);
      perturb(adapters, 11);
      if (method === "adalora") {
        // A masked triplet: E_0 = 0 makes row 0 of lora_A = A ⊙ E exactly zero; it is dropped.
        const e = adapters[1]!.trainableVariables().find((v) => v.name.includes("lora_E"))!;
        tf.tidy(() => e.assign(e.mul(tf.tensor2d([[0], [1], [1]]))));
      }
      const want = await logitsOf(model, BATCH);
      const unadapted = base.build(2, { modelDropout: false });
      const plain = await logitsOf(unadapted, BATCH);
      unadapted.dispose();
      assert.ok(maxAbsDiff(want, plain) > 1e-3, `${method}: adapters must change the logits`);

      const dir = join(root, "peft");
      const config = await writePeftFolder(dir, model, adapters, { baseModel: TINY_MODEL });
      const expectRanks = Object.fromEntries(adapters.map((a) => [a.name, a.rank]));
      if (method === "adalora") expectRanks[adapters[1]!.name] = 2;
      assert.deepEqual(config.rank_pattern, expectRanks, method);
      assert.deepEqual(config.alpha_pattern, expectRanks, method);
      assert.deepEqual(config.modules_to_save, peftModulesToSave("classification"));
      const file = join(dir, "adapter_model.safetensors");
      const tensors = parseSafetensors(await Deno.readFile(file), file);
      for (const a of adapters) {
        const r = expectRanks[a.name] as number;
        assert.deepEqual(tensors.get(`${PEFT_PREFIX}${a.name}.lora_A.weight`)?.shape, [
          r,
          a.inFeatures,
        ]);
        assert.deepEqual(tensors.get(`${PEFT_PREFIX}${a.name}.lora_B.weight`)?.shape, [
          a.outFeatures,
          r,
        ]);
      }
      for (
        const key of [
          "classifier.weight",
          "classifier.bias",
          "pooler.dense.weight",
          "pooler.dense.bias",
        ]
      ) {
        assert.ok(
          tensors.has(`${PEFT_PREFIX}${key}`),
          `${key} saved as PEFT saves modules_to_save`,
        );
      }
      const peft = await loadPeftFolder(dir);
      try {
        const diff = maxAbsDiff(want, await logitsOf(peft.model, BATCH));
        assert.ok(diff < 1e-5, `${method}: PEFT reload logits differ by ${diff}`);
      } finally {
        peft.dispose();
      }

      const merged = await writeMergedFolder(join(root, "merged"), model, adapters, base, {
        tokenizer: TOKENIZER,
      });
      assert.equal(merged.merged.length, 12);
      const reloaded = await loadModel(merged.dir);
      try {
        const diff = maxAbsDiff(want, await logitsOf(reloaded, BATCH));
        assert.ok(diff < 1e-5, `${method}: merged logits differ by ${diff}`);
      } finally {
        reloaded.dispose();
      }
    } finally {
      for (const a of adapters) model.setAdapter(a.name, undefined);
      for (const a of adapters) a.dispose();
      model.dispose();
      await Deno.remove(root, { recursive: true });
    }
  }
});

Deno.test("loadPeftFolder() applies alpha_pattern / r like PEFT (scaling 2 when alpha = 2r)", async () => {
  await useWasm();
  const root = await Deno.makeTempDir({ prefix: "triadapt-peft-alpha-" });
  const name = "deberta.encoder.layer.1.attention.self.value_proj";
  try {
    const a = Float32Array.from({ length: 2 * 32 }, (_, i) => Math.sin(i) * 0.3);
    const b = Float32Array.from({ length: 32 * 2 }, (_, i) => Math.cos(i) * 0.3);
    const write = async (dir: string, alpha: number, bScale: number): Promise<void> => {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(
        join(dir, "adapter_model.safetensors"),
        writeSafetensors(
          new Map([
            [`${PEFT_PREFIX}${name}.lora_A.weight`, { shape: [2, 32], dtype: "F32", data: a }],
            [`${PEFT_PREFIX}${name}.lora_B.weight`, {
              shape: [32, 2],
              dtype: "F32",
              data: b.map((x) => x * bScale),
            }],
          ]),
          { format: "pt" },
        ),
      );
      await Deno.writeTextFile(
        join(dir, "adapter_config.json"),
        JSON.stringify({
          peft_type: "LORA",
          base_model_name_or_path: TINY_MODEL,
          r: 2,
          lora_alpha: 2,
          target_modules: [name],
          alpha_pattern: { [name]: alpha },
          rank_pattern: { [name]: 2 },
        }),
      );
    };
    await write(join(root, "alpha4"), 4, 1);
    await write(join(root, "alpha2"), 2, 2);
    const x = await loadPeftFolder(join(root, "alpha4"));
    const y = await loadPeftFolder(join(root, "alpha2"));
    try {
      assert.equal(x.model.head, "none", "no modules_to_save: a bare encoder");
      const hx = x.model.forward(BATCH).lastHiddenState;
      const hy = y.model.forward(BATCH).lastHiddenState;
      const bare = (await loadBaseCheckpoint(TINY_MODEL, "none", [])).build(0);
      const h0 = bare.forward(BATCH).lastHiddenState;
      const diff = maxAbsDiff(await hx.data(), await hy.data());
      const moved = maxAbsDiff(await hx.data(), await h0.data());
      tf.dispose([hx, hy, h0]);
      bare.dispose();
      assert.ok(diff < 1e-5, `alpha/r scaling must equal a pre-scaled lora_B: ${diff}`);
      assert.ok(moved > 1e-3, `the adapter must be attached: moved ${moved}`);
    } finally {
      x.dispose();
      y.dispose();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
