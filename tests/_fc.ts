/**
 * The one place fast-check is configured for the property specs. `FC_NUM_RUNS` (default 100)
 * sets the number of runs per property; a failure prints `{ seed, path }` to replay it.
 *
 * @module
 */

import fc from "fast-check";

function numRuns(): number {
  try {
    const value = Number(Deno.env.get("FC_NUM_RUNS") ?? 100);
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100; // no --allow-env
  }
}

fc.configureGlobal({ numRuns: numRuns() });

export { fc };
