import assert from "node:assert/strict";
import type { Truncation } from "../../../model/tokenizer.ts";
import { goldenTokenizer, rtePairs } from "./_fixtures.ts";

Deno.test("encodePair() lays out [CLS] A [SEP] B [SEP] on real RTE pairs", async () => {
  const tok = await goldenTokenizer("unigram");
  const { cls, sep } = tok.special;
  for (const [a, b] of (await rtePairs()).slice(0, 60)) {
    const ea = tok.encode(a);
    const eb = tok.encode(b);
    const p = tok.encodePair(a, b);
    const la = ea.ids.length;
    assert.deepEqual(p.inputIds, [cls, ...ea.ids, sep, ...eb.ids, sep]);
    assert.deepEqual(p.tokenTypeIds, [
      ...Array(la + 2).fill(0),
      ...Array(eb.ids.length + 1).fill(1),
    ]);
    assert.deepEqual(p.sequenceIds, [
      null,
      ...Array(la).fill(0),
      null,
      ...Array(eb.ids.length).fill(1),
      null,
    ]);
    assert.deepEqual(p.offsets, [[0, 0], ...ea.offsets, [0, 0], ...eb.offsets, [0, 0]]);
  }
});

Deno.test("encodePair() truncates real RTE pairs longest first to maxLength", async () => {
  const tok = await goldenTokenizer("bpe");
  let truncatedBoth = 0;
  for (const [a, b] of (await rtePairs()).slice(0, 80)) {
    const na = tok.encode(a).ids.length;
    const nb = tok.encode(b).ids.length;
    for (const maxLength of [16, 32, 64]) {
      const p = tok.encodePair(a, b, { maxLength });
      const la = p.sequenceIds.filter((s) => s === 0).length;
      const lb = p.sequenceIds.filter((s) => s === 1).length;
      assert.equal(p.inputIds.length, Math.min(maxLength, na + nb + 3));
      // Oracle: Hugging Face's loop, removing one token at a time from the longer (B on a tie).
      let [ra, rb] = [na, nb];
      while (ra + rb > maxLength - 3) ra > rb ? ra-- : rb--;
      assert.deepEqual([la, lb], [ra, rb], `${maxLength}: ${na}+${nb}`);
      if (la < na && lb < nb) {
        truncatedBoth++;
        assert.ok(la === lb || la === lb + 1, `${la} vs ${lb}`);
      }
      assert.equal(p.tokenTypeIds.indexOf(1), la + 2);
    }
  }
  assert.ok(truncatedBoth > 10, `only ${truncatedBoth} pairs had both segments truncated`);
});

Deno.test("encodePair() with only_second keeps A whole and rejects an A that cannot fit", async () => {
  const tok = await goldenTokenizer("unigram");
  const [a, b] = (await rtePairs())[1] as [string, string];
  const na = tok.encode(a).ids.length;
  const p = tok.encodePair(a, b, { maxLength: na + 5, truncation: "only_second" });
  assert.equal(p.sequenceIds.filter((s) => s === 0).length, na);
  assert.equal(p.sequenceIds.filter((s) => s === 1).length, 2);
  assert.throws(
    () => tok.encodePair(a, b, { maxLength: na, truncation: "only_second" }),
    RangeError,
  );
  assert.throws(
    () => tok.encodePair(a, undefined, { maxLength: 4, truncation: "only_second" }),
    RangeError,
  );
});

Deno.test("encodePair() encodes a single sentence as [CLS] A [SEP] and validates maxLength", async () => {
  const tok = await goldenTokenizer("unigram");
  const p = tok.encodePair("The cat sat on the mat.", undefined, { maxLength: 5 });
  assert.equal(p.inputIds.length, 5);
  assert.equal(p.inputIds[0], tok.special.cls);
  assert.equal(p.inputIds[4], tok.special.sep);
  assert.deepEqual(p.tokenTypeIds, [0, 0, 0, 0, 0]);
  assert.throws(() => tok.encodePair("a", "b", { maxLength: 2 }), RangeError);
  assert.throws(() => tok.encodePair("a", "b", { maxLength: 7.5 }), RangeError);
});

Deno.test("encodePair() with offsets: false gives the same ids without offsets", async () => {
  const tok = await goldenTokenizer("unigram");
  for (const [a, b] of (await rtePairs()).slice(0, 40)) {
    assert.deepEqual(tok.encodeIds(a), tok.encode(a).ids);
    const full = tok.encodePair(a, b, { maxLength: 40 });
    const fast = tok.encodePair(a, b, { maxLength: 40, offsets: false });
    assert.equal(fast.offsets, undefined);
    const { offsets: _offsets, ...rest } = full;
    assert.deepEqual(rest, fast);
    assert.equal(full.offsets?.length, full.inputIds.length);
  }
});

Deno.test("buildPair() with longest_first_fast keeps the lengths Hugging Face's Rust tokenizers keep", async () => {
  const tok = await goldenTokenizer("unigram");
  const ids = (n: number) => ({ ids: Array.from({ length: n }, (_, i) => 10 + i) });
  const lengths = (a: number, b: number, maxLength: number, truncation: Truncation) => {
    const p = tok.buildPair(ids(a), ids(b), { maxLength, truncation });
    return [0, 1].map((s) => p.sequenceIds.filter((x) => x === s).length);
  };
  // [A, B, maxLength (budget = maxLength − 3)] → tokenizers' truncate_encodings and the slow loop.
  const cases: [number, number, number, number[], number[]][] = [
    [10, 20, 18, [7, 8], [8, 7]], // both cut to an odd budget, B longer: B keeps the extra token
    [20, 10, 18, [8, 7], [8, 7]], // A longer: both agree
    [10, 10, 18, [7, 8], [8, 7]], // a tie: B keeps it
    [10, 20, 19, [8, 8], [8, 8]], // even budget: both agree
    [5, 20, 18, [5, 10], [5, 10]], // only the longer is cut
    [30, 2, 10, [5, 2], [5, 2]],
    [30, 40, 4, [0, 1], [1, 0]], // n1 > budget: the special case of truncate_encodings
  ];
  for (const [a, b, maxLength, fast, slow] of cases) {
    assert.deepEqual(
      lengths(a, b, maxLength, "longest_first_fast"),
      fast,
      `${a} ${b} ${maxLength}`,
    );
    assert.deepEqual(lengths(a, b, maxLength, "longest_first"), slow, `${a} ${b} ${maxLength}`);
  }
  const single = tok.buildPair(ids(30), undefined, {
    maxLength: 12,
    truncation: "longest_first_fast",
  });
  assert.equal(single.inputIds.length, 12);
});
