/**
 * Self-containment check: the repository must stand on its own.
 *
 * 1. No file outside `testdata/` names the reference folder the fixtures were copied from
 *    (the parent folder's copy, its absolute /work path, or a path that starts with that folder's name and a slash).
 *    `testdata/` holds verbatim copies and their provenance, which may name it; this file and its
 *    test must name it too, and are exempt (they spell no such path out).
 * 2. No JSDoc example in a published file (every `.ts` file not excluded from the JSR package by
 *    `deno.json`) reads `testdata/` or `tests/`: those folders are not shipped, so such an
 *    example would fail for anyone running it from the package.
 *
 * Run: `deno run --allow-read tools/check_self_contained.ts [root]` (root defaults to the current
 * directory; exit code 1 and one line per problem on stderr when the check fails).
 *
 * @module
 */

/** Names never scanned: git, build outputs, caches, and the verbatim fixtures. */
const SKIP_DIRS: ReadonlySet<string> = new Set([
  ".git",
  "node_modules",
  ".deno",
  "runs",
  "testdata",
]);

/** Files that must describe the forbidden names (they spell no such path out). */
const EXEMPT: ReadonlySet<string> = new Set([
  "tools/check_self_contained.ts",
  "tests/tools/check_self_contained_test.ts",
]);

const FOLDER = "shared";
const SHARED_PATTERNS: readonly [RegExp, string][] = [
  [new RegExp(`\\.\\./${FOLDER}\\b`), `../${FOLDER}`],
  [new RegExp(`/work/${FOLDER}\\b`), `/work/${FOLDER}`],
  [new RegExp(`(?:^|[^A-Za-z0-9_.-])${FOLDER}\\\\?/`), `a path into the ${FOLDER} folder`], // also regex-escaped
];

/**
 * Lines of one file that name the shared reference folder (by a relative or absolute path, or a path
 * into it). Words such as "shared by" or "shared storage" are fine.
 *
 * @param file The file's path relative to the root, for messages.
 * @param text The file's text.
 * @returns One `file:line: …` message per offending line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSharedReferences } from "./check_self_contained.ts";
 *
 * const s = "shared"; // spelled out, this file would name the folder itself
 * const text = `const a = "../${s}/data";\n// weights shared by both heads\nread("${s}/golden/x");\n`;
 * assert.deepEqual(findSharedReferences("x.ts", text), [
 *   `x.ts:1: names ../${s} (copy the file into testdata/): const a = "../${s}/data";`,
 *   `x.ts:3: names a path into the ${s} folder (copy the file into testdata/): read("${s}/golden/x");`,
 * ]);
 * ```
 */
export function findSharedReferences(file: string, text: string): string[] {
  const out: string[] = [];
  text.split("\n").forEach((line, i) => {
    for (const [pattern, what] of SHARED_PATTERNS) {
      if (pattern.test(line)) {
        out.push(`${file}:${i + 1}: names ${what} (copy the file into testdata/): ${line.trim()}`);
        break;
      }
    }
  });
  return out;
}

const FIXTURE_DIR = /(?:^|[^A-Za-z0-9_-])(testdata|tests)\//;

/**
 * Lines of JSDoc example code (fenced blocks inside `/** … *\/` comments) that name `testdata/`
 * or `tests/`, folders the published package does not ship.
 *
 * @param file The file's path relative to the root, for messages.
 * @param text The file's text.
 * @returns One `file:line: …` message per offending line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findExampleFixtureReads } from "./check_self_contained.ts";
 *
 * const fence = "`".repeat(3);
 * const text = [
 *   "/**",
 *   " * Reads testdata/ in prose: fine.",
 *   " * @example",
 *   ` * ${fence}ts`,
 *   ' * const bytes = await Deno.readFile(new URL("../testdata/x.model", import.meta.url));',
 *   ` * ${fence}`,
 *   " *" + "/",
 *   'export const PATH = "tests/x"; // code outside comments is not an example',
 * ].join("\n");
 * assert.deepEqual(findExampleFixtureReads("m.ts", text), [
 *   "m.ts:5: a JSDoc example reads testdata/, which the package does not ship: " +
 *   '* const bytes = await Deno.readFile(new URL("../testdata/x.model", import.meta.url));',
 * ]);
 * ```
 */
export function findExampleFixtureReads(file: string, text: string): string[] {
  const out: string[] = [];
  const lines = text.split("\n");
  let inDoc = false;
  let inFence = false;
  lines.forEach((line, i) => {
    if (!inDoc) {
      const open = line.indexOf("/**");
      if (open === -1) return;
      inDoc = !line.slice(open + 3).includes("*/");
      return;
    }
    if (line.includes("*/")) {
      inDoc = false;
      inFence = false;
      return;
    }
    const body = line.replace(/^\s*\*\s?/, "");
    if (body.trimStart().startsWith("```")) {
      inFence = !inFence;
      return;
    }
    const hit = inFence ? FIXTURE_DIR.exec(line) : null;
    if (hit !== null) {
      out.push(
        `${file}:${i + 1}: a JSDoc example reads ${hit[1]}/, which the package does not ship: ` +
          line.trim(),
      );
    }
  });
  return out;
}

/** `deno.json`'s folder exclusions for the package (`exclude` and `publish.exclude`). */
async function unpublishedDirs(root: string): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)) as {
    exclude?: string[];
    publish?: { exclude?: string[] };
  };
  return [...(json.exclude ?? []), ...(json.publish?.exclude ?? [])]
    .filter((p) => !p.startsWith("!"))
    .map((p) => p.replace(/^\.\//, "").replace(/\/?$/, "/"));
}

async function listFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(dir === "" ? root : `${root}/${dir}`)) {
      entries.push(entry);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (SKIP_DIRS.has(entry.name)) continue; // a worktree's .git is a file
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) files.push(path);
    }
  };
  await walk("");
  return files;
}

/**
 * Runs both checks over a repository folder.
 *
 * @param root The repository root (default the current directory).
 * @returns Every problem, one line each; empty when the repository is self-contained.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSelfContained } from "./check_self_contained.ts";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/deno.json`, '{ "publish": { "exclude": ["tests/"] } }');
 * const s = "shared";
 * await Deno.writeTextFile(`${root}/mod.ts`, `export const DATA = "../${s}/x";\n`);
 * assert.deepEqual(await checkSelfContained(root), [
 *   `mod.ts:1: names ../${s} (copy the file into testdata/): export const DATA = "../${s}/x";`,
 * ]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function checkSelfContained(root = "."): Promise<string[]> {
  const unpublished = await unpublishedDirs(root);
  const problems: string[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const file of await listFiles(root)) {
    let text: string;
    try {
      text = decoder.decode(await Deno.readFile(`${root}/${file}`));
    } catch (e) {
      if (e instanceof TypeError) continue; // binary, not text
      throw e;
    }
    if (!EXEMPT.has(file)) problems.push(...findSharedReferences(file, text));
    const published = file.endsWith(".ts") && !unpublished.some((d) => file.startsWith(d));
    if (published) problems.push(...findExampleFixtureReads(file, text));
  }
  return problems;
}

if (import.meta.main) {
  const problems = await checkSelfContained(Deno.args[0] ?? ".");
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(
      `${problems.length} problem(s): the repository must not name the shared reference folder, ` +
        "and published examples must not read testdata/ or tests/",
    );
    Deno.exit(1);
  }
  console.log(
    "Self-containment check passed: no path outside the repository, no example reads testdata/",
  );
}
