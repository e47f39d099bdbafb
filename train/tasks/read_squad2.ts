/**
 * SQuAD 2.0 reader: the official JSON schema (`data[].paragraphs[].qas[]`).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { DataFormatError } from "./data_format_error.ts";

/**
 * One gold (or plausible) answer span.
 *
 * @example The offset is converted after an emoji
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Squad2Answer } from "./read_squad2.ts";
 * import { parseSquad2 } from "./read_squad2.ts";
 *
 * const context = "\u{1F600} Rollo";
 * const [q] = parseSquad2({ data: [{ title: "T", paragraphs: [{ context,
 *   qas: [{ id: "q", question: "?", answers: [{ text: "Rollo", answer_start: 2 }] }] }] }] });
 * const answer: Squad2Answer | undefined = q?.answers[0];
 * assert.equal(answer?.answerStart, 3);
 * assert.equal(context.slice(3, 8), "Rollo");
 * ```
 */
export interface Squad2Answer {
  /** The answer text as written in the file. */
  readonly text: string;
  /**
   * Start offset in `context`, in JavaScript string units (UTF-16 code units), so
   * `context.slice(answerStart, answerStart + text.length)` is the span. The file stores a
   * Python (code point) offset; the two differ only after astral characters (e.g. emoji), and
   * the reader converts.
   */
  readonly answerStart: number;
}

/**
 * One SQuAD 2.0 question with its paragraph.
 *
 * @example A SQuAD 1.1-style question without `is_impossible`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Squad2Example } from "./read_squad2.ts";
 * import { parseSquad2 } from "./read_squad2.ts";
 *
 * const [q]: Squad2Example[] = parseSquad2({ data: [{ title: "T", paragraphs: [{ context: "abc",
 *   qas: [{ id: "q", question: "?", answers: [{ text: "b", answer_start: 1 }] }] }] }] });
 * assert.deepEqual(q, { id: "q", title: "T", question: "?", context: "abc",
 *   answers: [{ text: "b", answerStart: 1 }], isImpossible: false });
 * ```
 */
export interface Squad2Example {
  /** Question id (`qas[].id`). */
  readonly id: string;
  /** Article title. */
  readonly title: string;
  /** The question. */
  readonly question: string;
  /** The paragraph. */
  readonly context: string;
  /** Gold answers (empty for unanswerable questions), with duplicates as in the file. */
  readonly answers: Squad2Answer[];
  /** `plausible_answers` of an unanswerable question, when the file has them. */
  readonly plausibleAnswers?: Squad2Answer[];
  /** `is_impossible`; when the field is missing (SQuAD 1.1 files): `answers.length === 0`. */
  readonly isImpossible: boolean;
}

