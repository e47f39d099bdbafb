import assert from "node:assert/strict";
import { main } from "../../bench/main.ts";
import {
  PLANTED_FULL,
  PLANTED_VARIANTS,
  plantedVsAllocatedSvg,
  rankSpearman,
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
    assert.deepEqual(data.files, ["planted-vs-allocated.svg"], "bench.json lists file names only");
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
