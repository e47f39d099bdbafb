/**
 * `deno task train --resume`: strict about flags, `--checkpoint step-N`, damaged checkpoints,
 * and bad files on the resume, eval and export paths. Every bad input must give exactly one
 * line naming the file or flag, exit 1, and leave the run folder byte-identical.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../train/cli.ts";
import { main as evalMain } from "../../train/eval_cli.ts";
import { main as exportMain } from "../../train/export_cli.ts";
import { parseTrainArgs } from "../../train/hyperparams.ts";
import { TINY_PLANTED } from "../train/loop/_tiny.ts";
import { copyFolder, folderFingerprint, sink } from "./_folder.ts";

// T = 4 batches × 3 epochs = 12 steps; evaluations (and checkpoints) at 4, 8, 12; the newest two
// are kept: step-00000008 and step-00000012.
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

async function train(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(args, { stdout, stderr, planted: TINY_PLANTED, progress: false });
  return { code, out: stdout.text(), err: stderr.text() };
}

async function cli(
  fn: typeof evalMain,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await fn(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const ROOT = await Deno.makeTempDir({ prefix: "triadapt-resume-" });
const TEMPLATE = join(ROOT, "template");
let templateReady: Promise<void> | undefined;

/** One finished tiny planted run, trained once and copied for each test. */
async function freshRun(name: string): Promise<string> {
  templateReady ??= (async () => {
    const { code, err } = await train(["--task", "planted", "--out", TEMPLATE, ...TINY_FLAGS]);
    assert.equal(code, 0, err);
  })();
  await templateReady;
  const dir = join(ROOT, name);
  await copyFolder(TEMPLATE, dir);
  return dir;
}

const CKPT_8 = "step-00000008";
const CKPT_12 = "step-00000012";

/** Runs `act`, which must fail with one `error:` line matching `pattern`, exit 1, folder unchanged. */
async function assertRefused(
  dir: string,
  act: () => Promise<{ code: number; err: string }>,
  pattern: RegExp,
): Promise<string> {
  const before = await folderFingerprint(dir);
  const { code, err } = await act();
  const lines = err.trim().split("\n").filter((l) => !l.startsWith("triadapt "));
  assert.equal(code, 1, err);
  assert.equal(lines.length, 1, `one line: ${err}`);
  assert.match(lines[0] as string, /^error: /);
  assert.match(lines[0] as string, pattern);
  assert.equal(await folderFingerprint(dir), before, "the run folder is byte-identical");
  return lines[0] as string;
}

Deno.test("--resume refuses flags that would change the run, naming each with its recorded value", async () => {
  const dir = await freshRun("refused");
  const line = await assertRefused(
    dir,
    () => train(["--resume", dir, "--max-steps", "20", "--lr", "0.5"]),
    /Cannot resume .* with --max-steps, --lr as they would change the run: recorded --max-steps unset, --lr 0\.005/,
  );
  assert.doesNotMatch(line, /maxSteps|\blr\b:/);
  await assertRefused(
    dir,
    () => train(["--task", "planted", "--resume", dir, "--seed", "3"]),
    /with --seed as it would change the run: recorded --seed 0/,
  );
  await assertRefused(
    dir,
    () => train(["--resume", dir, "--method", "lora"]),
    /with --method as it would change the run/,
  );
});

Deno.test("--resume accepts flags that repeat the recorded values and says where it resumed", async () => {
  // Arrange: the uninterrupted run's adapter, then a copy "killed" after the step-8 checkpoint.
  const dir = await freshRun("repeat");
  const expected = await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors"));
  await Deno.remove(join(dir, "checkpoints", CKPT_12), { recursive: true });
  await Deno.remove(join(dir, "checkpoints", "latest"));
  await Deno.remove(join(dir, "adapter"), { recursive: true });
  const before = JSON.parse(
    await Deno.readTextFile(join(dir, "checkpoints", CKPT_8, "state.json")),
  ).loop.elapsedMs;
  // Act: the same flags as the original command line, plus --resume.
  const { code, err } = await train([
    "--task",
    "planted",
    "--resume",
    dir,
    ...TINY_FLAGS,
    "--lr",
    "5e-3",
  ]);
  // Assert
  assert.equal(code, 0, err);
  assert.match(err, /resumed from step 8 of 12/);
  assert.deepEqual(
    await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors")),
    expected,
  );
  // The wall time in summary.json counts the run before the interruption too.
  const summary = JSON.parse(await Deno.readTextFile(join(dir, "summary.json")));
  assert.ok(before > 0 && summary.wallSeconds * 1000 > before, `${summary.wallSeconds} s`);
});

Deno.test("--resume lets --micro-batch and --workers take new values (they cannot change results)", async () => {
  const dir = await freshRun("may-change");
  const expected = await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors"));
  const { code, err } = await train([
    ...["--resume", dir, "--checkpoint", CKPT_8, "--micro-batch", "2", "--workers", "1"],
  ]);
  assert.equal(code, 0, err);
  assert.match(err, /resumed from step 8 of 12/);
  assert.deepEqual(
    await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors")),
    expected,
  );
});

