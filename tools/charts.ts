/**
 * `deno task charts`: regenerates the README's demo charts. Runs the offline demo exactly as
 * `deno task train` does with no arguments (planted task, TriAdaptLoRA linear, seed 0) into a
 * temporary run folder, then copies its charts to `docs/img/`:
 * `demo-loss.svg`, `demo-rank-total.svg`, `demo-rank-heatmap.svg`, `demo-planted-heatmap.svg`,
 * and the run's `summary.json` as `demo-summary.json` (what the charts show, in numbers).
 *
 * Permissions: `deno run --allow-read --allow-write --allow-env tools/charts.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { main } from "../train/cli.ts";

const FILES: readonly (readonly [string, string])[] = [
  ["loss.svg", "demo-loss.svg"],
  ["rank-total.svg", "demo-rank-total.svg"],
  ["rank-heatmap.svg", "demo-rank-heatmap.svg"],
  ["planted-heatmap.svg", "demo-planted-heatmap.svg"],
  ["summary.json", "demo-summary.json"],
];

if (import.meta.main) {
  const target = new URL("../docs/img/", import.meta.url).pathname;
  const root = await Deno.makeTempDir({ prefix: "triadapt-charts-" });
  try {
    const run = join(root, "demo");
    // The demo's defaults, written to a temporary folder instead of runs/<timestamp>.
    const code = await main(["--task", "planted", "--out", run]);
    if (code !== 0) Deno.exit(code);
    await Deno.mkdir(target, { recursive: true });
    for (const [from, to] of FILES) {
      await Deno.copyFile(join(run, from), join(target, to));
      console.error(`wrote docs/img/${to}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
