/**
 * The final-rank heatmap of a run, like the paper's Figure 2: one cell per (weight family,
 * layer), coloured on a viridis scale with its value written inside, axis labels and a colour
 * legend, and a caption line saying what a cell means. Standalone SVG 1.1, readable at 100 %. The
 * canvas widens to hold the title and caption whole, however few layers there are; two heatmaps
 * meant to be compared pass the same `min` and `max`.
 *
 * @module
 */

import {
  escapeXml,
  fmt,
  formatValue,
  niceTicks,
  textColourOn,
  textWidth,
  viridis,
} from "./_svg.ts";

/**
 * Input of `rankHeatmapSvg`.
 *
 * @example A one-layer, two-family grid
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RankHeatmapInput } from "./rank_heatmap.ts";
 * import { rankHeatmapSvg } from "./rank_heatmap.ts";
 *
 * const input: RankHeatmapInput = { layers: ["1"], families: ["Wq", "Wv"], ranks: [[2, 6]] };
 * assert.equal(rankHeatmapSvg(input).match(/class="cell"/g)?.length, 2);
 * ```
 */
export interface RankHeatmapInput {
  /** Column labels, one per layer (e.g. `"1"` … `"12"`). */
  readonly layers: readonly string[];
  /** Row labels, one per weight family (e.g. `"Wq"`, `"Wk"`, `"Wv"`, `"Wo"`, `"Wf1"`, `"Wf2"`). */
  readonly families: readonly string[];
  /** `ranks[layer][family]`: the final rank of each adapted matrix. */
  readonly ranks: readonly (readonly number[])[];
  /** Title above the grid. */
  readonly title?: string;
  /** Colour-scale minimum (default: the smallest rank, or 0 when that is positive). */
  readonly min?: number;
  /** Colour-scale maximum (default: the largest rank). */
  readonly max?: number;
  /** One line under the grid saying what a cell means (default: a generic sentence). */
  readonly caption?: string;
}

const CELL_W = 44;
const CELL_H = 30;
const LEFT = 96;
const TOP = 58;
const LEGEND_W = 16;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

/**
 * Renders the rank heatmap. Rows are the weight families, columns the layers; every cell is a
 * `<rect class="cell">` with `data-layer`, `data-family` and `data-value` attributes and a
 * `<text class="value">` with the rank.
 *
 * @param input Labels, `ranks[layer][family]`, title and optional scale bounds.
 * @returns The SVG document text (with `xmlns`, escaped labels).
 * @throws {TypeError} When `ranks` is not `layers.length × families.length` or a value is not
 *   finite.
 *
 * @example Two layers, two families
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankHeatmapSvg } from "./rank_heatmap.ts";
 *
 * const svg = rankHeatmapSvg({
 *   layers: ["1", "2"], families: ["Wq", "Wv"], ranks: [[1, 5], [9, 13]], title: "RTE",
 * });
 * assert.ok(svg.startsWith("<svg"));
 * assert.equal(svg.match(/class="cell"/g)?.length, 4);
 * assert.ok(svg.includes(">13</text>"));
 * ```
 */