Deno.test("--resume --checkpoint step-N continues from that older checkpoint, bit-identically", async () => {
  const dir = await freshRun("older");
  const expected = await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors"));
  const metrics = await Deno.readTextFile(join(dir, "metrics.jsonl"));
  const { code, err } = await train(["--resume", dir, "--checkpoint", CKPT_8]);
  assert.equal(code, 0, err);
  assert.match(err, new RegExp(`resumed from step 8 of 12 \\(.*${CKPT_8}\\)`));
  assert.deepEqual(
    await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors")),
    expected,
  );
  // The logs were cut back to step 8 and re-written: same steps, same losses.
  const strip = (text: string) =>
    text.trim().split("\n").map((l) => {
      const { stepMs: _s, ...rest } = JSON.parse(l);
      return JSON.stringify(rest);
    });
  assert.deepEqual(strip(await Deno.readTextFile(join(dir, "metrics.jsonl"))), strip(metrics));
  assert.equal(
    (await Deno.readTextFile(join(dir, "checkpoints", "latest"))).trim(),
    CKPT_12,
  );
});

Deno.test("a damaged newest checkpoint is named, the older intact one offered, and it works", async () => {
  const dir = await freshRun("damaged");
  const expected = await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors"));
  const state = join(dir, "checkpoints", CKPT_12, "state.json");
  const text = await Deno.readTextFile(state);
  await Deno.writeTextFile(state, text.slice(0, 300));
  await assertRefused(
    dir,
    () => train(["--resume", dir]),
    new RegExp(
      `Cannot resume .* from ${CKPT_12} as it is damaged: Cannot read .*${CKPT_12}/state\\.json as it must be JSON: .*older intact: ${CKPT_8}; continue with --resume .* --checkpoint ${CKPT_8}`,
    ),
  );
  // Following the hint resumes and ends where the uninterrupted run ended.
  const { code, err } = await train(["--resume", dir, "--checkpoint", CKPT_8]);
  assert.equal(code, 0, err);
  assert.deepEqual(
    await Deno.readFile(join(dir, "adapter", "adapter_model.safetensors")),
    expected,
  );
});

Deno.test("--resume names every missing or damaged file and exits 1", async () => {
  const dir = await freshRun("files");
  // A missing head.safetensors in the newest checkpoint.
  const head = join(dir, "checkpoints", CKPT_12, "head.safetensors");
  const headBytes = await Deno.readFile(head);
  await Deno.remove(head);
  await assertRefused(
    dir,
    () => train(["--resume", dir]),
    new RegExp(`${CKPT_12}/head\\.safetensors as the file must exist: it is missing`),
  );
  // A truncated adapters.safetensors.
  await Deno.writeFile(head, headBytes);
  const adapters = join(dir, "checkpoints", CKPT_12, "adapters.safetensors");
  await Deno.writeFile(adapters, (await Deno.readFile(adapters)).slice(0, 20));
  await assertRefused(dir, () => train(["--resume", dir]), /adapters\.safetensors/);
  // Both checkpoints damaged: no older one to offer.
  await Deno.remove(join(dir, "checkpoints", CKPT_8, "optimizer.safetensors"));
  await assertRefused(
    dir,
    () => train(["--resume", dir]),
    /adapters\.safetensors.*\(no older intact checkpoint is left\)/,
  );
  // An empty and a truncated config.json.
  const config = join(dir, "config.json");
  const configText = await Deno.readTextFile(config);
  await Deno.writeTextFile(config, "");
  await assertRefused(
    dir,
    () => train(["--resume", dir]),
    /config\.json as it must be JSON: the file is empty/,
  );
  await Deno.writeTextFile(config, configText.slice(0, 100));
  await assertRefused(dir, () => train(["--resume", dir]), /config\.json as it must be JSON: /);
  // No config.json at all; a folder that does not exist.
  await Deno.remove(config);
  await assertRefused(
    dir,
    () => train(["--resume", dir]),
    /Cannot resume .* as it must be a run folder with config\.json: .*config\.json is missing/,
  );
  await assertRefused(
    ROOT,
    () => train(["--resume", join(ROOT, "nope")]),
    /nope\/config\.json is missing/,
  );
});

Deno.test("--checkpoint must name a checkpoint of the run, and needs --resume", async () => {
  const dir = await freshRun("names");
  await assertRefused(
    dir,
    () => train(["--resume", dir, "--checkpoint", "step-00000004"]),
    new RegExp(
      `--checkpoint must name one of the run's checkpoints: current value is step-00000004 \\(the run has ${CKPT_8}, ${CKPT_12}\\)`,
    ),
  );
  await assertRefused(
    dir,
    () => train(["--task", "planted", "--checkpoint", CKPT_8, "--out", join(ROOT, "x")]),
    /--checkpoint as it only picks where --resume continues/,
  );
});

