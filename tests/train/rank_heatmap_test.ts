import assert from "node:assert/strict";
import { rankHeatmapSvg } from "../../train/svg/rank_heatmap.ts";
import { findAll, parseXml, type XmlElement } from "./_xml.ts";

const FAMILIES = ["Wq", "Wk", "Wv", "Wo", "Wf1", "Wf2"];
const LAYERS = Array.from({ length: 12 }, (_, i) => String(i + 1));

/** A DeBERTa-base-shaped rank pattern: rank grows with depth, the FFN gets more. */
function paperLikeRanks(): number[][] {
  return LAYERS.map((_, l) => FAMILIES.map((_, f) => 1 + 4 * ((l + 2 * f) % 5)));
}

function byClass(root: XmlElement, cls: string): XmlElement[] {
  return findAll(root, (e) => e.attrs.class === cls);
}

Deno.test("rankHeatmapSvg() is well-formed standalone SVG with one cell per layer × family", () => {
  // Arrange
  const ranks = paperLikeRanks();
  // Act
  const root = parseXml(
    rankHeatmapSvg({ layers: LAYERS, families: FAMILIES, ranks, title: "RTE" }),
  );
  // Assert
  assert.equal(root.name, "svg");
  assert.equal(root.attrs.xmlns, "http://www.w3.org/2000/svg");
  assert.ok(Number(root.attrs.width) > 0 && Number(root.attrs.height) > 0);
  const cells = byClass(root, "cell");
  assert.equal(cells.length, 72);
  const values = byClass(root, "value");
  assert.equal(values.length, 72);
  for (const cell of cells) {
    const l = LAYERS.indexOf(cell.attrs["data-layer"] ?? "");
    const f = FAMILIES.indexOf(cell.attrs["data-family"] ?? "");
    assert.ok(l >= 0 && f >= 0);
    assert.equal(Number(cell.attrs["data-value"]), ranks[l]?.[f]);
  }
});

Deno.test("rankHeatmapSvg() writes each rank inside its own cell", () => {
  const ranks = paperLikeRanks();
  const root = parseXml(rankHeatmapSvg({ layers: LAYERS, families: FAMILIES, ranks }));
  const cells = byClass(root, "cell");
  const texts = byClass(root, "value");
  for (const text of texts) {
    const x = Number(text.attrs.x);
    const y = Number(text.attrs.y);
    const cell = cells.find((c) => {
      const cx = Number(c.attrs.x);
      const cy = Number(c.attrs.y);
      return x > cx && x < cx + Number(c.attrs.width) && y > cy && y < cy + Number(c.attrs.height);
    });
    assert.ok(cell !== undefined, `text at ${x},${y} lies in a cell`);
    assert.equal(text.text, cell.attrs["data-value"]);
  }
});

Deno.test("rankHeatmapSvg() colours higher ranks differently and picks readable text colours", () => {
  const root = parseXml(
    rankHeatmapSvg({ layers: ["1", "2"], families: ["Wq"], ranks: [[1], [13]] }),
  );
  const [low, high] = byClass(root, "cell");
  assert.notEqual(low?.attrs.fill, high?.attrs.fill);
  const [lowText, highText] = byClass(root, "value");
  // Viridis: dark purple at the bottom (white text), yellow-green at the top (black text).
  assert.equal(lowText?.attrs.fill, "#ffffff");
  assert.equal(highText?.attrs.fill, "#000000");
});

Deno.test("rankHeatmapSvg() has axis labels, row/column labels and a legend with ticks", () => {
  const root = parseXml(
    rankHeatmapSvg({ layers: LAYERS, families: FAMILIES, ranks: paperLikeRanks() }),
  );
  assert.deepEqual(byClass(root, "row-label").map((e) => e.text), FAMILIES);
  assert.deepEqual(byClass(root, "col-label").map((e) => e.text), LAYERS);
  assert.deepEqual(byClass(root, "axis-label").map((e) => e.text), ["Layer", "Weight"]);
  assert.equal(byClass(root, "legend").length, 1);
  const ticks = byClass(root, "legend-tick").map((e) => Number(e.text));
  assert.ok(ticks.length >= 2);
  assert.equal(ticks[0], 0);
  assert.ok((ticks.at(-1) ?? 0) <= 17 && (ticks.at(-1) ?? 0) >= 10);
  assert.equal(findAll(root, (e) => e.name === "linearGradient").length, 1);
});

Deno.test("rankHeatmapSvg() escapes labels and title", () => {
  const svg = rankHeatmapSvg({
    layers: ["<1>"],
    families: ['W"q" & co'],
    ranks: [[3]],
    title: "A < B & 'C'",
  });
  const root = parseXml(svg);
  assert.equal(byClass(root, "row-label")[0]?.text, 'W"q" & co');
  assert.equal(byClass(root, "col-label")[0]?.text, "<1>");
  assert.equal(findAll(root, (e) => e.name === "title")[0]?.text, "A < B & 'C'");
});

Deno.test("rankHeatmapSvg() handles a constant pattern and fractional values", () => {
  const same = parseXml(
    rankHeatmapSvg({ layers: ["1", "2"], families: ["Wq"], ranks: [[8], [8]] }),
  );
  assert.equal(byClass(same, "cell").length, 2);
  const frac = parseXml(rankHeatmapSvg({ layers: ["1"], families: ["Wq"], ranks: [[2.3456]] }));
  assert.equal(byClass(frac, "value")[0]?.text, "2.346");
});

Deno.test("rankHeatmapSvg() rejects mis-shaped or non-finite ranks", () => {
  assert.throws(() => rankHeatmapSvg({ layers: ["1"], families: ["Wq"], ranks: [] }), TypeError);
  assert.throws(
    () => rankHeatmapSvg({ layers: ["1"], families: ["Wq", "Wk"], ranks: [[1]] }),
    /ranks\[0\]/,
  );
  assert.throws(
    () => rankHeatmapSvg({ layers: ["1"], families: ["Wq"], ranks: [[NaN]] }),
    /finite/,
  );
  assert.throws(() => rankHeatmapSvg({ layers: [], families: [], ranks: [] }), TypeError);
});
