/**
 * Peak tensor bytes of one computation, as `tf.profile` reports it, for computations of any size.
 *
 * `tf.profile` (tfjs-core 4.22.0) takes the maximum of its kernel records with
 * `Math.max(...records)`, which overflows the call stack past about 10⁵ kernels (a 12-layer
 * TriAdaptLoRA step over 8 micro-batches with recomputation has more). The records are complete by
 * then, so on that `RangeError` the maximum is taken here with a loop instead.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface ProfileState {
  readonly activeProfile?: { readonly kernels?: readonly { totalBytesSnapshot: number }[] };
}

/**
 * Runs `run` under `tf.profile` and returns the peak of the engine's tensor bytes during it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { profilePeakBytes } from "./profile_peak.ts";
 *
 * await tf.setBackend("cpu");
 * const x = tf.ones([256]);
 * const peak = await profilePeakBytes(() => tf.tidy(() => x.add(1).mul(2)).dispose());
 * assert.ok(peak >= 2 * 256 * 4);
 * x.dispose();
 * ```
 *
 * @param run The computation (sync or async).
 * @returns Peak bytes.
 */
export async function profilePeakBytes(run: () => unknown): Promise<number> {
  let finished = false;
  try {
    const info = await tf.profile(async () => {
      const out = await run();
      finished = true;
      return out as tf.TensorContainer;
    });
    return info.peakBytes;
  } catch (error) {
    // Only tfjs's own reduction over a complete record list is worked around.
    if (!(error instanceof RangeError) || !finished) throw error;
    const kernels = (tf.engine().state as unknown as ProfileState).activeProfile?.kernels ?? [];
    let peak = -Infinity;
    for (const k of kernels) if (k.totalBytesSnapshot > peak) peak = k.totalBytesSnapshot;
    if (!Number.isFinite(peak)) throw error;
    return peak;
  }
}
