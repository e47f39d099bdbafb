/**
 * The gradient worker of `train/worker_pool.ts` (a Deno module worker; it exports nothing).
 *
 * `init`: initialise the backend, rebuild the task from its description (with the training
 * data), build the frozen model and the adapters exactly as `runTraining` does.
 * `step`: take the main thread's adapter state (full snapshots after a structure change, the
 * trainable values always), compute the summed gradients of its slices through the same seam
 * as the in-process path (`accumulateSlices`) and send them back as one transferred
 * `Float32Array` (plus IncreLoRA's summed `(∂L/∂ΔW)ᵀ` while it tracks scores). Every tensor a
 * step creates is disposed, so the worker's tensor count stays flat.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { DebertaModel } from "../model/deberta_v3.ts";
import type { Adapter, AdapterSnapshot } from "../ops/adapter.ts";
import { initBackend } from "../ops/backend.ts";
import { profilePeakBytes } from "./profile_peak.ts";
import {
  accumulateSlices,
  type GradientSlice,
  hasScoreGradient,
  setScoreGradientMode,
  trainableList,
} from "./gradients.ts";
import type { TrainingTask } from "./loop.ts";
import { taskFromDescription } from "./real_task.ts";
import { buildAdapters } from "./run.ts";
import type { ReplicaSpec } from "./worker_pool.ts";

interface Replica {
  readonly task: TrainingTask;
  readonly model: DebertaModel;
  readonly adapters: readonly Adapter[];
  readonly orthRegWeight: number;
}

interface StepMessage {
  readonly kind: "step";
  readonly id: number;
  readonly snapshots: readonly AdapterSnapshot[] | null;
  readonly values: Float32Array;
  readonly sizes: readonly number[];
  readonly trackScore: readonly (boolean | null)[];
  readonly slices: readonly GradientSlice[];
  readonly profile: boolean;
}

type Message = { readonly kind: "init"; readonly spec: ReplicaSpec } | StepMessage;

/** The worker's global scope, as far as this module uses it. */
interface WorkerScope {
  postMessage(message: unknown, options?: { transfer: Transferable[] }): void;
  onmessage: ((event: MessageEvent<Message>) => void) | null;
}
const scope = self as unknown as WorkerScope;

let replica: Replica | undefined;

async function init(spec: ReplicaSpec): Promise<void> {
  await initBackend(spec.backend);
  const task = await taskFromDescription(spec.taskInfo, { loadTrain: true });
  const model = task.buildModel(spec.seed);
  if (spec.recompute !== undefined) model.setRecompute(spec.recompute);
  const adapters = buildAdapters(model, spec.method, spec.hyper, spec.seed);
  setScoreGradientMode(adapters, true);
  replica = { task, model, adapters, orthRegWeight: spec.orthRegWeight };
}

/** The wasm heap's size (it only grows: its high-water mark), or -1 on other backends. */
function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length ?? -1;
}

async function step(message: StepMessage): Promise<void> {
  const r = replica;
  if (r === undefined) throw new Error("Cannot compute gradients before init");
  if (message.snapshots !== null) {
    message.snapshots.forEach((s, i) => r.adapters[i]?.restore(s));
  }
  message.trackScore.forEach((on, i) => {
    const a = r.adapters[i];
    if (on !== null && a !== undefined && hasScoreGradient(a)) a.trackScore = on;
  });
  const varList = trainableList(r.adapters, r.model);
  const sizes = varList.map((v) => v.size);
  if (sizes.length !== message.sizes.length || sizes.some((s, i) => s !== message.sizes[i])) {
    throw new Error(
      `Cannot sync the replica as its trainable sizes must match the main thread's: current [${sizes}] vs [${message.sizes}]`,
    );
  }
  let offset = 0;
  for (const v of varList) {
    const t = tf.tensor(message.values.subarray(offset, offset + v.size), v.shape);
    v.assign(t);
    t.dispose();
    offset += v.size;
  }
  let result: ReturnType<typeof accumulateSlices> | undefined;
  let peakBytes = -1;
  if (message.profile) {
    peakBytes = await profilePeakBytes(() => {
      result = accumulateSlices(r, message.slices, varList);
    });
  } else result = accumulateSlices(r, message.slices, varList);
  const { loss, grads } = result as ReturnType<typeof accumulateSlices>;
  const present = varList.map((v) => grads[v.name] !== undefined);
  const flat = tf.tidy(() =>
    varList.length === 0 ? tf.zeros([0]) : tf.concat(
      varList.map((v) => (grads[v.name] ?? tf.zerosLike(v)).reshape([-1])),
    )
  );
  const packed = new Float32Array(await flat.data());
  const lossValue = (await loss.data())[0] as number;
  tf.dispose([flat, loss, ...Object.values(grads)]);
  // IncreLoRA: [adapter index, call sites] pairs, then the site sums back to back.
  const scoreAdapters: number[] = [];
  const parts: Float32Array[] = [];
  for (const [i, a] of r.adapters.entries()) {
    if (!hasScoreGradient(a)) continue;
    const gs = a.takeScoreGradient();
    if (gs.length === 0) continue;
    for (const g of gs) parts.push(new Float32Array(await g.data()));
    tf.dispose(gs);
    scoreAdapters.push(i, gs.length);
  }
  const scores = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    scores.set(p, at);
    at += p.length;
  }
  scope.postMessage({
    kind: "grads",
    id: message.id,
    loss: lossValue,
    grads: packed,
    present,
    scoreAdapters,
    scores,
    numTensors: tf.memory().numTensors,
    peakBytes,
    heapBytes: wasmHeapBytes(),
  }, { transfer: [packed.buffer, scores.buffer] });
}

scope.onmessage = async (event: MessageEvent<Message>) => {
  try {
    const message = event.data;
    if (message.kind === "init") {
      await init(message.spec);
      scope.postMessage({ kind: "ready" });
    } else {
      await step(message);
    }
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    scope.postMessage({ kind: "error", message: text });
  }
};
