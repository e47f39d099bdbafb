/**
 * The run folder: what a training run leaves behind, written so that a crash never corrupts it.
 *
 * ```text
 * runs/<name>/
 *   config.json        resolved options, versions, backend (atomic replace)
 *   metrics.jsonl      one line per logged step and per evaluation (fsynced appends)
 *   ranks.jsonl        one line per allocation event (fsynced appends)
 *   rank-heatmap.svg   final rank per layer × weight family
 *   loss.svg           train loss and eval metric over steps
 *   checkpoints/
 *     step-00000200/   a complete checkpoint (renamed into place when complete)
 *     step-00000300.tmp/  one being written (ignored by readers; removed on the next write)
 *     latest           "step-00000200\n", replaced atomically after the rename
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { syncDir, writeAll, writeFileAtomic, writeJsonAtomic } from "./atomic_write.ts";

/**
 * The paths of one run folder.
 *
 * @example The paths of a new run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunFolder } from "./run_folder.ts";
 * import { createRunFolder } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const run: RunFolder = await createRunFolder(dir);
 * assert.equal(run.dir, dir);
 * assert.ok(run.metricsPath.endsWith("metrics.jsonl"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface RunFolder {
  /** The run folder itself. */
  readonly dir: string;
  /** `config.json`. */
  readonly configPath: string;
  /** `metrics.jsonl`. */
  readonly metricsPath: string;
  /** `ranks.jsonl`. */
  readonly ranksPath: string;
  /** `rank-heatmap.svg`. */
  readonly heatmapPath: string;
  /** `loss.svg`. */
  readonly lossChartPath: string;
  /** `checkpoints/`. */
  readonly checkpointsDir: string;
}

/**
 * A `metrics.jsonl` line for a logged training step.
 *
 * @example A logged step round-trips through `metrics.jsonl`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainMetricsRecord } from "./run_folder.ts";
 * import { appendMetrics, createRunFolder, readJsonLines } from "./run_folder.ts";
 *
 * const run = await createRunFolder(await Deno.makeTempDir());
 * const rec: TrainMetricsRecord = {
 *   kind: "train", step: 10, epoch: 0.1, loss: 0.69, lr: 1e-4, ranksTotal: 72, budgetLeft: 504, stepMs: 812,
 * };
 * await appendMetrics(run, rec);
 * assert.deepEqual(await readJsonLines(run.metricsPath), [rec]);
 * await Deno.remove(run.dir, { recursive: true });
 * ```
 */
export interface TrainMetricsRecord {
  /** Record type. */
  readonly kind: "train";
  /** Optimizer step (1-based, after the update). */
  readonly step: number;
  /** Epoch (fractional: step / steps per epoch). */
  readonly epoch: number;
  /** Training loss (mean over the logging window). */
  readonly loss: number;
  /** Learning rate at this step. */
  readonly lr: number;
  /** Sum of ranks over all adapted matrices. */
  readonly ranksTotal: number;
  /** Rank budget not yet spent. */
  readonly budgetLeft: number;
  /** Mean wall time per step in the window, milliseconds. */
  readonly stepMs: number;
}

/**
 * A `metrics.jsonl` line for an evaluation.
 *
 * @example An evaluation round-trips through `metrics.jsonl`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EvalMetricsRecord } from "./run_folder.ts";
 * import { appendMetrics, createRunFolder, readJsonLines } from "./run_folder.ts";
 *
 * const run = await createRunFolder(await Deno.makeTempDir());
 * const rec: EvalMetricsRecord = {
 *   kind: "eval", step: 100, epoch: 1, metric: 0.71, metricName: "accuracy", metrics: { accuracy: 0.71 }, ranksTotal: 72, budgetLeft: 0,
 * };
 * await appendMetrics(run, rec);
 * assert.deepEqual(await readJsonLines(run.metricsPath), [rec]);
 * await Deno.remove(run.dir, { recursive: true });
 * ```
 */
