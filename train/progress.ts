/**
 * A training progress bar: step/total, loss, rate and ETA, on an injectable writer (stderr by
 * default, so stdout stays free for data). On a terminal it redraws one line in place; when the
 * writer is not a terminal (CI logs, files) it prints plain, throttled lines instead.
 *
 * @module
 */

/**
 * Where progress goes: anything with `writeSync`, such as `Deno.stderr`.
 *
 * @example An in-memory writer
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressWriter } from "./progress.ts";
 * import { ProgressBar } from "./progress.ts";
 *
 * const chunks: string[] = [];
 * const writer: ProgressWriter = {
 *   writeSync: (b) => (chunks.push(new TextDecoder().decode(b)), b.length),
 *   isTerminal: () => false,
 * };
 * new ProgressBar({ total: 2, writer, now: () => 0 }).update(2);
 * assert.ok(chunks.join("").includes("2/2"));
 * ```
 */
export interface ProgressWriter {
  /** Writes bytes; returns how many were written. */
  writeSync(bytes: Uint8Array): number;
  /** True when the writer is an interactive terminal. */
  isTerminal?(): boolean;
}

/**
 * Options of `ProgressBar`.
 *
 * @example A labelled plain-line bar
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressOptions } from "./progress.ts";
 * import { ProgressBar } from "./progress.ts";
 *
 * const out: string[] = [];
 * const writer = { writeSync: (b: Uint8Array) => (out.push(new TextDecoder().decode(b)), b.length) };
 * const options: ProgressOptions = { total: 10, label: "rte seed 0", writer, tty: false, now: () => 0 };
 * new ProgressBar(options).update(10);
 * assert.ok(out.join("").startsWith("rte seed 0 10/10 100%"));
 * ```
 */
export interface ProgressOptions {
  /** Total steps. */
  readonly total: number;
  /** Step the bar starts at (e.g. after a resume); the rate counts only steps from here. */
  readonly start?: number;
  /** Writer (default `Deno.stderr`). */
  readonly writer?: ProgressWriter;
  /** Force terminal (`true`) or plain-line (`false`) output; default: ask the writer. */
  readonly tty?: boolean;
  /** Clock in milliseconds (default `performance.now`); injectable for tests. */
  readonly now?: () => number;
  /** Minimum milliseconds between redraws on a terminal (default 100). */
  readonly ttyIntervalMs?: number;
  /** Minimum milliseconds between plain lines (default 10 000). */
  readonly plainIntervalMs?: number;
  /** Prefix of every line (e.g. `rte seed 0`). */
  readonly label?: string;
  /** Bar width in characters on a terminal (default 24). */
  readonly barWidth?: number;
}

/**
 * What a progress line shows.
 *
 * @example Halfway with an ETA
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressState } from "./progress.ts";
 * import { formatProgressLine } from "./progress.ts";
 *
 * const state: ProgressState = { step: 5, total: 10, etaSeconds: 42, label: "rte" };
 * assert.equal(formatProgressLine(state), "rte 5/10 50% ETA 42s");
 * ```
 */
export interface ProgressState {
  /** Steps done. */
  readonly step: number;
  /** Total steps. */
  readonly total: number;
  /** Latest loss, if known. */
  readonly loss?: number;
  /** Steps per second, if known. */
  readonly rate?: number;
  /** Seconds left, if known. */
  readonly etaSeconds?: number;
  /** Prefix. */
  readonly label?: string;
}

/**
 * Formats a duration as `1h02m`, `3m07s` or `42s`.
 *
 * @param seconds A duration; negative or non-finite values print as `?`.
 * @returns The compact text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./progress.ts";
 *
 * assert.equal(formatDuration(42), "42s");
 * assert.equal(formatDuration(187), "3m07s");
 * assert.equal(formatDuration(3720), "1h02m");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(s / 3600);
  return `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * Formats one progress line (no bar, no control characters): label, step/total, percent,
 * loss, rate, ETA.
 *
 * @param state What to show.
 * @returns The line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProgressLine } from "./progress.ts";
 *
 * assert.equal(
 *   formatProgressLine({ step: 390, total: 3900, loss: 0.6931, rate: 2.5, etaSeconds: 1404 }),
 *   "390/3900 10% loss 0.6931 2.50 step/s ETA 23m24s",
 * );
 * ```
 */
