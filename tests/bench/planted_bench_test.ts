import assert from "node:assert/strict";
import { main } from "../../bench/main.ts";
import {
  allocationOpsPerStep,
  PLANTED_FULL,
  PLANTED_QUICK,
  PLANTED_VARIANTS,
  plantedVsAllocatedSvg,
  rankSpearman,
  ratioPlanted,
  runPlantedBench,
  scaledPlanted,
  selectPlanted,
  zeroRankFraction,
} from "../../bench/planted_bench.ts";

Deno.test("zeroRankFraction() counts allocated rank on planted-zero matrices only", () => {
  // Hand-checked: 2 + 2 of 2 + 4 + 2 + 0 = 8 allocated units sit on planted-zero matrices.
  assert.equal(zeroRankFraction([0, 3, 0, 1], [2, 4, 2, 0]), 0.5);
  // Uniform allocation spends the share of planted-zero matrices.
  assert.equal(zeroRankFraction([0, 0, 0, 5], [4, 4, 4, 4]), 0.75);
  assert.equal(zeroRankFraction([0, 1], [0, 0]), 0);
  assert.throws(() => zeroRankFraction([0, 1], [1]), TypeError);
});

Deno.test("rankSpearman() is NaN for a uniform allocation, not 0", () => {
  assert.ok(Number.isNaN(rankSpearman([0, 2, 5, 1], [4, 4, 4, 4])));
  assert.equal(rankSpearman([0, 2, 5, 1], [1, 3, 9, 2]), 1);
  assert.equal(rankSpearman([0, 2, 5, 1], [9, 3, 1, 5]), -1);
});

Deno.test("PLANTED_FULL runs every method on >= 3 seeds with one shared step count", () => {
  assert.ok(PLANTED_FULL.seeds.length >= 3);
  assert.deepEqual(PLANTED_FULL.variants, PLANTED_VARIANTS);
  assert.deepEqual(
    [...new Set(PLANTED_FULL.variants.map((v) => v.method))],
    ["triadapt", "lora", "adalora", "increlora"],
  );
  const tri = PLANTED_FULL.variants.filter((v) => v.method === "triadapt").map((v) => v.hyper);
  for (const threshold of ["linear", "nonlinear", "fixed"]) {
    assert.ok(tri.some((h) => h?.threshold === threshold), threshold);
  }
  for (const n of ["sqrt", "none"]) assert.ok(tri.some((h) => h?.normalisation === n), n);
  assert.ok(tri.some((h) => h?.growthInit === "preserving"), "preserving growth");
  for (const score of ["update", "spectrum"]) assert.ok(tri.some((h) => h?.score === score), score);
  // No variant may change what must be equal across methods.
  for (const v of PLANTED_FULL.variants) {
    for (const key of ["refRank", "batchSize", "epochs", "lr"] as const) {
      assert.equal(v.hyper?.[key], undefined, `${v.label} overrides ${key}`);
    }
  }
});

Deno.test("plantedVsAllocatedSvg() draws one heat map per panel on a shared 0…max scale", () => {
  const names = ["d.encoder.layer.0.output.dense", "d.encoder.layer.1.output.dense"];
  const svg = plantedVsAllocatedSvg([
    { title: "Planted", ranks: { [names[0]!]: 0, [names[1]!]: 6 } },
    { title: "A", ranks: { [names[0]!]: 1.25, [names[1]!]: 2 } },
  ]);
  assert.equal(svg.match(/<svg/g)?.length, 3);
  assert.equal(svg.match(/class="cell"/g)?.length, 2 * 2 * 6); // 2 panels × 2 layers × 6 families
  assert.ok(svg.includes(">1.3</text>"), "means are drawn to one decimal");
  assert.throws(() => plantedVsAllocatedSvg([]), TypeError);
});

interface PlantedJson {
  sections: {
    name: string;
    error?: string;
    data: {
      quick: boolean;
      budget: number;
      modules: string[];
      planted: number[][];
      files: string[];
      rows: {
        label: string;
        method: string;
        heldout: { mean: number; n: number };
        spearman: { mean: number | null; n: number };
        zeroFraction: { mean: number };
        time: { median: number };
        allocOps: number;
        runs: { seed: number; ranksTotal: number; budget: number }[];
      }[];
    };
  }[];
}

