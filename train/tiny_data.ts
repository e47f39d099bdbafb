/**
 * Tiny task data written from literals, for the package's examples: an RTE-layout GLUE folder and a
 * SQuAD 2.0 file in the official JSON schema. The sentences are made up from the words of the
 * tiny tokenizer (`model/_spm_tiny.ts`); use real GLUE / SQuAD files for anything you measure.
 *
 * @module
 */

import { join } from "node:path";

const RTE_TRAIN: readonly (readonly [string, string, string])[] = [
  ["The cat sat on the mat.", "A cat sat.", "entailment"],
  ["The dog sat on the mat.", "The cat sat.", "not_entailment"],
  ["It is a good film.", "The film is good.", "entailment"],
  ["It is a bad movie.", "The movie is good.", "not_entailment"],
  ["She was in the city.", "She was in a city.", "entailment"],
  ["He was on the river.", "He was in the city.", "not_entailment"],
  ["They are cats.", "They are not dogs.", "entailment"],
  ["The year was good.", "It was a bad year.", "not_entailment"],
];

const RTE_DEV: readonly (readonly [string, string, string])[] = [
  ["The cat is on the mat.", "A cat is on a mat.", "entailment"],
  ["The dog was bad.", "The dog was good.", "not_entailment"],
  ["It was a good year.", "The year was good.", "entailment"],
  ["She is in the river.", "She is in the city.", "not_entailment"],
];

function rteTsv(rows: readonly (readonly [string, string, string])[]): string {
  return "index\tsentence1\tsentence2\tlabel\n" +
    rows.map((r, i) => `${i}\t${r[0]}\t${r[1]}\t${r[2]}\n`).join("");
}

/**
 * Writes `train.tsv` (8 pairs) and `dev.tsv` (4 pairs) in GLUE's RTE layout.
 *
 * @param dir The folder to write (created if needed).
 * @returns `dir`.
 *
 * @example Read it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { readGlue } from "./tasks/read_glue.ts";
 * import { writeTinyRte } from "./tiny_data.ts";
 *
 * const dir = await writeTinyRte(await Deno.makeTempDir());
 * const dev = await readGlue("rte", "dev", dir);
 * assert.equal(dev.length, 4);
 * assert.deepEqual(dev[0], { textA: "The cat is on the mat.", textB: "A cat is on a mat.", label: 0, idx: 0 });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeTinyRte(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "train.tsv"), rteTsv(RTE_TRAIN));
  await Deno.writeTextFile(join(dir, "dev.tsv"), rteTsv(RTE_DEV));
  return dir;
}

const CAT = "The cat sat on the mat. The dog sat in the city.";
const RIVER = "The river is in the city. It was good in the year of the cat.";

/**
 * A SQuAD 2.0 dataset in the official schema: one article, two paragraphs, six questions (two
 * unanswerable, with `plausible_answers` as in the official dev set).
 *
 * @example Every answer points at its text
 * ```ts
 * import assert from "node:assert/strict";
 * import { TINY_SQUAD } from "./tiny_data.ts";
 *
 * for (const p of TINY_SQUAD.data[0]!.paragraphs) {
 *   for (const q of p.qas) {
 *     for (const a of q.answers) assert.equal(p.context.slice(a.answer_start).startsWith(a.text), true);
 *   }
 * }
 * ```
 */
export const TINY_SQUAD: {
  readonly version: string;
  readonly data: readonly {
    readonly title: string;
    readonly paragraphs: readonly {
      readonly context: string;
      readonly qas: readonly {
        readonly id: string;
        readonly question: string;
        readonly is_impossible: boolean;
        readonly answers: readonly { readonly text: string; readonly answer_start: number }[];
        readonly plausible_answers?: readonly {
          readonly text: string;
          readonly answer_start: number;
        }[];
      }[];
    }[];
  }[];
} = {
  version: "v2.0",
  data: [{
    title: "Cats",
    paragraphs: [
      {
        context: CAT,
        qas: [
          {
            id: "q1",
            question: "Who sat on the mat?",
            is_impossible: false,
            answers: [{ text: "The cat", answer_start: CAT.indexOf("The cat") }],
          },
          {
            id: "q2",
            question: "Where was the dog?",
            is_impossible: false,
            answers: [{ text: "in the city", answer_start: CAT.indexOf("in the city") }],
          },
          {
            id: "q3",
            question: "Who sat on the river?",
            is_impossible: true,
            answers: [],
            plausible_answers: [{ text: "The dog", answer_start: CAT.indexOf("The dog") }],
          },
        ],
      },
      {
        context: RIVER,
        qas: [
          {
            id: "q4",
            question: "Where is the river?",
            is_impossible: false,
            answers: [{ text: "in the city", answer_start: RIVER.indexOf("in the city") }],
          },
          {
            id: "q5",
            question: "What was good?",
            is_impossible: false,
            answers: [{ text: "the year of the cat", answer_start: RIVER.indexOf("the year") }],
          },
          {
            id: "q6",
            question: "Where is the mat?",
            is_impossible: true,
            answers: [],
            plausible_answers: [{ text: "the city", answer_start: RIVER.indexOf("the city") }],
          },
        ],
      },
    ],
  }],
};

/**
 * Writes {@linkcode TINY_SQUAD} as `dev-v2.0.json` in `dir`.
 *
 * @param dir The folder to write (created if needed).
 * @returns The path of the written file.
 *
 * @example Read it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSquad2 } from "./tasks/read_squad2.ts";
 * import { writeTinySquad } from "./tiny_data.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const examples = await readSquad2(await writeTinySquad(dir));
 * assert.equal(examples.length, 6);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeTinySquad(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const file = join(dir, "dev-v2.0.json");
  await Deno.writeTextFile(file, JSON.stringify(TINY_SQUAD));
  return file;
}
