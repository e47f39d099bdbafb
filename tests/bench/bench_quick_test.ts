import assert from "node:assert/strict";
import { main, SECTIONS } from "../../bench/main.ts";

interface Json {
  command: string;
  quick: boolean;
  machine: { cores: number; deno: string; backend: string };
  sections: { name: string; seconds: number; markdown: string; data?: unknown; error?: string }[];
}

function finitePositive(x: unknown, what: string): void {
  assert.ok(typeof x === "number" && Number.isFinite(x) && x >= 0, `${what} = ${x}`);
}

// Every section but webgpu, which runs in the webgpu cases' own process (tests/webgpu/webgpu_test.ts).
const IN_PROCESS = SECTIONS.filter((s) => s.name !== "webgpu");

Deno.test("main() --quick runs every section (webgpu: see tests/webgpu) and writes bench.md and bench.json with numbers", async () => {
  // Arrange
  const dir = await Deno.makeTempDir({ prefix: "bench-quick-" });
  const out: string[] = [];
  try {
    // Act
    const only = IN_PROCESS.map((s) => s.name).join(",");
    const code = await main(["--quick", "--only", only, "--out", dir], {
      out: (t) => out.push(t),
      err: () => {},
    });

    // Assert
    assert.equal(code, 0);
    const md = await Deno.readTextFile(`${dir}/bench.md`);
    assert.equal(out.join("\n"), md);
    for (
      const heading of [
        "# triadapt benchmarks",
        "Command: `deno task bench --quick",
        "Machine: ",
        "### Adapter forward+backward",
        "### Encoder forward",
        "## Step time and memory",
        "### Backend comparison",
        "## Cost of allocation",
        "Per-step amortised cost",
        "Scaling with r",
      ]
    ) assert.ok(md.includes(heading), `bench.md lacks ${heading}`);
    assert.doesNotMatch(md, /\*\*Failed:\*\*|NaN|Infinity/);

    const json = JSON.parse(await Deno.readTextFile(`${dir}/bench.json`)) as Json;
    assert.equal(json.quick, true);
    assert.ok(json.machine.cores >= 1);
    assert.deepEqual(json.sections.map((s) => s.name), IN_PROCESS.map((s) => s.name));
    assert.ok(json.sections.every((s) => s.error === undefined));

    const step = json.sections.find((s) => s.name === "step")!.data as {
      shapes: { rows: { method: string; timing: { median: number }; flat: boolean }[] }[];
    };
    const rows = step.shapes[0]!.rows;
    assert.deepEqual(rows.map((r) => r.method), [
      "frozen",
      "lora",
      "triadaptlora",
      "adalora",
      "increlora",
    ]);
    for (const r of rows) {
      finitePositive(r.timing.median, `${r.method} step ms`);
      assert.equal(r.flat, true, `${r.method}: tensor count or bytes grew over the steps`);
    }

    const alloc = json.sections.find((s) => s.name === "allocation")!.data as {
      costs: { rank: number; triTotal: { median: number }; adaUpdate: { median: number } }[];
      amortised: { tri: number; ada: number; incre: number }[];
    };
    assert.deepEqual(alloc.costs.map((c) => c.rank), [1, 4, 16]);
    for (const c of alloc.costs) {
      finitePositive(c.triTotal.median, `r=${c.rank} TriAdaptLoRA event ms`);
      finitePositive(c.adaUpdate.median, `r=${c.rank} AdaLoRA update ms`);
    }
    for (const a of alloc.amortised) {
      finitePositive(a.tri, "TriAdaptLoRA fraction");
      finitePositive(a.ada, "AdaLoRA fraction");
      assert.ok(Number.isFinite(a.incre), `IncreLoRA fraction = ${a.incre}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main() rejects unknown sections and backends with exit code 1", async () => {
  const err: string[] = [];
  const io = { out: () => {}, err: (t: string) => void err.push(t) };
  assert.equal(await main(["--only", "step,nope"], io), 1);
  assert.match(err.join("\n"), /--only must name sections among .*: current value is nope/);
  assert.equal(await main(["--backend", "metal"], io), 1);
  assert.match(err.join("\n"), /--backend must be one of .*: current value is metal/);
  assert.equal(await main(["--bogus"], io), 1);
});

Deno.test("main() --help lists every registered section", async () => {
  const out: string[] = [];
  assert.equal(await main(["--help"], { out: (t) => out.push(t), err: () => {} }), 0);
  for (const s of SECTIONS) assert.match(out.join("\n"), new RegExp(`\\b${s.name}\\b`));
});
