import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../../train/cli.ts";
import { findAll, parseXml } from "../_xml.ts";
import { TINY_PLANTED } from "../loop/_tiny.ts";

/** Collects what the CLI writes. */
function sink(): { writeSync(b: Uint8Array): number; text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    writeSync(b: Uint8Array): number {
      chunks.push(b.slice());
      return b.length;
    },
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
  };
}

// T = 4 batches × 3 epochs = 12 steps; events after step 2 every 2 steps; budget 2 · 12 = 24.
const TINY_FLAGS = [
  "--epochs",
  "3",
  "--batch-size",
  "4",
  "--init-warmup",
  "2",
  "--interval",
  "2",
  "--ref-rank",
  "2",
  "--log-every",
  "1",
  "--warmup-steps",
  "2",
];

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(args, { stdout, stderr, planted: TINY_PLANTED });
  return { code, out: stdout.text(), err: stderr.text() };
}

Deno.test("main() runs the planted demo and leaves every run-folder file with sane contents", async () => {
  // Arrange
  const root = await Deno.makeTempDir();
  const dir = join(root, "demo");
  try {
    // Act
    const { code, out, err } = await runCli(["--task", "planted", "--out", dir, ...TINY_FLAGS]);
    // Assert: exit code, backend line, summary table on stdout
    assert.equal(code, 0, err);
    assert.match(err, /backend wasm/);
    // The reference trainer never allocates at step T (docs/METHOD.md §19): the last event is at
    // step 10 and leaves 1 of the 24 rank units unspent (before: an event at step 12 spent it).
    assert.match(out, /ranks total \/ budget\s+23 \/ 24/);
    assert.match(out, /TriAdaptLoRA linear/);
    // config.json: resolved options, versions and backend
    const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    assert.equal(config.task, "planted");
    assert.equal(config.totalSteps, 12);
    assert.equal(config.backend.name, "wasm");
    assert.equal(typeof config.versions.tfjs, "string");
    assert.equal(config.hyper.refRank, 2);
    // No stand-in model, data or GLUE task among the planted run's hyper-parameters.
    for (const key of ["task", "model", "data"]) assert.ok(!(key in config.hyper), key);
    // metrics.jsonl: one train line per step, one eval line per epoch
    const metrics = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    const train = metrics.filter((m) => m.kind === "train");
    const evals = metrics.filter((m) => m.kind === "eval");
    assert.deepEqual(train.map((m) => m.step), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.deepEqual(evals.map((m) => m.step), [4, 8, 12]);
    for (const m of train) {
      assert.ok(Number.isFinite(m.loss) && m.loss > 0 && m.lr >= 0 && m.stepMs > 0);
      assert.equal(m.ranksTotal + m.budgetLeft, 24);
    }
    assert.ok(evals.every((m) => m.metricName === "heldout_mse" && "rank_spearman" in m.metrics));
    // ranks.jsonl: every event, none at step T = 12
    const events = (await Deno.readTextFile(join(dir, "ranks.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(events.length >= 2);
    assert.ok(events.every((e) => e.step < 12), JSON.stringify(events.map((e) => e.step)));
    const last = events.at(-1);
    assert.equal(last.ranks.reduce((a: number, b: number) => a + b, 0), 23);
    assert.equal(last.budgetLeft, 1);
    assert.ok(events.every((e) => e.grown.length === e.k && e.scores.length === 12));
    // rank-heatmap.svg parses; its cells carry the final ranks (23 of the budget of 24)
    const heat = parseXml(await Deno.readTextFile(join(dir, "rank-heatmap.svg")));
    const cells = findAll(heat, (e) => e.attrs.class === "cell");
    assert.equal(cells.length, 12);
    assert.equal(cells.reduce((n, c) => n + Number(c.attrs["data-value"]), 0), 23);
    // loss.svg parses with a train-loss line and an eval line
    const loss = parseXml(await Deno.readTextFile(join(dir, "loss.svg")));
    assert.equal(findAll(loss, (e) => e.attrs.class === "series").length, 2);
    // checkpoints/: latest pointer and a complete checkpoint at the final step
    assert.equal(
      (await Deno.readTextFile(join(dir, "checkpoints", "latest"))).trim(),
      "step-00000012",
    );
    for (
      const f of ["state.json", "adapters.safetensors", "optimizer.safetensors", "head.safetensors"]
    ) {
      assert.ok((await Deno.stat(join(dir, "checkpoints", "step-00000012", f))).size > 0, f);
    }
    // adapter/: per-module ranks rebuild the shapes
    const adapter = JSON.parse(
      await Deno.readTextFile(join(dir, "adapter", "adapter_config.json")),
    );
    assert.equal(
      Object.values(adapter.rankPattern as Record<string, number>).reduce((a, b) => a + b, 0),
      23,
    );
    assert.ok((await Deno.stat(join(dir, "adapter", "adapter_model.safetensors"))).size > 0);
    const plantedHeat = parseXml(await Deno.readTextFile(join(dir, "planted-heatmap.svg")));
    assert.equal(findAll(plantedHeat, (e) => e.attrs.class === "cell").length, 12);
    // planted.json: the planted rank per module
    const planted = JSON.parse(await Deno.readTextFile(join(dir, "planted.json")));
    assert.equal(Object.keys(planted.modules).length, 12);
    assert.deepEqual(Object.keys(planted.modules), Object.keys(adapter.rankPattern));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("main() --resume continues a planted run from its last complete checkpoint", async () => {
  // Arrange: a finished run; then drop its final checkpoint, pointer and outputs, as if it had
  // been killed right after the step-8 checkpoint.
  const root = await Deno.makeTempDir();
  const dir = join(root, "r");
  try {
    assert.equal((await runCli(["--task", "planted", "--out", dir, ...TINY_FLAGS])).code, 0);
    const before = await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors"));
    await Deno.remove(join(dir, "checkpoints", "step-00000012"), { recursive: true });
    await Deno.remove(join(dir, "checkpoints", "latest"));
    await Deno.remove(join(dir, "adapter"), { recursive: true });
    // Act
    const { code, err } = await runCli(["--resume", dir]);
    // Assert
    assert.equal(code, 0, err);
    assert.deepEqual(
      await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors")),
      before,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("main() --seeds runs each seed and writes a mean ± std summary", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { code, out, err } = await runCli([
      "--task",
      "planted",
      "--out",
      root,
      "--seeds",
      "0,1",
      "--epochs",
      "1",
      "--batch-size",
      "4",
      "--init-warmup",
      "1",
      "--interval",
      "1",
      "--ref-rank",
      "2",
    ]);
    assert.equal(code, 0, err);
    assert.match(out, /± /);
    assert.match(await Deno.readTextFile(join(root, "summary.md")), /TriAdaptLoRA linear/);
    await Deno.stat(join(root, "seed-0", "config.json"));
    await Deno.stat(join(root, "seed-1", "config.json"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("main() exits 1 with one clear line on invalid input", async () => {
  const cases: [string[], RegExp][] = [
    [["--task", "planted", "--lr", "-1"], /--lr/],
    [["--nope"], /--nope/],
    [
      ["--task", "planted", "--max-steps", "10", "--init-warmup", "48"],
      /--init-warmup must be < T = 10 /,
    ],
    [["--task", "rte", "--model", "m", "--data", "d"], /--model must be a DeBERTa-v3 folder/],
    [
      ["--task", "rte", "--model", "testdata/golden/deberta/tiny-a", "--data", "d"],
      /--model must be a DeBERTa-v3 folder with config\.json and spm\.model: .*tiny-a has no spm\.model/,
    ],
    [["--task", "planted", "--resume", "/nonexistent-run"], /config\.json/],
  ];
  for (const [args, pattern] of cases) {
    const { code, err } = await runCli(args);
    assert.equal(code, 1, args.join(" "));
    assert.match(err, pattern);
    assert.equal(err.trim().split("\n").length, 1, err);
  }
});

Deno.test("main() --help prints the grouped flags and exits 0", async () => {
  const { code, out } = await runCli(["--help"]);
  assert.equal(code, 0);
  assert.match(out, /--task planted/);
  assert.match(out, /--threshold/);
  // Every flag, --skip-bad-rows included, is one line of its group (no trailing extras).
  assert.equal(out.split("\n").filter((l) => l.startsWith("  --skip-bad-rows")).length, 1);
});

Deno.test("main() exits 2 on a runtime failure (run folder cannot be created)", async () => {
  // Arrange: --out below a regular file.
  const root = await Deno.makeTempDir();
  const file = join(root, "file");
  await Deno.writeTextFile(file, "x");
  try {
    // Act
    const { code, err } = await runCli([
      "--task",
      "planted",
      "--out",
      join(file, "run"),
      ...TINY_FLAGS,
    ]);
    // Assert
    assert.equal(code, 2);
    assert.match(err, /^error: /m);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("main() without --task/--model/--data runs the demo; --max-steps T < 160 scales its schedule by T/160", async () => {
  const root = await Deno.makeTempDir();
  const dir = join(root, "short-demo");
  try {
    // Act: the demo's flags only (as `deno task train --backend wasm --max-steps 16`)
    const { code, err } = await runCli(["--backend", "wasm", "--max-steps", "16", "--out", dir]);
    // Assert: 16/160 of the demo's init-warmup 48, interval 16, warm-up 10, tinit/tfinal 32
    assert.equal(code, 0, err);
    const config = await Deno.readTextFile(join(dir, "config.json"));
    for (const [key, value] of [["initWarmup", 5], ["interval", 2], ["warmupSteps", 1]] as const) {
      assert.match(config, new RegExp(`"${key}":\\s*${value}[,\\n}]`), `${key} = ${value}`);
    }
    assert.match(config, /"task":\s*"planted"/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
