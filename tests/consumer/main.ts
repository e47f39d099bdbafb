/**
 * A user's project: the README quick start, importing the package only through its public
 * exports (`jsr:@triadapt/triadapt`, linked to a local copy by this folder's own `deno.json`, so
 * the package resolves its own imports exactly as a JSR install does). Prints one JSON line.
 *
 * Run: `cd tests/consumer && deno run --allow-read --allow-write --allow-env main.ts`
 * (`tests/frontdoor/consumer_test.ts` runs it against the files `deno publish` ships).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  adaptModel,
  loadModel,
  parseDebertaConfig,
  randomDebertaWeights,
  writePeftFolder,
  writeSafetensors,
} from "@triadapt/triadapt";
import { planAllocation } from "@triadapt/triadapt/core";
import { loadPeftFolder } from "@triadapt/triadapt/train";

// 1. A checkpoint folder: tiny random weights here; normally a Hugging Face DeBERTa-v3 download.
const dir = await Deno.makeTempDir({ prefix: "triadapt-consumer-" });
const hf = {
  model_type: "deberta-v2",
  vocab_size: 16,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 16,
  num_labels: 2,
};
await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(hf));
const weights = randomDebertaWeights(parseDebertaConfig(hf, "config.json"), 0);
await Deno.writeFile(`${dir}/model.safetensors`, writeSafetensors(weights));

// 2. Load it (this readies the default wasm backend) and make it adaptive: TriAdaptLoRA with a
// budget of r_ref = 2 per matrix, first growth after 2 steps, then every step.
const model = await loadModel(dir);
const adapted = await adaptModel(model, {
  method: "triadapt",
  totalSteps: 4,
  refRank: 2,
  initWarmup: 2,
  interval: 1,
});

// 3. Train four steps on two RTE-style rows given as token ids.
const inputIds = [[1, 5, 6, 2, 7, 2], [1, 8, 9, 2, 10, 2]];
const labels = tf.oneHot([0, 1], 2);
const losses: number[] = [];
for (let step = 1; step <= 4; step++) {
  const vars = [
    ...adapted.adapters.flatMap((a) => a.trainableVariables()),
    ...model.trainableVariables(),
  ];
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const out = model.forward({ inputIds }, { training: true, seed: step });
      return tf.losses.softmaxCrossEntropy(labels, out.logits) as tf.Scalar;
    }), vars);
  losses.push((await value.data())[0] as number);
  await adapted.controller.beforeUpdate?.(step, grads, adapted.optimizer);
  adapted.optimizer.step(grads, 1e-2);
  await adapted.controller.afterStep(step, grads, adapted.optimizer);
  tf.dispose([value, ...Object.values(grads)]);
}

// 4. Export to PEFT, read it back as PEFT would, and compare the logits.
const peft = await writePeftFolder(`${dir}/peft`, model, adapted.adapters, {
  baseModel: "microsoft/deberta-v3-base",
});
const loaded = await loadPeftFolder(`${dir}/peft`, { baseModel: dir });
const logitsOf = (m: typeof model): Promise<Float32Array> => {
  const out = m.forward({ inputIds });
  out.lastHiddenState.dispose();
  return out.logits.data().finally(() => out.logits.dispose()) as Promise<
    Float32Array
  >;
};
const [trained, reloaded] = [
  await logitsOf(model),
  await logitsOf(loaded.model),
];
const maxDiff = trained.reduce(
  (m, v, i) => Math.max(m, Math.abs(v - (reloaded[i] as number))),
  0,
);
const events = planAllocation({
  matrices: 12,
  initRank: 1,
  refRank: 2,
  deltaRank: 4,
  initWarmup: 2,
  interval: 1,
  totalSteps: 4,
  threshold: "linear",
});
const ranks = adapted.adapters.reduce((n, a) => n + a.rank, 0);
const allocationEvents = adapted.controller.events;
adapted.dispose(); // detaches the adapters: the base model alone
const base = await logitsOf(model);
const adapterEffect = trained.reduce(
  (m, v, i) => Math.max(m, Math.abs(v - (base[i] as number))),
  0,
);
console.log(JSON.stringify({
  backend: tf.getBackend(),
  losses,
  ranks,
  events: allocationEvents,
  peftType: peft.peft_type,
  peftModules: peft.target_modules.length,
  reloaded: loaded.adapters.length,
  maxDiff,
  adapterEffect,
  planned: events.length,
}));
loaded.dispose();
model.dispose();
labels.dispose();
await Deno.remove(dir, { recursive: true });
