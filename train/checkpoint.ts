/**
 * Checkpoints and the adapter folder. A checkpoint holds everything a resumed run needs to
 * continue bit-identically: adapter tensors (grown blocks and EMAs included), head variables,
 * optimizer moments with per-block step counters and birth steps, the controller's rank state,
 * the sampler position (= steps done) and the loop's own counters. The adapter folder
 * (`adapter/`) holds our format: `adapter_model.safetensors` plus `adapter_config.json` with the
 * per-module block ranks, so loading rebuilds the right shapes.
 *
 * Atomicity comes from `run_folder.ts` `writeCheckpoint` (temp folder, then rename).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { parseSafetensors, type RawTensor, writeSafetensors } from "../model/safetensors.ts";
import type { Adapter, AdapterMethod, AdapterSnapshot, TensorData } from "../ops/adapter.ts";
import type { BlockStateData } from "../ops/growing_adamw.ts";
import { writeFileAtomic, writeJsonAtomic } from "./atomic_write.ts";
import type { Trainer } from "./loop.ts";

/**
 * Format version of `state.json` and `adapter_config.json`.
 *
 * @example The current version
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHECKPOINT_FORMAT } from "./checkpoint.ts";
 *
 * assert.equal(CHECKPOINT_FORMAT, 1);
 * ```
 */
export const CHECKPOINT_FORMAT = 1;

/**
 * Reads a file's bytes; a missing or unreadable file throws an error whose one-line message
 * names it (`Deno.errors.NotFound` stays `NotFound`).
 *
 * @param path The file.
 * @returns Its bytes.
 * @throws {Deno.errors.NotFound} When the file is missing (the message names it).
 *
 * @example A missing file is named
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileNamed } from "./checkpoint.ts";
 *
 * await assert.rejects(() => readFileNamed("/nonexistent/head.safetensors"), /\/nonexistent\/head\.safetensors as the file must exist: it is missing/);
 * ```
 */
export async function readFileNamed(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw namedOsError(error, path);
  }
}

/**
 * Reads and parses a JSON file; a missing, unreadable or malformed file throws an error whose
 * one-line message names it (`NotFound` for a missing file, `SyntaxError` for bad JSON).
 *
 * @param path The file.
 * @returns The parsed value.
 * @throws {SyntaxError} When the file is not JSON (the message names it).
 *
 * @example A truncated file is named
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJsonNamed } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/state.json`, '{"step": "1');
 * await assert.rejects(() => readJsonNamed(`${dir}/state.json`), /state\.json as it must be JSON/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readJsonNamed(path: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readFileNamed(path));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot read ${path} as it must be JSON: ${
        text.trim() === "" ? "the file is empty" : (error as Error).message.split("\n")[0]
      }`,
    );
  }
}

function namedOsError(error: unknown, path: string): Error {
  if (error instanceof Deno.errors.NotFound) {
    return new Deno.errors.NotFound(`Cannot read ${path} as the file must exist: it is missing`);
  }
  const first = ((error as Error).message ?? String(error)).split("\n")[0] ?? "";
  // Drop Deno's `: readfile '<path>'` tail: the path is named up front.
  const reason = first.replace(/,? ?(readfile|open|stat|lstat) '[^']*'$/, "").replace(/:\s*$/, "");
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return new RangeError(`Cannot read ${path} as it must be readable: ${reason}`);
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new RangeError(`Cannot read ${path} as it must be a file: it is a folder`);
  }
  return new RangeError(`Cannot read ${path}: ${reason}`);
}

/** The files every checkpoint folder holds. */
const CHECKPOINT_FILES = [
  "state.json",
  "adapters.safetensors",
  "optimizer.safetensors",
  "head.safetensors",
] as const;

