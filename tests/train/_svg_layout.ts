/**
 * A pure-TS layout check of the SVG charts: every `<text>` gets a box from a font-metric estimate
 * (Helvetica advance widths plus a margin for wider fallback fonts, `textWidth`), placed by its
 * `x`, `y`, `text-anchor` and `rotate(-90 …)` transform; the check fails when a box leaves the
 * canvas (cut text) or two boxes overlap (colliding labels).
 *
 * @internal
 * @module
 */

import { textWidth } from "../../train/svg/_svg.ts";
import { findAll, parseXml, type XmlElement } from "./_xml.ts";

/** A text's box on the canvas. */
export interface TextBox {
  /** The text. */
  readonly text: string;
  /** Its class attribute, if any. */
  readonly cls: string;
  /** Left, top, right, bottom in canvas pixels. */
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

function boxOf(e: XmlElement): TextBox {
  const size = Number(e.attrs["font-size"] ?? 16);
  const x = Number(e.attrs.x ?? 0);
  const y = Number(e.attrs.y ?? 0);
  const w = textWidth(e.text, size, e.attrs["font-weight"] === "bold");
  const anchor = e.attrs["text-anchor"] ?? "start";
  const left = anchor === "middle" ? x - w / 2 : anchor === "end" ? x - w : x;
  // Ascent and descent of Helvetica-like fonts: about 0.8 em above, 0.22 em below the baseline.
  let box = { x0: left, y0: y - 0.8 * size, x1: left + w, y1: y + 0.22 * size };
  const rot = /rotate\(\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s*\)/.exec(e.attrs.transform ?? "");
  if (rot !== null) {
    const [angle, cx, cy] = [Number(rot[1]), Number(rot[2]), Number(rot[3])];
    if (angle !== -90) throw new Error(`Unsupported rotation ${angle} of text ${e.text}`);
    // (px, py) → (cx + (py − cy), cy − (px − cx))
    box = {
      x0: cx + (box.y0 - cy),
      x1: cx + (box.y1 - cy),
      y0: cy - (box.x1 - cx),
      y1: cy - (box.x0 - cx),
    };
  }
  return { text: e.text, cls: e.attrs.class ?? "", ...box };
}

/**
 * The layout problems of an SVG document: text cut by the canvas edge, text boxes that
 * overlap. Empty when the layout is clean.
 *
 * @param svg The SVG text.
 * @returns One line per problem.
 */
export function layoutProblems(svg: string): string[] {
  const root = parseXml(svg);
  const width = Number(root.attrs.width);
  const height = Number(root.attrs.height);
  const boxes = findAll(root, (e) => e.name === "text" && e.text.trim() !== "").map(boxOf);
  const problems: string[] = [];
  const show = (b: TextBox): string =>
    `"${b.text}" [${b.x0.toFixed(1)}, ${b.y0.toFixed(1)}, ${b.x1.toFixed(1)}, ${b.y1.toFixed(1)}]`;
  for (const b of boxes) {
    if (b.x0 < 0 || b.y0 < 0 || b.x1 > width || b.y1 > height) {
      problems.push(`cut by the ${width}×${height} canvas: ${show(b)}`);
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i] as TextBox;
      const b = boxes[j] as TextBox;
      const dx = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
      const dy = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
      if (dx > 0.5 && dy > 0.5) problems.push(`overlap: ${show(a)} and ${show(b)}`);
    }
  }
  return problems;
}
