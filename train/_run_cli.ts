/**
 * Internal plumbing shared by the CLIs that act on a run folder (`deno task eval`,
 * `deno task export`): flag parsing, `--help`, the `--run` and `--backend` checks, backend
 * initialisation and the exit status (0 ok, 1 bad input, 2 runtime failure).
 *
 * @internal
 * @module
 */

import { parseArgs } from "node:util";
import { BACKEND_NAMES, type BackendName, initBackend } from "../ops/backend.ts";
import { argsErrorMessage, attachNegativeValues, errorLine } from "./_cli_text.ts";

/**
 * Where a CLI writes: `out` for the report (stdout), `err` for messages (stderr).
 *
 * @example Collecting the help text
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CliIo } from "./_run_cli.ts";
 * import { runRunCli } from "./_run_cli.ts";
 *
 * const out: string[] = [];
 * const io: CliIo = { out: (line) => out.push(line), err: () => {} };
 * const spec = { usage: "Demo.\n\nUsage:\n  demo --run <dir>", command: "demo", verb: "demo", flags: [], act: () => Promise.resolve(1) };
 * assert.equal(await runRunCli(["--help"], io, spec), 0);
 * assert.deepEqual(out, ["Demo.\n\nUsage:\n  demo --run <dir>"]);
 * ```
 */
export interface CliIo {
  /** Writes one line to stdout. */
  readonly out: (line: string) => void;
  /** Writes one line to stderr. */
  readonly err: (line: string) => void;
}

/**
 * The default {@linkcode CliIo}: stdout and stderr.
 *
 * @internal
 */
export const CONSOLE_IO: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * The parsed string flags of a run-folder CLI, by flag name (`--backend` included).
 *
 * @example A check sees the string flags
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunCliValues } from "./_run_cli.ts";
 * import { runRunCli } from "./_run_cli.ts";
 *
 * const seen: RunCliValues[] = [];
 * const check = (values: RunCliValues) => (seen.push(values), values.split === "test" ? "error: no labels" : undefined);
 * const spec = { usage: "u", command: "demo", verb: "demo", flags: ["split"], check, act: () => Promise.resolve(1) };
 * assert.equal(await runRunCli(["--run", "r", "--split", "test"], { out: () => {}, err: () => {} }, spec), 1);
 * assert.deepEqual(seen, [{ run: "r", split: "test", backend: "wasm" }]);
 * ```
 */
export type RunCliValues = Readonly<Record<string, string | undefined>>;

/**
 * What differs between the run-folder CLIs.
 *
 * @example The result of `act` is printed as JSON
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunCliSpec } from "./_run_cli.ts";
 * import { runRunCli } from "./_run_cli.ts";
 *
 * const out: string[] = [];
 * const spec: RunCliSpec = {
 *   usage: "u", command: "demo", verb: "demo", flags: [], act: (run) => Promise.resolve({ run }),
 * };
 * assert.equal(await runRunCli(["--run", "r", "--backend", "cpu"], { out: (l) => out.push(l), err: () => {} }, spec), 0);
 * assert.deepEqual(out, ['{"run":"r"}']);
 * ```
 */
export interface RunCliSpec {
  /** The help text (printed for `--help`; errors are one line and never repeat it). */
  readonly usage: string;
  /** The command's name in the backend line on stderr, e.g. `eval` (`triadapt eval: …`). */
  readonly command: string;
  /** The verb of the error messages, e.g. `evaluate` (`Cannot evaluate as --run must be given`). */
  readonly verb: string;
  /** The string flags besides `--run` and `--backend`. */
  readonly flags: readonly string[];
  /** Checks the flags after `--run` and before `--backend`; returns an error line, or undefined. */
  readonly check?: (values: RunCliValues) => string | undefined;
  /** Does the work once the backend is up; its result is printed as one JSON line. */
  readonly act: (run: string, values: RunCliValues) => Promise<unknown>;
}

function isBadInput(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError ||
    error instanceof SyntaxError || error instanceof Deno.errors.NotFound;
}

/**
 * Runs a run-folder CLI: parses `args`, handles `--help`, requires `--run`, runs `spec.check`,
 * checks `--backend` (default wasm), initialises it (its summary goes to stderr), calls
 * `spec.act` and prints its result as one JSON line.
 *
 * @internal
 * @param args Command-line arguments.
 * @param io Where to write.
 * @param spec What this CLI does.
 * @returns The exit status (0 ok, 1 bad input, 2 runtime failure).
 */
export async function runRunCli(
  args: readonly string[],
  io: CliIo,
  spec: RunCliSpec,
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: attachNegativeValues(args, ["run", ...spec.flags, "backend"]),
      options: {
        run: { type: "string" },
        ...Object.fromEntries(spec.flags.map((flag) => [flag, { type: "string" as const }])),
        backend: { type: "string", default: "wasm" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(errorLine(argsErrorMessage(error)));
    return 1;
  }
  if (values.help) {
    io.out(spec.usage);
    return 0;
  }
  const strings: RunCliValues = Object.fromEntries(
    Object.entries(values).filter((entry): entry is [string, string] =>
      typeof entry[1] === "string"
    ),
  );
  const run = strings.run;
  if (run === undefined || run === "") {
    io.err(
      errorLine(
        `Cannot ${spec.verb} as --run must be given: run with --help for the flags`,
      ),
    );
    return 1;
  }
  const problem = spec.check?.(strings);
  if (problem !== undefined) {
    io.err(errorLine(problem));
    return 1;
  }
  const backend = strings.backend as BackendName;
  if (!BACKEND_NAMES.includes(backend)) {
    io.err(
      errorLine(
        `Cannot ${spec.verb} as --backend must be one of ${
          BACKEND_NAMES.join(", ")
        }: current value is ${strings.backend}`,
      ),
    );
    return 1;
  }
  try {
    io.err(`triadapt ${spec.command}: ${(await initBackend(backend)).summary}`);
    io.out(JSON.stringify(await spec.act(run, strings)));
    return 0;
  } catch (error) {
    io.err(errorLine((error as Error).message ?? String(error)));
    return isBadInput(error) ? 1 : 2;
  }
}
