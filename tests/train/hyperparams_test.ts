import assert from "node:assert/strict";
import fc from "fast-check";
import {
  defaultHyperParams,
  FLAG_SPECS,
  formatTrainHelp,
  HYPERPARAM_KEYS,
  inFlagTerms,
  normaliseTaskName,
  parseGivenFlags,
  parseTrainArgs,
  type TrainMethod,
  type TrainOptions,
  validateTrainOptions,
} from "../../train/hyperparams.ts";
import { PAPER_ROWS } from "../../train/presets.ts";
import { validateSchedules } from "../../train/run.ts";

const BASE = ["--model", "models/deberta", "--task", "rte", "--data", "glue/RTE"];

function options(argv: readonly string[]): TrainOptions {
  const parsed = parseTrainArgs(argv);
  assert.ok("options" in parsed, "expected options, got help");
  return parsed.options;
}

/** Runs `fn`, expects it to throw `kind`, and returns the message. */
function errorOf(fn: () => unknown, kind: ErrorConstructor | RangeErrorConstructor): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    return error.message;
  }
  assert.fail("expected an error");
}

Deno.test("parseTrainArgs() fills the schema defaults (paper RTE row) when only the required flags are given", () => {
  const o = options(BASE);
  assert.equal(o.task, "rte");
  assert.equal(o.method, "triadapt");
  assert.equal(o.threshold, "linear");
  assert.equal(o.preset, "none");
  assert.deepEqual(o.seeds, [0]);
  assert.equal(o.seed, 0);
  assert.equal(o.backend, "wasm");
  assert.equal(o.out, undefined);
  assert.equal(o.maxSteps, undefined);
  const rte = PAPER_ROWS.rte;
  assert.deepEqual(
    [o.epochs, o.lr, o.deltaRank, o.weightDecay, o.warmupSteps, o.initWarmup, o.interval],
    [rte.epochs, rte.lr, rte.deltaRank, rte.weightDecay, rte.warmup, rte.warmup, rte.warmup],
  );
  assert.deepEqual(
    [o.alpha, o.dropout, o.maxLength, o.orthRegWeight, o.batchSize, o.refRank, o.topH],
    [rte.alpha, rte.dropout, rte.maxLength, rte.orthRegWeight, 32, 8, rte.topH],
  );
  assert.deepEqual([o.tinit, o.tfinal, o.deltaT], [rte.tinit, rte.tfinal, rte.deltaT]);
  assert.ok(Object.isFrozen(o));
});

Deno.test("parseTrainArgs() reads every flag of the issue's usage line", () => {
  const o = options([
    ...BASE,
    "--method",
    "adalora",
    "--threshold",
    "nonlinear",
    "--preset",
    "paper",
    "--seeds",
    "0,1,2",
    "--backend",
    "cpu",
    "--out",
    "runs/x",
    "--resume",
    "runs/y",
    "--max-steps",
    "200",
    "--eval-every",
    "50",
  ]);
  assert.equal(o.method, "adalora");
  assert.equal(o.threshold, "nonlinear");
  assert.equal(o.preset, "paper");
  assert.deepEqual(o.seeds, [0, 1, 2]);
  assert.equal(o.seed, 0);
  assert.equal(o.backend, "cpu");
  assert.equal(o.out, "runs/x");
  assert.equal(o.resume, "runs/y");
  assert.equal(o.maxSteps, 200);
  assert.equal(o.evalEvery, 50);
});

Deno.test("parseTrainArgs() applies the paper preset for task and method, explicit flags winning", () => {
  const parsed = parseTrainArgs([
    "--model",
    "m",
    "--task",
    "SST-2",
    "--data",
    "d",
    "--preset",
    "paper",
    "--method",
    "adalora",
    "--epochs",
    "3",
  ]);
  assert.ok("options" in parsed);
  const o = parsed.options;
  assert.equal(o.task, "sst2");
  assert.equal(o.epochs, 3, "explicit --epochs wins");
  assert.equal(o.lr, 8e-4);
  assert.equal(o.dropout, 0.3);
  assert.equal(o.maxLength, 128);
  assert.deepEqual([o.tinit, o.tfinal, o.deltaT, o.adaloraInitRank], [6000, 22000, 100, 12]);
  assert.deepEqual(parsed.explicit, ["epochs"]);
});

Deno.test("parseTrainArgs() without a preset ignores the task's paper row", () => {
  const o = options(["--model", "m", "--task", "cola", "--data", "d"]);
  assert.equal(o.maxLength, 320, "schema default, not CoLA's 64");
});

Deno.test("parseTrainArgs() returns the help text for --help and -h, even without required flags", () => {
  for (const argv of [["--help"], ["-h"], [...BASE, "--help"]]) {
    const parsed = parseTrainArgs(argv);
    assert.ok("help" in parsed);
    assert.equal(parsed.help, formatTrainHelp());
  }
});

