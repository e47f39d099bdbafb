/**
 * Layer check: fails if anything under `core/` imports a tensor library, touches `Deno`, or
 * imports anything but its own files (no `ops/`, `model/`, `train/`, no npm/node/remote module).
 * Comments are ignored, so JSDoc examples may show any import.
 *
 * Run: `deno run --allow-read tools/check_layers.ts [root]` (root defaults to the current
 * directory; exit code 1 and one line per problem on stderr when the check fails).
 *
 * @module
 */

/** File extensions the check reads. */
const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

/**
 * Blanks out `//` and `/* … *\/` comments, keeping strings, line breaks and offsets, so that
 * line numbers stay right. Template literals are treated as strings.
 *
 * @param source TypeScript or JavaScript text.
 * @returns The same text with every comment character replaced by a space.
 *
 * @example Usage
 * ```ts
 * import { stripComments } from "./check_layers.ts";
 * import assert from "node:assert/strict";
 *
 * const code = stripComments('a; // Deno.exit()\nb; /* Deno *\/ "// kept"');
 * assert.equal(code.split("\n").length, 2);
 * assert.ok(!code.includes("Deno") && code.includes('"// kept"'));
 * ```
 */
export function stripComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i] ?? "";
    const next = source[i + 1] ?? "";
    if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") {
        out += " ";
        i++;
      }
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      for (; i < stop; i++) out += source[i] === "\n" ? "\n" : " ";
    } else if (c === '"' || c === "'" || c === "`") {
      out += c;
      i++;
      while (i < source.length && source[i] !== c) {
        if (source[i] === "\\") {
          out += source[i];
          i++;
        }
        if (i < source.length) out += source[i];
        i++;
      }
      if (i < source.length) out += source[i];
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORTS: readonly RegExp[] = [
  /\b(?:import|export)\s[^;'"`]*?\bfrom\s*(["'])([^"']*)\1/g, // import … from "x" / export … from "x"
  /\bimport\s*(["'])([^"']*)\1/g, // import "x"
  /\bimport\s*\(\s*(["'])([^"']*)\1\s*[,)]/g, // import("x")
  /\brequire\s*\(\s*(["'])([^"']*)\1\s*\)/g, // require("x")
];

/** Resolves a relative specifier against a file path; `undefined` when it leaves the root. */
function resolve(file: string, specifier: string): string | undefined {
  const parts = file.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else if (part !== "." && part !== "") parts.push(part);
  }
  return parts.join("/");
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text[i] === "\n") line++;
  return line;
}

/**
 * Checks one source file of `core/` and lists its problems as `file:line: why: code`.
 *
 * @param file Path of the file relative to the repository root (e.g. `core/planner.ts`).
 * @param source Its text.
 * @returns One line per problem; empty when the file is pure.
 *
 * @example Usage
 * ```ts
 * import { checkCoreSource } from "./check_layers.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(checkCoreSource("core/a.ts", 'import { b } from "./b.ts";'), []);
 * const [problem] = checkCoreSource("core/a.ts", 'import * as tf from "npm:@tensorflow/tfjs";');
 * assert.match(problem ?? "", /^core\/a\.ts:1: imports a tensor library/);
 * ```
 */
export function checkCoreSource(file: string, source: string): readonly string[] {
  const code = stripComments(source);
  const lines = source.split("\n");
  const problems: string[] = [];
  const report = (index: number, why: string): void => {
    const line = lineOf(code, index);
    problems.push(`${file}:${line}: ${why}: ${(lines[line - 1] ?? "").trim()}`);
  };
  for (const match of code.matchAll(/@tensorflow\//g)) {
    report(match.index, "imports a tensor library");
  }
  for (const match of code.matchAll(/\bDeno\b/g)) {
    report(match.index, "uses Deno (I/O belongs to train/)");
  }
  for (const pattern of IMPORTS) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[2] ?? "";
      if (specifier.includes("@tensorflow/")) continue; // reported above
      const target = /^\.\.?\//.test(specifier) ? resolve(file, specifier) : undefined;
      if (target === undefined || !(target === "core" || target.startsWith("core/"))) {
        report(match.index, `imports ${JSON.stringify(specifier)} from outside core/`);
      }
    }
  }
  for (const match of code.matchAll(/\bimport\s*\(\s*(?!["'][^"']*["']\s*[,)])/g)) {
    report(match.index, "imports a computed specifier");
  }
  return problems;
}

/**
 * Checks every source file under `<root>/core/`.
 *
 * @param root Repository root (default the current directory).
 * @returns One line per problem, paths relative to the root; empty when `core/` is pure.
 *
 * @example Usage
 * ```ts
 * import { checkLayers } from "./check_layers.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(await checkLayers(new URL("..", import.meta.url).pathname), []);
 * ```
 */
export async function checkLayers(root = "."): Promise<readonly string[]> {
  const problems: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = [];
    for await (const entry of Deno.readDir(`${root}/${dir}`)) entries.push(entry);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && SOURCE.test(entry.name)) {
        problems.push(...checkCoreSource(path, await Deno.readTextFile(`${root}/${path}`)));
      }
    }
  };
  await walk("core");
  return problems;
}

if (import.meta.main) {
  const problems = await checkLayers(Deno.args[0] ?? ".");
  if (problems.length > 0) {
    console.error(`Layer check failed: core/ must stay pure\n${problems.join("\n")}`);
    Deno.exit(1);
  }
  console.log("Layer check passed: core/ imports only its own files, no tensor library, no Deno");
}
