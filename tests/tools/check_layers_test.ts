import assert from "node:assert/strict";
import { checkCoreSource, checkLayers } from "../../tools/check_layers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("checkCoreSource() accepts pure code and imports of core's own files", () => {
  const source = [
    'import { assertInteger } from "./_validate.ts";',
    'import type { Rounding } from "./threshold.ts";',
    'export * from "./sub/../planner.ts";',
    "/** @example",
    ' * import assert from "node:assert/strict"; // examples may import anything',
    " * Deno.exit(0);",
    " */",
    "// Deno.readTextFile is mentioned in a comment only",
    'const url = "https://example.org/x.ts"; // a string, not an import',
  ].join("\n");
  assert.deepEqual(checkCoreSource("core/a.ts", source), []);
});

Deno.test("checkCoreSource() rejects a tensor library, Deno and imports from outside core/", () => {
  const cases: Array<[string, RegExp]> = [
    ['import * as tf from "@tensorflow/tfjs";', /tensor library/],
    ['import * as tf from "npm:@tensorflow/tfjs@4.22.0";', /tensor library/],
    ['const tf = await import("@tensorflow/tfjs-backend-wasm");', /tensor library/],
    ["const text = await Deno.readTextFile(path);", /uses Deno/],
    ['const env = Deno["env"];', /uses Deno/],
    ["const d = globalThis.Deno;", /uses Deno/],
    ['import { adapter } from "../ops/mod.ts";', /"\.\.\/ops\/mod\.ts" from outside core/],
    ['import { x } from "./sub/../../train/loop.ts";', /from outside core/],
    ['import { readFileSync } from "node:fs";', /"node:fs" from outside core/],
    ['import fc from "fast-check";', /"fast-check" from outside core/],
    ['import "npm:left-pad";', /"npm:left-pad" from outside core/],
    ['export { x } from "https://example.org/x.ts";', /from outside core/],
    ['const m = await import("npm:fflate");', /"npm:fflate" from outside core/],
    ["const m = await import(name);", /computed specifier/],
    [
      'import {\n  a,\n  b,\n} from "../model/mod.ts";',
      /core\/a\.ts:1: imports "\.\.\/model\/mod\.ts"/,
    ],
  ];
  for (const [source, pattern] of cases) {
    const problems = checkCoreSource("core/a.ts", source);
    assert.equal(problems.length, 1, `${source}\n${problems.join("\n")}`);
    assert.match(problems[0] ?? "", pattern);
  }
});

Deno.test("checkCoreSource() reports the line of each problem", () => {
  const source = "/**\n * Deno. in a comment\n */\nexport const x = 1;\nDeno.exit(1);\n";
  assert.deepEqual(checkCoreSource("core/x.ts", source), [
    "core/x.ts:5: uses Deno (I/O belongs to train/): Deno.exit(1);",
  ]);
});

Deno.test("checkLayers() passes on this repository's core/", async () => {
  assert.deepEqual(await checkLayers(ROOT), []);
});

// Needs --allow-write and --allow-run (granted by `deno task test`).
const canRun = Deno.permissions.querySync({ name: "run" }).state === "granted" &&
  Deno.permissions.querySync({ name: "write" }).state === "granted";

Deno.test({
  name: "tools/check_layers.ts exits 1 on a copy of core/ that imports tfjs or uses Deno",
  ignore: !canRun,
}, async () => {
  // Arrange: a temporary copy of core/
  const tmp = await Deno.makeTempDir({ prefix: "check_layers_" });
  try {
    await Deno.mkdir(`${tmp}/core`);
    for await (const entry of Deno.readDir(`${ROOT}core`)) {
      if (entry.isFile) {
        await Deno.copyFile(`${ROOT}core/${entry.name}`, `${tmp}/core/${entry.name}`);
      }
    }
    const run = async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", `${ROOT}tools/check_layers.ts`, tmp],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    };
    // Act / Assert: the clean copy passes
    assert.equal((await run()).code, 0);
    // a tensor import in a new file fails
    await Deno.writeTextFile(`${tmp}/core/bad.ts`, 'import * as tf from "@tensorflow/tfjs";\n');
    let result = await run();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /core\/bad\.ts:1: imports a tensor library/);
    // Deno.* appended to an existing file fails
    await Deno.remove(`${tmp}/core/bad.ts`);
    const planner = `${tmp}/core/planner.ts`;
    await Deno.writeTextFile(planner, "\nexport const env = Deno.env;\n", { append: true });
    result = await run();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /core\/planner\.ts:\d+: uses Deno/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