export interface EvalMetricsRecord {
  /** Record type. */
  readonly kind: "eval";
  /** Optimizer step at evaluation. */
  readonly step: number;
  /** Epoch (fractional). */
  readonly epoch: number;
  /** The task's main metric value (accuracy, Matthews, Pearson, F1). */
  readonly metric: number;
  /** The main metric's name. */
  readonly metricName: string;
  /** Every metric the evaluation computed. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Sum of ranks over all adapted matrices. */
  readonly ranksTotal: number;
  /** Rank budget not yet spent. */
  readonly budgetLeft: number;
}

/**
 * One line of `metrics.jsonl`.
 *
 * @example Telling the two kinds apart
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MetricsRecord } from "./run_folder.ts";
 * import { appendMetrics, createRunFolder, readJsonLines } from "./run_folder.ts";
 *
 * const run = await createRunFolder(await Deno.makeTempDir());
 * const rec: MetricsRecord = { kind: "eval", step: 5, epoch: 1, metric: 0.5, metricName: "f1", metrics: { f1: 0.5 }, ranksTotal: 8, budgetLeft: 0 };
 * await appendMetrics(run, rec);
 * const [line] = (await readJsonLines(run.metricsPath)) as MetricsRecord[];
 * assert.ok(line?.kind === "eval" && line.metricName === "f1");
 * await Deno.remove(run.dir, { recursive: true });
 * ```
 */
export type MetricsRecord = TrainMetricsRecord | EvalMetricsRecord;

/**
 * One line of `ranks.jsonl`: an allocation event.
 *
 * @example An event round-trips through `ranks.jsonl`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RankEventRecord } from "./run_folder.ts";
 * import { appendRankEvent, createRunFolder, readJsonLines } from "./run_folder.ts";
 *
 * const run = await createRunFolder(await Deno.makeTempDir());
 * const event: RankEventRecord = { step: 200, k: 1, scores: [0.2, -0.1], grown: [0], ranks: [5, 1], budgetLeft: 10 };
 * await appendRankEvent(run, event);
 * assert.deepEqual(await readJsonLines(run.ranksPath), [event]);
 * await Deno.remove(run.dir, { recursive: true });
 * ```
 */
export interface RankEventRecord {
  /** Optimizer step of the event. */
  readonly step: number;
  /** Matrices the schedule allowed to grow. */
  readonly k: number;
  /** Importance score per adapted matrix, in module order. */
  readonly scores: readonly number[];
  /** Module names (or indices) that grew. */
  readonly grown: readonly (string | number)[];
  /** Rank per adapted matrix after the event, in module order. */
  readonly ranks: readonly number[];
  /** Rank budget left after the event. */
  readonly budgetLeft: number;
}

/**
 * Options of `createRunFolder`.
 *
 * @example `overwrite` reopens a finished run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CreateRunFolderOptions } from "./run_folder.ts";
 * import { createRunFolder, writeRunConfig } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeRunConfig(await createRunFolder(dir), {});
 * await assert.rejects(() => createRunFolder(dir), RangeError);
 * const options: CreateRunFolderOptions = { overwrite: true };
 * assert.equal((await createRunFolder(dir, options)).dir, dir);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface CreateRunFolderOptions {
  /** Allow a folder that already holds a `config.json` (default false). */
  readonly overwrite?: boolean;
}

/**
 * The paths of a run folder, without touching the disk (for readers that must leave a run
 * folder exactly as it is).
 *
 * @param dir The run folder.
 * @returns Its paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runFolderPaths } from "./run_folder.ts";
 *
 * assert.equal(runFolderPaths("runs/a").configPath, "runs/a/config.json");
 * ```
 */
export function runFolderPaths(dir: string): RunFolder {
  return folderPaths(dir);
}

