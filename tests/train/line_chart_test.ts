import assert from "node:assert/strict";
import { lossChartSvg } from "../../train/svg/line_chart.ts";
import { findAll, parseXml, type XmlElement } from "./_xml.ts";

function byClass(root: XmlElement, cls: string): XmlElement[] {
  return findAll(root, (e) => e.attrs.class === cls);
}

/** A decaying loss every 10 steps and an accuracy every 100 steps, as a run logs them. */
function runSeries() {
  const loss: [number, number][] = [];
  for (let step = 10; step <= 1000; step += 10) {
    loss.push([step, 0.7 * Math.exp(-step / 400) + 0.05]);
  }
  const acc: [number, number][] = [];
  for (let step = 100; step <= 1000; step += 100) {
    acc.push([step, 0.5 + 0.35 * (1 - Math.exp(-step / 300))]);
  }
  return [
    { name: "train loss", points: loss },
    { name: "eval accuracy", points: acc, axis: "right" as const },
  ];
}

/** Path `d` → list of [x, y]. */
function pathPoints(d: string): [number, number][] {
  return [...d.matchAll(/[ML]([-\d.]+) ([-\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

Deno.test("lossChartSvg() is well-formed standalone SVG with one path per series", () => {
  const root = parseXml(lossChartSvg({ series: runSeries(), title: "RTE seed 0" }));
  assert.equal(root.name, "svg");
  assert.equal(root.attrs.xmlns, "http://www.w3.org/2000/svg");
  const paths = byClass(root, "series");
  assert.deepEqual(paths.map((p) => p.attrs["data-name"]), ["train loss", "eval accuracy"]);
  assert.deepEqual(paths.map((p) => p.attrs["data-axis"]), ["left", "right"]);
  assert.equal(pathPoints(paths[0]?.attrs.d ?? "").length, 100);
  assert.equal(pathPoints(paths[1]?.attrs.d ?? "").length, 10);
  assert.equal(findAll(root, (e) => e.name === "circle").length, 10 + 1, "eval markers + legend");
});

Deno.test("lossChartSvg() draws two y axes with ticks spanning each series' range", () => {
  const root = parseXml(lossChartSvg({ series: runSeries() }));
  const left = byClass(root, "left-tick").map((e) => Number(e.text));
  const right = byClass(root, "right-tick").map((e) => Number(e.text));
  const x = byClass(root, "x-tick").map((e) => Number(e.text));
  assert.ok(left.length >= 3 && right.length >= 3 && x.length >= 3);
  assert.ok(left[0]! <= 0.06 && left.at(-1)! >= 0.6, `left ${left}`);
  assert.ok(right[0]! <= 0.6 && right.at(-1)! >= 0.8, `right ${right}`);
  assert.ok(x[0]! <= 10 && x.at(-1)! >= 1000, `x ${x}`);
  for (const ticks of [left, right, x]) {
    const steps = ticks.slice(1).map((t, i) => t - ticks[i]!);
    assert.ok(steps.every((s) => Math.abs(s - steps[0]!) < 1e-9), "evenly spaced");
  }
  assert.deepEqual(
    byClass(root, "axis-label").map((e) => e.text),
    ["train loss", "eval metric", "step"],
  );
  assert.deepEqual(byClass(root, "legend").map((e) => e.text), ["train loss", "eval accuracy"]);
});

Deno.test("lossChartSvg() maps larger values higher and later steps further right", () => {
  const root = parseXml(
    lossChartSvg({ series: [{ name: "l", points: [[0, 1], [10, 2], [20, 0]] }] }),
  );
  const pts = pathPoints(byClass(root, "series")[0]?.attrs.d ?? "");
  assert.ok(pts[0]![0] < pts[1]![0] && pts[1]![0] < pts[2]![0]);
  assert.ok(pts[1]![1] < pts[0]![1] && pts[0]![1] < pts[2]![1], "SVG y grows downwards");
});

Deno.test("lossChartSvg() leaves a gap at non-finite values and sorts points by step", () => {
  const root = parseXml(lossChartSvg({
    series: [{ name: "l", points: [[30, 0.3], [10, 0.5], [20, NaN], [40, 0.2]] }],
  }));
  const d = byClass(root, "series")[0]?.attrs.d ?? "";
  assert.equal((d.match(/M/g) ?? []).length, 2, `two segments: ${d}`);
  assert.equal(pathPoints(d).length, 3);
});

Deno.test("lossChartSvg() omits the right axis when only the loss is given", () => {
  const root = parseXml(
    lossChartSvg({ series: [{ name: "train loss", points: [[1, 1], [2, 0.5]] }] }),
  );
  assert.equal(byClass(root, "right-tick").length, 0);
  assert.ok(byClass(root, "left-tick").length > 0);
});

Deno.test("lossChartSvg() handles a single point and a series with no points", () => {
  const root = parseXml(lossChartSvg({
    series: [{ name: "loss", points: [[5, 0.7]] }, { name: "acc", points: [], axis: "right" }],
  }));
  assert.equal(byClass(root, "series").length, 2);
  assert.equal(byClass(root, "series")[1]?.attrs.visibility, "hidden");
});

Deno.test("lossChartSvg() escapes names and rejects bad input", () => {
  const root = parseXml(lossChartSvg({ series: [{ name: '<loss> & "acc"', points: [[1, 1]] }] }));
  assert.equal(byClass(root, "legend")[0]?.text, '<loss> & "acc"');
  assert.throws(() => lossChartSvg({ series: [] }), TypeError);
  assert.throws(() => lossChartSvg({ series: [{ name: "l", points: [[NaN, 1]] }] }), /finite step/);
});
