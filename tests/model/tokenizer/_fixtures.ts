/**
 * Shared helpers for the tokenizer tests: the golden SentencePiece models and real GLUE text,
 * read from the repository's `testdata/`.
 *
 * @module
 */

import { loadTokenizer, type Tokenizer } from "../../../model/tokenizer.ts";

/** The repository's `testdata/` folder, located from this file. */
export const FIXTURES: URL = new URL("../../../testdata/", import.meta.url);

/** A golden model file. */
export function spmModelUrl(type: "unigram" | "bpe"): URL {
  return new URL(`golden/spm/${type}.model`, FIXTURES);
}

const cache = new Map<string, Promise<Tokenizer>>();

/** Loads (once per test file) the tokenizer of a golden model. */
export function goldenTokenizer(type: "unigram" | "bpe"): Promise<Tokenizer> {
  let t = cache.get(type);
  if (t === undefined) {
    t = loadTokenizer(spmModelUrl(type));
    cache.set(type, t);
  }
  return t;
}

/** The golden cases file. */
export interface GoldenCases {
  models: Record<"unigram" | "bpe", {
    single: { text: string; ids: number[]; pieces: string[] }[];
    pairs: {
      a: string;
      b: string;
      maxLength: number;
      inputIds: number[];
      tokenTypeIds: number[];
    }[];
  }>;
}

/** Reads `golden/spm/cases.json`. */
export async function goldenCases(): Promise<GoldenCases> {
  return JSON.parse(await Deno.readTextFile(new URL("golden/spm/cases.json", FIXTURES)));
}

/** The (sentence1, sentence2) pairs of RTE's dev split. */
export async function rtePairs(): Promise<[string, string][]> {
  const text = await Deno.readTextFile(new URL("data/glue/RTE/dev.tsv", FIXTURES));
  return text.split("\n").slice(1).filter((l) => l.length > 0).map((l) => {
    const cols = l.split("\t");
    return [cols[1] ?? "", cols[2] ?? ""];
  });
}
