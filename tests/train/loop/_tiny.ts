/** Shared tiny settings for the loop, planted and CLI tests (each run takes about a second). */
import type { BackendInfo } from "../../../ops/backend.ts";
import { initBackend } from "../../../ops/backend.ts";
import { defaultHyperParams, type HyperParams } from "../../../train/hyperparams.ts";
import type { PlantedTaskOptions } from "../../../train/planted/planted_task.ts";

/** One layer (M = 6 adapted matrices), hidden 8, 16 training sequences of 4 tokens. */
export const TINY_PLANTED: Readonly<Omit<PlantedTaskOptions, "seed">> = Object.freeze({
  layers: 2,
  hidden: 8,
  heads: 2,
  intermediate: 16,
  vocab: 16,
  seqLength: 4,
  trainExamples: 16,
  evalExamples: 4,
  maxRank: 3,
  strength: 3,
});

/** Batch 4 → 4 steps per epoch; 3 epochs → T = 12; events at 4, 6, 8, 10, 12; budget 2·M. */
export const TINY_HYPER: Readonly<HyperParams> = Object.freeze({
  ...defaultHyperParams(),
  epochs: 3,
  batchSize: 4,
  lr: 1e-2,
  warmupSteps: 2,
  weightDecay: 0.01,
  clipNorm: 1,
  alpha: 8,
  dropout: 0.1,
  orthRegWeight: 0.1,
  refRank: 2,
  initRank: 1,
  deltaRank: 1,
  initWarmup: 2,
  interval: 2,
  topH: 2,
  tinit: 2,
  tfinal: 2,
  deltaT: 2,
  adaloraInitRank: 3,
});

/** The wasm backend, initialised once per test file. */
export async function tinyBackend(): Promise<BackendInfo> {
  return await initBackend("wasm");
}
