import assert from "node:assert/strict";
import { PLAN_HELP, planMain } from "../../train/plan_cli.ts";

const RTE = [
  "--method",
  "triadapt",
  "--matrices",
  "72",
  "--ref-rank",
  "8",
  "--delta-rank",
  "4",
  "--init-warmup",
  "100",
  "--interval",
  "100",
  "--total-steps",
  "3900",
];

Deno.test("planMain() prints the linear RTE table", () => {
  const { code, stdout, stderr } = planMain([...RTE, "--threshold", "linear"]);
  assert.equal(code, 0);
  assert.equal(stderr, "");
  const rows = stdout.split("\n").filter((l) => /^\s+\d+\s+0\.\d+/.test(l));
  assert.deepEqual(rows.map((r) => Number(r.trim().split(/\s+/)[3])), [
    13,
    23,
    28,
    26,
    18,
    11,
    5,
    1,
    1,
  ]);
  assert.match(stdout, /^\s+200\s+0\.026316\s+504\s+13\s+52\s+452$/m);
  assert.match(stdout, /9 events; budget spent at step 1000; total rank 576 of R0 576/);
});

Deno.test("planMain() --json lists the nonlinear events ending at step 2300", () => {
  const { code, stdout } = planMain([...RTE, "--threshold", "nonlinear", "--json"]);
  assert.equal(code, 0);
  const { events } = JSON.parse(stdout) as {
    events: Array<{ step: number; k: number; remainingAfter: number }>;
  };
  assert.deepEqual(events.slice(0, 8).map((e) => e.k), [1, 1, 1, 1, 2, 2, 3, 3]);
  assert.equal(events.at(-1)?.step, 2300);
  assert.equal(events.at(-1)?.remainingAfter, 0);
});

Deno.test("planMain() fixed threshold, ceil rounding and overshoot flags reach the planner", () => {
  const fixed = JSON.parse(
    planMain([...RTE, "--threshold", "fixed", "--top-h", "9", "--json"]).stdout,
  );
  assert.equal(fixed.events.length, 14);
  const ceil = JSON.parse(
    planMain([...RTE, "--threshold", "nonlinear", "--rounding", "ceil", "--json"]).stdout,
  );
  assert.equal(ceil.events[0].k, 2);
  const small = ["--matrices", "5", "--ref-rank", "3", "--delta-rank", "4", "--init-warmup", "0"];
  const base = [
    ...small,
    "--interval",
    "1",
    "--total-steps",
    "2", // the one event at step 1 (never at T, docs/METHOD.md §19)
    "--threshold",
    "fixed",
    "--top-h",
    "5",
    "--json",
  ];
  assert.equal(JSON.parse(planMain(base).stdout).events[0].remainingAfter, 0);
  assert.equal(
    JSON.parse(planMain([...base, "--allow-overshoot"]).stdout).events[0].remainingAfter,
    -10,
  );
});

Deno.test("planMain() --method adalora prints the budget per mask step", () => {
  const args = [
    "--method",
    "adalora",
    "--tinit",
    "600",
    "--tfinal",
    "1800",
    "--delta-t",
    "100",
    "--total-steps",
    "3900",
  ];
  const table = planMain(args);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^\s+700\s+810$/m);
  assert.match(table.stdout, /^\s+1000\s+689$/m);
  assert.match(table.stdout, /steps 2101–3900: budget 576/);
  const json = JSON.parse(planMain([...args, "--delta-t", "1", "--json"]).stdout);
  assert.equal(json.initBudget, 864);
  assert.deepEqual(json.events[0], { step: 601, budget: 863 });
  assert.equal(json.events.length, 1500);
  const explicit = JSON.parse(
    planMain([...args, "--init-budget", "100", "--target-budget", "50", "--json"]).stdout,
  );
  assert.equal(explicit.final.budget, 50);
});

Deno.test("planMain() --help explains every flag with an example", () => {
  const { code, stdout } = planMain(["--help"]);
  assert.equal(code, 0);
  assert.equal(stdout, PLAN_HELP);
  for (
    const flag of [
      "--threshold",
      "--matrices",
      "--ref-rank",
      "--delta-rank",
      "--init-warmup",
      "--interval",
      "--total-steps",
      "--top-h",
      "--rounding",
      "--allow-overshoot",
      "--json",
      "--init-budget",
      "--target-budget",
      "--tinit",
      "--tfinal",
      "--delta-t",
      "--method",
    ]
  ) {
    assert.ok(stdout.includes(flag), flag);
  }
  assert.match(stdout, /deno task plan --method triadapt/);
});

Deno.test("planMain() rejects bad flags with one line on stderr and exit code 1", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--bogus"], /--bogus is not a known flag: run with --help for the flags/],
    [[...RTE, "--interval", "abc"], /--interval as it must be a number: current value is "abc"/],
    [[...RTE, "--interval", "NaN"], /--interval as it must be a number: current value is "NaN"/],
    [[...RTE, "--interval", "2.5"], /--interval must be a positive integer: current value is 2\.5/],
    [
      [...RTE, "--total-steps", "100"],
      /--init-warmup must be < --total-steps \(100\): current value is 100/,
    ],
    [[...RTE, "--matrices=-3"], /--matrices must be a positive integer: current value is -3/],
    [[...RTE, "--matrices", "-3"], /--matrices must be a positive integer: current value is -3/],
    [[...RTE, "--threshold", "fixed"], /--top-h must be given when --threshold is "fixed"/],
    [[...RTE, "--threshold", "cubic"], /--threshold must be one of/],
    [[
      "--method",
      "adalora",
      "--tinit",
      "2000",
      "--tfinal",
      "2000",
      "--delta-t",
      "1",
      "--total-steps",
      "3900",
    ], /--tinit \+ --tfinal must be < --total-steps \(3900\)/],
    [["--method", "bogus"], /--method must be/],
    [
      [...RTE, "--tinit", "5"],
      /--tinit must go with --method adalora: current method is "triadapt"/,
    ],
    [
      ["--method", "adalora", "--threshold", "linear"],
      /--threshold must go with --method triadapt/,
    ],
    [[...RTE, "--delta-t", "1"], /--delta-t must go with --method adalora/],
    [["extra"], /positional/i],
  ];
  for (const [args, pattern] of cases) {
    const { code, stdout, stderr } = planMain(args);
    assert.equal(code, 1, args.join(" "));
    assert.equal(stdout, "");
    assert.match(stderr, pattern);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  }
});

// Needs --allow-run (granted by `deno task test`); reported as ignored, not failed, without it.
const canRun = Deno.permissions.querySync({ name: "run" }).state === "granted";

Deno.test({
  name: "deno task plan --json runs as a subprocess",
  ignore: !canRun,
}, async () => {
  const root = new URL("../../", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "plan", ...RTE, "--threshold", "linear", "--json"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const { events } = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.deepEqual(events.map((e: { k: number }) => e.k), [13, 23, 28, 26, 18, 11, 5, 1, 1]);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "plan", "--interval", "NaN"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 1);
});