/**
 * Checks that a checkpoint folder is complete and readable without building a model:
 * `state.json` parses and has this package's format, and every `.safetensors` file parses.
 *
 * @param dir The checkpoint folder.
 * @returns The step recorded in `state.json`.
 * @throws {Deno.errors.NotFound} When a file is missing (the message names it).
 * @throws {SyntaxError} When a file is damaged (the message names it).
 *
 * @example An empty folder names its first missing file
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkCheckpointFiles } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(() => checkCheckpointFiles(dir), /state\.json as the file must exist/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkCheckpointFiles(dir: string): Promise<number> {
  const statePath = join(dir, CHECKPOINT_FILES[0]);
  const state = await readJsonNamed(statePath) as Partial<CheckpointState> | null;
  if (state === null || typeof state !== "object" || state.format !== CHECKPOINT_FORMAT) {
    throw new SyntaxError(
      `Cannot read ${statePath} as format must be ${CHECKPOINT_FORMAT}: current value is ${
        JSON.stringify(state?.format)
      }`,
    );
  }
  if (!Number.isSafeInteger(state.step) || (state.step as number) < 0) {
    throw new SyntaxError(
      `Cannot read ${statePath} as step must be a non-negative integer: current value is ${
        JSON.stringify(state.step)
      }`,
    );
  }
  for (const name of CHECKPOINT_FILES.slice(1)) {
    const path = join(dir, name);
    parseSafetensors(await readFileNamed(path), path);
  }
  return state.step as number;
}

/**
 * Per-module entry of `adapter_config.json`.
 *
 * @example The entry of one TriAdaptLoRA module
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdapterModuleEntry } from "./checkpoint.ts";
 * import { TriAdaptLoraAdapter } from "../ops/triadapt_lora.ts";
 * import { writeAdapterFolder } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ad = new TriAdaptLoraAdapter({ name: "q", inFeatures: 4, outFeatures: 3, seed: 1 });
 * const [entry]: readonly AdapterModuleEntry[] = (await writeAdapterFolder(dir, [ad], {})).modules;
 * assert.equal(entry?.name, "q");
 * assert.deepEqual([entry?.inFeatures, entry?.outFeatures, entry?.rank], [4, 3, 1]);
 * ad.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface AdapterModuleEntry {
  /** Module name. */
  readonly name: string;
  /** Method. */
  readonly method: AdapterMethod;
  /** Current rank. */
  readonly rank: number;
  /** Input width. */
  readonly inFeatures: number;
  /** Output width. */
  readonly outFeatures: number;
  /** Rank of each parameter block (creation order). */
  readonly blockRanks: readonly number[];
  /** Extra scalars of the snapshot. */
  readonly scalars: Readonly<Record<string, number>>;
  /** Logical tensor names of the module. */
  readonly tensors: readonly string[];
}

/**
 * `adapter_config.json`.
 *
 * @example The config written and read back
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdapterFolderConfig } from "./checkpoint.ts";
 * import { TriAdaptLoraAdapter } from "../ops/triadapt_lora.ts";
 * import { readAdapterFolder, writeAdapterFolder } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ad = new TriAdaptLoraAdapter({ name: "q", inFeatures: 4, outFeatures: 3, seed: 1 });
 * const written: AdapterFolderConfig = await writeAdapterFolder(dir, [ad], { task: "rte" });
 * assert.equal(written.format, "triadapt-adapter");
 * assert.deepEqual((await readAdapterFolder(dir)).config.extra, { task: "rte" });
 * ad.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface AdapterFolderConfig {
  /** Always `"triadapt-adapter"`. */
  readonly format: "triadapt-adapter";
  /** Format version. */
  readonly version: number;
  /** Method. */
  readonly method: AdapterMethod;
  /** Modules in model order. */
  readonly modules: readonly AdapterModuleEntry[];
  /** Rank per module by name. */
  readonly rankPattern: Readonly<Record<string, number>>;
  /** Anything else the writer wants to record (alpha, dropout, task). */
  readonly extra: Readonly<Record<string, unknown>>;
}

const SEP = "::";

function toRaw(t: TensorData): RawTensor {
  return { shape: [...t.shape], dtype: "F32", data: t.data };
}

function fromRaw(raw: RawTensor | undefined, key: string, source: string): TensorData {
  if (raw === undefined || !(raw.data instanceof Float32Array)) {
    throw new SyntaxError(
      `Cannot read ${source} as tensor ${key} must be present and float32: current value is ${
        raw === undefined ? "missing" : raw.dtype
      }`,
    );
  }
  return { shape: [...raw.shape], data: raw.data };
}

