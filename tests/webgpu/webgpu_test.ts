/**
 * Runs the webgpu cases (`tests/webgpu/cases/`) in a child `deno test` process of their own, one
 * module at a time. The WebGPU device (Mesa's llvmpipe here, a native Vulkan driver with its own
 * threads) then never shares a process with the suite's parallel test isolates: one full-suite run
 * with the cases in-process ended, after "0 failed", in a native heap abort at exit ("corrupted
 * size vs. prev_size in fastbins", exit 134). The child's exit status and summary are asserted, so
 * a crash of the child at exit fails this test.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** The case modules, in name order (deno test runs files given by name whatever their name). */
async function caseFiles(): Promise<string[]> {
  const dir = new URL("tests/webgpu/cases/", ROOT);
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith("_case.ts")) names.push(new URL(e.name, dir).pathname);
  }
  return names.sort();
}

Deno.test("the webgpu cases pass in their own process (golden, adapters vs wasm, training vs wasm, bench)", async () => {
  const run = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--unstable-webgpu",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--config",
      new URL("deno.json", ROOT).pathname,
      ...(await caseFiles()),
    ],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
  console.log(text.split("\n").filter((l) => /^(webgpu|ok \||FAILED \|)/.test(l)).join("\n"));
  assert.equal(run.code, 0, text.slice(-6000));
  const summary = /(\d+) passed.*\| (\d+) failed(?: \| (\d+) ignored)?/.exec(text);
  assert.ok(summary !== null, `no test summary in the child's output:\n${text.slice(-3000)}`);
  assert.equal(Number(summary[2]), 0);
  const ignored = Number(summary[3] ?? 0);
  if (Deno.env.get("TRIADAPT_REQUIRE_WEBGPU") === "1") assert.equal(ignored, 0, "cases ignored");
  assert.ok(Number(summary[1]) + ignored >= 9, `only ${summary[1]} passed, ${ignored} ignored`);
});
