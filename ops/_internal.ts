/**
 * Internal helpers of the `ops/` layer: variable naming, seed derivation, argument checks.
 *
 * @internal
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { EntryRegion } from "./adapter.ts";

/**
 * Returns `base` if no live tfjs variable carries that name, else `base#2`, `base#3`, …
 * (tfjs keeps variables in a global registry and throws on duplicate names).
 *
 * @internal
 * @param base Module-path name, e.g. `encoder.layer.0.query_proj.lora_A.0`.
 * @returns A name that is free in the registry right now.
 */
export function uniqueVariableName(base: string): string {
  const registry = tf.engine().registeredVariables;
  if (!(base in registry)) return base;
  for (let i = 2;; i++) {
    const candidate = `${base}#${i}`;
    if (!(candidate in registry)) return candidate;
  }
}

/**
 * `[rows, cols]` of a rectangle of a 2-D variable.
 *
 * @internal
 * @param region The rectangle.
 * @returns Its shape.
 */
export function regionShape(region: EntryRegion): [number, number] {
  return [region.rows[1] - region.rows[0], region.cols[1] - region.cols[0]];
}

/** Grown variable → the variable it replaced (set by an adapter's growth). */
const growths = new WeakMap<tf.Variable, tf.Variable>();

/**
 * Records that `next` replaces `previous` (a growth: same name, old entries at the same rows and
 * columns), so the optimizer moves `previous`'s moments to it.
 *
 * @internal
 * @param next The grown variable.
 * @param previous The variable it replaces.
 */
export function recordGrowth(next: tf.Variable, previous: tf.Variable): void {
  growths.set(next, previous);
}

/**
 * Whether `next` descends from `previous` through recorded growths.
 *
 * @internal
 * @param next A variable.
 * @param previous The variable an optimizer registered.
 * @returns `true` when `next` is a (repeated) growth of `previous`.
 */
export function grewFrom(next: tf.Variable, previous: tf.Variable): boolean {
  for (let v = growths.get(next); v !== undefined; v = growths.get(v)) {
    if (v === previous) return true;
  }
  return false;
}

/**
 * Creates a trainable float32 variable from a tensor (the tensor is disposed).
 *
 * @internal
 * @param init Initial value; ownership passes to the variable.
 * @param name Logical module-path name (made unique).
 * @returns The variable.
 */
export function makeVariable(init: tf.Tensor, name: string): tf.Variable {
  const v = tf.variable(init, true, uniqueVariableName(name), "float32");
  init.dispose();
  return v;
}

/**
 * Derives a 31-bit integer seed from a base seed and a label (FNV-1a), so each parameter
 * of each module gets its own deterministic stream.
 *
 * @internal
 * @param seed Base seed.
 * @param label What the stream is for (module name, parameter, block).
 * @returns A non-negative integer seed.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5;
  const text = `${seed}/${label}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}

/**
 * Checks that a value is a positive integer.
 *
 * @internal
 * @param what Human name of the value for the message.
 * @param value The value.
 */
export function assertPositiveInt(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create adapter as ${what} must be a positive integer: current value is ${value}`,
    );
  }
}

/**
 * Checks that a value is finite and strictly positive.
 *
 * @internal
 * @param what Human name of the value for the message.
 * @param value The value.
 */
export function assertPositive(what: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Cannot create adapter as ${what} must be finite and > 0: current value is ${value}`,
    );
  }
}

/**
 * Checks a dropout rate is in [0, 1).
 *
 * @internal
 * @param value The rate.
 */
export function assertDropout(value: number): void {
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new RangeError(
      `Cannot create adapter as dropout must be in [0, 1): current value is ${value}`,
    );
  }
}

/**
 * Checks the options every adapter shares, in this order: `inFeatures`, `outFeatures` (positive
 * integers), `seed` (a safe integer).
 *
 * @internal
 * @param options The adapter's options.
 */