export function formatProgressLine(state: ProgressState): string {
  const pct = state.total > 0 ? Math.floor((100 * state.step) / state.total) : 100;
  const parts = [`${state.step}/${state.total}`, `${pct}%`];
  if (state.label !== undefined && state.label !== "") parts.unshift(state.label);
  if (state.loss !== undefined) {
    parts.push(`loss ${Number.isFinite(state.loss) ? state.loss.toFixed(4) : String(state.loss)}`);
  }
  if (state.rate !== undefined && Number.isFinite(state.rate)) {
    parts.push(
      state.rate >= 1 || state.rate === 0
        ? `${state.rate.toFixed(2)} step/s`
        : `${(1 / state.rate).toFixed(2)} s/step`,
    );
  }
  if (state.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(state.etaSeconds)}`);
  return parts.join(" ");
}

const encoder = new TextEncoder();

/**
 * A progress bar for a loop of `total` steps. Call `update(step, loss)` after every step and
 * `done()` at the end; output is throttled, so calling every step is cheap.
 *
 * @example Plain lines on a non-terminal writer
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProgressBar } from "./progress.ts";
 *
 * const chunks: string[] = [];
 * const writer = { writeSync: (b: Uint8Array) => (chunks.push(new TextDecoder().decode(b)), b.length) };
 * let t = 0;
 * const bar = new ProgressBar({ total: 4, writer, tty: false, now: () => t, plainIntervalMs: 0 });
 * for (let step = 1; step <= 4; step++) {
 *   t += 500;
 *   bar.update(step, 0.5);
 * }
 * bar.done();
 * assert.ok(chunks.at(-1)?.startsWith("4/4 100% loss 0.5000 2.00 step/s"));
 * ```
 */
export class ProgressBar {
  readonly #total: number;
  readonly #start: number;
  readonly #writer: ProgressWriter;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #ttyInterval: number;
  readonly #plainInterval: number;
  readonly #label: string;
  readonly #barWidth: number;
  readonly #t0: number;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #step: number;
  #loss: number | undefined;
  #finished = false;
  #drawnStep = Number.NaN;

  /**
   * Creates the bar; nothing is written until the first `update`.
   *
   * @param options Total steps, writer, clock and throttling.
   */
  constructor(options: ProgressOptions) {
    if (!Number.isInteger(options.total) || options.total < 0) {
      throw new RangeError(
        `Cannot create a progress bar as total must be a non-negative integer: current value is ${options.total}`,
      );
    }
    this.#total = options.total;
    this.#start = options.start ?? 0;
    this.#step = this.#start;
    this.#writer = options.writer ?? Deno.stderr;
    this.#tty = options.tty ?? (this.#writer.isTerminal?.() ?? false);
    this.#now = options.now ?? (() => performance.now());
    this.#ttyInterval = options.ttyIntervalMs ?? 100;
    this.#plainInterval = options.plainIntervalMs ?? 10_000;
    this.#label = options.label ?? "";
    this.#barWidth = options.barWidth ?? 24;
    this.#t0 = this.#now();
  }

  /**
   * Records progress and redraws when the throttle allows (always at the last step).
   *
   * @param step Steps done so far.
   * @param loss The latest training loss, if any.
   */
  update(step: number, loss?: number): void {
    this.#step = step;
    if (loss !== undefined) this.#loss = loss;
    const now = this.#now();
    const interval = this.#tty ? this.#ttyInterval : this.#plainInterval;
    const first = this.#lastDraw === Number.NEGATIVE_INFINITY;
    if (step >= this.#total || first || now - this.#lastDraw >= interval) this.#draw(now);
  }

  /** The current state (rate and ETA from the steps done since `start`). */
  get state(): ProgressState {
    const elapsed = (this.#now() - this.#t0) / 1000;
    const done = this.#step - this.#start;
    const rate = elapsed > 0 && done > 0 ? done / elapsed : undefined;
    const state: {
      -readonly [K in keyof ProgressState]: ProgressState[K];
    } = { step: this.#step, total: this.#total, label: this.#label };
    if (this.#loss !== undefined) state.loss = this.#loss;
    if (rate !== undefined) {
      state.rate = rate;
      state.etaSeconds = Math.max(0, this.#total - this.#step) / rate;
    }
    return state;
  }

  /** Draws the final state (unless already shown) and ends the terminal line; idempotent. */
  done(): void {
    if (this.#finished) return;
    if (this.#drawnStep !== this.#step) this.#draw(this.#now());
    if (this.#tty) this.#write("\n");
    this.#finished = true;
  }

  #draw(now: number): void {
    this.#lastDraw = now;
    this.#drawnStep = this.#step;
    const line = formatProgressLine(this.state);
    if (this.#tty) {
      const frac = this.#total > 0 ? Math.min(1, this.#step / this.#total) : 1;
      const full = Math.round(frac * this.#barWidth);
      const bar = `[${"#".repeat(full)}${".".repeat(this.#barWidth - full)}]`;
      this.#write(`\r\x1b[2K${bar} ${line}`);
    } else {
      this.#write(`${line}\n`);
    }
  }

  #write(text: string): void {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += this.#writer.writeSync(bytes.subarray(offset));
  }
}
