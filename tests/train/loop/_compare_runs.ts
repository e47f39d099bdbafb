/** Shared helpers of the micro-batch and worker tests: run a tiny planted training and compare. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseSafetensors } from "../../../model/safetensors.ts";
import type { BackendInfo } from "../../../ops/backend.ts";
import type { HyperParams, TrainMethod } from "../../../train/hyperparams.ts";
import { createPlantedTask } from "../../../train/planted/planted_task.ts";
import { type RunResult, type RunSettings, runTraining } from "../../../train/run.ts";
import { TINY_HYPER, TINY_PLANTED } from "./_tiny.ts";

/** What a finished tiny run left behind, decoded. */
export interface RunOutcome {
  readonly result: RunResult;
  /** Final checkpoint tensors (adapters, optimizer moments, head), by file and key. */
  readonly tensors: ReadonlyMap<string, Float32Array>;
  /** Training-loss metric lines, in step order. */
  readonly losses: readonly number[];
  /** `ranks.jsonl` events (step, grown modules, ranks, scores). */
  readonly events: readonly {
    step: number;
    grown: string[];
    ranks: number[];
    scores: number[];
  }[];
  /** The final checkpoint's `state.json` controller part. */
  readonly controller: unknown;
}

/** Dropout off: micro-batches and full batches then compute the same function. */
export const NO_DROPOUT: Readonly<HyperParams> = Object.freeze({ ...TINY_HYPER, dropout: 0 });

/**
 * Trains the tiny planted task (T = 12, events at 4, 6, 8, 10, 12) into `dir` and decodes it.
 */
export async function tinyRun(
  dir: string,
  method: TrainMethod,
  backend: BackendInfo,
  extra: Partial<RunSettings> & { hyper?: HyperParams; stopAfterStep?: number; resume?: boolean },
): Promise<RunOutcome> {
  const task = await createPlantedTask({ ...TINY_PLANTED, seed: 3 });
  try {
    const { hyper, stopAfterStep, resume, ...settings } = extra;
    const result = await runTraining({
      task,
      hyper: hyper ?? NO_DROPOUT,
      settings: { method, seed: 3, logEvery: 1, ...settings },
      dir,
      backend,
      progress: false,
      ...(stopAfterStep === undefined ? {} : { stopAfterStep }),
      ...(resume === undefined ? {} : { resume }),
    });
    const tensors = new Map<string, Float32Array>();
    if (!result.finished) return { result, tensors, losses: [], events: [], controller: null };
    const ckpt = join(dir, "checkpoints", `step-${String(result.step).padStart(8, "0")}`);
    for (const file of ["adapters.safetensors", "optimizer.safetensors", "head.safetensors"]) {
      const dict = parseSafetensors(await Deno.readFile(join(ckpt, file)), file);
      for (const [key, t] of dict) tensors.set(`${file}:${key}`, Float32Array.from(t.data));
    }
    const metrics = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((m) => m.kind === "train");
    const ranksText = await Deno.readTextFile(join(dir, "ranks.jsonl")).catch(() => "");
    const events = ranksText.trim() === ""
      ? []
      : ranksText.trim().split("\n").map((l) => JSON.parse(l));
    const state = JSON.parse(await Deno.readTextFile(join(ckpt, "state.json")));
    return {
      result,
      tensors,
      losses: metrics.map((m) => m.loss as number),
      events,
      controller: state.controller,
    };
  } finally {
    task.dispose();
  }
}

/**
 * The same tiny run twice: uninterrupted, and stopped after `stopAfterStep` then resumed (in a
 * temporary folder, removed afterwards; the outcomes are decoded in memory).
 */
export async function fullAndResumedRuns(
  method: TrainMethod,
  backend: BackendInfo,
  extra: Partial<RunSettings> & { hyper?: HyperParams },
  stopAfterStep = 5,
): Promise<{ full: RunOutcome; resumed: RunOutcome }> {
  const root = await Deno.makeTempDir();
  try {
    const full = await tinyRun(join(root, "full"), method, backend, extra);
    await tinyRun(join(root, "cut"), method, backend, { ...extra, stopAfterStep });
    const resumed = await tinyRun(join(root, "cut"), method, backend, { ...extra, resume: true });
    return { full, resumed };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Largest |a − b| over every tensor of two outcomes (same keys and sizes asserted). */
export function maxTensorDiff(a: RunOutcome, b: RunOutcome): number {
  assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
  let max = 0;
  for (const [key, x] of a.tensors) {
    const y = b.tensors.get(key) as Float32Array;
    assert.equal(x.length, y.length, key);
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs((x[i] ?? 0) - (y[i] ?? 0)));
  }
  return max;
}

/** Largest relative difference of two number lists (denominator max(|a|, |b|, 1e-12)). */
export function maxRelDiff(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length);
  let max = 0;
  a.forEach((x, i) => {
    const y = b[i] as number;
    max = Math.max(max, Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y), 1e-12));
  });
  return max;
}

/**
 * Asserts two runs made the same allocation decisions and ended within `tol` of each other;
 * event scores within `scoreTol` of the event's largest score. IncreLoRA's score is `Ī·Ū` with
 * `Ū` an EMA of `|s − Ī|`, a difference of nearly equal numbers in the first events, so its
 * round-off is ~10× the parameters' (1.7e-6 measured for micro-batches): 1e-5 by default.
 */
export function assertSameRun(
  a: RunOutcome,
  b: RunOutcome,
  tol: number,
  label: string,
  scoreTol = 1e-5,
): number {
  assert.equal(a.result.step, b.result.step, label);
  assert.deepEqual(
    a.events.map((e) => [e.step, e.grown, e.ranks]),
    b.events.map((e) => [e.step, e.grown, e.ranks]),
    `${label}: allocation events`,
  );
  for (const [i, e] of a.events.entries()) {
    // Scores relative to the event's largest: modules whose ΔW is still ~0 score ~1e-14, pure
    // round-off of `|s − Ī|`, where an element-wise relative difference means nothing.
    const other = (b.events[i] as typeof e).scores;
    const scale = Math.max(1e-30, ...e.scores.map(Math.abs), ...other.map(Math.abs));
    const scoreDiff = e.scores.reduce((m, x, k) =>
      Math.max(m, Math.abs(x - (other[k] ?? NaN))), 0) /
      scale;
    assert.ok(scoreDiff <= scoreTol, `${label}: event ${e.step} scores differ by ${scoreDiff}`);
  }
  assert.deepEqual(a.result.ranks, b.result.ranks, `${label}: ranks`);
  const lossDiff = maxRelDiff(a.losses, b.losses);
  assert.ok(lossDiff <= tol, `${label}: losses differ by ${lossDiff} (relative)`);
  const diff = maxTensorDiff(a, b);
  assert.ok(diff <= tol, `${label}: checkpoint tensors differ by ${diff}`);
  return diff;
}