export function assertAdapterShape(
  options: { readonly inFeatures: number; readonly outFeatures: number; readonly seed: number },
): void {
  assertPositiveInt("inFeatures", options.inFeatures);
  assertPositiveInt("outFeatures", options.outFeatures);
  assertSeed(options.seed);
}

/**
 * Reads and checks `alpha` (default 32, as the CLI's schema default, positive) and then `dropout` (default 0, in `[0, 1)`).
 *
 * @internal
 * @param options The adapter's options.
 * @returns The checked values.
 */
export function alphaAndDropout(
  options: { readonly alpha?: number; readonly dropout?: number },
): { alpha: number; dropout: number } {
  const alpha = options.alpha ?? 32;
  assertPositive("alpha", alpha);
  const dropout = options.dropout ?? 0;
  assertDropout(dropout);
  return { alpha, dropout };
}

/**
 * Reads and checks the EMA factors `beta1` and then `beta2` (default 0.85 each, in `[0, 1)`).
 *
 * @internal
 * @param options The adapter's options.
 * @returns The checked values.
 */
export function emaBetas(
  options: { readonly beta1?: number; readonly beta2?: number },
): { beta1: number; beta2: number } {
  const beta1 = options.beta1 ?? 0.85;
  const beta2 = options.beta2 ?? 0.85;
  for (const [what, b] of [["beta1", beta1], ["beta2", beta2]] as const) {
    if (!(b >= 0 && b < 1)) {
      throw new RangeError(
        `Cannot create adapter as ${what} must be in [0, 1): current value is ${b}`,
      );
    }
  }
  return { beta1, beta2 };
}

/**
 * Checks that a seed is a safe integer.
 *
 * @internal
 * @param value The seed.
 */
export function assertSeed(value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new TypeError(
      `Cannot create adapter as seed must be an integer: current value is ${value}`,
    );
  }
}

/**
 * Checks a 2-D input's feature count.
 *
 * @internal
 * @param x Input `[rows, in]`.
 * @param inFeatures Expected `in`.
 * @param name Adapter name for the message.
 */
export function assertInput(x: tf.Tensor, inFeatures: number, name: string): void {
  if (x.rank !== 2 || x.shape[1] !== inFeatures) {
    throw new TypeError(
      `Cannot apply adapter ${name} as x must have shape [rows, ${inFeatures}]: current shape is [${x.shape}]`,
    );
  }
}

/**
 * Applies seeded dropout to the adapter input (identity when not training or rate 0).
 *
 * @internal
 * @param x Input `[rows, in]`.
 * @param rate Dropout rate.
 * @param training Whether in training mode.
 * @param seed Seed for this call.
 * @returns The (possibly) dropped-out input.
 */
export function adapterDropout(
  x: tf.Tensor2D,
  rate: number,
  training: boolean,
  seed: string,
): tf.Tensor2D {
  if (!training || rate === 0) return x;
  return tf.dropout(x, rate, undefined, seed) as tf.Tensor2D;
}

/**
 * A pair of EMAs (sensitivity mean Ī and uncertainty Ū).
 *
 * @internal
 */
export interface Ema {
  /** Ī. */
  mean: tf.Tensor;
  /** Ū. */
  unc: tf.Tensor;
}

/**
 * Updates an (Ī, Ū) pair in place from the instantaneous importance `I` (PEFT order: Ū uses
 * the updated Ī).
 *
 * @internal
 * @param ema The pair, replaced in place.
 * @param instant Instantaneous importance.
 * @param beta1 β1.
 * @param beta2 β2.
 */
export function updateEma(ema: Ema, instant: tf.Tensor, beta1: number, beta2: number): void {
  const [mean, unc] = tf.tidy(() => {
    const m = ema.mean.mul(beta1).add(instant.mul(1 - beta1));
    const u = ema.unc.mul(beta2).add(tf.abs(instant.sub(m)).mul(1 - beta2));
    return [m, u];
  });
  ema.mean.dispose();
  ema.unc.dispose();
  ema.mean = mean as tf.Tensor;
  ema.unc = unc as tf.Tensor;
}
