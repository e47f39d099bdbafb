/**
 * The training curve of a run: train loss on the left y axis and the eval metric on the right
 * y axis, over optimizer steps, with ticks, grid lines, optional event marks and a legend.
 * Standalone SVG 1.1. The layout measures its text (`textWidth`): the canvas widens for a long
 * title, the margins fit the tick labels, and the legend wraps onto more rows.
 *
 * @module
 */

import { escapeXml, fmt, formatValue, niceTicks, textWidth } from "./_svg.ts";

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
  /** Draw the line dashed (e.g. a budget or reference level). */
  readonly dashed?: boolean;
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
  /** A value the left axis always includes (e.g. 0 for counts); default: the data range only. */
  readonly leftFloor?: number;
  /** Width in pixels (default 720). */
  readonly width?: number;
  /** Height in pixels (default 420; more when the legend needs a second row). */
  readonly height?: number;
  /** Steps to mark with a dashed vertical line (e.g. rank-allocation events). */
  readonly events?: readonly number[];
  /** Legend label of the event marks (default `allocation event`). */
  readonly eventLabel?: string;
}

/** Okabe–Ito colours: distinguishable for colour-blind readers. */
const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const EVENT_COLOUR = "#888888";
const LEGEND_ROW = 20;

interface Extent {
  lo: number;
  hi: number;
}

function extent(values: readonly number[]): Extent | undefined {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return undefined;
  return { lo: Math.min(...finite), hi: Math.max(...finite) };
}

interface LegendItem {
  readonly name: string;
  readonly colour: string;
  readonly marker: boolean;
  readonly dashed: boolean;
}

/** Width of a legend entry: 22 px line, 6 px gap, the label, 20 px before the next one. */
function legendItemWidth(item: LegendItem): number {
  return 28 + textWidth(item.name, 12) + 20;
}

/** Legend items into rows no wider than `width`. */
function legendRows(items: readonly LegendItem[], width: number): LegendItem[][] {
  const rows: LegendItem[][] = [[]];
  let used = 0;
  for (const item of items) {
    const w = legendItemWidth(item);
    const row = rows.at(-1) as LegendItem[];
    if (row.length > 0 && used + w > width) {
      rows.push([item]);
      used = w;
    } else {
      row.push(item);
      used += w;
    }
  }
  return rows;
}