Deno.test("main() --quick --only planted writes the table, the JSON and the SVG", async () => {
  // Arrange
  const dir = await Deno.makeTempDir({ prefix: "bench-planted-" });
  try {
    // Act
    const code = await main(["--quick", "--only", "planted", "--out", dir], {
      out: () => {},
      err: () => {},
    });

    // Assert
    assert.equal(code, 0);
    const md = await Deno.readTextFile(`${dir}/bench.md`);
    assert.match(md, /## Planted-rank allocation quality/);
    assert.match(md, /Quick form: a smoke test only/);
    assert.match(
      md,
      /\| LoRA \(uniform r_ref\) \| [\d.]+ ± [\d.]+ \| undefined \(uniform ranks\) \|/,
    );
    assert.doesNotMatch(md, /NaN|Infinity|\*\*Failed/);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/bench.json`)) as PlantedJson;
    const section = json.sections[0]!;
    assert.equal(section.name, "planted");
    assert.equal(section.error, undefined);
    const data = section.data;
    assert.equal(data.quick, true);
    assert.deepEqual(
      data.files,
      [
        "planted-vs-allocated.svg",
        "planted-ranks-triadaptlora-linear.svg",
        "planted-ranks-lora-uniform-r-ref.svg",
      ],
      "bench.json lists file names only",
    );
    assert.equal(data.planted.length, 2);
    for (const row of data.rows) {
      assert.equal(row.runs.length, 2, row.label);
      assert.ok(row.heldout.n === 2 && Number.isFinite(row.heldout.mean), row.label);
      assert.ok(row.zeroFraction.mean >= 0 && row.zeroFraction.mean <= 1, row.label);
      assert.ok(row.time.median > 0, row.label);
      for (const run of row.runs) {
        assert.equal(run.budget, data.budget, `${row.label}: same budget r_ref · M`);
        assert.ok(run.ranksTotal <= run.budget, `${row.label}: ${run.ranksTotal} > budget`);
      }
    }
    const lora = data.rows.find((r) => r.method === "lora")!;
    assert.equal(lora.spearman.n, 0);
    assert.equal(lora.spearman.mean, null); // NaN in JSON
    const svg = await Deno.readTextFile(`${dir}/planted-vs-allocated.svg`);
    assert.equal(svg.match(/<svg/g)?.length, 1 + 1 + data.rows.length);
    assert.equal(svg.match(/class="cell"/g)?.length, (1 + data.rows.length) * data.modules.length);
    // Ranks over time: one line per planted rank level, every row; the allocator's op count is
    // positive for TriAdaptLoRA (events happened) and 0 for LoRA.
    const levels = new Set(data.planted.flat()).size;
    const overTime = await Deno.readTextFile(`${dir}/planted-ranks-triadaptlora-linear.svg`);
    assert.equal(overTime.match(/class="series"/g)?.length, levels);
    const ops = (label: string) => data.rows.find((r) => r.label === label)!.allocOps;
    assert.ok(ops("TriAdaptLoRA linear") > 0);
    assert.equal(ops("LoRA (uniform r_ref)"), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scaledPlanted() multiplies every schedule length by T/128 and keeps the rest", () => {
  const c = scaledPlanted(PLANTED_FULL, 1024);
  const h = PLANTED_FULL.hyper;
  for (
    const key of ["initWarmup", "interval", "warmupSteps", "tinit", "tfinal", "deltaT"] as const
  ) {
    assert.equal(c.hyper[key], 8 * (h[key] as number), key);
  }
  assert.deepEqual([c.hyper.refRank, c.hyper.lr, c.hyper.batchSize], [
    h.refRank,
    h.lr,
    h.batchSize,
  ]);
  assert.deepEqual([c.seeds, c.variants, c.task], [
    PLANTED_FULL.seeds,
    PLANTED_FULL.variants,
    PLANTED_FULL.task,
  ]);
});

Deno.test("ratioPlanted() gives every row the RTE ratio: t0 = interval = warm-up = T·100/3900, AdaLoRA 600/1800/1 of 3900", () => {
  const c = ratioPlanted(PLANTED_FULL, 1024);
  assert.deepEqual([c.hyper.initWarmup, c.hyper.interval, c.hyper.warmupSteps], [26, 26, 26]);
  assert.deepEqual([c.hyper.tinit, c.hyper.tfinal, c.hyper.deltaT], [158, 473, 1]);
  assert.deepEqual(c.variants, PLANTED_FULL.variants);
  // At the papers' own length the ratio is the papers' schedule itself.
  const rte = ratioPlanted(PLANTED_FULL, 3900);
  assert.deepEqual(
    [rte.hyper.initWarmup, rte.hyper.tinit, rte.hyper.tfinal, rte.hyper.deltaT],
    [100, 600, 1800, 1],
  );
  // Settings that are not schedules stay the scaled section's.
  assert.equal(c.hyper.batchSize, scaledPlanted(PLANTED_FULL, 1024).hyper.batchSize);
});

Deno.test("allocationOpsPerStep() counts events for TriAdaptLoRA and every step for AdaLoRA", () => {
  // Hand-checked: one 4→6 module, ranks 1 → 3 at step 5 → T = 10.
  const base = { shapes: [[4, 6]] as [number, number][], steps: 10 };
  const trajectory: [number, number[]][] = [[0, [1]], [5, [3]], [10, [3]]];
  // paper: one event at rank 1: 2·1² = 2, over 10 steps
  assert.equal(
    allocationOpsPerStep({ ...base, method: "triadapt", score: "paper", trajectory }),
    0.2,
  );
  // spectrum: 2·(4 + 6)·1² + 40·1³ = 60, over 10 steps
  assert.equal(
    allocationOpsPerStep({ ...base, method: "triadapt", score: "spectrum", trajectory }),
    6,
  );
  // AdaLoRA from rank 1: 9·(4 + 6 + 1)·1 every step; IncreLoRA 2·4·6 every step; LoRA nothing
  assert.equal(
    allocationOpsPerStep({ ...base, method: "adalora", score: "paper", trajectory }),
    99,
  );
  assert.equal(
    allocationOpsPerStep({ ...base, method: "increlora", score: "paper", trajectory }),
    48,
  );
  assert.equal(allocationOpsPerStep({ ...base, method: "lora", score: "paper", trajectory }), 0);
});

Deno.test("every planted row has a distinct --rows id", () => {
  const ids = PLANTED_VARIANTS.map((v) => v.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.every((id) => /^[a-z-]+$/.test(id)), ids.join(","));
});

Deno.test("selectPlanted() keeps the given seeds in order and the listed rows in registry order", () => {
  const c = selectPlanted(PLANTED_FULL, { seeds: [4, 0], rows: ["increlora", "sqrt"] });
  assert.deepEqual(c.seeds, [4, 0]);
  assert.deepEqual(c.variants.map((v) => v.id), ["sqrt", "increlora"]);
  assert.equal(c.steps, PLANTED_FULL.steps);
  // Empty lists keep everything; ids a section lacks select nothing there.
  assert.deepEqual(selectPlanted(PLANTED_FULL, { seeds: [], rows: [] }).variants, PLANTED_VARIANTS);
  assert.deepEqual(selectPlanted(PLANTED_FULL, { rows: ["no-such-row"] }).variants, []);
});

Deno.test("runPlantedBench() gives the same runs with 2 worker jobs as in-process, in the same order", async () => {
  const config = { ...PLANTED_QUICK, seeds: [0, 1], steps: 16 };
  const ctx = { quick: true, backend: "wasm", log: () => {} };
  const strip = (d: unknown) =>
    (d as { rows: { runs: { ms: number }[] }[] }).rows.flatMap((r) =>
      r.runs.map(({ ms: _ms, ...rest }) => rest)
    );
  const one = await runPlantedBench(ctx, { config, jobs: 1, cache: new Map() });
  const two = await runPlantedBench(ctx, { config, jobs: 2, cache: new Map() });
  assert.equal(strip(one.data).length, 4);
  assert.deepEqual(strip(two.data), strip(one.data));
});

Deno.test("main() refuses a bad --jobs, --seeds or --rows with one line and exit 1", async () => {
  for (
    const [args, pattern] of [
      [["--jobs", "0"], /--jobs must be a positive integer or auto: current value is 0$/],
      [["--jobs", "two"], /--jobs must be a positive integer or auto: current value is two$/],
      [["--seeds", "0,x"], /--seeds must list non-negative integers: current value is x$/],
      [["--seeds", ","], /--seeds must list non-negative integers: current value is empty$/],
      [
        ["--rows", "adalora,nope"],
        /--rows must list row ids among linear, .*: current value is nope$/,
      ],
    ] as const
  ) {
    const err: string[] = [];
    const code = await main([...args, "--only", "planted"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    assert.equal(code, 1, args.join(" "));
    assert.equal(err.length, 1, err.join("\n"));
    assert.match(err[0]!, pattern);
  }
});
