/**
 * The bench's webgpu section (`deno task bench --only webgpu --quick`) runs and reports numbers
 * (run here, in the webgpu child process, rather than in tests/bench/bench_quick_test.ts).
 */
import assert from "node:assert/strict";
import { main } from "../../../bench/main.ts";
import { IGNORE_WEBGPU } from "./_webgpu.ts";

Deno.test({
  name: "bench --only webgpu --quick writes its section without an error",
  ignore: IGNORE_WEBGPU,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "bench-webgpu-" });
    try {
      const code = await main(["--quick", "--only", "webgpu", "--out", dir], {
        out: () => {},
        err: () => {},
      });
      assert.equal(code, 0);
      const json = JSON.parse(await Deno.readTextFile(`${dir}/bench.json`)) as {
        sections: { name: string; error?: string; markdown: string }[];
      };
      assert.deepEqual(json.sections.map((s) => s.name), ["webgpu"]);
      assert.equal(json.sections[0]!.error, undefined);
      assert.match(json.sections[0]!.markdown, /software adapter/);
      assert.doesNotMatch(json.sections[0]!.markdown, /NaN|Infinity|\*\*Failed:\*\*/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
