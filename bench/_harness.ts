/**
 * Timing, memory and report helpers shared by the `deno task bench` sections: warm-up + timed
 * repeats summarised as median and spread, tensor-memory snapshots, markdown tables, machine
 * info, and the section shape that `bench/main.ts` registers.
 *
 * @internal
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Median and spread of a set of timings, in milliseconds. */
export interface Timing {
  /** Median of the timed repeats. */
  readonly median: number;
  /** Fastest repeat. */
  readonly min: number;
  /** Slowest repeat. */
  readonly max: number;
  /** Every timed repeat, in run order (warm-up excluded). */
  readonly samples: readonly number[];
}

/**
 * Summarises timings (ms) as median, min and max.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarise } from "./_harness.ts";
 *
 * const t = summarise([3, 1, 2, 10]);
 * assert.equal(t.median, 2.5);
 * assert.equal(t.min, 1);
 * assert.equal(t.max, 10);
 * ```
 *
 * @param samples At least one finite timing.
 * @returns The summary (samples kept in run order).
 * @throws {RangeError} On an empty list or a non-finite entry.
 */
export function summarise(samples: readonly number[]): Timing {
  if (samples.length === 0 || !samples.every(Number.isFinite)) {
    throw new RangeError(
      `Cannot summarise timings as samples must be a non-empty list of finite numbers: current value is [${samples}]`,
    );
  }
  const s = [...samples].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, samples: [...samples] };
}

/** Warm-up and repeat counts of one measurement. */
export interface RepeatOptions {
  /** Untimed runs first (compilation, kernel caches, allocator growth). */
  readonly warmup: number;
  /** Timed runs (≥ 1). */
  readonly repeats: number;
}

/**
 * Runs `fn` `warmup` times untimed, then `repeats` times timed. The clock stops when the promise
 * returned by `fn` resolves, so `fn` must `await` a data read of what it computed (tfjs kernels
 * may otherwise still be queued).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { timeAsync } from "./_harness.ts";
 *
 * let calls = 0;
 * const t = await timeAsync(async () => {
 *   calls++;
 *   const y = tf.tidy(() => tf.ones([4]).mul(2));
 *   await y.data();
 *   y.dispose();
 * }, { warmup: 1, repeats: 3 });
 * assert.equal(calls, 4);
 * assert.equal(t.samples.length, 3);
 * assert.ok(t.min >= 0 && t.min <= t.median && t.median <= t.max);
 * ```
 *
 * @param fn The work to time; resolves after its results were read.
 * @param options Warm-up and repeat counts.
 * @returns The timings of the repeats.
 * @throws {RangeError} When the counts are not integers (`repeats ≥ 1`, `warmup ≥ 0`).
 */
export async function timeAsync(
  fn: () => Promise<void>,
  options: RepeatOptions,
): Promise<Timing> {
  const { warmup, repeats } = options;
  if (!Number.isInteger(warmup) || warmup < 0 || !Number.isInteger(repeats) || repeats < 1) {
    throw new RangeError(
      `Cannot time function as warmup must be an integer >= 0 and repeats an integer >= 1: current values are ${warmup}, ${repeats}`,
    );
  }
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return summarise(samples);
}

/** Live tensors and their bytes, as `tf.memory()` reports them. */
export interface MemorySnapshot {
  /** `tf.memory().numTensors`. */
  readonly numTensors: number;
  /** `tf.memory().numBytes`. */
  readonly numBytes: number;
}

/**
 * The current tensor count and bytes of the active tfjs backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { memorySnapshot } from "./_harness.ts";
 *
 * const before = memorySnapshot();
 * const t = tf.zeros([10]);
 * assert.equal(memorySnapshot().numTensors, before.numTensors + 1);
 * assert.equal(memorySnapshot().numBytes, before.numBytes + 40);
 * t.dispose();
 * ```
 *
 * @returns The snapshot.
 */
export function memorySnapshot(): MemorySnapshot {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes };
}

/**
 * Formats milliseconds for a table: 3 significant digits below 100 ms, whole ms above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMs } from "./_harness.ts";
 *
 * assert.equal(formatMs(0.01234), "0.0123");
 * assert.equal(formatMs(12.345), "12.3");
 * assert.equal(formatMs(1234.5), "1235");
 * ```
 *
 * @param ms Milliseconds.
 * @returns The text.
 */
export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3);
}

/**
 * Formats a timing as `median (min–max)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTiming, summarise } from "./_harness.ts";
 *
 * assert.equal(formatTiming(summarise([1, 2, 3])), "2.00 (1.00–3.00)");
 * ```
 *
 * @param t The timing.
 * @returns The text.
 */
export function formatTiming(t: Timing): string {
  return `${formatMs(t.median)} (${formatMs(t.min)}–${formatMs(t.max)})`;
}

/**
 * Formats a byte count in MiB with two decimals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMiB } from "./_harness.ts";
 *
 * assert.equal(formatMiB(3 * 1024 * 1024), "3.00");
 * ```
 *
 * @param bytes Bytes.
 * @returns The text.
 */
export function formatMiB(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(2);
}

