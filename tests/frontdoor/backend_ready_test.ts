/**
 * A backend is ready whenever the library needs one. Each case runs in a fresh Deno process that
 * imports the public API (`mod.ts`) and never calls `initBackend()`: synchronous entry points that
 * create tensors throw our error naming `await initBackend()` (never tfjs's "backend 'wasm' has
 * not yet been initialized"); asynchronous ones initialise the default backend (`wasm`) themselves.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const MOD = new URL("mod.ts", ROOT).href;
const TESTDATA = new URL("testdata/", ROOT).pathname;

/** Runs `code` (an ES module body) in a fresh process; returns its stdout lines and stderr. */
async function fresh(code: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--config",
      new URL("deno.json", ROOT).pathname,
      `import * as api from "${MOD}";\nimport * as tf from "@tensorflow/tfjs";\n${code}`,
    ],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "{}") as Record<string, unknown>;
}

const TINY_CONFIG = `api.parseDebertaConfig({
  model_type: "deberta-v2", vocab_size: 20, hidden_size: 8, num_hidden_layers: 1,
  num_attention_heads: 2, intermediate_size: 16, num_labels: 2,
}, "inline")`;

Deno.test("sync entry points without initBackend throw our error naming await initBackend(), never tfjs's", async () => {
  const r = await fresh(`
const results = {};
const attempt = (name, f) => {
  try { f(); results[name] = "no error"; }
  catch (e) { results[name] = { name: e.name, message: e.message }; }
};
const config = ${TINY_CONFIG};
attempt("createDebertaModel", () => api.createDebertaModel(config, api.randomDebertaWeights(config, 1)));
for (const method of ["lora", "triadaptlora", "adalora", "increlora"]) {
  attempt("createAdapter " + method, () => api.createAdapter(method, { name: "m", inFeatures: 4, outFeatures: 4, seed: 1 }));
}
attempt("new LoraAdapter", () => new api.LoraAdapter({ name: "m", inFeatures: 4, outFeatures: 4, seed: 1 }));
attempt("GrowingAdamW.addBlock", () => new api.GrowingAdamW().addBlock({ key: "b", variables: [] }));
console.log(JSON.stringify(results));
`);
  assert.equal(r.code, 0, r.stderr);
  const results = lastJson(r.stdout);
  assert.deepEqual(Object.keys(results), [
    "createDebertaModel",
    "createAdapter lora",
    "createAdapter triadaptlora",
    "createAdapter adalora",
    "createAdapter increlora",
    "new LoraAdapter",
    "GrowingAdamW.addBlock",
  ]);
  for (const [name, value] of Object.entries(results)) {
    const e = value as { name: string; message: string };
    assert.equal(typeof e, "object", `${name}: ${JSON.stringify(value)}`);
    assert.equal(e.name, "BackendNotReadyError", name);
    assert.match(e.message, /await initBackend\(\)/, name);
    assert.doesNotMatch(e.message, /has not yet been initialized/, name);
  }
  assert.match(
    (results["createAdapter lora"] as { message: string }).message,
    /^Cannot create adapter m as a TensorFlow\.js backend must be initialised first/,
  );
});

Deno.test("loadModel without initBackend initialises wasm itself and the model runs", async () => {
  const r = await fresh(`
const before = tf.engine().backendInstance == null;
const model = await api.loadModel("${TESTDATA}golden/deberta/tiny-a");
const out = model.forward({ inputIds: [[1, 17, 42, 2]] });
// After loadModel, the synchronous entry points work too.
const ad = api.createAdapter("lora", { name: "m", inFeatures: 4, outFeatures: 4, seed: 1 });
console.log(JSON.stringify({ before, backend: tf.getBackend(), shape: out.logits.shape }));
ad.dispose();
`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r.stdout), { before: true, backend: "wasm", shape: [1, 3] });
});

Deno.test("createPlantedTask and adaptModel without initBackend initialise wasm themselves", async () => {
  const r = await fresh(`
const task = await api.createPlantedTask({
  seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16, vocab: 16, seqLength: 4,
  trainExamples: 8, evalExamples: 2,
});
const backend = tf.getBackend();
const model = task.buildModel(1);
const adapted = await api.adaptModel(model, { method: "lora", totalSteps: 2, refRank: 2, batchSize: 4 });
const trainer = new api.Trainer({ task, ...adapted });
const report = await trainer.runStep();
console.log(JSON.stringify({ backend, step: report.step, finite: Number.isFinite(report.loss) }));
trainer.dispose();
task.dispose();
`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r.stdout), { backend: "wasm", step: 1, finite: true });
});

Deno.test("createGlueTask (then its sync buildModel) + runTraining, then loadTrainedRun, each without initBackend, run on wasm", async () => {
  const dir = await Deno.makeTempDir({ prefix: "triadapt-fresh-" });
  try {
    const train = await fresh(`
const before = tf.engine().backendInstance == null;
const task = await api.createGlueTask({
  task: "rte", model: "${TESTDATA}golden/deberta/tiny-a", tokenizer: "${TESTDATA}golden/spm/unigram.model",
  outOfRangeIds: "unk", data: "${TESTDATA}data/glue/RTE", maxLength: 16, maxTrainExamples: 4,
  maxEvalExamples: 2,
});
// The task's synchronous buildModel works: createGlueTask readied the backend.
task.buildModel(0).dispose();
const result = await api.runTraining({
  task, hyper: { ...api.defaultHyperParams(), batchSize: 2, warmupSteps: 0, refRank: 2 },
  dir: "${dir}/run", progress: false, settings: { method: "lora", seed: 1, logEvery: 1, maxSteps: 2 },
  backend: { name: "wasm", requested: "wasm", tfjsVersion: "", packageName: "", summary: "" },
});
console.log(JSON.stringify({ before, backend: tf.getBackend(), step: result.step }));
task.dispose();
`);
    assert.equal(train.code, 0, train.stderr);
    assert.deepEqual(lastJson(train.stdout), { before: true, backend: "wasm", step: 2 });
    const load = await fresh(`
const run = await api.loadTrainedRun("${dir}/run");
const ev = await run.task.evaluate(run.model, { ranks: run.ranks });
console.log(JSON.stringify({ backend: tf.getBackend(), step: run.step, metric: ev.metric }));
run.dispose();
`);
    assert.equal(load.code, 0, load.stderr);
    assert.deepEqual(lastJson(load.stdout), { backend: "wasm", step: 2, metric: "accuracy" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
