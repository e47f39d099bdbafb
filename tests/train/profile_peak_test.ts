import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { profilePeakBytes } from "../../train/profile_peak.ts";

// Past this many kernels tfjs's own tf.profile overflows the stack (Math.max over a spread).
const KERNELS = 250_000;

function manyKernels(): void {
  tf.tidy(() => {
    let x = tf.scalar(0);
    for (let i = 0; i < KERNELS; i++) x = tf.add(x, 1);
  });
}

Deno.test("profilePeakBytes() measures a computation whose kernel count overflows tf.profile", async () => {
  await tf.setBackend("cpu");
  // The failure it works around (if tfjs ever fixes it, this assertion says so).
  await assert.rejects(() => tf.profile(manyKernels), RangeError);
  const peak = await profilePeakBytes(manyKernels);
  // tidy keeps every intermediate scalar until it ends: the peak is all of them.
  assert.ok(peak >= KERNELS * 4, `peak ${peak}`);
  assert.equal(tf.memory().numTensors, 0);
});

Deno.test("profilePeakBytes() rethrows an error of the computation itself", async () => {
  await tf.setBackend("cpu");
  await assert.rejects(
    () =>
      profilePeakBytes(() => {
        throw new RangeError("from the computation");
      }),
    /from the computation/,
  );
});
