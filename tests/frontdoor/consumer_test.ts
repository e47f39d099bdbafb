/**
 * The consumer test: `tests/consumer/` is a user's project with its own `deno.json` (not this
 * repository's import map). It imports `jsr:@triadapt/triadapt` and links it (`links`) to a copy
 * of exactly the files `deno publish` would ship (this repository minus `exclude` and
 * `publish.exclude`), so the package resolves its own bare specifiers from its own `deno.json`,
 * as a JSR install does, and any import of an unshipped file fails. It runs the README quick
 * start through the public exports only: load a checkpoint, adapt it, train, export to PEFT.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONSUMER = join(ROOT, "tests", "consumer");

/**
 * Whether a repository-relative path matches one of deno.json's exclude patterns (the folder and
 * file prefixes this repository uses; `!` re-inclusions are ignored, as they only re-include
 * `mod.ts`, which no other pattern excludes).
 */
function excluded(path: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    if (p.startsWith("!")) return false;
    const q = p.replace(/^\.\//, "");
    return q.endsWith("/") ? path.startsWith(q) : path === q || path.startsWith(`${q}/`);
  });
}

async function stagePackage(to: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as {
    exclude?: string[];
    publish?: { exclude?: string[] };
  };
  const patterns = [
    ".git",
    "node_modules/",
    ...(config.exclude ?? []),
    ...(config.publish?.exclude ?? []),
  ];
  const copied: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const abs = join(dir, entry.name);
      const rel = relative(ROOT, abs) + (entry.isDirectory ? "/" : "");
      if (excluded(rel, patterns)) continue;
      if (entry.isDirectory) await walk(abs);
      else if (entry.isFile) {
        await Deno.mkdir(dirname(join(to, rel)), { recursive: true });
        await Deno.copyFile(abs, join(to, rel));
        copied.push(rel);
      }
    }
  };
  await walk(ROOT);
  return copied;
}

Deno.test("a consumer project with its own deno.json runs the quick start from the published files through the public exports", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "triadapt-consumer-test-" });
  try {
    const files = await stagePackage(join(tmp, "pkg"));
    assert.ok(files.includes("mod.ts") && files.includes("deno.json"));
    assert.ok(!files.some((f) => f.startsWith("tests/")), "tests/ is not shipped");
    await Deno.mkdir(join(tmp, "consumer"));
    const consumer = JSON.parse(await Deno.readTextFile(join(CONSUMER, "deno.json"))) as {
      imports: Record<string, string>;
      links: string[];
    };
    assert.equal(consumer.imports["@triadapt/triadapt"], "jsr:@triadapt/triadapt@^0.1.0");
    assert.deepEqual(consumer.links, ["../../"], "the committed project links this repository");
    await Deno.writeTextFile(
      join(tmp, "consumer", "deno.json"),
      JSON.stringify({ ...consumer, links: ["../pkg"] }),
    );
    await Deno.copyFile(join(CONSUMER, "main.ts"), join(tmp, "consumer", "main.ts"));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", "main.ts"],
      cwd: join(tmp, "consumer"),
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const lines = stdout.trim().split("\n");
    const r = JSON.parse(lines[lines.length - 1] ?? "{}") as {
      backend: string;
      losses: number[];
      ranks: number;
      events: number;
      peftType: string;
      peftModules: number;
      reloaded: number;
      maxDiff: number;
      adapterEffect: number;
      planned: number;
    };
    assert.equal(r.backend, "wasm", "loadModel readied the default backend");
    assert.equal(r.losses.length, 4);
    assert.ok(r.losses.every(Number.isFinite));
    assert.equal(r.ranks, 24, "TriAdaptLoRA spent the budget r_ref·M = 2·12");
    assert.equal(r.events, 1);
    assert.deepEqual([r.peftType, r.peftModules, r.reloaded], ["LORA", 12, 12]);
    assert.ok(r.adapterEffect > 0, "the trained adapters change the logits");
    // The PEFT reload reproduces the trained model far closer than the adapters moved it.
    assert.ok(r.maxDiff <= r.adapterEffect / 100, `${r.maxDiff} vs ${r.adapterEffect}`);
    assert.equal(r.planned, 1, "the ./core subpath export works");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
