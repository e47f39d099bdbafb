/**
 * One help and error style across the five CLIs (`train`, `eval`, `export`, `plan`, `bench`):
 * the help has a one-sentence summary, `Usage:`, titled flag sections, `-h, --help`,
 * `Examples:`, `Permissions:` and `Exit status:`; a bad flag gives exactly one `error:` line
 * naming it (never the usage after it) and exit 1.
 */
import assert from "node:assert/strict";
import { main as benchMain } from "../../bench/main.ts";
import { main as trainMain } from "../../train/cli.ts";
import { main as evalMain } from "../../train/eval_cli.ts";
import { main as exportMain } from "../../train/export_cli.ts";
import { planMain } from "../../train/plan_cli.ts";
import { sink } from "./_folder.ts";

interface Result {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

type Cli = (args: string[]) => Promise<Result>;

const lineIo = () => {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) },
    result: (code: number): Result => ({ code, out: out.join("\n"), err: err.join("\n") }),
  };
};

const CLIS: Readonly<Record<string, Cli>> = {
  train: async (args) => {
    const stdout = sink();
    const stderr = sink();
    const code = await trainMain(args, { stdout, stderr, progress: false });
    return { code, out: stdout.text(), err: stderr.text() };
  },
  eval: async (args) => {
    const { io, result } = lineIo();
    return result(await evalMain(args, io));
  },
  export: async (args) => {
    const { io, result } = lineIo();
    return result(await exportMain(args, io));
  },
  plan: (args) => {
    const r = planMain(args);
    return Promise.resolve({ code: r.code, out: r.stdout, err: r.stderr });
  },
  bench: async (args) => {
    const { io, result } = lineIo();
    return result(await benchMain(args, io));
  },
};

for (const [name, run] of Object.entries(CLIS)) {
  Deno.test(`deno task ${name} --help has the shared layout`, async () => {
    const { code, out, err } = await run(["--help"]);
    assert.equal(code, 0, err);
    assert.equal(err, "");
    const lines = out.trimEnd().split("\n");
    assert.match(lines[0] as string, /^[A-Z][^:]*\.$/, "a one-sentence summary first");
    assert.ok(lines.includes("Usage:"), "Usage: section");
    assert.doesNotMatch(out, /USAGE|^Options:/m);
    assert.ok(lines.some((l) => l.startsWith(`  deno task ${name}`)), "a usage line");
    assert.ok(lines.some((l) => /^ {2}-h, --help +Show this help$/.test(l)), "-h, --help entry");
    assert.ok(lines.includes("Examples:"), "Examples: section");
    assert.match(lines.at(-2) as string, /^Permissions: /);
    assert.match(lines.at(-1) as string, /^Exit status: 0 success; 1 bad input/);
    // Section titles end with a colon and are followed by indented entries.
    for (let i = 1; i < lines.length; i++) {
      if (/^\S.*:$/.test(lines[i] as string) && lines[i - 1] === "") {
        assert.match(lines[i + 1] ?? "", /^ {2}\S/, `entries under ${lines[i]}`);
      }
    }
    assert.ok(lines.every((l) => l.length <= 100), "lines fit 100 columns");
  });

  Deno.test(`deno task ${name} rejects a bad flag with one error line naming it and exit 1`, async () => {
    for (
      const [args, pattern] of [
        [["--bogus"], /--bogus is not a known flag: run with --help for the flags/],
        [["--help=yes"], /--help as it is a switch and takes no value/],
        [["extra"], /every argument must be a --flag/],
      ] as const
    ) {
      const { code, out, err } = await run([...args]);
      assert.equal(code, 1, `${name} ${args.join(" ")}`);
      assert.equal(out, "", "nothing on stdout");
      const lines = err.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line: ${err}`);
      assert.match(lines[0] as string, /^error: Cannot /);
      assert.match(lines[0] as string, pattern);
    }
  });
}

Deno.test("eval and export name a missing --run in one line", async () => {
  for (const run of [CLIS.eval, CLIS.export]) {
    const { code, err } = await run!(["--format", "peft"].slice(0, run === CLIS.eval ? 0 : 2));
    assert.equal(code, 1);
    assert.match(err, /^error: Cannot (evaluate|export) as --run must be given: run with --help/);
    assert.equal(err.trimEnd().split("\n").length, 1, err);
  }
});
