/**
 * `deno task train` on real-layout data through the CLI (`train/cli.ts` → `runRealTraining`):
 * a small model folder with its own `spm.model` (vocabulary matched to the tokenizer, so no id
 * mapping), a GLUE RTE-layout folder written by the test. A malformed row exits 1 with the
 * reader's message (file and line); `--skip-bad-rows` trains and reports the count; `deno task
 * eval` and `deno task export --format merged` then work on the run folder, and the merged folder
 * carries the tokenizer.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { main as trainMain } from "../../../train/cli.ts";
import { main as evalMain } from "../../../train/eval_cli.ts";
import { main as exportMain } from "../../../train/export_cli.ts";
import { capture, writeRteFolder, writeSmallModelFolder } from "./_real_helpers.ts";

const PAIRS: readonly (readonly [string, string, string])[] = Array.from(
  { length: 24 },
  (_, i) =>
    [
      `The ${["cat", "dog", "man", "bird"][i % 4]} sat on mat ${i}.`,
      `A ${["cat", "dog", "man", "bird"][(i + (i % 2)) % 4]} sat.`,
      i % 2 === 0 ? "entailment" : "not_entailment",
    ] as const,
);

Deno.test("train CLI runs a GLUE task from a model folder and a data folder; eval and export follow", async () => {
  const root = await Deno.makeTempDir({ prefix: "triadapt-cli-" });
  try {
    const model = await writeSmallModelFolder(join(root, "model"));
    const data = await writeRteFolder(
      join(root, "RTE"),
      [...PAIRS.slice(0, 11), ["Bad row.", "Bad.", "entailed"], ...PAIRS.slice(11)],
      PAIRS.slice(0, 8),
    );
    const out = join(root, "runs", "rte");
    const args = [
      "--model",
      model,
      "--task",
      "RTE",
      "--data",
      data,
      "--out",
      out,
      "--backend",
      "wasm",
      "--max-steps",
      "6",
      "--batch-size",
      "4",
      "--eval-every",
      "3",
      "--log-every",
      "2",
      "--init-warmup",
      "2",
      "--interval",
      "2",
      "--ref-rank",
      "2",
      "--max-length",
      "32",
    ];

    const badErr = capture();
    const bad = await trainMain(args, { stdout: capture(), stderr: badErr, progress: false });
    assert.equal(bad, 1, badErr.text());
    assert.match(badErr.text(), /train\.tsv/);
    assert.match(badErr.text(), /line 13/);

    const err = capture();
    const stdout = capture();
    const code = await trainMain([...args, "--skip-bad-rows"], {
      stdout,
      stderr: err,
      progress: false,
    });
    assert.equal(code, 0, err.text());
    assert.match(err.text(), /skipped 1 malformed training row/);
    assert.match(stdout.text(), /accuracy final \d\.\d{4}/);
    const config = JSON.parse(await Deno.readTextFile(join(out, "config.json")));
    assert.equal(config.taskInfo.trainExamples, 24);
    assert.equal(config.cli.skipBadRows, true);

    // --resume takes every option from the run's config.json; a finished run has nothing left.
    const resumed = capture();
    const resumeErr = capture();
    const again = await trainMain(["--resume", out], {
      stdout: resumed,
      stderr: resumeErr,
      progress: false,
    });
    assert.equal(again, 0, resumeErr.text());
    assert.match(resumed.text(), /steps 6\/6/);

    // stdout carries the JSON report alone; stderr names the backend first
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(`stderr: ${l}`),
    };
    const reportLine = (): string => lines.find((l) => !l.startsWith("stderr: ")) as string;
    assert.equal(await evalMain(["--run", out], io), 0, lines.join("\n"));
    assert.match(lines[0] as string, /^stderr: triadapt eval: backend wasm/);
    assert.equal(JSON.parse(reportLine()).metric, "accuracy");
    assert.equal(await exportMain(["--run", out, "--format", "merged"], io), 0, lines.join("\n"));
    assert.deepEqual(
      await Deno.readFile(join(out, "merged", "spm.model")),
      await Deno.readFile(join(model, "spm.model")),
    );
    const hub = join(root, "peft-hub");
    const named = ["--run", out, "--format", "peft", "--out", hub];
    assert.equal(
      await exportMain([...named, "--base-model-name", "microsoft/deberta-v3-base"], io),
      0,
      lines.join("\n"),
    );
    const peftConfig = JSON.parse(await Deno.readTextFile(join(hub, "adapter_config.json")));
    assert.equal(peftConfig.base_model_name_or_path, "microsoft/deberta-v3-base");

    // best/ and adapter/ carry the head and state too: with every checkpoint gone, eval
    // reproduces the best and the final evaluation, and export still works.
    const evals = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((m) => m.kind === "eval");
    const best = evals.reduce((a, b) => (b.metric > a.metric ? b : a));
    await Deno.remove(join(out, "checkpoints"), { recursive: true });
    for (const [name, expected] of [["best", best], ["adapter", evals.at(-1)]] as const) {
      lines.length = 0;
      assert.equal(await evalMain(["--run", out, "--checkpoint", name], io), 0, lines.join("\n"));
      const report = JSON.parse(reportLine());
      assert.equal(report.step, expected.step, name);
      assert.equal(report.value, expected.metric, name);
    }
    const fromBest = ["--run", out, "--format", "peft", "--out", join(root, "peft-best")];
    assert.equal(await exportMain([...fromBest, "--checkpoint", "best"], io), 0, lines.join("\n"));
    assert.equal(await exportMain(["--run", join(root, "nope"), "--format", "peft"], io), 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
