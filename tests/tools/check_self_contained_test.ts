import assert from "node:assert/strict";
import {
  checkSelfContained,
  findExampleFixtureReads,
  findSharedReferences,
} from "../../tools/check_self_contained.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
// Spelled out, these names would make this file fail the check it tests (and the grep).
const S = "shared";
const FENCE = "`".repeat(3);

Deno.test("findSharedReferences() flags relative, absolute and bare paths into the reference folder", () => {
  const cases: [string, RegExp][] = [
    [`const url = new URL("../../../${S}/golden/x", import.meta.url);`, /names \.\.\/shared \(/],
    [`Tests read them from \`../${S}\`.`, /names \.\.\/shared\b/],
    [`open("/work/${S}/data/glue")`, /names \/work\/shared\b/],
    [`readFile(\`${S}/data/squad2/dev.json\`)`, /names a path into the shared folder/],
    [`expected.data_file.replace(/^${S}\\//, "")`, /a path into the shared folder/],
  ];
  for (const [line, pattern] of cases) {
    const problems = findSharedReferences("a.ts", `// first line\n${line}\n`);
    assert.equal(problems.length, 1, line);
    assert.match(problems[0] ?? "", /^a\.ts:2: /);
    assert.match(problems[0] ?? "", pattern);
  }
});

Deno.test("findSharedReferences() accepts the word in prose and in other names", () => {
  const text = [
    "// one key projection shared by content and position",
    "/** The shared skinny chain. */",
    "const unshared = `un${S}/x`; const sharedKey = 1;",
    `const p = "over${S}/y";`,
  ].join("\n");
  assert.deepEqual(findSharedReferences("b.ts", text), []);
});

Deno.test("findExampleFixtureReads() flags testdata/ and tests/ inside JSDoc code fences only", () => {
  const text = [
    "/**",
    " * Golden files live in testdata/ (prose is fine).",
    " *",
    " * @example",
    ` * ${FENCE}ts`,
    ' * const url = new URL("../testdata/golden/spm/unigram.model", import.meta.url);',
    ' * import { helper } from "../tests/_fc.ts";',
    " * const plain = 1;",
    ` * ${FENCE}`,
    " */",
    'export const X = "testdata/x"; // not in an example',
    "/** One line doc with testdata/ in it. */",
    "// ```ts",
    '// new URL("../testdata/x")',
  ].join("\n");
  const problems = findExampleFixtureReads("m.ts", text);
  assert.equal(problems.length, 2, problems.join("\n"));
  assert.match(problems[0] ?? "", /^m\.ts:6: a JSDoc example reads testdata\//);
  assert.match(problems[1] ?? "", /^m\.ts:7: a JSDoc example reads tests\//);
});

Deno.test("checkSelfContained() passes on this repository", async () => {
  assert.deepEqual(await checkSelfContained(ROOT), []);
});

// Needs --allow-write and --allow-run (granted by `deno task test`).
const canRun = Deno.permissions.querySync({ name: "run" }).state === "granted" &&
  Deno.permissions.querySync({ name: "write" }).state === "granted";

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

Deno.test({
  name: "tools/check_self_contained.ts exits 1 on a copy that names the folder or reads testdata/",
  ignore: !canRun,
}, async () => {
  // Arrange: a temporary copy of the published sources and the docs.
  const tmp = await Deno.makeTempDir({ prefix: "check_self_contained_" });
  try {
    for (const dir of ["model", "train", "docs"]) await copyTree(`${ROOT}${dir}`, `${tmp}/${dir}`);
    for (const file of ["deno.json", "mod.ts", "README.md"]) {
      await Deno.copyFile(`${ROOT}${file}`, `${tmp}/${file}`);
    }
    const run = async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", `${ROOT}tools/check_self_contained.ts`, tmp],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    };
    // Act / Assert: the clean copy passes
    assert.equal((await run()).code, 0, (await run()).stderr);
    // a README sentence about the reference folder fails
    await Deno.writeTextFile(`${tmp}/README.md`, `\nTests read \`../${S}/data\`.\n`, {
      append: true,
    });
    let result = await run();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /README\.md:\d+: names \.\.\/shared\b/);
    // fixed again, then an example that reads testdata/ fails
    await Deno.copyFile(`${ROOT}README.md`, `${tmp}/README.md`);
    assert.equal((await run()).code, 0);
    await Deno.writeTextFile(
      `${tmp}/model/extra.ts`,
      [
        "/**",
        " * @example",
        ` * ${FENCE}ts`,
        ' * const bytes = await Deno.readFile(new URL("../testdata/golden/x.model", import.meta.url));',
        ` * ${FENCE}`,
        " */",
        "export const EXTRA = 1;",
        "",
      ].join("\n"),
    );
    result = await run();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /model\/extra\.ts:4: a JSDoc example reads testdata\//);
    // the same example in an unpublished folder is not the package's business
    await Deno.mkdir(`${tmp}/bench`);
    await Deno.rename(`${tmp}/model/extra.ts`, `${tmp}/bench/extra.ts`);
    assert.equal((await run()).code, 0);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
