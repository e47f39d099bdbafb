/**
 * A seeded shuffling sampler whose whole state is one integer, the global batch position.
 *
 * Position `p` is batch `p % batchesPerEpoch` of epoch `floor(p / batchesPerEpoch)`; every epoch
 * is a fresh permutation drawn from `(seed, epoch)` alone. `batchAt(p)` is therefore a pure
 * function: a run resumed at position `p` (saved as JSON, e.g. `{ "position": 1234 }`) continues
 * bit-identically to an uninterrupted one.
 *
 * @module
 */

/**
 * Options of {@linkcode createSampler}.
 *
 * @example `dropLast` drops the partial batch
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SamplerOptions } from "./sampler.ts";
 * import { createSampler } from "./sampler.ts";
 *
 * const options: SamplerOptions = { size: 10, seed: 1, batchSize: 4, dropLast: true };
 * assert.equal(createSampler(options).batchesPerEpoch, 2);
 * assert.equal(createSampler({ ...options, dropLast: false }).batchesPerEpoch, 3);
 * ```
 */
export interface SamplerOptions {
  /** Number of examples. */
  size: number;
  /** Any safe integer. */
  seed: number;
  /** Examples per batch. */
  batchSize: number;
  /** Drop the last, smaller batch of each epoch (default false). */
  dropLast?: boolean;
}

/**
 * One batch.
 *
 * @example Position 4 is batch 1 of epoch 1
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SamplerBatch } from "./sampler.ts";
 * import { createSampler } from "./sampler.ts";
 *
 * const batch: SamplerBatch = createSampler({ size: 6, seed: 3, batchSize: 2 }).batchAt(4);
 * assert.deepEqual([batch.position, batch.epoch, batch.step], [4, 1, 1]);
 * assert.equal(batch.indices.length, 2);
 * ```
 */
export interface SamplerBatch {
  /** The global position of this batch (the sampler state that produced it). */
  position: number;
  /** The epoch this batch belongs to. */
  epoch: number;
  /** Batch number within the epoch. */
  step: number;
  /** Example indices. */
  indices: number[];
}

/**
 * The sampler.
 *
 * @example Every epoch is a permutation
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Sampler } from "./sampler.ts";
 * import { createSampler } from "./sampler.ts";
 *
 * const sampler: Sampler = createSampler({ size: 5, seed: 0, batchSize: 2 });
 * assert.deepEqual(sampler.permutation(2).toSorted((a, b) => a - b), [0, 1, 2, 3, 4]);
 * assert.deepEqual(sampler.iterate(3).next().value, sampler.batchAt(3));
 * ```
 */
export interface Sampler {
  /** Number of examples. */
  readonly size: number;
  /** The seed. */
  readonly seed: number;
  /** Examples per batch. */
  readonly batchSize: number;
  /** Whether the last partial batch of each epoch is dropped. */
  readonly dropLast: boolean;
  /** Batches per epoch (the stride of `position` per epoch). */
  readonly batchesPerEpoch: number;
  /** The order of epoch `epoch`: a permutation of `0..size-1`. */
  permutation(epoch: number): number[];
  /** The batch at global position `position` (≥ 0). */
  batchAt(position: number): SamplerBatch;
  /** Batches from `position` on, forever. */
  iterate(position?: number): Generator<SamplerBatch, never, undefined>;
}

/** murmur3's 32-bit finaliser. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32, seeded from (seed, epoch). */
function epochRng(seed: number, epoch: number): () => number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  let a = fmix32(lo ^ 0x9e3779b9);
  let b = fmix32(hi ^ fmix32(epoch + 0x7f4a7c15));
  let c = fmix32(a ^ b ^ 0x243f6a88);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new RangeError(
      `Cannot create sampler as ${name} must be a safe integer >= ${min}: current value is ${v}`,
    );
  }
  return v;
}

/**
 * Creates a seeded, resumable shuffling sampler (see the module doc for the state contract).
 *
 * @param options Size, seed, batch size and whether to drop the last partial batch.
 * @returns The sampler.
 *
 * @example Resume from a saved position
 * ```ts
 * import { createSampler } from "./sampler.ts";
 * import assert from "node:assert/strict";
 *
 * const s = createSampler({ size: 10, seed: 42, batchSize: 4 });
 * assert.equal(s.batchesPerEpoch, 3);
 * const saved = JSON.stringify({ position: 5 });
 * const resumed = createSampler({ size: 10, seed: 42, batchSize: 4 });
 * assert.deepEqual(resumed.batchAt(JSON.parse(saved).position), s.batchAt(5));
 * assert.equal(s.batchAt(5).epoch, 1);
 * ```
 */
export function createSampler(options: SamplerOptions): Sampler {
  const size = checkInt("size", options.size, 1);
  const seed = checkInt("seed", options.seed, Number.MIN_SAFE_INTEGER);
  const batchSize = checkInt("batchSize", options.batchSize, 1);
  const dropLast = options.dropLast ?? false;
  const batchesPerEpoch = dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  if (batchesPerEpoch === 0) {
    throw new RangeError(
      `Cannot create sampler as size must be >= batchSize when dropLast is set: current values are ${size} < ${batchSize}`,
    );
  }
  let cachedEpoch = -1;
  let cached: number[] = [];
  const permutation = (epoch: number): number[] => {
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      throw new RangeError(
        `Cannot shuffle as epoch must be a non-negative integer: current value is ${epoch}`,
      );
    }
    if (epoch !== cachedEpoch) {
      const rng = epochRng(seed, epoch);
      const perm = Array.from({ length: size }, (_, i) => i);
      for (let i = size - 1; i > 0; i--) {
        // Unbiased integer in [0, i] by rejection.
        const n = i + 1;
        const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
        let r = rng();
        while (r >= limit) r = rng();
        const j = r % n;
        const t = perm[i] as number;
        perm[i] = perm[j] as number;
        perm[j] = t;
      }
      cachedEpoch = epoch;
      cached = perm;
    }
    return [...cached];
  };
  const batchAt = (position: number): SamplerBatch => {
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new RangeError(
        `Cannot take a batch as position must be a non-negative integer: current value is ${position}`,
      );
    }
    const epoch = Math.floor(position / batchesPerEpoch);
    const step = position % batchesPerEpoch;
    permutation(epoch);
    const indices = cached.slice(step * batchSize, (step + 1) * batchSize);
    return { position, epoch, step, indices };
  };
  return Object.freeze({
    size,
    seed,
    batchSize,
    dropLast,
    batchesPerEpoch,
    permutation,
    batchAt,
    *iterate(position = 0): Generator<SamplerBatch, never, undefined> {
      for (let p = position;; p++) yield batchAt(p);
    },
  });
}
