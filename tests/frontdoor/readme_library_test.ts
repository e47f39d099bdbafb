/**
 * The README's "Use it as a library" program runs: its code block, with its commented-out call
 * enabled on the repository's tiny fixtures and the schedule shortened, is run in a fresh
 * process (no `initBackend()` call, as written) through the public API.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const TESTDATA = new URL("testdata/", ROOT).pathname;

async function librarySnippet(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.split("## Use it as a library")[1]?.split("\n## ")[0] ?? "";
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, "README has a ts block under 'Use it as a library'");
  return block;
}

function swap(code: string, from: string, to: string): string {
  assert.ok(code.includes(from), `the README snippet still contains ${from}`);
  return code.replace(from, to);
}

Deno.test("the README 'Use it as a library' program runs end to end on the tiny fixtures", async () => {
  const out = await Deno.makeTempDir({ prefix: "triadapt-readme-" });
  try {
    let code = await librarySnippet();
    code = swap(code, `from "@triadapt/triadapt"`, `from "${new URL("mod.ts", ROOT).href}"`);
    code = swap(
      code,
      "maxLength: 128 }",
      `maxLength: 16, tokenizer: "${TESTDATA}golden/spm/unigram.model", outOfRangeIds: "unk",
  maxTrainExamples: 8, maxEvalExamples: 4 }`,
    );
    code = swap(code, "totalSteps: 400", "totalSteps: 4");
    code = swap(code, "initWarmup: 100,", "initWarmup: 1,");
    code = swap(code, "interval: 50,", "interval: 1,");
    code = swap(code, "batchSize: 8", "batchSize: 2");
    code = swap(
      code,
      `// await fineTuneRte("../models/deberta-v3-base", "../glue_data/RTE", "runs/rte-peft");`,
      `await fineTuneRte("${TESTDATA}golden/deberta/tiny-a", "${TESTDATA}data/glue/RTE", "${out}/peft");`,
    );
    code = swap(
      code,
      "console.log(await trainer.evaluate());",
      `const ev = await trainer.evaluate();
  console.log(JSON.stringify({ step: trainer.step, metric: ev.metric, ranks: trainer.controller.ranks() }));`,
    );
    const file = `${out}/snippet.ts`;
    await Deno.writeTextFile(file, code);
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--config",
        new URL("deno.json", ROOT).pathname,
        file,
      ],
      cwd: ROOT.pathname,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, stderr);
    const lines = new TextDecoder().decode(run.stdout).trim().split("\n");
    const r = JSON.parse(lines[lines.length - 1] ?? "{}") as {
      step: number;
      metric: string;
      ranks: number[];
    };
    assert.equal(r.step, 4);
    assert.equal(r.metric, "accuracy");
    assert.ok(r.ranks.some((x) => x > 1), "TriAdaptLoRA grew during the run");
    const config = JSON.parse(await Deno.readTextFile(`${out}/peft/adapter_config.json`));
    assert.equal(config.peft_type, "LORA");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
