/**
 * The model's dropout mask against `tf.dropout` (docs/METHOD.md §22): the median time of one
 * dropout of a base-width layer's attention probabilities at 4 × 128 (`[12, 4, 128, 128]`,
 * 786,432 elements) and of its hidden states (`[512, 768]`), after 20 untimed calls, on wasm.
 *
 * ```sh
 * deno run --allow-read --allow-env bench/dropout_mask.ts
 * ```
 *
 * Not part of `deno task bench` or the test suite.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../ops/backend.ts";
import { seededDropout } from "../model/_dropout.ts";

await initBackend("wasm");
for (const shape of [[12, 4, 128, 128], [512, 768]]) {
  const x = tf.ones(shape);
  for (
    const [name, drop] of [
      ["tf.dropout", (i: number) => tf.dropout(x, 0.1, undefined, `s:${i}`)],
      ["seededDropout", (i: number) => seededDropout(x, 0.1, `s:${i}`)],
    ] as const
  ) {
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t0 = performance.now();
      // The wasm kernels run synchronously: the call's return is the work's end.
      const y = drop(i);
      if (i >= 20) times.push(performance.now() - t0);
      y.dispose();
    }
    times.sort((a, b) => a - b);
    console.log(
      `${name} [${shape}]: median ${times[times.length >> 1]!.toFixed(2)} ms (min ${
        times[0]!.toFixed(2)
      })`,
    );
  }
  x.dispose();
}