function folderPaths(dir: string): RunFolder {
  return Object.freeze({
    dir,
    configPath: join(dir, "config.json"),
    metricsPath: join(dir, "metrics.jsonl"),
    ranksPath: join(dir, "ranks.jsonl"),
    heatmapPath: join(dir, "rank-heatmap.svg"),
    lossChartPath: join(dir, "loss.svg"),
    checkpointsDir: join(dir, "checkpoints"),
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Creates a new run folder (and its parents and `checkpoints/`). Refuses a folder that already
 * holds a run (`config.json`) unless `overwrite` is set, so a typo cannot clobber results.
 *
 * @param dir The run folder.
 * @param options `overwrite`: accept an existing run folder.
 * @returns The folder's paths.
 * @throws {RangeError} When the folder already holds a run and `overwrite` is not set.
 *
 * @example Creating a run folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunFolder } from "./run_folder.ts";
 *
 * const root = await Deno.makeTempDir();
 * const run = await createRunFolder(`${root}/runs/rte-1`);
 * assert.ok((await Deno.stat(run.checkpointsDir)).isDirectory);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function createRunFolder(
  dir: string,
  options: CreateRunFolderOptions = {},
): Promise<RunFolder> {
  const folder = folderPaths(dir);
  if (!options.overwrite && await exists(folder.configPath)) {
    throw new RangeError(
      `Cannot create run folder ${dir} as it must not hold a run yet: current folder has config.json (use --resume or another --out)`,
    );
  }
  await Deno.mkdir(folder.checkpointsDir, { recursive: true });
  return folder;
}

/**
 * Opens an existing run folder (for `--resume`).
 *
 * @param dir The run folder.
 * @returns The folder's paths.
 * @throws {Deno.errors.NotFound} When the folder or its `config.json` is missing.
 *
 * @example Opening what was created
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunFolder, openRunFolder, writeRunConfig } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeRunConfig(await createRunFolder(dir), { task: "rte" });
 * assert.equal((await openRunFolder(dir)).dir, dir);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openRunFolder(dir: string): Promise<RunFolder> {
  const folder = folderPaths(dir);
  if (!await exists(folder.configPath)) {
    throw new Deno.errors.NotFound(
      `Cannot open run folder ${dir} as it must hold config.json: current folder has none`,
    );
  }
  await Deno.mkdir(folder.checkpointsDir, { recursive: true });
  return folder;
}

/**
 * Writes `config.json` atomically.
 *
 * @param folder The run folder.
 * @param config The resolved configuration (options, versions, backend).
 * @returns Resolves once the file is durable.
 *
 * @example Writing and reading the config
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunFolder, readRunConfig, writeRunConfig } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const run = await createRunFolder(dir);
 * await writeRunConfig(run, { task: "rte", backend: "wasm" });
 * assert.deepEqual(await readRunConfig(run), { task: "rte", backend: "wasm" });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeRunConfig(folder: RunFolder, config: unknown): Promise<void> {
  await writeJsonAtomic(folder.configPath, config);
}

/**
 * Reads `config.json` back.
 *
 * @param folder The run folder.
 * @returns The parsed JSON (validate it before use).
 * @throws {SyntaxError} When the file is not JSON (the message names the file).
 *
 * @example See `writeRunConfig`
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunFolder, readRunConfig, writeRunConfig } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const run = await createRunFolder(dir);
 * await writeRunConfig(run, [1, 2]);
 * assert.deepEqual(await readRunConfig(run), [1, 2]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readRunConfig(folder: RunFolder): Promise<unknown> {
  const text = await Deno.readTextFile(folder.configPath);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse ${folder.configPath} as it must be JSON: ${(error as Error).message}`,
    );
  }
}

const encoder = new TextEncoder();

/**
 * Appends one JSON line to a file and fsyncs it before resolving. Non-finite numbers are
 * written as `null` (as `JSON.stringify` does). Await each call before the next.
 *
 * @param path The `.jsonl` file (created if missing).
 * @param record The value of the line.
 * @returns Resolves once the line is durable.
 *
 * @example Appending two lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendJsonLine, readJsonLines } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await appendJsonLine(`${dir}/m.jsonl`, { step: 1 });
 * await appendJsonLine(`${dir}/m.jsonl`, { step: 2 });
 * assert.deepEqual(await readJsonLines(`${dir}/m.jsonl`), [{ step: 1 }, { step: 2 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendJsonLine(path: string, record: unknown): Promise<void> {
  const text = JSON.stringify(record);
  if (text === undefined) {
    throw new TypeError(
      `Cannot append to ${path} as the record must be JSON-serialisable: current value is ${typeof record}`,
    );
  }
  const file = await Deno.open(path, { append: true, create: true });
  try {
    await writeAll(file, encoder.encode(`${text}\n`));
    await file.sync();
  } finally {
    file.close();
  }
}

/**
 * Reads a `.jsonl` file. A last line without its newline that does not parse (an append cut
 * short by a crash) is dropped; any other bad line is an error.
 *
 * @param path The file; a missing file reads as no lines.
 * @returns The parsed lines in order.
 * @throws {SyntaxError} When a complete line is not JSON (the message names file and line).
 *
 * @example A torn last line is ignored
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJsonLines } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/m.jsonl`, '{"step":1}\n{"ste');
 * assert.deepEqual(await readJsonLines(`${dir}/m.jsonl`), [{ step: 1 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readJsonLines(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const lines = text.split("\n");
  const torn = lines.pop() ?? "";
  const out: unknown[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      out.push(JSON.parse(line));
    } catch {
      throw new SyntaxError(
        `Cannot parse ${path} line ${i + 1} as it must be JSON: current value is ${
          JSON.stringify(line.slice(0, 80))
        }`,
      );
    }
  });
  if (torn.trim() !== "") {
    try {
      out.push(JSON.parse(torn));
    } catch {
      // An append cut short by a crash: the line was never complete.
    }
  }
  return out;
}

/**
 * Appends a line to `metrics.jsonl` durably.
 *
 * @param folder The run folder.
 * @param record A training-step or evaluation record.
 * @returns Resolves once the line is durable.
 *
 * @example Logging a step
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendMetrics, createRunFolder, readJsonLines } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const run = await createRunFolder(dir);
 * await appendMetrics(run, {
 *   kind: "train", step: 10, epoch: 0.1, loss: 0.69, lr: 1e-4, ranksTotal: 72, budgetLeft: 504, stepMs: 812,
 * });
 * assert.equal((await readJsonLines(run.metricsPath)).length, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendMetrics(folder: RunFolder, record: MetricsRecord): Promise<void> {
  await appendJsonLine(folder.metricsPath, record);
}

/**
 * Appends an allocation event to `ranks.jsonl` durably.
 *
 * @param folder The run folder.
 * @param record The event: step, k, scores, who grew, ranks after, budget left.
 * @returns Resolves once the line is durable.
 *
 * @example Logging an event
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendRankEvent, createRunFolder, readJsonLines } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const run = await createRunFolder(dir);
 * await appendRankEvent(run, { step: 200, k: 1, scores: [0.2, -0.1], grown: [0], ranks: [5, 1], budgetLeft: 10 });
 * assert.deepEqual((await readJsonLines(run.ranksPath))[0], {
 *   step: 200, k: 1, scores: [0.2, -0.1], grown: [0], ranks: [5, 1], budgetLeft: 10,
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendRankEvent(folder: RunFolder, record: RankEventRecord): Promise<void> {
  await appendJsonLine(folder.ranksPath, record);
}

const CHECKPOINT_NAME = /^step-(\d{8,})$/;
const LATEST = "latest";

/**
 * The folder name of the checkpoint at `step` (`step-00000200`; zero-padded so names sort).
 *
 * @param step A non-negative integer step.
 * @returns The folder name.
 * @throws {RangeError} When the step is not a non-negative safe integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointName } from "./run_folder.ts";
 *
 * assert.equal(checkpointName(200), "step-00000200");
 * ```
 */
export function checkpointName(step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(
      `Cannot name a checkpoint as the step must be a non-negative integer: current value is ${step}`,
    );
  }
  return `step-${String(step).padStart(8, "0")}`;
}

async function syncTree(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      await syncTree(path);
    } else if (entry.isFile) {
      const file = await Deno.open(path, { read: true, write: true });
      try {
        await file.sync();
      } finally {
        file.close();
      }
    }
  }
  await syncDir(dir);
}

