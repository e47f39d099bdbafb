/**
 * A tiny SentencePiece model built in memory, so that the package's examples can tokenize without
 * a model file: a unigram `ModelProto` with DeBERTa-v3's special pieces (`[PAD]`=0, `[CLS]`=1,
 * `[SEP]`=2, `[UNK]`=3), every ASCII letter, digit and common punctuation mark as a piece, and a
 * few dozen English words. Its normaliser is SentencePiece's `identity` (no NFKC table), with the
 * usual whitespace handling (dummy prefix, collapsed spaces, U+2581). The official library accepts
 * it like any trained model; characters outside the vocabulary become `[UNK]`.
 *
 * Real DeBERTa-v3 models ship their own `spm.model` (NFKC, 128000 pieces); this one only exists so
 * that examples and quick starts run anywhere.
 *
 * @internal
 * @module
 */

import { PIECE_TYPE, type SpmPiece } from "./_spm_proto.ts";

const WORDS = [
  "the",
  "a",
  "an",
  "is",
  "was",
  "are",
  "not",
  "no",
  "of",
  "in",
  "on",
  "to",
  "and",
  "it",
  "he",
  "she",
  "they",
  "cat",
  "cats",
  "dog",
  "sat",
  "mat",
  "good",
  "bad",
  "film",
  "movie",
  "what",
  "who",
  "where",
  "when",
  "city",
  "river",
  "year",
  "hello",
  "world",
  "The",
  "A",
  "It",
  "He",
  "She",
  "What",
  "Who",
  "Where",
  "When",
  "Hello",
];
const CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-():;";

/**
 * The pieces of {@linkcode tinySpmModel}, in id order.
 *
 * @example The special pieces come first
 * ```ts
 * import assert from "node:assert/strict";
 * import { TINY_SPM_PIECES } from "./_spm_tiny.ts";
 *
 * assert.deepEqual(TINY_SPM_PIECES.slice(0, 4).map((p) => p.piece), ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]);
 * assert.equal(TINY_SPM_PIECES.length, 123);
 * ```
 */
export const TINY_SPM_PIECES: readonly SpmPiece[] = Object.freeze([
  { piece: "[PAD]", score: 0, type: PIECE_TYPE.CONTROL },
  { piece: "[CLS]", score: 0, type: PIECE_TYPE.CONTROL },
  { piece: "[SEP]", score: 0, type: PIECE_TYPE.CONTROL },
  { piece: "[UNK]", score: 0, type: PIECE_TYPE.UNKNOWN },
  // Whole words beat spelling them out: one word piece scores -2, one character -6.
  ...WORDS.map((w) => ({ piece: `\u2581${w}`, score: -2, type: PIECE_TYPE.NORMAL })),
  { piece: "\u2581", score: -4, type: PIECE_TYPE.NORMAL },
  ...[...CHARS].map((c) => ({ piece: c, score: -6, type: PIECE_TYPE.NORMAL })),
].map((p) => Object.freeze(p)));

function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function lengthDelimited(out: number[], field: number, bytes: ArrayLike<number>): void {
  varint(out, field * 8 + 2);
  varint(out, bytes.length);
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i] as number);
}

function varintField(out: number[], field: number, v: number): void {
  varint(out, field * 8);
  varint(out, v);
}

/**
 * Serialises pieces as a unigram SentencePiece `ModelProto` with the `identity` normaliser (the
 * inverse of `parseSpmModel` for such models). Piece 3 must be the UNKNOWN piece.
 *
 * @param pieces The vocabulary, in id order.
 * @returns The `.model` file bytes.
 *
 * @example Round trip through the reader
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSpmModel, PIECE_TYPE } from "./_spm_proto.ts";
 * import { encodeSpmModel } from "./_spm_tiny.ts";
 *
 * const pieces = [
 *   { piece: "[PAD]", score: 0, type: PIECE_TYPE.CONTROL },
 *   { piece: "[CLS]", score: 0, type: PIECE_TYPE.CONTROL },
 *   { piece: "[SEP]", score: 0, type: PIECE_TYPE.CONTROL },
 *   { piece: "[UNK]", score: 0, type: PIECE_TYPE.UNKNOWN },
 *   { piece: "▁hi", score: -1, type: PIECE_TYPE.NORMAL },
 * ];
 * const model = parseSpmModel(encodeSpmModel(pieces), "mem");
 * assert.deepEqual(model.pieces, pieces);
 * assert.equal(model.modelType, 1);
 * assert.equal(model.normalizer.name, "identity");
 * ```
 */
export function encodeSpmModel(pieces: readonly SpmPiece[]): Uint8Array {
  if (pieces[3]?.type !== PIECE_TYPE.UNKNOWN) {
    throw new RangeError(
      `Cannot encode SentencePiece model as piece 3 must be the UNKNOWN piece: current value is ${
        JSON.stringify(pieces[3])
      }`,
    );
  }
  const enc = new TextEncoder();
  const out: number[] = [];
  const f32 = new DataView(new ArrayBuffer(4));
  for (const p of pieces) {
    const msg: number[] = [];
    lengthDelimited(msg, 1, enc.encode(p.piece));
    varint(msg, 2 * 8 + 5);
    f32.setFloat32(0, p.score, true);
    for (let k = 0; k < 4; k++) msg.push(f32.getUint8(k));
    varintField(msg, 3, p.type);
    lengthDelimited(out, 1, msg);
  }
  // TrainerSpec: model_type 1 (unigram), unk_id 3, bos_id 1, eos_id 2, pad_id 0.
  const trainer: number[] = [];
  varintField(trainer, 3, 1);
  varintField(trainer, 40, 3);
  varintField(trainer, 41, 1);
  varintField(trainer, 42, 2);
  varintField(trainer, 43, 0);
  lengthDelimited(out, 2, trainer);
  // NormalizerSpec: identity (no charsmap), dummy prefix, collapse and escape whitespace.
  const normalizer: number[] = [];
  lengthDelimited(normalizer, 1, enc.encode("identity"));
  varintField(normalizer, 3, 1);
  varintField(normalizer, 4, 1);
  varintField(normalizer, 5, 1);
  lengthDelimited(out, 3, normalizer);
  return Uint8Array.from(out);
}

/**
 * The bytes of the tiny model (a fresh copy on every call).
 *
 * @returns A SentencePiece `.model` file of {@linkcode TINY_SPM_PIECES}.
 *
 * @example Tokenize without a model file
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 *
 * const tok = await createTokenizer(tinySpmModel());
 * assert.deepEqual(tok.encode("Hello world!").pieces, ["▁Hello", "▁world", "!"]);
 * assert.equal(tok.vocabSize, 124); // 123 pieces + the appended [MASK]
 * ```
 */
export function tinySpmModel(): Uint8Array {
  return encodeSpmModel(TINY_SPM_PIECES);
}
