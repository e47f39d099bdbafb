/**
 * One help and error style for every CLI of the package (`deno task train`, `eval`, `export`,
 * `plan`, `bench`):
 *
 * - help: a one-sentence summary, `Usage:`, one titled section per flag group with aligned
 *   columns (`-h, --help` last), `Examples:`, then `Permissions:` and `Exit status:` lines;
 * - errors: exactly one line on stderr, `error: Cannot <do what> as <flag or file> must …:
 *   current value is …`, never the usage text after it; exit 1 for bad input (flags, files,
 *   folders), 2 for a runtime failure.
 *
 * @internal
 * @module
 */

/** Width of the help text. */
const HELP_WIDTH = 100;
/** Width of the flag column. */
const FLAG_COLUMN = 30;

/**
 * The exit-status line every help text ends with.
 *
 * @internal
 */
export const EXIT_STATUS =
  "Exit status: 0 success; 1 bad input (one line on stderr naming the flag or file); 2 runtime failure.";

/**
 * The entry of `-h, --help` every help text lists last.
 *
 * @internal
 */
export const HELP_ENTRY: readonly [string, string] = ["-h, --help", "Show this help"];

function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/**
 * One help entry: the flag column, then the text wrapped to the help width (a no-break space
 * keeps `(default: x)` together and prints as a plain space).
 *
 * @internal
 * @param column The flag and its value, e.g. `--run <dir>`.
 * @param text One-sentence help.
 * @returns The lines.
 */
export function helpEntry(column: string, text: string): string[] {
  const indent = " ".repeat(FLAG_COLUMN);
  const wrapped = wrapWords(text, HELP_WIDTH - FLAG_COLUMN).map((l) => l.replaceAll("\u00a0", " "));
  const head = `  ${column}`;
  if (head.length + 2 > FLAG_COLUMN) return [head, ...wrapped.map((l) => indent + l)];
  return wrapped.map((l, i) => (i === 0 ? head.padEnd(FLAG_COLUMN) : indent) + l);
}

/**
 * What a help text holds.
 *
 * @internal
 */
export interface HelpSpec {
  /** One sentence: what the command does. */
  readonly summary: string;
  /** Extra lines after the summary (optional). */
  readonly about?: readonly string[];
  /** Command lines, e.g. `deno task eval --run <run dir> [flags]`. */
  readonly usage: readonly string[];
  /** Flag sections: a title and `[column, text]` entries; plain strings are free lines. */
  readonly sections: readonly {
    readonly title: string;
    readonly entries: readonly (readonly [string, string] | string)[];
  }[];
  /** Examples: `# comment` lines and commands. */
  readonly examples: readonly string[];
  /** The permissions line's text. */
  readonly permissions: string;
}

/**
 * Builds a help text in the package's one style.
 *
 * @internal
 * @param spec Summary, usage, sections, examples and permissions.
 * @returns The text (no trailing newline).
 */
export function formatHelp(spec: HelpSpec): string {
  const lines: string[] = [spec.summary, ...(spec.about ?? []), "", "Usage:"];
  for (const u of spec.usage) lines.push(`  ${u}`);
  for (const section of spec.sections) {
    lines.push("", `${section.title}:`);
    for (const entry of section.entries) {
      if (typeof entry === "string") lines.push(entry === "" ? "" : `  ${entry}`);
      else lines.push(...helpEntry(entry[0], entry[1]));
    }
  }
  if (spec.examples.length > 0) {
    lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  }
  lines.push("", `Permissions: ${spec.permissions}`, EXIT_STATUS);
  return lines.join("\n");
}

const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * `--flag -3` → `--flag=-3` for flags that take a value, so that `node:util` `parseArgs` reads a
 * negative number as the value (the range check then names the flag) instead of a switch.
 *
 * @internal
 * @param argv The arguments.
 * @param valueFlags The flags (without `--`) that take a value.
 * @returns The arguments with negative values attached.
 */
export function attachNegativeValues(
  argv: readonly string[],
  valueFlags: readonly string[],
): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (
      arg.startsWith("--") && valueFlags.includes(arg.slice(2)) && next !== undefined &&
      NEGATIVE_NUMBER.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/**
 * The one-line message for an error of `node:util` `parseArgs`, in the package's style.
 *
 * @internal
 * @param error What `parseArgs` threw.
 * @returns The message (without `error: `).
 */
export function argsErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const first = message.split("\n")[0] ?? message;
  // `'-h, --help'` names the long flag; `'--lr <value>'` the flag before its value.
  const optionMatch = /'(?:-\w, )?(-[^' ,]+)/.exec(first);
  const option = optionMatch?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Cannot parse arguments as ${option} is not a known flag: run with --help for the flags`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const arg = /'([^']*)'/.exec(first)?.[1] ?? "";
      return `Cannot parse arguments as every argument must be a --flag (positional values are not taken): current value is ${
        JSON.stringify(arg)
      }`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(first)) {
        return `Cannot parse ${option} as it is a switch and takes no value: current value is attached`;
      }
      return `Cannot parse ${option} as it must be followed by a value: current value is missing`;
    default:
      return `Cannot parse arguments: ${first}`;
  }
}

/**
 * The error line: `error: ` and the first line of the message.
 *
 * @internal
 * @param message The message.
 * @returns One line, without a newline.
 */
export function errorLine(message: string): string {
  return `error: ${(message.split("\n")[0] ?? "").replace(/^error: /, "")}`;
}
