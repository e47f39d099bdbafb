/**
 * Whether the active backend multiplies by a transposed operand about as fast as by a plain one,
 * read without importing the wasm backend (importing it would register it and change tfjs's
 * default backend for programs that never asked for it).
 *
 * @internal
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The tfjs flag `ops/wasm_batch_matmul.ts` registers and keeps current. */
export const FAST_TRANSPOSED_FLAG = "TRIADAPT_WASM_FAST_TRANSPOSED_MATMUL";

/**
 * `true` on every backend but wasm; on wasm, the flag's value (the relaxed-SIMD product is in
 * use), `false` while the flag is not registered.
 *
 * @returns Whether to multiply with transpose flags rather than transposing first.
 */
export function fastTransposedProducts(): boolean {
  if (tf.getBackend() !== "wasm") return true;
  const registry = (tf.env() as unknown as { flagRegistry: Record<string, unknown> }).flagRegistry;
  return registry[FAST_TRANSPOSED_FLAG] != null && tf.env().getBool(FAST_TRANSPOSED_FLAG);
}
