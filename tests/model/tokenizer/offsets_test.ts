import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import type { Encoding } from "../../../model/tokenizer.ts";
import { FIXTURES, goldenTokenizer, rtePairs } from "./_fixtures.ts";

const MARK = "\u2581";

/** Asserts the offset laws that hold for any text. */
function assertOffsetLaws(text: string, e: Encoding): void {
  let prevEnd = 0;
  for (const [i, [s, t]] of e.offsets.entries()) {
    assert.ok(Number.isInteger(s) && Number.isInteger(t), `offset ${i}`);
    assert.ok(
      prevEnd <= s && s <= t && t <= text.length,
      `offset ${i} [${s}, ${t}] after ${prevEnd}`,
    );
    prevEnd = t;
  }
}

/** The piece's own text: without its U+2581 marker(s). */
function bare(piece: string): string {
  return piece.replace(/^\u2581+/, "");
}

Deno.test("encode() offsets slice back to each piece's text on real RTE and SQuAD text", async () => {
  // Arrange: every RTE dev sentence and every SQuAD context of the two-article file.
  const squad = JSON.parse(
    await Deno.readTextFile(new URL("data/squad2/dev-v2.0.first2articles.json", FIXTURES)),
  ) as { data: { paragraphs: { context: string }[] }[] };
  const texts = [
    ...(await rtePairs()).flat(),
    ...squad.data.flatMap((d) => d.paragraphs.map((p) => p.context)),
  ];
  for (const type of ["unigram", "bpe"] as const) {
    const tok = await goldenTokenizer(type);
    let pieces = 0;
    for (const text of texts) {
      // Act
      const e = tok.encode(text);
      // Assert
      assertOffsetLaws(text, e);
      for (const [i, piece] of e.pieces.entries()) {
        const [s, t] = e.offsets[i] as [number, number];
        const slice = text.slice(s, t);
        if (bare(piece) === "") {
          assert.match(slice, /^\s*$/, `${type}: a bare ${MARK} covers whitespace`);
        } else {assert.equal(
            slice.normalize("NFKC"),
            bare(piece),
            `${type}: piece ${i} of ${text.slice(0, 40)}`,
          );}
        pieces++;
      }
    }
    assert.ok(pieces > 20_000, `${pieces}`);
  }
});

Deno.test("encode() offsets follow NFKC and the U+2581 marker as documented", async () => {
  const tok = await goldenTokenizer("unigram");
  const text = "ﬁne  ＡＢＣ \t1";
  const e = tok.encode(text);
  const slices = e.offsets.map(([s, t]) => text.slice(s, t));
  assert.deepEqual(e.pieces, ["▁fine", "▁A", "B", "C", "▁", "1"]);
  assert.deepEqual(slices, ["ﬁne", "Ａ", "Ｂ", "Ｃ", " \t", "1"]);
  // The dummy-prefix marker alone spans nothing, at the start of the text.
  const d = tok.encode("  1990");
  assert.deepEqual(d.pieces.slice(0, 2), ["▁", "1"]);
  assert.deepEqual(d.offsets.slice(0, 2), [[2, 2], [2, 3]]);
});

Deno.test("encode() aligns offsets for any text, and slices back exactly on ASCII", async () => {
  const tok = await goldenTokenizer("unigram");
  const anyChar = fc.oneof(
    fc.constantFrom(
      "a",
      "Z",
      " ",
      "  ",
      "\t",
      "\n",
      "1",
      ".",
      "-",
      "'",
      "ﬁ",
      "Ａ",
      "é",
      "e\u0301",
      "😀",
      "\u200b",
      "\u0000",
      "\ufffd",
      "\ud800",
      "½",
      "™",
    ),
    fc.string({ unit: "grapheme", maxLength: 3 }),
  );
  fc.assert(
    fc.property(fc.array(anyChar, { maxLength: 30 }).map((a) => a.join("")), (text) => {
      const e = tok.encode(text);
      assertOffsetLaws(text, e);
    }),
  );
  const asciiWord = fc.string({
    unit: fc.constantFrom(..."abcXYZ019.,;'-()"),
    minLength: 1,
    maxLength: 8,
  });
  const space = fc.constantFrom(" ", "  ", "\t", "\n ");
  fc.assert(
    fc.property(fc.array(fc.tuple(space, asciiWord), { maxLength: 12 }), (parts) => {
      const text = parts.map(([s, w]) => s + w).join("");
      const e = tok.encode(text);
      for (const [i, piece] of e.pieces.entries()) {
        const [s, t] = e.offsets[i] as [number, number];
        if (bare(piece) !== "") assert.equal(text.slice(s, t), bare(piece));
        else assert.match(text.slice(s, t), /^\s*$/);
      }
    }),
  );
});
