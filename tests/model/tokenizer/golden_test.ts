import assert from "node:assert/strict";
import { goldenCases, goldenTokenizer } from "./_fixtures.ts";

for (const type of ["unigram", "bpe"] as const) {
  Deno.test(`encode() reproduces every golden ${type} case exactly (ids and pieces)`, async () => {
    // Arrange
    const tok = await goldenTokenizer(type);
    const cases = (await goldenCases()).models[type].single;
    assert.ok(cases.length >= 10);
    for (const c of cases) {
      // Act
      const e = tok.encode(c.text);
      // Assert
      assert.deepEqual(e.ids, c.ids, `ids of ${JSON.stringify(c.text)}`);
      assert.deepEqual(e.pieces, c.pieces, `pieces of ${JSON.stringify(c.text)}`);
      assert.equal(e.offsets.length, e.ids.length);
    }
  });

  Deno.test(`encodePair() reproduces every golden ${type} pair (longest-first truncation)`, async () => {
    const tok = await goldenTokenizer(type);
    const pairs = (await goldenCases()).models[type].pairs;
    assert.ok(pairs.length >= 3);
    for (const c of pairs) {
      const p = tok.encodePair(c.a, c.b, { maxLength: c.maxLength });
      assert.deepEqual(p.inputIds, c.inputIds, `${c.a} | ${c.b}`);
      assert.deepEqual(p.tokenTypeIds, c.tokenTypeIds, `${c.a} | ${c.b}`);
      assert.deepEqual(p.attentionMask, c.inputIds.map(() => 1));
    }
  });
}

Deno.test("loadTokenizer() takes DeBERTa-v3 special ids from the model and appends [MASK]", async () => {
  const tok = await goldenTokenizer("unigram");
  assert.deepEqual(tok.special, { pad: 0, cls: 1, sep: 2, unk: 3, mask: 2000 });
  assert.equal(tok.vocabSize, 2001);
  assert.equal(tok.idToPiece(2000), "[MASK]");
  assert.equal(tok.idToPiece(1), "[CLS]");
  assert.ok(tok.notes.some((n) => n.includes("[MASK] is not a piece")), tok.notes.join("\n"));
  assert.throws(() => tok.idToPiece(2001), RangeError);
});
