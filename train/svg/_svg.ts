/**
 * Small helpers shared by the SVG writers: text escaping, number formatting, colour scale and
 * "nice" axis ticks.
 *
 * @internal
 * @module
 */

/**
 * Escapes text for an XML text node or a double-quoted attribute.
 *
 * @param text Any text.
 * @returns The text with `& < > " '` escaped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeXml } from "./_svg.ts";
 *
 * assert.equal(escapeXml(`a<b & "c"`), "a&lt;b &amp; &quot;c&quot;");
 * ```
 */
export function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/**
 * Formats a coordinate with at most two decimals (keeps the SVG small and stable).
 *
 * @param value A finite number.
 * @returns The shortest decimal text with at most two decimals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fmt } from "./_svg.ts";
 *
 * assert.equal(fmt(2), "2");
 * assert.equal(fmt(1 / 3), "0.33");
 * ```
 */
export function fmt(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/**
 * Formats a data value for a label: integers as such, otherwise up to 4 significant digits.
 *
 * @param value A finite number.
 * @returns The label text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatValue } from "./_svg.ts";
 *
 * assert.equal(formatValue(3), "3");
 * assert.equal(formatValue(12345.678), "12350");
 * ```
 */
export function formatValue(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/**
 * Viridis, sampled at 0, .25, .5, .75, 1: perceptually uniform and colour-blind safe.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VIRIDIS } from "./_svg.ts";
 *
 * assert.equal(VIRIDIS.length, 5);
 * assert.deepEqual(VIRIDIS[0], [68, 1, 84]);
 * ```
 */
export const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [0x44, 0x01, 0x54],
  [0x3b, 0x52, 0x8b],
  [0x21, 0x91, 0x8c],
  [0x5e, 0xc9, 0x62],
  [0xfd, 0xe7, 0x25],
];

function hex(rgb: readonly [number, number, number]): string {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Maps t ∈ [0, 1] to a colour of the viridis scale (linear between its five stops).
 *
 * @param t Position on the scale; clamped to [0, 1].
 * @returns `#rrggbb`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { viridis } from "./_svg.ts";
 *
 * assert.equal(viridis(0), "#440154");
 * assert.equal(viridis(2), "#fde725"); // clamped
 * ```
 */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i] ?? VIRIDIS[0]!;
  const b = VIRIDIS[i + 1] ?? a;
  return hex([0, 1, 2].map((k) => a[k]! + (b[k]! - a[k]!) * f) as [number, number, number]);
}

/**
 * Black or white, whichever reads better on the background colour (WCAG relative luminance).
 *
 * @param background `#rrggbb`.
 * @returns `#000000` or `#ffffff`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textColourOn } from "./_svg.ts";
 *
 * assert.equal(textColourOn("#000000"), "#ffffff");
 * assert.equal(textColourOn("#ffffff"), "#000000");
 * ```
 */
export function textColourOn(background: string): string {
  const channel = (offset: number): number => {
    const c = parseInt(background.slice(offset, offset + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return luminance > 0.179 ? "#000000" : "#ffffff";
}

/**
 * "Nice" ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi].
 *
 * @param lo Smallest data value.
 * @param hi Largest data value.
 * @param target About how many ticks to produce.
 * @returns The ticks, ascending; the first ≤ lo and the last ≥ hi.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { niceTicks } from "./_svg.ts";
 *
 * assert.deepEqual(niceTicks(0.3, 9.7), [0, 2, 4, 6, 8, 10]);
 * ```
 */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceTicks(lo - pad, lo + pad, target);
  }
  const raw = (hi - lo) / Math.max(1, target);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v < hi + step * 0.999; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (ticks.length > 50) break;
  }
  return ticks;
}

/** Helvetica/Arial advance widths (1/1000 em) of the printable ASCII characters 32–126. */
const HELVETICA_WIDTHS = [
  278,
  278,
  355,
  556,
  556,
  889,
  667,
  191,
  333,
  333,
  389,
  584,
  278,
  333,
  278,
  278, // space … /
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556, // 0–9
  278,
  278,
  584,
  584,
  584,
  556,
  1015, // : ; < = > ? @
  667,
  667,
  722,
  722,
  667,
  611,
  778,
  722,
  278,
  500,
  667,
  556,
  833, // A–M
  722,
  778,
  667,
  778,
  722,
  667,
  611,
  722,
  667,
  944,
  667,
  667,
  611, // N–Z
  278,
  278,
  278,
  469,
  556,
  333, // [ \ ] ^ _ `
  556,
  556,
  500,
  556,
  556,
  278,
  556,
  556,
  222,
  222,
  500,
  222,
  833, // a–m
  556,
  556,
  556,
  556,
  333,
  500,
  278,
  556,
  500,
  722,
  500,
  500,
  500, // n–z
  334,
  260,
  334,
  584, // { | } ~
];

/**
 * An upper estimate of the width of a line of text in the charts' font stack (Helvetica, Arial
 * or a wider fallback): Helvetica's advance widths plus 12 % for fallback fonts such as
 * DejaVu Sans, bold 10 % wider, any other character 1 em. The layouts use it so that titles,
 * labels and legends get the room they need.
 *
 * @param text One line of text.
 * @param fontSize Font size in pixels.
 * @param bold Whether the text is bold.
 * @returns The estimated width in pixels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textWidth } from "./_svg.ts";
 *
 * assert.ok(textWidth("WWW", 10) > textWidth("iii", 10));
 * assert.ok(textWidth("title", 16, true) > textWidth("title", 16));
 * ```
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    units += code >= 32 && code <= 126 ? HELVETICA_WIDTHS[code - 32] ?? 1000 : 1000;
  }
  return (units / 1000) * fontSize * 1.12 * (bold ? 1.1 : 1);
}