async function adapterEntries(
  adapters: readonly Adapter[],
): Promise<{ entries: AdapterModuleEntry[]; tensors: Map<string, RawTensor> }> {
  const entries: AdapterModuleEntry[] = [];
  const tensors = new Map<string, RawTensor>();
  for (const a of adapters) {
    const snap = await a.snapshot();
    entries.push({
      name: a.name,
      method: a.method,
      rank: a.rank,
      inFeatures: a.inFeatures,
      outFeatures: a.outFeatures,
      blockRanks: [...snap.blockRanks],
      scalars: { ...snap.scalars },
      tensors: Object.keys(snap.tensors),
    });
    for (const [k, t] of Object.entries(snap.tensors)) tensors.set(`${a.name}${SEP}${k}`, toRaw(t));
  }
  return { entries, tensors };
}

function snapshotsFrom(
  entries: readonly AdapterModuleEntry[],
  tensors: ReadonlyMap<string, RawTensor>,
  source: string,
): AdapterSnapshot[] {
  return entries.map((e) => ({
    method: e.method,
    name: e.name,
    blockRanks: [...e.blockRanks],
    scalars: { ...e.scalars },
    tensors: Object.fromEntries(
      e.tensors.map((
        k,
      ) => [k, fromRaw(tensors.get(`${e.name}${SEP}${k}`), `${e.name}${SEP}${k}`, source)]),
    ),
  }));
}

/**
 * Writes the adapter folder: `adapter_model.safetensors` (keys `<module>::<tensor>`) and
 * `adapter_config.json` (method, per-module block ranks, rank pattern, extra facts).
 *
 * @param dir Folder to write (created).
 * @param adapters Adapters in module order.
 * @param extra Extra facts for the config (alpha, task, …).
 * @returns The config written.
 *
 * @example Round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { TriAdaptLoraAdapter } from "../ops/triadapt_lora.ts";
 * import { readAdapterFolder, writeAdapterFolder } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ad = new TriAdaptLoraAdapter({ name: "ex.ckpt", inFeatures: 4, outFeatures: 3, seed: 1 });
 * ad.grow(2);
 * await writeAdapterFolder(dir, [ad], {});
 * const { config, snapshots } = await readAdapterFolder(dir);
 * assert.deepEqual(config.rankPattern, { "ex.ckpt": 3 });
 * assert.deepEqual(snapshots[0]!.blockRanks, [1, 2]);
 * ad.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAdapterFolder(
  dir: string,
  adapters: readonly Adapter[],
  extra: Readonly<Record<string, unknown>>,
): Promise<AdapterFolderConfig> {
  await Deno.mkdir(dir, { recursive: true });
  const { entries, tensors } = await adapterEntries(adapters);
  const config: AdapterFolderConfig = {
    format: "triadapt-adapter",
    version: CHECKPOINT_FORMAT,
    method: adapters[0]?.method ?? "triadaptlora",
    modules: entries,
    rankPattern: Object.fromEntries(entries.map((e) => [e.name, e.rank])),
    extra,
  };
  await writeFileAtomic(
    join(dir, "adapter_model.safetensors"),
    writeSafetensors(tensors, { format: "triadapt" }),
  );
  await writeJsonAtomic(join(dir, "adapter_config.json"), config);
  return config;
}

/**
 * Reads an adapter folder written by {@linkcode writeAdapterFolder}; `adapter.restore(snapshot)`
 * then grows each adapter to the saved block ranks and loads its tensors.
 *
 * @param dir The folder.
 * @returns The config and one snapshot per module (model order).
 * @throws {SyntaxError} When the files are not a triadapt adapter folder.
 *
 * @example Missing folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAdapterFolder } from "./checkpoint.ts";
 *
 * await assert.rejects(() => readAdapterFolder("/nonexistent-adapter-folder"));
 * ```
 */
