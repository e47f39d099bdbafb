// The in-memory SentencePiece model and the seeded model folder that the package's examples use
// instead of fixture files: the official library must accept them, and offsets must align.
import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { parseSpmModel, PIECE_TYPE } from "../../../model/_spm_proto.ts";
import { encodeSpmModel, TINY_SPM_PIECES, tinySpmModel } from "../../../model/_spm_tiny.ts";
import { writeTinyModelFolder } from "../../../model/tiny_model.ts";
import { createTokenizer, loadTokenizer } from "../../../model/tokenizer.ts";

Deno.test("encodeSpmModel() round-trips every piece, score and type through parseSpmModel()", () => {
  const model = parseSpmModel(tinySpmModel(), "tiny.model");
  assert.deepEqual(model.pieces, TINY_SPM_PIECES.map((p) => ({ ...p })));
  assert.equal(new Set(model.pieces.map((p) => p.piece)).size, model.pieces.length, "unique");
  assert.equal(model.modelType, 1);
  assert.equal(model.normalizer.name, "identity");
  assert.throws(
    () => encodeSpmModel(TINY_SPM_PIECES.slice(0, 3)),
    /piece 3 must be the UNKNOWN piece/,
  );
});

Deno.test("the tiny tokenizer's offsets slice back to each known piece for any text (property)", async () => {
  const tok = await createTokenizer(tinySpmModel());
  const alphabet = fc.constantFrom(..."The cat sat. Zoë   ﬁ\t42?\u2581é");
  fc.assert(
    fc.property(fc.string({ unit: alphabet, maxLength: 40 }), (text) => {
      const e = tok.encode(text); // throws when pieces and normalised text disagree
      let prevEnd = 0;
      for (const [i, [s, t]] of e.offsets.entries()) {
        assert.ok(prevEnd <= s && s <= t && t <= text.length, `offset ${i}`);
        prevEnd = t;
        const bare = (e.pieces[i] as string).replace(/^\u2581+/, "");
        if (bare !== "" && e.ids[i] !== tok.special.unk) assert.equal(text.slice(s, t), bare);
      }
      assert.deepEqual(tok.encodeIds(text), e.ids);
    }),
  );
});

Deno.test("the tiny tokenizer prefers whole words and maps unknown characters to [UNK]", async () => {
  const tok = await createTokenizer(tinySpmModel());
  const e = tok.encode("The cat sat on the mat.");
  assert.deepEqual(e.pieces, ["▁The", "▁cat", "▁sat", "▁on", "▁the", "▁mat", "."]);
  const unknown = tok.encode("é");
  assert.ok(unknown.ids.includes(tok.special.unk));
  const types = TINY_SPM_PIECES.map((p) => p.type);
  assert.deepEqual(types.slice(0, 4), [
    PIECE_TYPE.CONTROL,
    PIECE_TYPE.CONTROL,
    PIECE_TYPE.CONTROL,
    PIECE_TYPE.UNKNOWN,
  ]);
});

Deno.test("writeTinyModelFolder() is byte-identical for a seed and its vocabulary fits the tokenizer", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const a = await writeTinyModelFolder(`${tmp}/a`, { seed: 5 });
    const b = await writeTinyModelFolder(`${tmp}/b`, { seed: 5 });
    const c = await writeTinyModelFolder(`${tmp}/c`, { seed: 6 });
    const weights = (dir: string) => Deno.readFile(`${dir}/model.safetensors`);
    assert.deepEqual(await weights(a), await weights(b));
    assert.notDeepEqual(await weights(a), await weights(c));
    const config = JSON.parse(await Deno.readTextFile(`${a}/config.json`));
    const tok = await loadTokenizer(a);
    assert.equal(config.vocab_size, tok.vocabSize);
    assert.equal(tok.special.mask, config.vocab_size - 1);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
