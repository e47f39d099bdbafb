/**
 * The worker of `runPlantedJobsInWorkers` (`bench/planted_jobs.ts`): initialises its backend once,
 * then runs each job it is sent and replies with the result or the error.
 *
 * @internal
 * @module
 */
/// <reference lib="deno.worker" />
import { initBackend } from "../ops/backend.ts";
import {
  type PlantedWorkerReply,
  type PlantedWorkerRequest,
  runPlantedJob,
} from "./planted_jobs.ts";

let ready: Promise<unknown> | undefined;

self.onmessage = async (event: MessageEvent<PlantedWorkerRequest>) => {
  const { index, job, root, warmup, backendName } = event.data;
  let reply: PlantedWorkerReply;
  try {
    ready ??= initBackend(backendName);
    await ready;
    reply = { index, result: await runPlantedJob(job, root, { warmup }) };
  } catch (e) {
    reply = { index, error: e instanceof Error ? e.stack ?? e.message : String(e) };
  }
  self.postMessage(reply);
};