export async function readAdapterFolder(
  dir: string,
): Promise<{ config: AdapterFolderConfig; snapshots: AdapterSnapshot[] }> {
  const configPath = join(dir, "adapter_config.json");
  const config = await readJsonNamed(configPath) as AdapterFolderConfig;
  if (config.format !== "triadapt-adapter" || !Array.isArray(config.modules)) {
    throw new SyntaxError(
      `Cannot read ${configPath} as format must be "triadapt-adapter": current value is ${
        JSON.stringify(config.format)
      }`,
    );
  }
  const path = join(dir, "adapter_model.safetensors");
  const tensors = parseSafetensors(await readFileNamed(path), path);
  return { config, snapshots: snapshotsFrom(config.modules, tensors, path) };
}

/**
 * `state.json` of a checkpoint.
 *
 * @example A `state.json` of an unknown format is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CheckpointState } from "./checkpoint.ts";
 * import type { Trainer } from "./loop.ts";
 * import { loadTrainerState } from "./checkpoint.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const state: CheckpointState = {
 *   format: 99, step: 0, adapters: [], optimizer: { globalStep: 0, blocks: {} }, head: [], controller: {}, loop: {},
 * };
 * await Deno.writeTextFile(`${dir}/state.json`, JSON.stringify(state));
 * await assert.rejects(() => loadTrainerState(dir, {} as Trainer), /format must be 1: current value is 99/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface CheckpointState {
  /** Format version. */
  readonly format: number;
  /** Optimizer steps done (also the sampler position). */
  readonly step: number;
  /** Adapter entries (model order). */
  readonly adapters: readonly AdapterModuleEntry[];
  /** Optimizer global step and per-block counters (moments live in `optimizer.safetensors`). */
  readonly optimizer: {
    readonly globalStep: number;
    readonly blocks: Readonly<
      Record<string, { readonly step: number; readonly birthStep: number; readonly count: number }>
    >;
  };
  /** Head variable names. */
  readonly head: readonly string[];
  /** The controller's plain state. */
  readonly controller: Readonly<Record<string, unknown>>;
  /** The loop's own plain state (log window, best metric, …). */
  readonly loop: Readonly<Record<string, unknown>>;
  /** The sampler's seed, batch size and position (the position equals `step`). */
  readonly sampler?: {
    readonly seed: number;
    readonly batchSize: number;
    readonly size: number;
    readonly position: number;
  };
}

/**
 * Writes the trainer's full state into `dir` (an empty temp folder from `writeCheckpoint`).
 *
 * @param dir The folder.
 * @param trainer The trainer.
 * @param loop The loop's plain state to keep with it.
 * @returns Nothing.
 *
 * @example The files it writes
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHECKPOINT_FORMAT } from "./checkpoint.ts";
 *
 * assert.equal(CHECKPOINT_FORMAT, 1); // state.json, adapters/optimizer/head .safetensors
 * ```
 */
export async function saveTrainerState(
  dir: string,
  trainer: Trainer,
  loop: Readonly<Record<string, unknown>>,
): Promise<void> {
  const { entries, tensors } = await adapterEntries(trainer.adapters);
  const opt = await trainer.optimizer.snapshot();
  const optTensors = new Map<string, RawTensor>();
  const blocks: Record<string, { step: number; birthStep: number; count: number }> = {};
  for (const [key, b] of Object.entries(opt.blocks)) {
    blocks[key] = { step: b.step, birthStep: b.birthStep, count: b.m.length };
    b.m.forEach((t, i) => optTensors.set(`${key}${SEP}m${SEP}${i}`, toRaw(t)));
    b.v.forEach((t, i) => optTensors.set(`${key}${SEP}v${SEP}${i}`, toRaw(t)));
  }
  const head = new Map<string, RawTensor>();
  for (const [name, v] of trainer.model.namedTrainableVariables()) {
    head.set(name, { shape: [...v.shape], dtype: "F32", data: new Float32Array(await v.data()) });
  }
  const state: CheckpointState = {
    format: CHECKPOINT_FORMAT,
    step: trainer.step,
    adapters: entries,
    optimizer: { globalStep: opt.globalStep, blocks },
    head: [...head.keys()],
    controller: trainer.controller.snapshot(),
    loop,
    sampler: {
      seed: trainer.sampler.seed,
      batchSize: trainer.sampler.batchSize,
      size: trainer.sampler.size,
      position: trainer.step,
    },
  };
  await Deno.writeFile(join(dir, "adapters.safetensors"), writeSafetensors(tensors));
  await Deno.writeFile(join(dir, "optimizer.safetensors"), writeSafetensors(optTensors));
  await Deno.writeFile(join(dir, "head.safetensors"), writeSafetensors(head));
  await Deno.writeTextFile(join(dir, "state.json"), JSON.stringify(state));
}