/**
 * Options of `writeCheckpoint`.
 *
 * @example Keep only the newest checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WriteCheckpointOptions } from "./run_folder.ts";
 * import { createRunFolder, writeCheckpoint } from "./run_folder.ts";
 *
 * const run = await createRunFolder(await Deno.makeTempDir());
 * const options: WriteCheckpointOptions = { keep: 1 };
 * const write = (d: string) => Deno.writeTextFile(`${d}/state.json`, "{}");
 * await writeCheckpoint(run, 100, write, options);
 * const last = await writeCheckpoint(run, 200, write, options);
 * const names = [...Deno.readDirSync(run.checkpointsDir)].map((e) => e.name).filter((n) => n !== "latest");
 * assert.deepEqual(names, [last.split("/").at(-1)]);
 * await Deno.remove(run.dir, { recursive: true });
 * ```
 */
export interface WriteCheckpointOptions {
  /** Complete checkpoints to keep, newest first, including the new one (default 2, at least 1). */
  readonly keep?: number;
}

/**
 * Writes the checkpoint of `step` so that the previous one stays valid until this one is
 * complete:
 *
 * 1. remove a stale `step-N.tmp/` left by a crash, create it afresh;
 * 2. `write(tmpDir)` writes the files (plain writes are fine); every file is then fsynced;
 * 3. rename `step-N.tmp/` to `step-N/` and fsync `checkpoints/`;
 * 4. replace `checkpoints/latest` atomically with `step-N`;
 * 5. delete complete checkpoints beyond the newest `keep` (the new one counts and is never
 *    deleted) and any of a later step (an abandoned timeline after a resume).
 *
 * If `write` throws, the temporary folder is removed, `latest` is untouched and the error is
 * re-thrown. A crash before step 4 leaves `latest` on the previous checkpoint.
 *
 * @param folder The run folder.
 * @param step The optimizer step the checkpoint captures.
 * @param write Writes the checkpoint's files into the folder it is given.
 * @param options `keep`: how many complete checkpoints to keep.
 * @returns The path of the new checkpoint folder.
 *
 * @example Two checkpoints, latest wins
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunFolder, readLatestCheckpointDir, writeCheckpoint } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const run = await createRunFolder(dir);
 * await writeCheckpoint(run, 100, (d) => Deno.writeTextFile(`${d}/state.json`, "{}"));
 * const second = await writeCheckpoint(run, 200, (d) => Deno.writeTextFile(`${d}/state.json`, "{}"));
 * assert.equal(await readLatestCheckpointDir(run), second);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeCheckpoint(
  folder: RunFolder,
  step: number,
  write: (dir: string) => Promise<void>,
  options: WriteCheckpointOptions = {},
): Promise<string> {
  const keep = options.keep ?? 2;
  if (!Number.isInteger(keep) || keep < 1) {
    throw new RangeError(
      `Cannot write a checkpoint as keep must be an integer >= 1: current value is ${keep}`,
    );
  }
  const name = checkpointName(step);
  const finalDir = join(folder.checkpointsDir, name);
  const tmpDir = `${finalDir}.tmp`;
  await Deno.mkdir(folder.checkpointsDir, { recursive: true });
  await Deno.remove(tmpDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.mkdir(tmpDir);
  try {
    await write(tmpDir);
    await syncTree(tmpDir);
  } catch (error) {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    throw error;
  }
  if (await exists(finalDir)) {
    // Rewriting the same step (e.g. right after a resume): park the old copy until `latest`
    // is safe again; readers fall back to the newest complete folder meanwhile.
    const parked = `${finalDir}.old`;
    await Deno.remove(parked, { recursive: true }).catch(() => {});
    await Deno.rename(finalDir, parked);
    await Deno.rename(tmpDir, finalDir);
    await syncDir(folder.checkpointsDir);
    await Deno.remove(parked, { recursive: true });
  } else {
    await Deno.rename(tmpDir, finalDir);
    await syncDir(folder.checkpointsDir);
  }
  await writeFileAtomic(join(folder.checkpointsDir, LATEST), `${name}\n`);
  await pruneCheckpoints(folder, name, keep);
  return finalDir;
}

/**
 * The complete checkpoints of a run folder, oldest first (`step-N.tmp/` and `step-N.old/`
 * folders are not complete and are left out).
 *
 * @param folder The run folder (only its paths are used; nothing is created).
 * @returns The folder names under `checkpoints/`, sorted by step.
 *
 * @example Two checkpoints
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunFolder, listCheckpointNames, writeCheckpoint } from "./run_folder.ts";
 *
 * const run = await createRunFolder(await Deno.makeTempDir());
 * const write = (d: string) => Deno.writeTextFile(`${d}/state.json`, "{}");
 * await writeCheckpoint(run, 8, write);
 * await writeCheckpoint(run, 12, write);
 * assert.deepEqual(await listCheckpointNames(run), ["step-00000008", "step-00000012"]);
 * await Deno.remove(run.dir, { recursive: true });
 * ```
 */
