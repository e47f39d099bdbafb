import { main } from "../../train/cli.ts";
import * as tf from "@tensorflow/tfjs";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
const orig = WebGPUBackend.prototype.readSync;
let n = 0;
// deno-lint-ignore no-explicit-any
WebGPUBackend.prototype.readSync = function (id: any) {
  const d = (this as any).tensorMap.get(id);
  if (d && d.values == null) {
    n++;
    if (n < 4) console.trace("GPU readSync");
  }
  return orig.call(this, id);
};
const backend = Deno.args[0] ?? "webgpu";
const t0 = performance.now();
const rc = await main([
  "--task",
  "planted",
  "--backend",
  backend,
  "--max-steps",
  Deno.args[1] ?? "20",
  "--out",
  `/tmp/wg2/probe-${backend}-${Date.now()}`,
], {
  progress: false,
  planted: {
    layers: 1,
    hidden: 16,
    heads: 2,
    intermediate: 32,
    trainExamples: 64,
    evalExamples: 16,
  },
});
console.log("rc", rc, (performance.now() - t0) / 1000, tf.memory(), "gpu readSyncs", n);