function fail(source: string, path: string, reason: string): never {
  throw new DataFormatError(source, 0, reason, { unit: "path", path });
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  const text = typeof value === "string" ? JSON.stringify(value) : typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function field<T>(
  source: string,
  obj: Record<string, unknown>,
  key: string,
  path: string,
  check: (value: unknown) => value is T,
  what: string,
): T {
  const value = obj[key];
  if (!check(value)) {
    const at = path === "" ? key : `${path}.${key}`;
    fail(source, at, `${key} must be ${what}: current value is ${describe(value)}`);
  }
  return value;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isOffset = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Converts code-point offsets to UTF-16 offsets for one context (identity if no astral). */
function offsetMapper(context: string): (codePoints: number) => number {
  if (!/[\uD800-\uDBFF]/.test(context)) return (n) => n;
  const map: number[] = [];
  let unit = 0;
  for (const ch of context) {
    map.push(unit);
    unit += ch.length;
  }
  map.push(unit);
  return (n) => map[n] ?? n + (unit - map.length + 1);
}

function answers(
  source: string,
  list: unknown[],
  path: string,
  toUnits: (n: number) => number,
): Squad2Answer[] {
  return list.map((raw, k) => {
    const at = `${path}[${k}]`;
    if (!isObject(raw)) {
      fail(source, at, `an answer must be an object: current value is ${describe(raw)}`);
    }
    const text = field(source, raw, "text", at, isString, "a string");
    const start = field(source, raw, "answer_start", at, isOffset, "a non-negative integer");
    return { text, answerStart: toUnits(start) };
  });
}

/**
 * Flattens parsed SQuAD JSON (v2.0 or v1.1) into one example per question, in file order.
 *
 * @param json The parsed JSON document (`{ version, data: [...] }`).
 * @param source Name used in error messages (a file path). Default `"<input>"`.
 * @returns The examples.
 * @throws {DataFormatError} Naming the JSON path of a missing or mistyped field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSquad2 } from "./read_squad2.ts";
 *
 * const doc = {
 *   data: [{
 *     title: "T",
 *     paragraphs: [{
 *       context: "Rollo was Norse.",
 *       qas: [
 *         { id: "q1", question: "Who?", answers: [{ text: "Rollo", answer_start: 0 }], is_impossible: false },
 *         { id: "q2", question: "When?", answers: [], plausible_answers: [{ text: "Norse", answer_start: 10 }], is_impossible: true },
 *       ],
 *     }],
 *   }],
 * };
 * const [q1, q2] = parseSquad2(doc);
 * assert.deepEqual(q1?.answers, [{ text: "Rollo", answerStart: 0 }]);
 * assert.equal(q2?.isImpossible, true);
 * assert.deepEqual(q2?.plausibleAnswers, [{ text: "Norse", answerStart: 10 }]);
 * ```
 */
export function parseSquad2(json: unknown, source = "<input>"): Squad2Example[] {
  if (!isObject(json)) {
    fail(source, "(root)", `the root must be an object: current value is ${describe(json)}`);
  }
  const data = field(source, json, "data", "", isArray, "an array");
  const out: Squad2Example[] = [];
  data.forEach((article, a) => {
    const ap = `data[${a}]`;
    if (!isObject(article)) {
      fail(source, ap, `an article must be an object: current value is ${describe(article)}`);
    }
    const title = field(source, article, "title", ap, isString, "a string");
    const paragraphs = field(source, article, "paragraphs", ap, isArray, "an array");
    paragraphs.forEach((paragraph, p) => {
      const pp = `${ap}.paragraphs[${p}]`;
      if (!isObject(paragraph)) {
        fail(source, pp, `a paragraph must be an object: current value is ${describe(paragraph)}`);
      }
      const context = field(source, paragraph, "context", pp, isString, "a string");
      const qas = field(source, paragraph, "qas", pp, isArray, "an array");
      const toUnits = offsetMapper(context);
      qas.forEach((qa, q) => {
        const qp = `${pp}.qas[${q}]`;
        if (!isObject(qa)) {
          fail(source, qp, `a question must be an object: current value is ${describe(qa)}`);
        }
        const id = field(source, qa, "id", qp, isString, "a string");
        const question = field(source, qa, "question", qp, isString, "a string");
        const gold = answers(
          source,
          field(source, qa, "answers", qp, isArray, "an array"),
          `${qp}.answers`,
          toUnits,
        );
        const impossible = qa["is_impossible"] === undefined
          ? gold.length === 0
          : field(source, qa, "is_impossible", qp, (v): v is boolean =>
            typeof v === "boolean", "a boolean");
        const example: {
          id: string;
          title: string;
          question: string;
          context: string;
          answers: Squad2Answer[];
          plausibleAnswers?: Squad2Answer[];
          isImpossible: boolean;
        } = { id, title, question, context, answers: gold, isImpossible: impossible };
        if (qa["plausible_answers"] !== undefined) {
          example.plausibleAnswers = answers(
            source,
            field(source, qa, "plausible_answers", qp, isArray, "an array"),
            `${qp}.plausible_answers`,
            toUnits,
          );
        }
        out.push(example);
      });
    });
  });
  return out;
}

/**
 * Reads a SQuAD 2.0 JSON file (official schema: `data[].paragraphs[].qas[]` with `answers`,
 * `plausible_answers` and `is_impossible`) into one example per question, in file order.
 *
 * @param path The JSON file (string path or `file:` URL).
 * @returns The examples.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {DataFormatError} For invalid JSON or a missing/mistyped field (named by JSON path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSquad2 } from "./read_squad2.ts";
 *
 * const file = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(file, JSON.stringify({ version: "v2.0", data: [{ title: "T",
 *   paragraphs: [{ context: "abc", qas: [{ id: "q", question: "?", answers: [], is_impossible: true }] }] }] }));
 * const [example] = await readSquad2(file);
 * assert.equal(example?.isImpossible, true);
 * await Deno.remove(file);
 * ```
 */
export async function readSquad2(path: string | URL): Promise<Squad2Example[]> {
  const file = path instanceof URL ? fileURLToPath(path) : path;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `Cannot read SQuAD 2.0 file as the path must exist: ${file} not found`,
        { cause: error },
      );
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DataFormatError(
      file,
      0,
      `the file must be valid JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parseSquad2(json, file);
}