/**
 * Restores a trainer (freshly built with the same options) from a checkpoint folder: adapters
 * (growing to the saved blocks), head, optimizer blocks and moments, controller, step.
 *
 * @param dir The checkpoint folder.
 * @param trainer A trainer at step 0 built from the same options.
 * @returns The loop's plain state saved with it.
 * @throws {SyntaxError} When the files are unreadable or do not match the trainer.
 *
 * @example Missing checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTrainerState } from "./checkpoint.ts";
 * import type { Trainer } from "./loop.ts";
 *
 * await assert.rejects(() => loadTrainerState("/nonexistent-ckpt", {} as Trainer));
 * ```
 */
export async function loadTrainerState(
  dir: string,
  trainer: Trainer,
): Promise<Readonly<Record<string, unknown>>> {
  const statePath = join(dir, "state.json");
  const state = await readJsonNamed(statePath) as CheckpointState;
  if (state.format !== CHECKPOINT_FORMAT) {
    throw new SyntaxError(
      `Cannot read ${statePath} as format must be ${CHECKPOINT_FORMAT}: current value is ${state.format}`,
    );
  }
  const names = trainer.adapters.map((a) => a.name);
  if (state.adapters.map((a) => a.name).join("\n") !== names.join("\n")) {
    throw new SyntaxError(
      `Cannot restore ${dir} as its adapted modules must match the model's: current count is ${state.adapters.length} vs ${names.length}`,
    );
  }
  const adapterPath = join(dir, "adapters.safetensors");
  const snaps = snapshotsFrom(
    state.adapters,
    parseSafetensors(await readFileNamed(adapterPath), adapterPath),
    adapterPath,
  );
  trainer.adapters.forEach((a, i) => a.restore(snaps[i] as AdapterSnapshot));
  const headPath = join(dir, "head.safetensors");
  const head = parseSafetensors(await readFileNamed(headPath), headPath);
  for (const [name, v] of trainer.model.namedTrainableVariables()) {
    const t = fromRaw(head.get(name), name, headPath);
    tf.tidy(() => v.assign(tf.tensor(t.data, [...t.shape], "float32")));
  }
  // Grown blocks: register them, then restore every counter and moment.
  trainer.optimizer.syncBlocks(trainer.adapters.flatMap((a) => a.parameterBlocks()));
  const optPath = join(dir, "optimizer.safetensors");
  const optTensors = parseSafetensors(await readFileNamed(optPath), optPath);
  const blocks: Record<string, BlockStateData> = {};
  for (const [key, b] of Object.entries(state.optimizer.blocks)) {
    const read = (which: "m" | "v"): TensorData[] =>
      Array.from({ length: b.count }, (_, i) => {
        const k = `${key}${SEP}${which}${SEP}${i}`;
        return fromRaw(optTensors.get(k), k, optPath);
      });
    blocks[key] = { step: b.step, birthStep: b.birthStep, m: read("m"), v: read("v") };
  }
  trainer.optimizer.restore({ globalStep: state.optimizer.globalStep, blocks });
  trainer.controller.restore(state.controller);
  const sampler = state.sampler;
  if (
    sampler !== undefined &&
    (sampler.seed !== trainer.sampler.seed || sampler.batchSize !== trainer.sampler.batchSize ||
      sampler.size !== trainer.sampler.size || sampler.position !== state.step)
  ) {
    throw new SyntaxError(
      `Cannot restore ${dir} as its sampler must match the run's: current values are seed ${sampler.seed}, batch ${sampler.batchSize}, size ${sampler.size} vs ${trainer.sampler.seed}, ${trainer.sampler.batchSize}, ${trainer.sampler.size}`,
    );
  }
  trainer.setStep(state.step);
  return state.loop;
}
