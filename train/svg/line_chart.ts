/**
 * The training curve of a run: train loss on the left y axis and the eval metric on the right
 * y axis, over optimizer steps, with ticks, grid lines and a legend. Standalone SVG 1.1.
 *
 * @module
 */

import { escapeXml, fmt, formatValue, niceTicks } from "./_svg.ts";

/**
 * One line of the chart.
 *
 * @example A right-axis metric series
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChartSeries } from "./line_chart.ts";
 * import { lossChartSvg } from "./line_chart.ts";
 *
 * const acc: ChartSeries = { name: "accuracy", points: [[10, 0.6], [20, 0.7]], axis: "right" };
 * assert.ok(lossChartSvg({ series: [acc] }).includes('data-name="accuracy"'));
 * ```
 */
export interface ChartSeries {
  /** Legend label. */
  readonly name: string;
  /** `[step, value]` points; non-finite values leave a gap. */
  readonly points: readonly (readonly [number, number])[];
  /** The y axis to use: `left` (default; train loss) or `right` (eval metric). */
  readonly axis?: "left" | "right";
  /** Stroke colour (default: from a colour-blind-safe palette). */
  readonly colour?: string;
}

/**
 * Input of `lossChartSvg`.
 *
 * @example A titled loss chart
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LossChartInput } from "./line_chart.ts";
 * import { lossChartSvg } from "./line_chart.ts";
 *
 * const input: LossChartInput = { series: [{ name: "loss", points: [[1, 0.9], [2, 0.5]] }], title: "SST-2" };
 * const svg = lossChartSvg(input);
 * assert.ok(svg.startsWith("<svg") && svg.includes("SST-2"));
 * ```
 */
export interface LossChartInput {
  /** The lines to draw. */
  readonly series: readonly ChartSeries[];
  /** Title above the plot. */
  readonly title?: string;
  /** Label of the x axis (default `step`). */
  readonly xLabel?: string;
  /** Label of the left y axis (default `train loss`). */
  readonly leftLabel?: string;
  /** Label of the right y axis (default `eval metric`). */
  readonly rightLabel?: string;
  /** Width in pixels (default 720). */
  readonly width?: number;
  /** Height in pixels (default 420). */
  readonly height?: number;
}

/** Okabe–Ito colours: distinguishable for colour-blind readers. */
const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

interface Extent {
  lo: number;
  hi: number;
}

function extent(values: readonly number[]): Extent | undefined {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return undefined;
  return { lo: Math.min(...finite), hi: Math.max(...finite) };
}

/**
 * Renders the loss/metric chart. Each series is a `<path class="series">` with `data-name`;
 * series on the right axis also get a circle per point (evaluations are sparse). An axis with
 * no series is not drawn.
 *
 * @param input The series, labels and size.
 * @returns The SVG document text (with `xmlns`, escaped labels).
 * @throws {TypeError} When there is no series or a step is not finite.
 *
 * @example Loss and accuracy
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossChartSvg } from "./line_chart.ts";
 *
 * const svg = lossChartSvg({
 *   series: [
 *     { name: "train loss", points: [[10, 0.7], [20, 0.6], [30, 0.5]] },
 *     { name: "eval accuracy", points: [[20, 0.61], [30, 0.66]], axis: "right" },
 *   ],
 *   title: "RTE & co",
 * });
 * assert.equal(svg.match(/class="series"/g)?.length, 2);
 * assert.ok(svg.includes("RTE &amp; co"));
 * ```
 */
