/**
 * Data-parallel gradients across Deno workers. Each worker (`train/gradient_worker.ts`) holds a
 * replica of the frozen model on its own backend instance (its own wasm heap, so memory splits
 * too), rebuilt once from the task's description (`task.describe()`: the same checkpoint
 * folder and data files, or the planted task's seed). Per optimizer step the main thread:
 *
 * 1. sends every trainable value in {@linkcode trainableList} order as one `Float32Array`, plus
 *    full adapter snapshots when the adapters' structure changed since the last step (growth:
 *    new blocks and shapes; rescaling), and each worker's contiguous share of the step's slices;
 * 2. receives, per worker, the summed loss, the gradients (one transferred `Float32Array`) and
 *    IncreLoRA's summed `(∂L/∂ΔW)ᵀ` while it tracks scores;
 * 3. sums them in worker order (a fixed order: worker w holds slices before worker w+1's) and
 *    hands the trainer one gradient map; the optimizer, the controller and the allocation run
 *    on the main thread only, whose adapters stay the single source of truth (checkpoints and
 *    resume are unchanged).
 *
 * The result equals the in-process accumulation of the same slices up to float32 summation
 * order: each worker sums its own slices first, then the main thread sums the workers.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { AdapterSnapshot } from "../ops/adapter.ts";
import type { BackendName } from "../ops/backend.ts";
import {
  type GradientContext,
  type GradientSlice,
  type GradientSource,
  hasScoreGradient,
  type StepGradients,
} from "./gradients.ts";
import type { HyperParams, TrainMethod } from "./hyperparams.ts";

/**
 * How a worker rebuilds its replica: the backend, the task's recorded description and what
 * `runTraining` builds adapters from (JSON-serialisable).
 *
 * @example The spec of a tiny planted run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReplicaSpec } from "./worker_pool.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 *
 * const spec: ReplicaSpec = {
 *   backend: "wasm", method: "lora", seed: 1, hyper: defaultHyperParams(), orthRegWeight: 0,
 *   taskInfo: { task: "planted", seed: 1 },
 * };
 * assert.equal(JSON.parse(JSON.stringify(spec)).method, "lora");
 * ```
 */
export interface ReplicaSpec {
  /** The backend every worker initialises. */
  readonly backend: BackendName;
  /** `task.describe()`, rebuilt by `taskFromDescription` with the training data. */
  readonly taskInfo: Readonly<Record<string, unknown>>;
  /** The adapter method. */
  readonly method: TrainMethod;
  /** The run's hyper-parameters (adapter options). */
  readonly hyper: HyperParams;
  /** Run seed (model head and adapter init). */
  readonly seed: number;
  /** Orthogonality penalty weight the trainer uses. */
  readonly orthRegWeight: number;
  /** Activation recomputation in the replica's encoder (`setRecompute`); absent: off. */
  readonly recompute?: boolean | "selective";
}

/** Messages main → worker. */
type ToWorker =
  | { readonly kind: "init"; readonly spec: ReplicaSpec }
  | {
    readonly kind: "step";
    readonly id: number;
    readonly snapshots: readonly AdapterSnapshot[] | null;
    readonly values: Float32Array;
    readonly sizes: readonly number[];
    readonly trackScore: readonly (boolean | null)[];
    readonly slices: readonly GradientSlice[];
    readonly profile: boolean;
  };

/** Messages worker → main. */
type FromWorker =
  | { readonly kind: "ready" }
  | { readonly kind: "error"; readonly message: string }
  | {
    readonly kind: "grads";
    readonly id: number;
    readonly loss: number;
    readonly grads: Float32Array;
    readonly present: readonly boolean[];
    readonly scoreAdapters: readonly number[];
    readonly scores: Float32Array;
    readonly numTensors: number;
    /** Peak tensor bytes of this step (`tf.profile`), when asked; else -1. */
    readonly peakBytes: number;
    /** Size of the worker's wasm heap (its high-water mark), or -1 on other backends. */
    readonly heapBytes: number;
  };

interface Pending {
  resolve(message: FromWorker): void;
  reject(error: Error): void;
}