export function listCheckpointNames(folder: RunFolder): Promise<string[]> {
  return completeCheckpointNames(folder);
}

async function completeCheckpointNames(folder: RunFolder): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder.checkpointsDir)) {
      if (entry.isDirectory && CHECKPOINT_NAME.test(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort();
}

async function pruneCheckpoints(folder: RunFolder, newest: string, keep: number): Promise<void> {
  const names = await completeCheckpointNames(folder);
  // Checkpoints after the new one belong to an abandoned timeline (a resume from earlier).
  const current = names.filter((n) => n <= newest).reverse();
  const doomed = [...names.filter((n) => n > newest), ...current.slice(keep)];
  for (const name of doomed) {
    await Deno.remove(join(folder.checkpointsDir, name), { recursive: true });
  }
}

async function readLatestName(folder: RunFolder): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(folder.checkpointsDir, LATEST));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const name = text.trim();
  return CHECKPOINT_NAME.test(name) ? name : undefined;
}

/**
 * Finds the latest complete checkpoint: the folder named by `checkpoints/latest` when it exists;
 * otherwise (no pointer, a pointer naming a missing folder) the newest complete `step-N/`.
 * Temporary `step-N.tmp/` folders are never returned.
 *
 * @param folder The run folder.
 * @returns The checkpoint folder path, or `undefined` when there is none.
 *
 * @example No checkpoint yet
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunFolder, readLatestCheckpointDir } from "./run_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * assert.equal(await readLatestCheckpointDir(await createRunFolder(dir)), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readLatestCheckpointDir(folder: RunFolder): Promise<string | undefined> {
  const pointed = await readLatestName(folder);
  if (pointed !== undefined) {
    const dir = join(folder.checkpointsDir, pointed);
    if (await exists(dir)) return dir;
  }
  const names = await completeCheckpointNames(folder);
  const newest = names.at(-1);
  return newest === undefined ? undefined : join(folder.checkpointsDir, newest);
}

/**
 * The step a checkpoint folder captures, from its name.
 *
 * @param dir A checkpoint folder path (as returned by `writeCheckpoint`).
 * @returns The step.
 * @throws {SyntaxError} When the folder name is not `step-NNNNNNNN`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointStep } from "./run_folder.ts";
 *
 * assert.equal(checkpointStep("runs/a/checkpoints/step-00000200"), 200);
 * ```
 */
export function checkpointStep(dir: string): number {
  const name = dir.replace(/[\\/]+$/, "").split(/[\\/]/).at(-1) ?? "";
  const match = CHECKPOINT_NAME.exec(name);
  if (match === null) {
    throw new SyntaxError(
      `Cannot read the step of ${dir} as its name must be step-NNNNNNNN: current name is ${name}`,
    );
  }
  return Number(match[1]);
}
