import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../ops/backend.ts";
import { NO_DROPOUT, tinyRun } from "../../tests/train/loop/_compare_runs.ts";
const info = await initBackend((Deno.args[0] ?? "webgpu") as "webgpu");
tf.env().set("WEBGPU_CPU_FORWARD", Deno.args[1] === "fwd");
if (Deno.args[2]) tf.env().set("WEBGPU_MATMUL_PROGRAM_TYPE", Number(Deno.args[2]));
const dir = await Deno.makeTempDir();
let t0 = performance.now();
const r = await tinyRun(dir, "triadapt", info, { hyper: { ...NO_DROPOUT, epochs: 5 } });
console.log("run", (performance.now() - t0) / 1000);
const m = (await Deno.readTextFile(dir + "/metrics.jsonl")).trim().split("\n").map((l) =>
  JSON.parse(l)
);
console.log(
  m.map((x) => `${x.kind}:${x.step}:${Math.round(x.stepMs ?? x.evalMs ?? -1)}`).join(" "),
);
t0 = performance.now();
