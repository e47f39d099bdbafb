/**
 * Layout of every SVG the runs write, checked as boxes (tests/train/_svg_layout.ts): no text is
 * cut by the canvas and no two labels overlap, for 1, 2, 12 and 24 layers, long titles, long
 * metric names and many events. Also what a planted run's charts must say: the metric and its
 * direction, the allocation events, total rank over steps, one colour scale for the planted and
 * the allocated heatmap; and what summary.json must hold.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../train/cli.ts";
import { lossChartSvg } from "../../train/svg/line_chart.ts";
import { rankHeatmapSvg } from "../../train/svg/rank_heatmap.ts";
import { metricAxisLabel } from "../../train/run.ts";
import { layoutProblems } from "./_svg_layout.ts";
import { findAll, parseXml } from "./_xml.ts";
import { TINY_PLANTED } from "./loop/_tiny.ts";

const FAMILIES = ["Wq", "Wk", "Wv", "Wo", "Wf1", "Wf2"];

function grid(layers: number, families: readonly string[]) {
  return {
    layers: Array.from({ length: layers }, (_, i) => String(i + 1)),
    families: [...families],
    ranks: Array.from({ length: layers }, (_, l) => families.map((_, f) => (l * 7 + f * 3) % 13)),
  };
}

Deno.test("layoutProblems() catches cut text and overlapping labels", () => {
  const svg = (body: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">${body}</svg>`;
  assert.deepEqual(layoutProblems(svg(`<text x="10" y="30" font-size="12">ok</text>`)), []);
  // A centred title wider than the canvas: cut on both sides.
  const cut = layoutProblems(
    svg(
      `<text x="100" y="24" text-anchor="middle" font-size="16">al ranks: rte, triadapt, seed 0 and more</text>`,
    ),
  );
  assert.equal(cut.length, 1);
  assert.match(cut[0] as string, /^cut by the 200×100 canvas/);
  // A rotated label running off the top.
  assert.equal(
    layoutProblems(
      svg(
        `<text x="16" y="20" text-anchor="middle" font-size="13" transform="rotate(-90 16 20)">Weight family</text>`,
      ),
    ).length,
    1,
  );
  // Two labels on the same spot.
  const overlap = layoutProblems(
    svg(
      `<text x="10" y="50" font-size="12">left label</text><text x="40" y="52" font-size="12">right</text>`,
    ),
  );
  assert.equal(overlap.length, 1);
  assert.match(overlap[0] as string, /^overlap: "left label"/);
});

for (const layers of [1, 2, 12, 24]) {
  Deno.test(`rankHeatmapSvg() with ${layers} layer(s): title, caption and labels fit, none overlap`, () => {
    for (const families of [FAMILIES, ["Wq"]]) {
      for (
        const title of [
          "Allocated ranks: rte, TriAdaptLoRA nonlinear, seed 4294967295",
          "Planted ranks: planted, seed 0",
        ]
      ) {
        const svg = rankHeatmapSvg({
          ...grid(layers, families),
          title,
          min: 0,
          max: 16,
          caption:
            "Each cell: the final rank of one weight matrix (row) in one layer; colours shared with planted-heatmap.svg",
        });
        assert.deepEqual(layoutProblems(svg), [], `${layers} layers, ${families.length} families`);
        const root = parseXml(svg);
        const shown = findAll(root, (e) => e.attrs.class === "title")[0]?.text;
        assert.equal(shown, title, "the whole title is drawn");
      }
    }
  });
}

Deno.test("lossChartSvg() fits a long metric name, many events and a wrapped legend at any width", () => {
  const loss: [number, number][] = [];
  for (let s = 100; s <= 39000; s += 100) loss.push([s, 0.7 * Math.exp(-s / 9000) + 1e-4]);
  const metric: [number, number][] = [[3900, 0.61], [19500, 0.82], [39000, 0.8675]];
  const events = Array.from({ length: 40 }, (_, i) => 2000 + i * 500);
  for (const width of [360, 720, 1200]) {
    const svg = lossChartSvg({
      title: "Training curve: mnli, TriAdaptLoRA nonlinear, seed 4294967295",
      series: [
        { name: "train loss (mean per logged window)", points: loss },
        { name: "eval: Matthews corr.", points: metric, axis: "right" },
      ],
      leftLabel: "train loss",
      rightLabel: metricAxisLabel("heldout_mse", false),
      events,
      eventLabel: "rank-allocation event",
      width,
    });
    assert.deepEqual(layoutProblems(svg), [], `width ${width}`);
    const root = parseXml(svg);
    assert.equal(findAll(root, (e) => e.attrs.class === "event").length, 40);
    assert.ok(
      findAll(root, (e) => e.attrs.class === "axis-label").some((e) =>
        e.text === "held-out rel. MSE (lower is better; 1.0 = frozen base)"
      ),
    );
  }
});

Deno.test("a planted run's charts explain themselves and its summary.json holds the results", async () => {
  const root = await Deno.makeTempDir({ prefix: "triadapt-charts-" });
  try {
    for (const layers of [1, 2]) {
      const dir = join(root, `l${layers}`);
      const sink = { writeSync: (b: Uint8Array) => b.length };
      const code = await main(
        [
          ...["--task", "planted", "--out", dir, "--epochs", "3", "--batch-size", "4"],
          ...["--init-warmup", "2", "--interval", "2", "--ref-rank", "2", "--log-every", "1"],
        ],
        { stdout: sink, stderr: sink, planted: { ...TINY_PLANTED, layers }, progress: false },
      );
      assert.equal(code, 0);
      const svgs = ["loss.svg", "rank-total.svg", "rank-heatmap.svg", "planted-heatmap.svg"];
      for (const name of svgs) {
        const text = await Deno.readTextFile(join(dir, name));
        assert.deepEqual(layoutProblems(text), [], `${layers} layer(s): ${name}`);
      }
      const events = (await Deno.readTextFile(join(dir, "ranks.jsonl"))).trim().split("\n")
        .map((l) => JSON.parse(l).step as number);
      // loss.svg: the metric's name and direction, the events, a descriptive title.
      const loss = parseXml(await Deno.readTextFile(join(dir, "loss.svg")));
      const labels = findAll(loss, (e) => e.attrs.class === "axis-label").map((e) => e.text);
      assert.ok(
        labels.includes("held-out rel. MSE (lower is better; 1.0 = frozen base)"),
        `${labels}`,
      );
      assert.ok(!labels.includes("heldout_mse"));
      assert.deepEqual(
        findAll(loss, (e) => e.attrs.class === "event").map((e) => Number(e.attrs["data-step"])),
        events,
      );
      assert.match(
        findAll(loss, (e) => e.attrs.class === "title")[0]?.text ?? "",
        /^Training curve: planted, TriAdaptLoRA linear, seed 0$/,
      );
      // rank-total.svg: the total rank line ends at the budget.
      const total = parseXml(await Deno.readTextFile(join(dir, "rank-total.svg")));
      assert.deepEqual(
        findAll(total, (e) => e.attrs.class === "series").map((e) => e.attrs["data-name"]),
        ["total rank (sum over adapted matrices)", `budget ${2 * 6 * layers}`],
      );
      // One colour scale: the same rank has the same colour in both heatmaps, the legends agree.
      const colours = new Map<string, string>();
      const ticks: string[][] = [];
      for (const name of ["rank-heatmap.svg", "planted-heatmap.svg"]) {
        const heat = parseXml(await Deno.readTextFile(join(dir, name)));
        for (const cell of findAll(heat, (e) => e.attrs.class === "cell")) {
          const value = cell.attrs["data-value"] as string;
          const seen = colours.get(value);
          if (seen !== undefined) assert.equal(cell.attrs.fill, seen, `rank ${value} in ${name}`);
          colours.set(value, cell.attrs.fill as string);
        }
        ticks.push(findAll(heat, (e) => e.attrs.class === "legend-tick").map((e) => e.text));
        assert.match(
          findAll(heat, (e) => e.attrs.class === "caption")[0]?.text ?? "",
          /^Cell: the (final|planted) rank of one weight matrix \(row\) in one layer; same colours as/,
        );
      }
      assert.deepEqual(ticks[0], ticks[1]);
      // summary.json: final and best metrics, steps, wall time and ranks.
      const summary = JSON.parse(await Deno.readTextFile(join(dir, "summary.json")));
      assert.equal(summary.step, 12);
      assert.equal(summary.totalSteps, 12);
      assert.equal(summary.metric.name, "heldout_mse");
      assert.equal(summary.metric.higherIsBetter, false);
      assert.equal(summary.final.step, 12);
      assert.ok(Number.isFinite(summary.final.value) && "rank_spearman" in summary.final.all);
      assert.ok(
        summary.best.value <= summary.final.value && [4, 8, 12].includes(summary.best.step),
      );
      assert.ok(summary.wallSeconds > 0);
      // No event at T (docs/METHOD.md §19): the linear schedule's four events (steps 4–10) leave
      // one unit of the budget unspent for M = 6 and M = 12 alike (k = 1, 2, 1, 1 and 2, 4, 3, 2).
      assert.equal(summary.ranksTotal, 2 * 6 * layers - 1);
      assert.equal(summary.budget, 2 * 6 * layers);
      assert.equal(summary.events, events.length);
      assert.equal(Object.keys(summary.ranks).length, 6 * layers);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the README shows the demo's charts from docs/img/, as this code draws them", async () => {
  const readme = await Deno.readTextFile("README.md");
  for (
    const name of ["demo-loss", "demo-rank-total", "demo-rank-heatmap", "demo-planted-heatmap"]
  ) {
    assert.ok(readme.includes(`](docs/img/${name}.svg)`), `README shows ${name}.svg`);
    const svg = await Deno.readTextFile(`docs/img/${name}.svg`);
    assert.deepEqual(layoutProblems(svg), [], name);
  }
  // Regenerated by `deno task charts`, not stale: the loss chart has the event marks and names
  // its metric; both heatmaps have their caption.
  const loss = parseXml(await Deno.readTextFile("docs/img/demo-loss.svg"));
  assert.ok(findAll(loss, (e) => e.attrs.class === "event").length > 0);
  assert.ok(
    findAll(loss, (e) => e.attrs.class === "axis-label").some((e) =>
      /lower is better/.test(e.text)
    ),
  );
  const summary = JSON.parse(await Deno.readTextFile("docs/img/demo-summary.json"));
  assert.equal(summary.step, summary.totalSteps);
  assert.ok(readme.includes("deno task charts"));
  const tasks = JSON.parse(await Deno.readTextFile("deno.json")).tasks;
  assert.match(tasks.charts.command, /tools\/charts\.ts/);
});