/**
 * Renders the loss/metric chart. Each series is a `<path class="series">` with `data-name`;
 * series on the right axis also get a circle per point (evaluations are sparse). An axis with
 * no series is not drawn. Axis names sit horizontally above their axes; `events` become dashed
 * vertical `<line class="event">` marks with their own legend entry.
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
 *   events: [15],
 * });
 * assert.equal(svg.match(/class="series"/g)?.length, 2);
 * assert.equal(svg.match(/class="event"/g)?.length, 1);
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
  const title = input.title ?? "Training curve";
  const events = (input.events ?? []).filter(Number.isFinite);
  const left = input.series.filter((s) => (s.axis ?? "left") === "left");
  const right = input.series.filter((s) => s.axis === "right");
  const leftLabel = input.leftLabel ?? "train loss";
  const rightLabel = input.rightLabel ?? "eval metric";

  const axisTicks = (series: readonly ChartSeries[], floor?: number): number[] | undefined => {
    const values = series.flatMap((s) => s.points.map((p) => p[1]));
    const e = extent(values);
    if (e === undefined) return undefined;
    return floor === undefined
      ? niceTicks(e.lo, e.hi, 5)
      : niceTicks(Math.min(floor, e.lo), Math.max(floor, e.hi), 5);
  };
  const leftTicks = axisTicks(left, input.leftFloor);
  const rightTicks = axisTicks(right);
  const widest = (ticks: readonly number[] | undefined): number =>
    Math.max(0, ...(ticks ?? []).map((t) => textWidth(formatValue(t), 12)));

  // Canvas and margins from the text they must hold.
  const titleW = textWidth(title, 16, true);
  const leftLabelW = leftTicks === undefined ? 0 : textWidth(leftLabel, 13);
  const rightLabelW = rightTicks === undefined ? 0 : textWidth(rightLabel, 13);
  const width = Math.ceil(
    Math.max(input.width ?? 720, titleW + 32, leftLabelW + rightLabelW + 48),
  );
  const margin = {
    top: 62,
    right: Math.max(24, rightTicks === undefined ? 0 : widest(rightTicks) + 20),
    bottom: 0,
    left: Math.max(48, widest(leftTicks) + 20),
  };
  const legend: LegendItem[] = input.series.map((s, i) => ({
    name: s.name,
    colour: s.colour ?? PALETTE[i % PALETTE.length] ?? "#000000",
    marker: s.axis === "right",
    dashed: s.dashed === true,
  }));
  if (events.length > 0) {
    legend.push({
      name: input.eventLabel ?? "allocation event",
      colour: EVENT_COLOUR,
      marker: false,
      dashed: true,
    });
  }
  const rows = legendRows(legend, width - 24);
  margin.bottom = 52 + rows.length * LEGEND_ROW;
  const height = Math.max(input.height ?? 420, margin.top + margin.bottom + 120) +
    (rows.length - 1) * LEGEND_ROW;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const xs = extent([...input.series.flatMap((s) => s.points.map((p) => p[0])), ...events]);
  const xTicks = xs === undefined ? [0, 1] : niceTicks(xs.lo, xs.hi, 6);
  const x0 = xTicks[0] ?? 0;
  const x1 = xTicks.at(-1) ?? 1;
  const xPos = (v: number): number => margin.left + ((v - x0) / (x1 - x0 || 1)) * plotW;
  const yPos = (ticks: readonly number[]) => (v: number): number => {
    const lo = ticks[0] ?? 0;
    const hi = ticks.at(-1) ?? 1;
    return margin.top + plotH - ((v - lo) / (hi - lo || 1)) * plotH;
  };

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text class="title" x="${
      fmt(width / 2)
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
    // The axis name, horizontal above its axis: left-aligned on the left, right-aligned on
    // the right, so both read without turning the head and never cross each other.
    const lx = side === "left" ? 12 : width - 12;
    out.push(
      `<text class="axis-label" x="${fmt(lx)}" y="${fmt(margin.top - 14)}" text-anchor="${
        anchor === "end" ? "start" : "end"
      }" font-size="13" ${FONT}>${escapeXml(label)}</text>`,
    );
  };
  if (leftTicks !== undefined) drawYAxis(leftTicks, "left", leftLabel);
  if (rightTicks !== undefined) drawYAxis(rightTicks, "right", rightLabel);
  out.push(
    `<line x1="${margin.left}" y1="${fmt(margin.top + plotH)}" x2="${
      fmt(margin.left + plotW)
    }" y2="${fmt(margin.top + plotH)}" stroke="#444444" stroke-width="1"/>`,
    `<text class="axis-label" x="${fmt(margin.left + plotW / 2)}" y="${
      fmt(margin.top + plotH + 40)
    }" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(input.xLabel ?? "step")}</text>`,
  );

  // Event marks under the series.
  for (const step of events) {
    out.push(
      `<line class="event" data-step="${step}" x1="${fmt(xPos(step))}" y1="${margin.top}" x2="${
        fmt(xPos(step))
      }" y2="${
        fmt(margin.top + plotH)
      }" stroke="${EVENT_COLOUR}" stroke-width="1" stroke-dasharray="4 3"/>`,
    );
  }

  // Series.
  input.series.forEach((s, i) => {
    const axis = s.axis ?? "left";
    const ticks = axis === "left" ? leftTicks : rightTicks;
    const colour = legend[i]?.colour ?? "#000000";
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
        s.dashed ? ' stroke-dasharray="6 4"' : ""
      }${d ? "" : ' visibility="hidden"'}/>`,
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

  // Legend below the x-axis label, left to right, wrapped into rows.
  rows.forEach((row, r) => {
    let lx = 12;
    const ly = margin.top + plotH + 66 + r * LEGEND_ROW;
    for (const item of row) {
      out.push(
        `<line x1="${fmt(lx)}" y1="${fmt(ly - 4)}" x2="${fmt(lx + 22)}" y2="${
          fmt(ly - 4)
        }" stroke="${item.colour}" stroke-width="2"${
          item.dashed ? ' stroke-dasharray="4 3"' : ""
        }/>`,
      );
      if (item.marker) {
        out.push(`<circle cx="${fmt(lx + 11)}" cy="${fmt(ly - 4)}" r="3" fill="${item.colour}"/>`);
      }
      out.push(
        `<text class="legend" x="${fmt(lx + 28)}" y="${fmt(ly)}" font-size="12" ${FONT}>${
          escapeXml(item.name)
        }</text>`,
      );
      lx += legendItemWidth(item);
    }
  });
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
