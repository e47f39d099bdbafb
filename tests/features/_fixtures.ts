/**
 * Shared helpers for the featurisation tests: the golden unigram tokenizer and real GLUE/SQuAD
 * data, read from the repository's `testdata/` (the real DeBERTa spm.model is not available).
 *
 * @module
 */

import { loadTokenizer, type Tokenizer } from "../../model/tokenizer.ts";
import type { GlueExample } from "../../train/tasks/parse_glue.ts";
import type { SquadExample } from "../../train/features/squad.ts";

/** The repository's `testdata/` folder, located from this file. */
export const FIXTURES: URL = new URL("../../testdata/", import.meta.url);

let tok: Promise<Tokenizer> | undefined;

/** The tokenizer of the golden unigram model (loaded once per test file). */
export function unigramTokenizer(): Promise<Tokenizer> {
  tok ??= loadTokenizer(new URL("golden/spm/unigram.model", FIXTURES));
  return tok;
}

/** Reads a GLUE TSV split into examples: `columns` are [textA, textB?] and the label column. */
export async function glueExamples(
  file: string,
  textColumns: readonly string[],
  labelColumn: string,
  labelOf: (v: string) => number,
): Promise<GlueExample[]> {
  const lines = (await Deno.readTextFile(new URL(`data/glue/${file}`, FIXTURES))).split("\n");
  const header = (lines[0] ?? "").split("\t");
  const col = (name: string): number => header.indexOf(name);
  return lines.slice(1).filter((l) => l.length > 0).map((l, i) => {
    const c = l.split("\t");
    const textA = c[col(textColumns[0] as string)] ?? "";
    const label = labelOf(c[col(labelColumn)] ?? "");
    return textColumns[1] === undefined
      ? { textA, label, idx: i }
      : { textA, textB: c[col(textColumns[1])] ?? "", label, idx: i };
  });
}

/** The SQuAD 2.0 dev examples of the two-article file. */
export async function squadExamples(): Promise<SquadExample[]> {
  const raw = JSON.parse(
    await Deno.readTextFile(new URL("data/squad2/dev-v2.0.first2articles.json", FIXTURES)),
  ) as {
    data: {
      paragraphs: {
        context: string;
        qas: {
          id: string;
          question: string;
          is_impossible: boolean;
          answers: { text: string; answer_start: number }[];
        }[];
      }[];
    }[];
  };
  return raw.data.flatMap((d) =>
    d.paragraphs.flatMap((p) =>
      p.qas.map((q) => ({
        id: q.id,
        question: q.question,
        context: p.context,
        isImpossible: q.is_impossible,
        answers: q.answers.map((a) => ({ text: a.text, answerStart: a.answer_start })),
      }))
    )
  );
}
