/**
 * Shared tensor test helpers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";

/**
 * Runs `fn` once to warm up (kernels, caches), then again, and asserts that
 * `tf.memory().numTensors` is the same before and after the second run (modelled on tfjs-layers
 * `expectNoLeakedTensors`).
 *
 * @param fn The code under test; may be async (never returned from inside `tf.tidy`).
 * @param label Optional label for the failure message.
 */
export async function assertNoTensorLeak(
  fn: () => void | Promise<void>,
  label = "function",
): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  await fn();
  const after = tf.memory().numTensors;
  assert.equal(
    after,
    before,
    `${label} leaked ${after - before} tensor(s): numTensors ${before} -> ${after}`,
  );
}