Deno.test("formatTrainHelp() lists every flag once, grouped, with defaults, examples and permissions", () => {
  const help = formatTrainHelp();
  for (const spec of FLAG_SPECS) {
    const hits = help.split("\n").filter((l) =>
      l.startsWith(`  --${spec.flag} `) || l === `  --${spec.flag}`
    );
    assert.equal(hits.length, 1, `--${spec.flag} listed once`);
  }
  for (
    const title of ["Run:", "Method:", "Rank allocation", "Optimisation", "AdaLoRA", "Examples:"]
  ) {
    assert.ok(help.includes(title), title);
  }
  assert.ok(help.includes("(default: 1.2e-3)") || help.includes("(default: 0.0012)"));
  assert.ok(help.includes("--allow-read"));
  assert.ok(help.includes("deno task train --model"));
  for (const line of help.split("\n")) assert.ok(line.length <= 100, `too wide: ${line}`);
});

Deno.test("formatTrainHelp() examples parse, and those with --max-steps pass the schedule check", () => {
  // Arrange: the example commands, continuation lines joined.
  const help = formatTrainHelp();
  const text = help.slice(help.indexOf("Examples:")).replaceAll("\\\n", " ");
  const commands = text.split("\n").filter((l) => l.trim().startsWith("deno task train"));
  assert.ok(commands.length >= 3);
  for (const command of commands) {
    // Act
    const argv = command.trim().split(/\s+/).slice(3);
    if (argv.includes("--resume")) {
      // `--resume DIR [--checkpoint step-N]` needs no other flag: it must parse on its own.
      assert.ok("given" in parseGivenFlags(argv), command);
      continue;
    }
    const parsed = options(argv);
    // Assert: --max-steps is T, so the example's schedules must fit it (no exit 1 when run).
    if (parsed.maxSteps !== undefined) {
      assert.doesNotThrow(
        () => validateSchedules(parsed.method, parsed, parsed.maxSteps!),
        command,
      );
    }
  }
});

