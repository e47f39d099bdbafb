/**
 * One planted-bench run as a self-contained job, and a pool that runs jobs in Deno workers (one
 * wasm instance each, so `--jobs 2` uses both cores of a 2-core machine).
 *
 * A job names everything its run depends on (task sizes, seed, method, resolved
 * hyper-parameters, steps, backend), so it gives the same numbers in the main thread or in any
 * worker: a run builds its own task from the seed and trains through `runTraining`. Results come
 * back in job order whatever the worker count; only wall times change with the load.
 *
 * @internal
 * @module
 */
import { join } from "node:path";
import type { BackendInfo, BackendName } from "../ops/backend.ts";
import type { HyperParams, TrainMethod } from "../train/hyperparams.ts";
import {
  createPlantedTask,
  type PlantedTask,
  type PlantedTaskOptions,
} from "../train/planted/planted_task.ts";
import { readJsonLines } from "../train/run_folder.ts";
import { runTraining } from "../train/run.ts";

/** One run of the planted comparison (JSON-serialisable). */
export interface PlantedJob {
  /** The task's sizes (without the seed). */
  readonly task: Readonly<Omit<PlantedTaskOptions, "seed">>;
  /** Task and run seed. */
  readonly seed: number;
  /** The method. */
  readonly method: TrainMethod;
  /** Resolved hyper-parameters of the run. */
  readonly hyper: HyperParams;
  /** Optimizer steps `T`. */
  readonly steps: number;
  /** The backend the run reports in its `config.json` (the one already active). */
  readonly backend: BackendInfo;
}

/** What a run gives back (JSON-serialisable). */
export interface PlantedJobResult {
  /** Module names, in order. */
  readonly modules: readonly string[];
  /** Planted rank per module. */
  readonly planted: readonly number[];
  /** Final held-out relative MSE. */
  readonly heldout: number;
  /** Final allocated rank per module. */
  readonly ranks: readonly number[];
  /** Total allocated rank. */
  readonly ranksTotal: number;
  /** Budget `r_ref · M`. */
  readonly budget: number;
  /** Allocation events. */
  readonly events: number;
  /** `ranks.jsonl`: step and ranks after every event. */
  readonly eventLog: readonly { readonly step: number; readonly ranks: readonly number[] }[];
  /** The run's warnings. */
  readonly warnings: readonly string[];
  /** Wall time of `runTraining` (build, train, evaluations), ms. */
  readonly ms: number;
}

/**
 * Runs one job in this thread, in a fresh folder under `root` that is removed afterwards. With
 * `warmup`, 4 untimed LoRA steps run first (kernels compiled). `task` may pass the seed's task
 * already built (its sizes and seed must be the job's).
 *
 * @internal
 * @param job The run.
 * @param root A folder for the run's files.
 * @param options Warm-up and a prebuilt task.
 * @returns The run's figures.
 */
export async function runPlantedJob(
  job: PlantedJob,
  root: string,
  options: { readonly warmup?: boolean; readonly task?: PlantedTask } = {},
): Promise<PlantedJobResult> {
  const task = options.task ?? await createPlantedTask({ ...job.task, seed: job.seed });
  const dir = await Deno.makeTempDir({ dir: root, prefix: `seed-${job.seed}-${job.method}-` });
  try {
    if (options.warmup === true) {
      await runTraining({
        task,
        hyper: job.hyper,
        settings: { method: "lora", seed: job.seed, logEvery: 1_000_000, maxSteps: 4 },
        dir: join(dir, "warmup"),
        backend: job.backend,
        progress: false,
      });
    }
    const start = performance.now();
    // runTraining awaits its evaluation's data reads before it returns.
    const result = await runTraining({
      task,
      hyper: job.hyper,
      settings: {
        method: job.method,
        seed: job.seed,
        logEvery: job.steps,
        maxSteps: job.steps,
        checkpointEvery: job.steps,
      },
      dir: join(dir, "run"),
      backend: job.backend,
      progress: false,
    });
    const ms = performance.now() - start;
    const modules = [...task.planted.modules];
    const events = await readJsonLines(join(result.dir, "ranks.jsonl")).catch(() => []);
    return {
      modules,
      planted: [...task.planted.ranks],
      heldout: result.final?.value ?? NaN,
      ranks: modules.map((m) => result.ranks[m] ?? 0),
      ranksTotal: result.ranksTotal,
      budget: result.budget,
      events: result.events,
      eventLog: (events as { step: number; ranks: number[] }[]).map((e) => ({
        step: e.step,
        ranks: e.ranks,
      })),
      warnings: result.warnings,
      ms,
    };
  } finally {
    if (options.task === undefined) task.dispose();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Messages main → worker. */
export interface PlantedWorkerRequest {
  /** The job's position in the list. */
  readonly index: number;
  /** The run. */
  readonly job: PlantedJob;
  /** Folder for its files. */
  readonly root: string;
  /** Run the untimed warm-up first (the worker's first job). */
  readonly warmup: boolean;
  /** The backend the worker initialises. */
  readonly backendName: BackendName;
}

/** Messages worker → main. */
export type PlantedWorkerReply =
  | { readonly index: number; readonly result: PlantedJobResult }
  | { readonly index: number; readonly error: string };

/**
 * Runs `jobs` on `count` Deno workers (each initialises `backend` on its own instance and warms
 * up once before its first job), handing the next job to whichever worker is free. Results are in
 * job order. If runs fail, every job still finishes and the lowest-index failure is thrown.
 *
 * @internal
 * @param jobs The runs.
 * @param count Workers (≥ 1).
 * @param backend The backend each worker initialises (`wasm` or `cpu`).
 * @param root A folder for the runs' files.
 * @param onResult Called as each result arrives (progress).
 * @returns The results, in job order.
 */
export async function runPlantedJobsInWorkers(
  jobs: readonly PlantedJob[],
  count: number,
  backend: BackendName,
  root: string,
  onResult: (index: number, result: PlantedJobResult) => void = () => {},
): Promise<PlantedJobResult[]> {
  const results: (PlantedJobResult | undefined)[] = new Array(jobs.length);
  const errors: (string | undefined)[] = new Array(jobs.length);
  let next = 0;
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: Math.min(count, jobs.length) }, async (_, w) => {
        const worker = new Worker(new URL("./planted_worker.ts", import.meta.url), {
          type: "module",
        });
        workers.push(worker);
        let first = true;
        while (next < jobs.length) {
          const index = next++;
          const reply = await new Promise<PlantedWorkerReply>((resolve) => {
            worker.onmessage = (e: MessageEvent<PlantedWorkerReply>) => resolve(e.data);
            worker.onerror = (e: ErrorEvent) => {
              e.preventDefault();
              resolve({ index, error: `planted worker ${w}: ${e.message}` });
            };
            const request: PlantedWorkerRequest = {
              index,
              job: jobs[index] as PlantedJob,
              root,
              warmup: first,
              backendName: backend,
            };
            worker.postMessage(request);
          });
          first = false;
          if ("error" in reply) errors[index] = reply.error;
          else {
            results[index] = reply.result;
            onResult(index, reply.result);
          }
        }
      }),
    );
  } finally {
    for (const worker of workers) worker.terminate();
  }
  const failed = errors.findIndex((e) => e !== undefined);
  if (failed >= 0) throw new Error(`Planted run ${failed} failed: ${errors[failed]}`);
  return results as PlantedJobResult[];
}