Deno.test("--resume of a real-data run checks flags against its recorded options first", async () => {
  // A real-data run folder as train writes it (no training needed: resume refuses first).
  const dir = join(ROOT, "real");
  await Deno.mkdir(join(dir, "checkpoints"), { recursive: true });
  const parsed = parseTrainArgs([
    "--model",
    join(ROOT, "no-model"),
    "--task",
    "rte",
    "--data",
    "d",
  ]);
  assert.ok("options" in parsed);
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({ task: "rte", cli: { options: parsed.options, skipBadRows: false } }),
  );
  await assertRefused(
    dir,
    () => train(["--resume", dir, "--lr", "0.5"]),
    /with --lr as it would change the run: recorded --lr 0\.0012/,
  );
  await assertRefused(
    dir,
    () => train(["--resume", dir, "--task", "planted"]),
    /with --task planted as it would change the run: recorded --task "rte"/,
  );
  // The recorded flags repeated are accepted; the model folder is then checked, by flag.
  await assertRefused(
    dir,
    () => train(["--resume", dir, "--task", "RTE", "--data", "d"]),
    /--model must be a DeBERTa-v3 folder with config\.json and spm\.model: .*no-model does not exist/,
  );
});

Deno.test("eval and export name the damaged file, exit 1 and leave the run folder alone", async () => {
  const dir = await freshRun("eval");
  const state = join(dir, "checkpoints", CKPT_12, "state.json");
  const text = await Deno.readTextFile(state);
  await Deno.writeTextFile(state, text.slice(0, 300));
  await assertRefused(
    dir,
    () => cli(evalMain, ["--run", dir]),
    new RegExp(`${CKPT_12}/state\\.json as it must be JSON`),
  );
  await Deno.writeTextFile(state, text);
  await Deno.remove(join(dir, "checkpoints", CKPT_12, "head.safetensors"));
  await assertRefused(
    dir,
    () => cli(evalMain, ["--run", dir]),
    /head\.safetensors as the file must exist: it is missing/,
  );
  await assertRefused(
    dir,
    () => cli(evalMain, ["--run", dir, "--checkpoint", "step-00000001"]),
    /step-00000001.*must hold state\.json/,
  );
  await assertRefused(
    dir,
    () => cli(exportMain, ["--run", dir, "--format", "peft", "--checkpoint", CKPT_12]),
    /head\.safetensors as the file must exist/,
  );
  await Deno.writeTextFile(join(dir, "config.json"), "{");
  await assertRefused(dir, () => cli(evalMain, ["--run", dir]), /config\.json as it must be JSON/);
  await assertRefused(
    dir,
    () => cli(exportMain, ["--run", dir, "--format", "merged"]),
    /config\.json as it must be JSON/,
  );
  await Deno.remove(join(dir, "config.json"));
  await assertRefused(
    dir,
    () => cli(evalMain, ["--run", dir]),
    /must be a run folder with config\.json: .*config\.json is missing/,
  );
});

Deno.test("train errors speak in flags: --model, --init-warmup, negative numbers", async () => {
  const cases: [string[], RegExp, RegExp][] = [
    [
      ["--model", "/nonexistent", "--task", "rte", "--data", "d"],
      /^error: Cannot start training as --model must be a DeBERTa-v3 folder with config\.json and spm\.model: \/nonexistent does not exist$/,
      /readfile|os error/,
    ],
    [
      ["--task", "planted", "--max-steps", "4", "--init-warmup", "48"],
      /--init-warmup must be < T = 4 \(the total step count: --max-steps, or --epochs × steps per epoch\): current value is 48/,
      /initWarmup|totalSteps/,
    ],
    [
      [
        "--task",
        "planted",
        "--method",
        "adalora",
        "--max-steps",
        "40",
        "--tinit",
        "32",
        "--tfinal",
        "32",
      ],
      /--tinit \+ --tfinal must be < T = 40/,
      /(?<!-)tinit \+|totalSteps/,
    ],
    [
      ["--task", "planted", "--max-steps", "-3"],
      /^error: Cannot use --max-steps as it must be >= 1: current value is -3$/,
      /=-1/,
    ],
    [
      ["--task", "planted", "--lr", "-1"],
      /--lr as it must be > 0 and <= 1: current value is -1/,
      /=-1/,
    ],
    [["--task", "planted", "--max-steps"], /--max-steps as it must be followed by a value/, /=-1/],
  ];
  // A model folder that passes the --model check, with --data pointing nowhere.
  const model = join(ROOT, "model");
  await Deno.mkdir(model, { recursive: true });
  await Deno.copyFile("testdata/golden/deberta/tiny-a/config.json", join(model, "config.json"));
  await Deno.copyFile("testdata/golden/spm/unigram.model", join(model, "spm.model"));
  cases.push([
    ["--model", model, "--task", "rte", "--data", "/nonexistent-data"],
    /^error: Cannot start training as --data must be a GLUE task folder or file, or the SQuAD 2\.0 folder or file: \/nonexistent-data does not exist$/,
    /os error|GLUE RTE train/,
  ]);
  for (const [args, pattern, absent] of cases) {
    const { code, err } = await train(args);
    assert.equal(code, 1, `${args.join(" ")}: ${err}`);
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.match(err.trim(), pattern);
    assert.doesNotMatch(err, absent);
  }
});

Deno.test("cleanup", async () => {
  await Deno.remove(ROOT, { recursive: true });
});
