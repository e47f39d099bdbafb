/**
 * `deno task eval` on a planted run (no model folder, no data): the task is rebuilt from the
 * recorded `taskInfo` and the evaluation of the final checkpoint equals the run's last one;
 * `deno task export` refuses it (no Hugging Face base model to export against).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { main as trainMain } from "../../../train/cli.ts";
import { main as evalMain } from "../../../train/eval_cli.ts";
import { main as exportMain } from "../../../train/export_cli.ts";
import { readJsonLines } from "../../../train/run_folder.ts";
import { TINY_PLANTED } from "../loop/_tiny.ts";
import { capture } from "./_real_helpers.ts";

Deno.test("evaluateRun() rebuilds a planted run and reproduces its final evaluation", async () => {
  const root = await Deno.makeTempDir({ prefix: "triadapt-planted-eval-" });
  const dir = join(root, "run");
  try {
    const err = capture();
    const code = await trainMain(
      [
        "--task",
        "planted",
        "--out",
        dir,
        "--backend",
        "wasm",
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--init-warmup",
        "2",
        "--interval",
        "2",
        "--ref-rank",
        "2",
      ],
      { stdout: capture(), stderr: err, planted: TINY_PLANTED, progress: false },
    );
    assert.equal(code, 0, err.text());
    const evals = ((await readJsonLines(join(dir, "metrics.jsonl"))) as {
      kind: string;
      metric?: number;
    }[]).filter((l) => l.kind === "eval");
    const lines: string[] = [];
    const errors: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => errors.push(l) };
    assert.equal(await evalMain(["--run", dir], io), 0, errors.join("\n"));
    assert.match(errors[0] as string, /^triadapt eval: backend wasm/);
    const report = JSON.parse(lines[0] as string);
    assert.equal(report.task, "planted");
    assert.equal(report.step, 8);
    assert.equal(report.value, evals.at(-1)?.metric);
    assert.equal(await exportMain(["--run", dir, "--format", "peft"], io), 1);
    assert.match(errors.at(-1) as string, /Hugging Face model folder/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
