import { initBackend } from "../../ops/backend.ts";
import * as tf from "@tensorflow/tfjs";
console.log(tf.getBackend());
try { console.log(await initBackend("webgpu")); } catch (e) { console.log("ERR", (e as Error).message); }
console.log((await initBackend("wasm")).summary);
