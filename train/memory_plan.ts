/**
 * Memory before the first step (docs/METHOD.md §22): resolves `--recompute auto` from the
 * estimated peak of one step (`core/memory_estimate.ts`) and the memory the backend has, and
 * turns a step that cannot fit — estimated before anything is allocated, or a wasm `Aborted()`
 * / allocation failure during a step — into one line that says what the step needs, what the
 * backend has and which flags fix it.
 *
 * @module
 */

import { estimateStepMemory, examplesPerPass, type StepShape } from "../core/memory_estimate.ts";
import { wasmTransposedProductsFast } from "../ops/wasm_batch_matmul.ts";

/** The wasm heap's ceiling: 32-bit addressing, 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * Share of the backend's memory a step may plan to use: the rest covers what the estimate does
 * not count (token ids, losses, the allocator's fragmentation, the heap's growth steps).
 */
export const HEADROOM = 0.85;

/**
 * A step that does not fit the backend's memory (bad settings for this machine: exit 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StepMemoryError } from "./memory_plan.ts";
 *
 * assert.ok(new StepMemoryError("x") instanceof RangeError);
 * ```
 */
export class StepMemoryError extends RangeError {
  /** @param message The one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "StepMemoryError";
  }
}

/**
 * The encoder's shape as the estimate needs it (a DeBERTa config has these fields).
 *
 * @example
 * ```ts
 * import type { EncoderSize } from "./memory_plan.ts";
 *
 * const size: EncoderSize = {
 *   numHiddenLayers: 12, hiddenSize: 768, intermediateSize: 3072, numAttentionHeads: 12,
 *   vocabSize: 128100,
 * };
 * ```
 */
export interface EncoderSize {
  /** Encoder layers. */
  readonly numHiddenLayers: number;
  /** Hidden width. */
  readonly hiddenSize: number;
  /** Feed-forward width. */
  readonly intermediateSize: number;
  /** Attention heads. */
  readonly numAttentionHeads: number;
  /** Embedding rows. */
  readonly vocabSize: number;
}

/**
 * The `--recompute` values: `on` (each layer runs again in its gradient), `selective` (only the
 * attention core, LayerNorms and GELU run again), `off`, and `auto` (off when the plain step
 * fits, else selective when it fits, else on).
 *
 * @example
 * ```ts
 * import type { RecomputeFlag } from "./memory_plan.ts";
 *
 * const flag: RecomputeFlag = "selective";
 * console.log(flag);
 * ```
 */
export type RecomputeFlag = "on" | "off" | "auto" | "selective";

/**
 * What {@linkcode planStepMemory} needs.
 *
 * @example
 * ```ts
 * import type { StepMemoryRequest } from "./memory_plan.ts";
 *
 * const request: StepMemoryRequest = {
 *   encoder: { numHiddenLayers: 1, hiddenSize: 8, intermediateSize: 16, numAttentionHeads: 2,
 *     vocabSize: 16 },
 *   batchSize: 4, seqLength: 4, workers: 1, trainable: 100, recompute: "auto", limitBytes: 2 ** 30,
 * };
 * ```
 */
export interface StepMemoryRequest {
  /** The encoder. */
  readonly encoder: EncoderSize;
  /** Examples per optimizer step. */
  readonly batchSize: number;
  /** Tokens per example (`--max-length`: the longest a batch can be). */
  readonly seqLength: number;
  /** Examples per micro-batch (absent: none). */
  readonly microBatch?: number;
  /** Gradient workers (1: in-process); each has its own heap. */
  readonly workers: number;
  /** Trainable parameters (adapters at their largest, and the head). */
  readonly trainable: number;
  /** `--recompute`. */
  readonly recompute: RecomputeFlag;
  /** Memory of one heap in bytes (`Infinity`: no known limit, nothing is refused). */
  readonly limitBytes: number;
  /**
   * Whether the model keeps a transposed copy of each frozen linear weight for the backward pass
   * (wasm with the XNNPACK product only); default `true`.
   */
  readonly keptWeightCopies?: boolean;
}

/**
 * The outcome of {@linkcode planStepMemory}.
 *
 * @example
 * ```ts
 * import type { StepMemoryPlan } from "./memory_plan.ts";
 *
 * const plan: StepMemoryPlan = { recompute: false, neededBytes: 1, limitBytes: 2 };
 * ```
 */
export interface StepMemoryPlan {
  /** How the step keeps activations: `false`, `true` (whole layers again) or `"selective"`. */
  readonly recompute: boolean | "selective";
  /** The estimated peak of one heap's step. */
  readonly neededBytes: number;
  /** The heap's memory. */
  readonly limitBytes: number;
}

/**
 * Formats bytes as GiB or MiB with one decimal.
 *
 * @param bytes A byte count.
 * @returns E.g. `15.4 GiB`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./memory_plan.ts";
 *
 * assert.equal(formatBytes(4 * 2 ** 30), "4.0 GiB");
 * assert.equal(formatBytes(3 * 2 ** 20), "3.0 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "no fixed limit";
  return bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
    : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function needed(
  request: StepMemoryRequest,
  recompute: boolean | "selective",
  microBatch?: number,
): number {
  const { encoder: e } = request;
  const shape: StepShape = {
    layers: e.numHiddenLayers,
    hidden: e.hiddenSize,
    intermediate: e.intermediateSize,
    heads: e.numAttentionHeads,
    vocab: e.vocabSize,
    batch: examplesPerPass(request.batchSize, microBatch, request.workers),
    seqLength: request.seqLength,
    trainable: request.trainable,
    recompute,
    ...(request.keptWeightCopies === undefined
      ? {}
      : { keptWeightCopies: request.keptWeightCopies }),
  };
  return estimateStepMemory(shape).total;
}

/**
 * The flags that make a step fit: recomputation if it is off, then the largest micro-batch
 * (a power of two below the batch) that fits with it; empty when nothing fits.
 */
function fixes(request: StepMemoryRequest, budget: number): string {
  const out: string[] = [];
  const selective = needed(request, "selective", request.microBatch);
  if (request.recompute !== "on" && request.recompute !== "selective" && selective <= budget) {
    return `--recompute selective (about ${
      formatBytes(selective)
    }), or --micro-batch / --workers (each worker has its own heap)`;
  }
  if (request.recompute !== "on" && needed(request, true, request.microBatch) <= budget) {
    return `--recompute on (about ${
      formatBytes(needed(request, true, request.microBatch))
    }), or --micro-batch / --workers (each worker has its own heap)`;
  }
  const pass = examplesPerPass(request.batchSize, request.microBatch, request.workers);
  for (let m = 2 ** Math.floor(Math.log2(Math.max(1, pass - 1))); m >= 1; m = m / 2) {
    if (m >= pass) continue;
    const bytes = needed(request, true, m);
    if (bytes <= budget) {
      const flag = request.recompute === "off" || request.recompute === "selective"
        ? "--recompute on "
        : "";
      out.push(`${flag}--micro-batch ${m} (about ${formatBytes(bytes)})`);
      break;
    }
  }
  if (out.length === 0) {
    return "no --micro-batch, --recompute or --workers setting fits this model; use a smaller --max-length or a backend with more memory";
  }
  return `${out[0]}, or more --workers (each worker has its own heap)`;
}

/**
 * **Plans a step's memory**: resolves `--recompute auto` (off when the plain step fits the
 * heap's budget, `HEADROOM` of its memory; else selective when that fits; else on) and refuses
 * a step that would not fit.
 *
 * @param request The encoder, batch, length, parallel settings, recompute choice and limit.
 * @returns Whether to recompute, and the estimate.
 * @throws {StepMemoryError} One line: what the step needs, what the backend has, which flags
 * fix it.
 *
 * @example DeBERTa-v3-base at 8 × 128 on wasm: auto picks selective recomputation
 * ```ts
 * import assert from "node:assert/strict";
 * import { planStepMemory, WASM_HEAP_BYTES } from "./memory_plan.ts";
 *
 * const encoder = { numHiddenLayers: 12, hiddenSize: 768, intermediateSize: 3072,
 *   numAttentionHeads: 12, vocabSize: 128100 };
 * const request = { encoder, batchSize: 8, seqLength: 128, workers: 1, trainable: 1_327_104,
 *   limitBytes: WASM_HEAP_BYTES };
 * assert.equal(planStepMemory({ ...request, recompute: "auto" }).recompute, "selective");
 * assert.throws(() => planStepMemory({ ...request, recompute: "off" }), /--recompute selective/);
 * ```
 */
export function planStepMemory(request: StepMemoryRequest): StepMemoryPlan {
  const budget = request.limitBytes * HEADROOM;
  const recompute = resolveRecompute(request, budget);
  const bytes = needed(request, recompute, request.microBatch);
  if (bytes > budget) {
    throw new StepMemoryError(
      `Cannot run a training step as it needs about ${formatBytes(bytes)} (${
        describeStep(request, recompute)
      }) and the backend has ${formatBytes(request.limitBytes)}: use ${fixes(request, budget)}`,
    );
  }
  return { recompute, neededBytes: bytes, limitBytes: request.limitBytes };
}

/** `--recompute` as the model's mode; `auto` takes the first of off, selective, on that fits. */
function resolveRecompute(request: StepMemoryRequest, budget: number): boolean | "selective" {
  switch (request.recompute) {
    case "on":
      return true;
    case "off":
      return false;
    case "selective":
      return "selective";
    default:
      if (needed(request, false, request.microBatch) <= budget) return false;
      return needed(request, "selective", request.microBatch) <= budget ? "selective" : true;
  }
}

function describeStep(request: StepMemoryRequest, recompute: boolean | "selective"): string {
  const pass = examplesPerPass(request.batchSize, request.microBatch, request.workers);
  return `${pass} × ${request.seqLength} tokens per pass, ${request.encoder.numHiddenLayers} layers, recompute ${
    recompute === "selective" ? "selective" : recompute ? "on" : "off"
  }`;
}

/**
 * Whether an error is the backend running out of memory: the wasm module's `Aborted()`, a
 * failed `ArrayBuffer`/`WebAssembly.Memory` growth, or an "out of memory" message.
 *
 * @param error Anything thrown.
 * @returns True for an out-of-memory failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isOutOfMemory } from "./memory_plan.ts";
 *
 * assert.ok(isOutOfMemory(new Error("Aborted(). Build with -sASSERTIONS for more info.")));
 * assert.ok(!isOutOfMemory(new Error("bad flag")));
 * ```
 */
export function isOutOfMemory(error: unknown): boolean {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return /Aborted\(|out of memory|Array buffer allocation failed|could not allocate memory|WebAssembly\.Memory\.grow|Cannot enlarge memory/i
    .test(message);
}

/**
 * The one-line error for a step that ran out of memory, with the estimate and the fixes.
 *
 * @param error The caught error (its first line is quoted).
 * @param request The step's request, for the estimate and the fixes.
 * @returns A {@linkcode StepMemoryError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outOfMemoryError } from "./memory_plan.ts";
 *
 * const e = outOfMemoryError(new Error("Aborted()"), {
 *   encoder: { numHiddenLayers: 1, hiddenSize: 8, intermediateSize: 16, numAttentionHeads: 2,
 *     vocabSize: 16 },
 *   batchSize: 4, seqLength: 4, workers: 1, trainable: 10, recompute: "off", limitBytes: 2 ** 32,
 * });
 * assert.match(e.message, /ran out of memory/);
 * ```
 */
export function outOfMemoryError(error: unknown, request: StepMemoryRequest): StepMemoryError {
  const first = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  // What ran: auto's choice for this request (the leanest mode if even that cannot fit).
  const recompute = resolveRecompute(request, request.limitBytes * HEADROOM);
  const bytes = needed(request, recompute, request.microBatch);
  const budget = Math.min(bytes, request.limitBytes * HEADROOM) * 0.5;
  return new StepMemoryError(
    `Cannot run a training step as the backend ran out of memory (${first.trim()}; estimated need about ${
      formatBytes(bytes)
    }, ${describeStep(request, recompute)}; the backend has ${
      formatBytes(request.limitBytes)
    }): use ${fixes(request, budget)}`,
  );
}

/**
 * The memory one heap of `backend` has: the wasm heap's 4 GiB; no fixed limit elsewhere. The
 * environment variable `TRIADAPT_HEAP_LIMIT_MIB` overrides it (tests force a small limit).
 *
 * @param backend The backend name.
 * @returns Bytes, or `Infinity`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backendMemoryLimit } from "./memory_plan.ts";
 *
 * if (Deno.env.get("TRIADAPT_HEAP_LIMIT_MIB") === undefined) {
 *   assert.equal(backendMemoryLimit("wasm"), 4 * 2 ** 30);
 *   assert.equal(backendMemoryLimit("cpu"), Infinity);
 * }
 * ```
 */
export function backendMemoryLimit(backend: string): number {
  let forced: string | undefined;
  try {
    forced = Deno.env.get("TRIADAPT_HEAP_LIMIT_MIB");
  } catch {
    forced = undefined;
  }
  if (forced !== undefined && forced !== "") {
    const mib = Number(forced);
    if (!Number.isFinite(mib) || mib <= 0) {
      throw new RangeError(
        `Cannot plan step memory as TRIADAPT_HEAP_LIMIT_MIB must be a positive number: current value is ${forced}`,
      );
    }
    return mib * 2 ** 20;
  }
  return backend === "wasm" ? WASM_HEAP_BYTES : Infinity;
}

/**
 * An upper estimate of the trainable parameters: every linear of every layer at rank
 * `maxRank` (`r·(in + out)` each; six linears per layer, four `h×h` and two `h×I`), and the
 * classification head (`h×h + h·labels` with biases).
 *
 * @param encoder The encoder.
 * @param maxRank The largest rank a module may reach.
 * @param labels Head outputs.
 * @returns The parameter count.
 *
 * @example DeBERTa-v3-base, rank 8: about 1.3 M adapter parameters
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainableEstimate } from "./memory_plan.ts";
 *
 * const n = trainableEstimate({ numHiddenLayers: 12, hiddenSize: 768, intermediateSize: 3072,
 *   numAttentionHeads: 12, vocabSize: 128100 }, 8, 2);
 * assert.ok(n > 1.3e6 && n < 2e6);
 * ```
 */
export function trainableEstimate(encoder: EncoderSize, maxRank: number, labels: number): number {
  const h = encoder.hiddenSize;
  const perLayer = maxRank * (4 * 2 * h + 2 * (h + encoder.intermediateSize));
  return encoder.numHiddenLayers * perLayer + h * h + h + h * labels + labels;
}

/**
 * The step-memory request of a training run's options (`--batch-size`, `--max-length`,
 * `--micro-batch`, the resolved worker count, `--recompute`, the ranks and the backend).
 *
 * @param encoder The encoder's sizes (its config).
 * @param options The run's options.
 * @param workers The resolved worker count.
 * @returns The request for {@linkcode planStepMemory}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stepMemoryRequest } from "./memory_plan.ts";
 *
 * const r = stepMemoryRequest(
 *   { numHiddenLayers: 1, hiddenSize: 8, intermediateSize: 16, numAttentionHeads: 2, vocabSize: 16 },
 *   { batchSize: 4, maxLength: 16, refRank: 2, initRank: 1, adaloraInitRank: 3, backend: "cpu" },
 *   1,
 * );
 * assert.equal(r.recompute, "auto");
 * ```
 */
export function stepMemoryRequest(
  encoder: EncoderSize,
  options: {
    readonly batchSize: number;
    readonly maxLength: number;
    readonly microBatch?: number;
    readonly recompute?: RecomputeFlag;
    readonly refRank: number;
    readonly initRank: number;
    readonly adaloraInitRank: number;
    readonly backend: string;
  },
  workers: number,
): StepMemoryRequest {
  const maxRank = Math.max(2 * options.refRank, options.initRank, options.adaloraInitRank);
  return {
    encoder,
    batchSize: options.batchSize,
    seqLength: options.maxLength,
    ...(options.microBatch === undefined ? {} : { microBatch: options.microBatch }),
    workers,
    trainable: trainableEstimate(encoder, maxRank, 3),
    recompute: options.recompute ?? "auto",
    limitBytes: backendMemoryLimit(options.backend),
    keptWeightCopies: options.backend === "wasm" && !wasmTransposedProductsFast(),
  };
}