export function lossChartSvg(input: LossChartInput): string {
  if (input.series.length === 0) {
    throw new TypeError(
      "Cannot draw the loss chart as series must be non-empty: current length is 0",
    );
  }
  input.series.forEach((s, i) => {
    s.points.forEach(([step], j) => {
      if (!Number.isFinite(step)) {
        throw new TypeError(
          `Cannot draw the loss chart as series[${i}].points[${j}] must have a finite step: current value is ${step}`,
        );
      }
    });
  });
  const width = input.width ?? 720;
  const height = input.height ?? 420;
  const title = input.title ?? "Training curve";
  const left = input.series.filter((s) => (s.axis ?? "left") === "left");
  const right = input.series.filter((s) => s.axis === "right");

  const margin = { top: 48, right: right.length > 0 ? 72 : 24, bottom: 86, left: 72 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const xs = extent(input.series.flatMap((s) => s.points.map((p) => p[0])));
  const xTicks = xs === undefined ? [0, 1] : niceTicks(xs.lo, xs.hi, 6);
  const x0 = xTicks[0] ?? 0;
  const x1 = xTicks.at(-1) ?? 1;
  const xPos = (v: number): number => margin.left + ((v - x0) / (x1 - x0 || 1)) * plotW;

  const axisTicks = (series: readonly ChartSeries[]): number[] | undefined => {
    const e = extent(series.flatMap((s) => s.points.map((p) => p[1])));
    return e === undefined ? undefined : niceTicks(e.lo, e.hi, 5);
  };
  const leftTicks = axisTicks(left);
  const rightTicks = axisTicks(right);
  const yPos = (ticks: readonly number[]) => (v: number): number => {
    const lo = ticks[0] ?? 0;
    const hi = ticks.at(-1) ?? 1;
    return margin.top + plotH - ((v - lo) / (hi - lo || 1)) * plotH;
  };

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${
      fmt(margin.left + plotW / 2)
    }" y="26" text-anchor="middle" font-size="16" font-weight="bold" ${FONT}>${
      escapeXml(title)
    }</text>`,
  ];

  // Grid and x axis.
  for (const t of xTicks) {
    const x = xPos(t);
    out.push(
      `<line x1="${fmt(x)}" y1="${margin.top}" x2="${fmt(x)}" y2="${
        fmt(margin.top + plotH)
      }" stroke="#e5e5e5" stroke-width="1"/>`,
      `<text class="x-tick" x="${fmt(x)}" y="${
        fmt(margin.top + plotH + 18)
      }" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(formatValue(t))}</text>`,
    );
  }
  const drawYAxis = (ticks: readonly number[], side: "left" | "right", label: string): void => {
    const y = yPos(ticks);
    const x = side === "left" ? margin.left : margin.left + plotW;
    const anchor = side === "left" ? "end" : "start";
    const dx = side === "left" ? -8 : 8;
    out.push(
      `<line x1="${fmt(x)}" y1="${margin.top}" x2="${fmt(x)}" y2="${
        fmt(margin.top + plotH)
      }" stroke="#444444" stroke-width="1"/>`,
    );
    for (const t of ticks) {
      if (side === "left") {
        out.push(
          `<line x1="${margin.left}" y1="${fmt(y(t))}" x2="${fmt(margin.left + plotW)}" y2="${
            fmt(y(t))
          }" stroke="#e5e5e5" stroke-width="1"/>`,
        );
      }
      out.push(
        `<text class="${side}-tick" x="${fmt(x + dx)}" y="${
          fmt(y(t) + 4)
        }" text-anchor="${anchor}" font-size="12" ${FONT}>${escapeXml(formatValue(t))}</text>`,
      );
    }
    const lx = side === "left" ? 18 : width - 14;
    const ly = margin.top + plotH / 2;
    out.push(
      `<text class="axis-label" x="${fmt(lx)}" y="${
        fmt(ly)
      }" text-anchor="middle" font-size="13" transform="rotate(-90 ${fmt(lx)} ${
        fmt(ly)
      })" ${FONT}>${escapeXml(label)}</text>`,
    );
  };
  if (leftTicks !== undefined) drawYAxis(leftTicks, "left", input.leftLabel ?? "train loss");
  if (rightTicks !== undefined) drawYAxis(rightTicks, "right", input.rightLabel ?? "eval metric");
  out.push(
    `<line x1="${margin.left}" y1="${fmt(margin.top + plotH)}" x2="${
      fmt(margin.left + plotW)
    }" y2="${fmt(margin.top + plotH)}" stroke="#444444" stroke-width="1"/>`,
    `<text class="axis-label" x="${fmt(margin.left + plotW / 2)}" y="${
      fmt(margin.top + plotH + 40)
    }" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(input.xLabel ?? "step")}</text>`,
  );

  // Series.
  const legend: { name: string; colour: string; marker: boolean }[] = [];
  input.series.forEach((s, i) => {
    const axis = s.axis ?? "left";
    const ticks = axis === "left" ? leftTicks : rightTicks;
    const colour = s.colour ?? PALETTE[i % PALETTE.length] ?? "#000000";
    legend.push({ name: s.name, colour, marker: axis === "right" });
    const y = yPos(ticks ?? [0, 1]);
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    let d = "";
    let pen = false;
    for (const [step, value] of sorted) {
      if (!Number.isFinite(value)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${fmt(xPos(step))} ${fmt(y(value))}`;
      pen = true;
    }
    out.push(
      `<path class="series" data-name="${escapeXml(s.name)}" data-axis="${axis}" d="${
        d || "M0 0"
      }" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"${
        d ? "" : ' visibility="hidden"'
      }/>`,
    );
    if (axis === "right") {
      for (const [step, value] of sorted) {
        if (!Number.isFinite(value)) continue;
        out.push(
          `<circle cx="${fmt(xPos(step))}" cy="${fmt(y(value))}" r="3" fill="${colour}"/>`,
        );
      }
    }
  });

  // Legend below the x-axis label, left to right.
  let lx = margin.left;
  const ly = height - 18;
  for (const item of legend) {
    out.push(
      `<line x1="${fmt(lx)}" y1="${fmt(ly - 4)}" x2="${fmt(lx + 22)}" y2="${
        fmt(ly - 4)
      }" stroke="${item.colour}" stroke-width="2"/>`,
    );
    if (item.marker) {
      out.push(`<circle cx="${fmt(lx + 11)}" cy="${fmt(ly - 4)}" r="3" fill="${item.colour}"/>`);
    }
    out.push(
      `<text class="legend" x="${fmt(lx + 28)}" y="${fmt(ly)}" font-size="12" ${FONT}>${
        escapeXml(item.name)
      }</text>`,
    );
    lx += 28 + item.name.length * 7 + 24;
  }
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
