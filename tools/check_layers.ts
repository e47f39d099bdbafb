/**
 * Layer check: fails if anything under `core/` imports a tensor library, touches `Deno.*`,
 * or imports from the effectful layers (`ops/`, `model/`, `train/`).
 *
 * Run: `deno run --allow-read tools/check_layers.ts`
 *
 * @module
 */

const FORBIDDEN: ReadonlyArray<readonly [RegExp, string]> = [
  [/@tensorflow\//, "imports a tensor library"],
  [/\bDeno\s*\./, "uses Deno.* (I/O belongs to train/)"],
  [/from\s+["']\.\.\/(ops|model|train|bench)\//, "imports from an effectful layer"],
  [/import\(\s*["']npm:/, "imports an npm package dynamically"],
];

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile && /\.(ts|js|mts)$/.test(entry.name)) yield path;
  }
}

const problems: string[] = [];
for await (const file of walk("core")) {
  const lines = (await Deno.readTextFile(file)).split("\n");
  lines.forEach((line, i) => {
    for (const [pattern, why] of FORBIDDEN) {
      if (pattern.test(line)) problems.push(`${file}:${i + 1}: ${why}: ${line.trim()}`);
    }
  });
}
if (problems.length > 0) {
  console.error(`Layer check failed: core/ must stay pure\n${problems.join("\n")}`);
  Deno.exit(1);
}
console.log("Layer check passed: core/ imports no tensor library and no Deno.*");