export function rankHeatmapSvg(input: RankHeatmapInput): string {
  const { layers, families, ranks } = input;
  if (layers.length === 0 || families.length === 0) {
    throw new TypeError(
      `Cannot draw the rank heatmap as layers and families must be non-empty: current sizes are ${layers.length} × ${families.length}`,
    );
  }
  if (ranks.length !== layers.length) {
    throw new TypeError(
      `Cannot draw the rank heatmap as ranks must have one row per layer: current rows are ${ranks.length}, layers ${layers.length}`,
    );
  }
  ranks.forEach((row, l) => {
    if (row.length !== families.length) {
      throw new TypeError(
        `Cannot draw the rank heatmap as ranks[${l}] must have one value per family: current length is ${row.length}, families ${families.length}`,
      );
    }
    row.forEach((v, f) => {
      if (!Number.isFinite(v)) {
        throw new TypeError(
          `Cannot draw the rank heatmap as ranks[${l}][${f}] must be finite: current value is ${v}`,
        );
      }
    });
  });
  const values = ranks.flat();
  const dataMin = Math.min(...values);
  const dataMax = Math.max(...values);
  const lo = input.min ?? Math.min(0, dataMin);
  const hiRaw = input.max ?? dataMax;
  const hi = hiRaw > lo ? hiRaw : lo + 1;
  const scale = (v: number): number => (v - lo) / (hi - lo);

  const ticks = (gridH: number): number[] =>
    niceTicks(lo, hi, Math.max(2, Math.min(6, Math.floor(gridH / 28))))
      .filter((t) => t >= lo - 1e-9 && t <= hi + 1e-9);
  const labelWidth = Math.max(...families.map((f) => textWidth(f, 13)));
  const left = Math.max(LEFT, labelWidth + 44);
  const gridW = layers.length * CELL_W;
  const gridH = families.length * CELL_H;
  const legendTicks = ticks(gridH);
  const legendX = left + gridW + 28;
  const tickW = Math.max(0, ...legendTicks.map((t) => textWidth(formatValue(t), 11)));
  const title = input.title ?? "Final rank per layer and weight";
  const caption = input.caption ??
    "Each cell: the rank of one adapted weight matrix (row) in one layer (column)";
  const width = Math.ceil(Math.max(
    legendX + LEGEND_W + 7 + tickW + 12,
    textWidth(title, 16, true) + 32,
    textWidth(caption, 12) + 24,
    left + gridW / 2 + textWidth("Layer", 14) / 2 + 12,
  ));
  const height = TOP + gridH + 78;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${fmt(width)}" height="${
      fmt(height)
    }" viewBox="0 0 ${fmt(width)} ${fmt(height)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<defs><linearGradient id="rank-scale" x1="0" y1="1" x2="0" y2="0">`,
  );
  for (let i = 0; i <= 10; i++) {
    out.push(`<stop offset="${i / 10}" stop-color="${viridis(i / 10)}"/>`);
  }
  out.push(
    `</linearGradient></defs>`,
    `<rect x="0" y="0" width="${fmt(width)}" height="${fmt(height)}" fill="#ffffff"/>`,
    `<text class="title" x="${
      fmt(width / 2)
    }" y="24" text-anchor="middle" font-size="16" font-weight="bold" ${FONT}>${
      escapeXml(title)
    }</text>`,
  );

  // Cells: rows = families (top to bottom), columns = layers (left to right).
  families.forEach((family, f) => {
    const y = TOP + f * CELL_H;
    out.push(
      `<text class="row-label" x="${fmt(left - 8)}" y="${
        fmt(y + CELL_H / 2 + 4)
      }" text-anchor="end" font-size="13" ${FONT}>${escapeXml(family)}</text>`,
    );
    layers.forEach((layer, l) => {
      const v = ranks[l]?.[f] ?? 0;
      const x = left + l * CELL_W;
      const colour = viridis(scale(v));
      out.push(
        `<rect class="cell" data-layer="${escapeXml(layer)}" data-family="${
          escapeXml(family)
        }" data-value="${v}" x="${fmt(x)}" y="${
          fmt(y)
        }" width="${CELL_W}" height="${CELL_H}" fill="${colour}" stroke="#ffffff" stroke-width="1"/>`,
        `<text class="value" x="${fmt(x + CELL_W / 2)}" y="${
          fmt(y + CELL_H / 2 + 4.5)
        }" text-anchor="middle" font-size="13" fill="${textColourOn(colour)}" ${FONT}>${
          escapeXml(formatValue(v))
        }</text>`,
      );
    });
  });
  layers.forEach((layer, l) => {
    out.push(
      `<text class="col-label" x="${fmt(left + l * CELL_W + CELL_W / 2)}" y="${
        fmt(TOP + gridH + 18)
      }" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(layer)}</text>`,
    );
  });
  out.push(
    `<text class="axis-label" x="${fmt(left + gridW / 2)}" y="${
      fmt(TOP + gridH + 42)
    }" text-anchor="middle" font-size="14" ${FONT}>Layer</text>`,
    `<text class="axis-label" x="16" y="${
      fmt(TOP + gridH / 2)
    }" text-anchor="middle" font-size="14" transform="rotate(-90 16 ${
      fmt(TOP + gridH / 2)
    })" ${FONT}>Weight</text>`,
  );

  // Legend: a vertical gradient bar with ticks.
  out.push(
    `<text x="${fmt(legendX + LEGEND_W / 2)}" y="${
      fmt(TOP - 10)
    }" text-anchor="middle" font-size="12" ${FONT}>rank</text>`,
    `<rect class="legend" x="${fmt(legendX)}" y="${TOP}" width="${LEGEND_W}" height="${
      fmt(gridH)
    }" fill="url(#rank-scale)" stroke="#444444" stroke-width="0.5"/>`,
  );
  for (const t of legendTicks) {
    const y = TOP + gridH - scale(t) * gridH;
    out.push(
      `<line x1="${fmt(legendX + LEGEND_W)}" y1="${fmt(y)}" x2="${
        fmt(legendX + LEGEND_W + 4)
      }" y2="${fmt(y)}" stroke="#444444" stroke-width="1"/>`,
      `<text class="legend-tick" x="${fmt(legendX + LEGEND_W + 7)}" y="${
        fmt(y + 4)
      }" font-size="11" ${FONT}>${escapeXml(formatValue(t))}</text>`,
    );
  }
  out.push(
    `<text class="caption" x="${fmt(width / 2)}" y="${
      fmt(TOP + gridH + 66)
    }" text-anchor="middle" font-size="12" fill="#333333" ${FONT}>${escapeXml(caption)}</text>`,
  );
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