/**
 * Resolves `--workers N|auto` to a worker count: `auto` is the machine's cores
 * (`navigator.hardwareConcurrency`); never more than the slices a step has.
 *
 * @param value `auto`, a positive integer (as text or number), or absent (`auto`).
 * @param slicesPerStep Upper bound (micro-batches per step, or the batch size).
 * @param cores The machine's cores (default `navigator.hardwareConcurrency`).
 * @returns The worker count (1: train in-process).
 * @throws {RangeError} When the value is neither `auto` nor a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveWorkers } from "./worker_pool.ts";
 *
 * assert.equal(resolveWorkers("auto", 8, 2), 2);
 * assert.equal(resolveWorkers("4", 2, 16), 2);
 * assert.equal(resolveWorkers(1, 8, 2), 1);
 * assert.throws(() => resolveWorkers("two", 8, 2), /workers/);
 * ```
 */
export function resolveWorkers(
  value: string | number | undefined,
  slicesPerStep: number,
  cores: number = navigator.hardwareConcurrency,
): number {
  const raw = value ?? "auto";
  let n: number;
  if (raw === "auto") n = Math.max(1, Math.floor(cores || 1));
  else {
    n = typeof raw === "number" ? raw : /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new RangeError(
        `Cannot choose the worker count as --workers must be "auto" or a positive integer: current value is ${
          JSON.stringify(raw)
        }`,
      );
    }
  }
  return Math.max(1, Math.min(n, slicesPerStep));
}

/**
 * The run settings `--micro-batch` and `--workers` resolve to.
 *
 * @param options Batch size, micro-batch size and the `--workers` value.
 * @param cores The machine's cores (default `navigator.hardwareConcurrency`).
 * @returns `microBatch` (when set) and the worker count.
 *
 * @example Two cores, batch 8 in micro-batches of 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { parallelSettings } from "./worker_pool.ts";
 *
 * assert.deepEqual(parallelSettings({ batchSize: 8, microBatch: 2, workers: "auto" }, 2), {
 *   microBatch: 2, workers: 2,
 * });
 * assert.deepEqual(parallelSettings({ batchSize: 8, workers: "1" }, 2), { workers: 1 });
 * // webgpu: auto is one process on the GPU
 * assert.deepEqual(parallelSettings({ batchSize: 8, workers: "auto", backend: "webgpu" }, 2), {
 *   workers: 1,
 * });
 * assert.throws(
 *   () => parallelSettings({ batchSize: 8, workers: "2", backend: "webgpu" }, 2),
 *   /--workers must be 1 or auto with --backend webgpu/,
 * );
 * ```
 */
export function parallelSettings(
  options: {
    readonly batchSize: number;
    readonly microBatch?: number;
    readonly workers?: string;
    readonly backend?: string;
  },
  cores: number = navigator.hardwareConcurrency,
): { microBatch?: number; workers: number } {
  const slices = options.microBatch === undefined
    ? options.batchSize
    : Math.ceil(options.batchSize / options.microBatch);
  // webgpu: one device does the work (workers would queue on the same GPU, and a worker cannot
  // read GPU tensors synchronously), so `auto` is 1 and more is refused.
  const gpu = options.backend === "webgpu";
  const workers = resolveWorkers(
    gpu && options.workers === undefined
      ? "1"
      : gpu && options.workers === "auto"
      ? "1"
      : options.workers,
    slices,
    cores,
  );
  if (gpu && workers > 1) {
    throw new RangeError(
      `Cannot choose the worker count as --workers must be 1 or auto with --backend webgpu (one GPU device does the work; a worker cannot read GPU tensors synchronously): current value is ${
        JSON.stringify(options.workers)
      }`,
    );
  }
  return {
    ...(options.microBatch === undefined ? {} : { microBatch: options.microBatch }),
    workers,
  };
}

/**
 * A started pool of gradient workers. It implements the trainer's `GradientSource`; dispose it
 * (it terminates the workers) when training ends.
 *
 * @example Two workers on a tiny planted task
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWorkerPool, type WorkerPool } from "./worker_pool.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 *
 * const pool: WorkerPool = await createWorkerPool({
 *   backend: "cpu", method: "lora", seed: 1, orthRegWeight: 0,
 *   hyper: { ...defaultHyperParams(), refRank: 2 },
 *   taskInfo: { task: "planted", seed: 1, layers: 1, hidden: 8, heads: 2, intermediate: 16,
 *     vocab: 16, seqLength: 4, trainExamples: 8, evalExamples: 2, maxRank: 2, strength: 1 },
 * }, 2);
 * assert.equal(pool.workers, 2);
 * await pool.dispose();
 * ```
 */