/**
 * A markdown table (cells are written as given; `|` in a cell is escaped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markdownTable } from "./_harness.ts";
 *
 * assert.equal(
 *   markdownTable(["a", "b"], [["1", "x|y"]]),
 *   "| a | b |\n| --- | --- |\n| 1 | x\\|y |",
 * );
 * ```
 *
 * @param header Column titles.
 * @param rows Rows, each as long as the header.
 * @returns The table, without a trailing newline.
 * @throws {TypeError} When a row has the wrong length.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const esc = (c: string): string => c.replaceAll("|", "\\|");
  const line = (cells: readonly string[]): string => `| ${cells.map(esc).join(" | ")} |`;
  rows.forEach((row, i) => {
    if (row.length !== header.length) {
      throw new TypeError(
        `Cannot format table as row ${i} must have ${header.length} cells: current value is ${row.length}`,
      );
    }
  });
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The machine and runtime a report was measured on. */
export interface MachineInfo {
  /** `navigator.hardwareConcurrency`. */
  readonly cores: number;
  /** CPU model from `/proc/cpuinfo` (needs `--allow-all`), else `$BENCH_CPU`, else `"unknown"`. */
  readonly cpu: string;
  /** Total memory from `/proc/meminfo` in GiB, or `null`. */
  readonly memoryGiB: number | null;
  /** `Deno.build.os`/`Deno.build.arch`. */
  readonly platform: string;
  /** Deno version. */
  readonly deno: string;
  /** V8 version. */
  readonly v8: string;
  /** tfjs-core version. */
  readonly tfjs: string;
  /** Active backend. */
  readonly backend: string;
  /** Wasm SIMD / multithread flags as tfjs reports them (wasm backend only, else `null`). */
  readonly wasmFeatures: { readonly simd: boolean; readonly threads: boolean } | null;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function envCpu(): string | undefined {
  try {
    return Deno.env.get("BENCH_CPU") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Describes the machine and runtime (reads `/proc` when allowed; never fails).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { machineInfo } from "./_harness.ts";
 *
 * const info = await machineInfo();
 * assert.ok(info.cores >= 1);
 * assert.equal(info.deno, Deno.version.deno);
 * ```
 *
 * @returns The description.
 */
export async function machineInfo(): Promise<MachineInfo> {
  await tf.ready();
  const cpuinfo = readText("/proc/cpuinfo");
  // Deno reads /proc only with --allow-all; BENCH_CPU (allowed by --allow-env) can name the CPU.
  const cpu = cpuinfo?.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? envCpu() ?? "unknown";
  const memKb = readText("/proc/meminfo")?.match(/^MemTotal:\s*(\d+)\s*kB/m)?.[1];
  const backend = tf.getBackend();
  let wasmFeatures: MachineInfo["wasmFeatures"] = null;
  if (backend === "wasm") {
    const flag = async (name: string): Promise<boolean> => {
      try {
        return Boolean(await tf.env().getAsync(name));
      } catch {
        return false;
      }
    };
    wasmFeatures = {
      simd: await flag("WASM_HAS_SIMD_SUPPORT"),
      threads: await flag("WASM_HAS_MULTITHREAD_SUPPORT"),
    };
  }
  return {
    cores: navigator.hardwareConcurrency,
    cpu,
    memoryGiB: memKb === undefined ? null : Math.round(Number(memKb) / 1048576 * 10) / 10,
    platform: `${Deno.build.os}/${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    tfjs: tf.version_core,
    backend,
    wasmFeatures,
  };
}

/**
 * Formats {@linkcode MachineInfo} as one markdown line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMachine, machineInfo } from "./_harness.ts";
 *
 * assert.match(formatMachine(await machineInfo()), /cores/);
 * ```
 *
 * @param info The machine info.
 * @returns The line.
 */
export function formatMachine(info: MachineInfo): string {
  const wasm = info.wasmFeatures === null
    ? ""
    : ` (SIMD ${info.wasmFeatures.simd ? "on" : "off"}, threads ${
      info.wasmFeatures.threads ? "on" : "off"
    })`;
  const mem = info.memoryGiB === null ? "" : `, ${info.memoryGiB} GiB RAM`;
  return `${info.cores} cores (${info.cpu}${mem}), ${info.platform}, Deno ${info.deno}, V8 ${info.v8}, ` +
    `tfjs ${info.tfjs}, backend \`${info.backend}\`${wasm}`;
}

/** What a section gets from the runner. */
export interface BenchContext {
  /** `--quick`: small shapes and few repeats only. */
  readonly quick: boolean;
  /** The default backend the runner initialised (sections may switch and must switch back). */
  readonly backend: string;
  /** Progress to stderr (stdout carries the report). */
  log(message: string): void;
  /** `--jobs`: planted runs at once, each in its own worker (default 1). */
  readonly jobs?: number;
  /** `--seeds`: the planted sections' seeds (default: each section's own). */
  readonly seeds?: readonly number[];
  /** `--rows`: the planted sections' row ids (default: every row). */
  readonly rows?: readonly string[];
}

/** What a section returns: markdown for `bench.md` and plain data for `bench.json`. */
export interface BenchSectionResult {
  /** Markdown, starting with a `##`/`###` heading. */
  readonly markdown: string;
  /** JSON-serialisable measurements (omit when the section only has markdown). */
  readonly data?: unknown;
}

/** One entry of the bench registry (`bench/main.ts` `SECTIONS`). */
export interface BenchSection {
  /** Short name for `--only`, e.g. `"step"`. */
  readonly name: string;
  /** One-line description for `--help`. */
  readonly description: string;
  /**
   * Runs the section.
   *
   * @param ctx Runner context.
   * @returns The section's report.
   */
  run(ctx: BenchContext): Promise<BenchSectionResult>;
}