Deno.test("FLAG_SPECS has exactly one row per option field and unique flags", () => {
  const keys = FLAG_SPECS.map((s) => s.key);
  assert.equal(new Set(keys).size, keys.length);
  const flags = FLAG_SPECS.map((s) => s.flag);
  assert.equal(new Set(flags).size, flags.length);
  for (const flag of flags) assert.match(flag, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
  const o = options(BASE);
  for (const key of Object.keys(o)) assert.ok(keys.includes(key as keyof TrainOptions), key);
  for (const key of HYPERPARAM_KEYS) {
    const spec = FLAG_SPECS.find((s) => s.key === key);
    assert.ok(spec?.default !== undefined, `${key} has a default`);
  }
  assert.equal(Object.keys(defaultHyperParams()).length, HYPERPARAM_KEYS.length);
});

Deno.test("parseTrainArgs() rejects malformed numbers for every numeric flag, naming flag and value", () => {
  for (const spec of FLAG_SPECS.filter((s) => s.kind === "int" || s.kind === "number")) {
    for (const bad of ["abc", "NaN", "Infinity", "", "0x10", "1.5.2"]) {
      const message = errorOf(() => parseTrainArgs([...BASE, `--${spec.flag}=${bad}`]), TypeError);
      assert.ok(message.includes(`--${spec.flag}`), message);
      assert.ok(message.includes(JSON.stringify(bad)), message);
      assert.ok(!message.includes("\n"), "one line");
    }
  }
});

Deno.test("parseTrainArgs() rejects out-of-range values for every bounded flag with a RangeError", () => {
  for (const spec of FLAG_SPECS.filter((s) => s.kind === "int" || s.kind === "number")) {
    const below = spec.min === undefined ? undefined : spec.minExclusive ? spec.min : spec.min - 1;
    const above = spec.max === undefined || spec.max >= Number.MAX_SAFE_INTEGER
      ? undefined
      : spec.maxExclusive
      ? spec.max
      : spec.max + 1;
    for (const bad of [below, above]) {
      if (bad === undefined) continue;
      const message = errorOf(() => parseTrainArgs([...BASE, `--${spec.flag}=${bad}`]), RangeError);
      assert.match(
        message,
        new RegExp(`^Cannot use --${spec.flag} as it must be .*: current value is ${bad}$`),
      );
    }
  }
});

Deno.test("parseTrainArgs() rejects fractional values for integer flags", () => {
  for (const spec of FLAG_SPECS.filter((s) => s.kind === "int")) {
    const message = errorOf(() => parseTrainArgs([...BASE, `--${spec.flag}=2.5`]), TypeError);
    assert.match(message, new RegExp(`--${spec.flag} .*integer.*2\\.5`));
  }
});

Deno.test("parseTrainArgs() rejects unknown choices, naming the allowed values", () => {
  const message = errorOf(() => parseTrainArgs([...BASE, "--method", "dora"]), RangeError);
  assert.equal(
    message,
    'Cannot use --method as it must be one of triadapt, lora, adalora, increlora: current value is "dora"',
  );
  assert.throws(() => parseTrainArgs([...BASE, "--backend", "metal"]), /--backend/);
  assert.throws(
    () => parseTrainArgs(["--model", "m", "--task", "wnli", "--data", "d"]),
    /--task.*"wnli"/,
  );
});

Deno.test("parseTrainArgs() rejects unknown flags, positionals and repeated flags in one line", () => {
  const unknown = errorOf(() => parseTrainArgs([...BASE, "--learning-rate", "1"]), TypeError);
  assert.equal(
    unknown,
    "Cannot parse arguments as --learning-rate is not a known flag: run with --help for the flags",
  );
  assert.match(errorOf(() => parseTrainArgs([...BASE, "extra"]), TypeError), /"extra"/);
  assert.match(
    errorOf(() => parseTrainArgs([...BASE, "--lr", "1e-3", "--lr", "2e-3"]), TypeError),
    /--lr as it must be given once: current values are 1e-3, 2e-3/,
  );
  assert.match(errorOf(() => parseTrainArgs([...BASE, "--lr"]), TypeError), /--lr/);
  const ambiguous = errorOf(() => parseTrainArgs([...BASE, "--lr", "--epochs", "3"]), TypeError);
  assert.ok(!ambiguous.includes("\n"), ambiguous);
  assert.match(
    errorOf(() => parseTrainArgs([...BASE, "--allow-overshoot=yes"]), TypeError),
    /--allow-overshoot/,
  );
});

Deno.test("parseTrainArgs() requires --model, --task and --data", () => {
  for (const missing of ["--model", "--task", "--data"]) {
    const i = BASE.indexOf(missing);
    const argv = BASE.filter((_, j) => j !== i && j !== i + 1);
    assert.match(
      errorOf(() => parseTrainArgs(argv), TypeError),
      new RegExp(`${missing} must be given`),
    );
  }
});

Deno.test("parseTrainArgs() reads --seeds as distinct integers and refuses it with --seed", () => {
  assert.deepEqual(options([...BASE, "--seeds", "3,1,2"]).seeds, [3, 1, 2]);
  assert.equal(options([...BASE, "--seeds", "3,1,2"]).seed, 3);
  assert.deepEqual(options([...BASE, "--seed", "7"]).seeds, [7]);
  assert.throws(() => parseTrainArgs([...BASE, "--seeds", "1,1"]), RangeError);
  assert.throws(() => parseTrainArgs([...BASE, "--seeds", "1,,2"]), TypeError);
  assert.throws(() => parseTrainArgs([...BASE, "--seeds=-1,2"]), RangeError);
  assert.throws(
    () => parseTrainArgs([...BASE, "--seed", "1", "--seeds", "1,2"]),
    /--seed and --seeds together/,
  );
});

Deno.test("parseTrainArgs() reads --allow-overshoot as a switch", () => {
  assert.equal(options(BASE).allowOvershoot, false);
  assert.equal(options([...BASE, "--allow-overshoot"]).allowOvershoot, true);
});

Deno.test("parseTrainArgs() reads --skip-bad-rows as a switch, absent unless given", () => {
  const on = parseTrainArgs([...BASE, "--skip-bad-rows"]);
  assert.ok("options" in on);
  assert.equal(on.options.skipBadRows, true);
  const off = parseTrainArgs(BASE);
  assert.ok("options" in off);
  assert.equal(off.options.skipBadRows, undefined);
  assert.throws(() => parseTrainArgs([...BASE, "--skip-bad-rows=yes"]), /--skip-bad-rows/);
});

Deno.test("parseTrainArgs() enforces init rank <= ref rank and AdaLoRA's initial rank >= ref rank", () => {
  assert.match(
    errorOf(() => parseTrainArgs([...BASE, "--init-rank", "9"]), RangeError),
    /--init-rank as it must be <= --ref-rank: current values are 9 > 8/,
  );
  assert.throws(
    () => parseTrainArgs([...BASE, "--method", "adalora", "--ref-rank", "16"]),
    /--adalora-init-rank as it must be >= --ref-rank/,
  );
  assert.equal(
    options([...BASE, "--method", "adalora", "--ref-rank", "16", "--adalora-init-rank", "24"])
      .refRank,
    16,
  );
});

Deno.test("parseTrainArgs() round-trips any valid --lr exactly (property)", () => {
  fc.assert(
    fc.property(fc.double({ min: 1e-9, max: 1, noNaN: true }).filter((v) => v > 0), (lr) => {
      assert.equal(options([...BASE, `--lr=${lr}`]).lr, lr);
    }),
    { numRuns: 200 },
  );
});

Deno.test("validateTrainOptions() accepts its own JSON round trip (config.json on resume)", () => {
  const o = options([...BASE, "--seeds", "0,1", "--max-steps", "9", "--preset", "paper"]);
  const back = validateTrainOptions(JSON.parse(JSON.stringify(o)));
  assert.deepEqual(back, o);
});

Deno.test("validateTrainOptions() rejects unknown fields, missing fields and wrong types", () => {
  const o = options(BASE);
  assert.throws(() => validateTrainOptions({ ...o, lrr: 1 }), /current field is lrr/);
  const { lr: _lr, ...noLr } = o;
  assert.throws(() => validateTrainOptions(noLr), /--lr must be given/);
  assert.throws(() => validateTrainOptions({ ...o, epochs: "3" }), TypeError);
  assert.throws(
    () => validateTrainOptions({ ...o, seed: 1 }),
    /--seed as it must equal the first of --seeds/,
  );
  assert.throws(() => validateTrainOptions(null), TypeError);
});

Deno.test("normaliseTaskName() maps the common spellings", () => {
  assert.equal(normaliseTaskName("RTE"), "rte");
  assert.equal(normaliseTaskName("STS-B"), "stsb");
  assert.equal(normaliseTaskName("SQuAD_v2"), "squad2");
  assert.throws(() => normaliseTaskName("glue"), RangeError);
});

Deno.test("parseTrainArgs() reads a negative number after a flag as its value and refuses it by range", () => {
  assert.throws(
    () => parseTrainArgs([...BASE, "--max-steps", "-3"]),
    (error: Error) =>
      error instanceof RangeError &&
      error.message === "Cannot use --max-steps as it must be >= 1: current value is -3",
  );
  assert.throws(
    () => parseTrainArgs([...BASE, "--lr", "-1e-3"]),
    /--lr .*current value is -0\.001/,
  );
  // A flag at the end with no value says so, without suggesting a `--flag=-1` form.
  assert.throws(
    () => parseTrainArgs([...BASE, "--max-steps"]),
    /^TypeError: Cannot parse --max-steps as it must be followed by a value: current value is missing$/,
  );
});

Deno.test("parseGivenFlags() returns only the typed flags, in typed order, checked one by one", () => {
  const parsed = parseGivenFlags([
    "--lr",
    "0.5",
    "--resume",
    "runs/a",
    "--checkpoint",
    "step-00000008",
  ]);
  assert.ok("given" in parsed);
  assert.deepEqual(parsed.flags, ["lr", "resume", "checkpoint"]);
  assert.deepEqual(parsed.given, { lr: 0.5, resume: "runs/a", checkpoint: "step-00000008" });
  assert.throws(() => parseGivenFlags(["--lr", "2"]), /--lr as it must be > 0 and <= 1/);
  assert.ok("help" in parseGivenFlags(["--resume", "x", "-h"]));
});

Deno.test("parseTrainArgs() refuses --checkpoint without --resume", () => {
  assert.throws(
    () => parseTrainArgs([...BASE, "--checkpoint", "step-00000008"]),
    /--checkpoint as it only picks where --resume continues/,
  );
});

Deno.test("inFlagTerms() turns library fields into the flags that set them", () => {
  const cases: [string, TrainMethod, string][] = [
    [
      "Cannot parse TriAdaptLoRA config as initWarmup must be < totalSteps (4): current value is 48",
      "triadapt",
      "Cannot start training as --init-warmup must be < T = 4 (the total step count: --max-steps, or --epochs × steps per epoch): current value is 48",
    ],
    [
      "Cannot parse AdaLoRA config as tinit + tfinal must be < totalSteps (40): current values are 32 + 32",
      "adalora",
      "Cannot start training as --tinit + --tfinal must be < T = 40 (the total step count: --max-steps, or --epochs × steps per epoch): current values are 32 + 32",
    ],
    [
      "Cannot parse AdaLoRA config as targetRank must be <= initRank: current values are 8 > 6",
      "adalora",
      "Cannot start training as --ref-rank must be <= --adalora-init-rank: current values are 8 > 6",
    ],
    [
      "Cannot parse IncreLoRA config as topH must be a positive integer: current value is 0",
      "increlora",
      "Cannot start training as --top-h must be a positive integer: current value is 0",
    ],
    // Already in flag terms: unchanged.
    ["Cannot use --lr as it must be > 0", "triadapt", "Cannot use --lr as it must be > 0"],
  ];
  for (const [message, method, expected] of cases) {
    assert.equal(inFlagTerms(message, method), expected);
  }
});
