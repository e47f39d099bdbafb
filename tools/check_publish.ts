/**
 * JSR check: runs `deno publish --dry-run --allow-dirty` and fails when it fails or prints any
 * warning (an unanalysable dynamic import, for example, would not resolve from JSR).
 *
 * Run: `deno run --allow-run --allow-read tools/check_publish.ts` (exit code 1 with the warnings
 * on stderr when the check fails).
 *
 * @module
 */

/**
 * The warnings of a `deno publish` output: every line that starts a `warning[…]` diagnostic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishWarnings } from "./check_publish.ts";
 *
 * assert.deepEqual(publishWarnings("Checking\nwarning[unanalyzable-dynamic-import]: x\nok"), [
 *   "warning[unanalyzable-dynamic-import]: x",
 * ]);
 * assert.deepEqual(publishWarnings("Success Dry run complete"), []);
 * ```
 *
 * @param output The command's stdout and stderr, colours removed or not.
 * @returns The warning lines.
 */
export function publishWarnings(output: string): string[] {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  return plain.split("\n").filter((line) => /^warning\[/.test(line.trim()));
}

if (import.meta.main) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
  const warnings = publishWarnings(text);
  if (!result.success || warnings.length > 0) {
    console.error(text);
    console.error(
      `check_publish: deno publish --dry-run ${
        result.success ? `printed ${warnings.length} warning(s)` : "failed"
      }`,
    );
    Deno.exit(1);
  }
  console.log("check_publish: deno publish --dry-run succeeded with no warning");
}