export interface WorkerPool extends GradientSource {
  /** Number of workers. */
  readonly workers: number;
  /** Tensors each worker holds after its last step (for leak checks; empty before a step). */
  readonly workerTensors: readonly number[];
  /** Each worker's memory after its last step: profiled peak bytes (-1: not profiled), heap. */
  readonly workerMemory: readonly { readonly peakBytes: number; readonly heapBytes: number }[];
  /** Profile the next step in every worker (`tf.profile`, for benchmarks; slows that step). */
  profileNextStep(): void;
}

/**
 * Waits for every promise and rejects with the failure of the lowest index, so that when several
 * workers fail (e.g. all cannot read the same file) the error is the same on every run.
 */
async function allInOrder<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * Starts `count` workers and waits until each has built its replica.
 *
 * @param spec How to rebuild the replica.
 * @param count Workers (≥ 1).
 * @returns The pool.
 * @throws {Error} When a worker fails to start (its message is included); started workers are
 *   terminated first.
 *
 * @example A bad task description is reported
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWorkerPool } from "./worker_pool.ts";
 * import { defaultHyperParams } from "./hyperparams.ts";
 *
 * await assert.rejects(() => createWorkerPool({
 *   backend: "cpu", method: "lora", seed: 1, orthRegWeight: 0, hyper: defaultHyperParams(),
 *   taskInfo: { kind: "nope" },
 * }, 1), /worker 0/);
 * ```
 */
export async function createWorkerPool(spec: ReplicaSpec, count: number): Promise<WorkerPool> {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(
      `Cannot start gradient workers as count must be a positive integer: current value is ${count}`,
    );
  }
  const workers: Worker[] = [];
  const pending: (Pending | undefined)[] = [];
  const failed: (Error | undefined)[] = [];
  const request = (w: number, message: ToWorker, transfer: Transferable[] = []) =>
    new Promise<FromWorker>((resolve, reject) => {
      const error = failed[w];
      if (error !== undefined) {
        reject(error);
        return;
      }
      pending[w] = { resolve, reject };
      (workers[w] as Worker).postMessage(message, transfer);
    });
  let closed = false;
  const terminate = (): void => {
    closed = true;
    for (const w of workers) w.terminate();
    pending.forEach((p, i) => {
      pending[i] = undefined;
      p?.reject(new Error("Cannot finish a gradient request as the worker pool was closed"));
    });
  };
  for (let i = 0; i < count; i++) {
    const worker = new Worker(new URL("./gradient_worker.ts", import.meta.url), {
      type: "module",
    });
    const index = i;
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const p = pending[index];
      pending[index] = undefined;
      const data = event.data;
      if (data.kind === "error") {
        p?.reject(new Error(`Gradient worker ${index} failed: ${data.message}`));
      } else p?.resolve(data);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const error = new Error(`Gradient worker ${index} crashed: ${event.message}`);
      failed[index] = error;
      const p = pending[index];
      pending[index] = undefined;
      p?.reject(error);
    };
    workers.push(worker);
  }
  try {
    await allInOrder(workers.map((_, w) => request(w, { kind: "init", spec })));
  } catch (error) {
    terminate();
    throw error;
  }

  let sentStructure: string[] = workers.map(() => "");
  const workerTensors: number[] = [];
  const workerMemory: { peakBytes: number; heapBytes: number }[] = [];
  let profile = false;
  let nextId = 1;

  const compute = async (
    context: GradientContext,
    slices: readonly GradientSlice[],
    varList: tf.Variable[],
  ): Promise<StepGradients> => {
    if (closed) throw new Error("Cannot compute gradients as the worker pool was closed");
    const { adapters } = context;
    const structure = JSON.stringify(
      adapters.map((a) => [a.rank, a.scale, a.parameterBlocks().map((b) => b.variables.length)]),
    );
    const sizes = varList.map((v) => v.size);
    const flat = tf.tidy(() =>
      varList.length === 0 ? tf.zeros([0]) : tf.concat(varList.map((v) => v.reshape([-1])))
    );
    const values = new Float32Array(await flat.data());
    flat.dispose();
    const needSnapshots = sentStructure.some((s) => s !== structure);
    const snapshots = needSnapshots ? await Promise.all(adapters.map((a) => a.snapshot())) : null;
    const trackScore = adapters.map((a) => hasScoreGradient(a) ? a.trackScore : null);
    const used = Math.min(workers.length, slices.length);
    const id = nextId++;
    const replies = await allInOrder(Array.from({ length: used }, (_, w) => {
      const share = slices.slice(
        Math.floor((w * slices.length) / used),
        Math.floor(((w + 1) * slices.length) / used),
      );
      const mine = sentStructure[w] === structure ? null : snapshots;
      // One copy per worker, transferred (no second copy by structured clone).
      const copy = w === used - 1 ? values : values.slice();
      return request(w, {
        kind: "step",
        id,
        snapshots: mine,
        values: copy,
        sizes,
        trackScore,
        slices: share,
        profile,
      }, [copy.buffer]);
    }));
    profile = false;
    for (let w = 0; w < used; w++) sentStructure[w] = structure;
    // Fixed order: worker 0's sum, then worker 1's, …
    const total = new Float32Array(sizes.reduce((n, k) => n + k, 0)); // `values` was transferred
    const present = varList.map(() => false);
    let loss = 0;
    const scoreSums = new Map<string, Float32Array>(); // `${adapter}/${site}` → sum
    for (const reply of replies) {
      if (reply.kind !== "grads" || reply.id !== id) {
        throw new Error(`Cannot sum gradients as a worker answered out of turn (${reply.kind})`);
      }
      workerTensors[replies.indexOf(reply)] = reply.numTensors;
      workerMemory[replies.indexOf(reply)] = {
        peakBytes: reply.peakBytes,
        heapBytes: reply.heapBytes,
      };
      loss = Math.fround(loss + reply.loss);
      const g = reply.grads;
      for (let i = 0; i < total.length; i++) total[i] = (total[i] as number) + (g[i] as number);
      reply.present.forEach((p, i) => (present[i] = present[i] || p));
      let offset = 0;
      for (let k = 0; k < reply.scoreAdapters.length; k += 2) {
        const a = reply.scoreAdapters[k] as number;
        const sites = reply.scoreAdapters[k + 1] as number;
        const adapter = adapters[a];
        if (adapter === undefined) throw new Error(`Cannot sum scores of adapter ${a}`);
        const n = adapter.inFeatures * adapter.outFeatures;
        for (let site = 0; site < sites; site++) {
          const part = reply.scores.subarray(offset, offset + n);
          offset += n;
          const key = `${a}/${site}`;
          const sum = scoreSums.get(key);
          if (sum === undefined) scoreSums.set(key, new Float32Array(part));
          else for (let i = 0; i < n; i++) sum[i] = (sum[i] as number) + (part[i] as number);
        }
      }
    }
    for (const [key, sum] of scoreSums) {
      const [a, site] = key.split("/").map(Number) as [number, number];
      const adapter = adapters[a];
      if (adapter === undefined || !hasScoreGradient(adapter)) continue;
      const t = tf.tensor2d(sum, [adapter.inFeatures, adapter.outFeatures]);
      adapter.addScoreGradient(site, t);
      t.dispose();
    }
    const grads: tf.NamedTensorMap = {};
    let offset = 0;
    varList.forEach((v, i) => {
      const size = sizes[i] as number;
      if (present[i]) grads[v.name] = tf.tensor(total.subarray(offset, offset + size), v.shape);
      offset += size;
    });
    return { loss: tf.scalar(loss), grads };
  };

  return {
    workers: count,
    workerTensors,
    workerMemory,
    profileNextStep(): void {
      profile = true;
    },
    label: `${count} worker${count === 1 ? "" : "s"}`,
    compute,
    dispose(): Promise<void> {
      terminate();
      sentStructure = [];
      return Promise.resolve();
    },
  };
}
