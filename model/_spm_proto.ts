/**
 * A minimal reader for SentencePiece `ModelProto` files (`spm.model`): the pieces, the parts of
 * `TrainerSpec` that change encoding, and `NormalizerSpec`. Field numbers follow
 * `sentencepiece_model.proto` of the official library.
 *
 * @internal
 * @module
 */

/**
 * SentencePiece piece types (`ModelProto.SentencePiece.Type`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PIECE_TYPE } from "./_spm_proto.ts";
 *
 * assert.equal(PIECE_TYPE.CONTROL, 3);
 * assert.equal(PIECE_TYPE.BYTE, 6);
 * ```
 */
export const PIECE_TYPE: {
  readonly NORMAL: 1;
  readonly UNKNOWN: 2;
  readonly CONTROL: 3;
  readonly USER_DEFINED: 4;
  readonly UNUSED: 5;
  readonly BYTE: 6;
} = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/**
 * One vocabulary entry.
 *
 * @example A control piece
 * ```ts
 * import type { SpmPiece } from "./_spm_proto.ts";
 * import { parseSpmModel, PIECE_TYPE } from "./_spm_proto.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const model = parseSpmModel(tinySpmModel(), "tiny.model"); // a model built in memory
 * const cls: SpmPiece = model.pieces[1]!;
 * assert.deepEqual(cls, { piece: "[CLS]", score: 0, type: PIECE_TYPE.CONTROL });
 * ```
 */
export interface SpmPiece {
  /** The piece text, with U+2581 for spaces. */
  readonly piece: string;
  /** Log probability (unigram) or merge priority (BPE). */
  readonly score: number;
  /** One of {@linkcode PIECE_TYPE}. */
  readonly type: number;
}

/**
 * The normalisation settings of a model (`NormalizerSpec`).
 *
 * @example The identity normaliser with the default whitespace handling
 * ```ts
 * import type { SpmNormalizerSpec } from "./_spm_proto.ts";
 * import { parseSpmModel } from "./_spm_proto.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const model = parseSpmModel(tinySpmModel(), "tiny.model"); // a model built in memory
 * const spec: SpmNormalizerSpec = model.normalizer;
 * assert.equal(spec.name, "identity"); // trained DeBERTa-v3 models: "nmt_nfkc" with a charsmap
 * assert.deepEqual([spec.addDummyPrefix, spec.removeExtraWhitespaces, spec.escapeWhitespaces], [true, true, true]);
 * assert.equal(spec.precompiledCharsmap.length, 0);
 * ```
 */
export interface SpmNormalizerSpec {
  readonly name: string;
  readonly precompiledCharsmap: Uint8Array;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
  readonly escapeWhitespaces: boolean;
}

/**
 * The parsed model.
 *
 * @example A unigram model
 * ```ts
 * import type { SpmModel } from "./_spm_proto.ts";
 * import { parseSpmModel } from "./_spm_proto.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const model: SpmModel = parseSpmModel(tinySpmModel(), "tiny.model");
 * assert.equal(model.modelType, 1); // 2 for BPE
 * assert.deepEqual([model.byteFallback, model.treatWhitespaceAsSuffix], [false, false]);
 * ```
 */
export interface SpmModel {
  readonly pieces: readonly SpmPiece[];
  /** `TrainerSpec.model_type`: 1 unigram, 2 BPE, 3 word, 4 char. */
  readonly modelType: number;
  readonly byteFallback: boolean;
  readonly treatWhitespaceAsSuffix: boolean;
  readonly normalizer: SpmNormalizerSpec;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly where: string) {}

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail("a varint runs past the end");
      const b = this.buf[this.pos++] as number;
      // Values above 2^53 cannot occur in the fields we read; enums and lengths are small.
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return result;
    }
    return this.fail("a varint is longer than 10 bytes");
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) this.fail(`a field of ${len} bytes runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  float32(): number {
    if (this.pos + 4 > this.buf.length) this.fail("a float runs past the end");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        this.fail(`wire type ${wireType} is not supported`);
    }
  }

  fail(why: string): never {
    throw new SyntaxError(
      `Cannot parse SentencePiece model as ${this.where} must be a valid protobuf: ${why} at byte ${this.pos}`,
    );
  }
}

const decoder = new TextDecoder("utf-8", { fatal: false });

function parsePiece(buf: Uint8Array, where: string): SpmPiece {
  const r = new Reader(buf, where);
  let piece = "";
  let score = 0;
  let type: number = PIECE_TYPE.NORMAL;
  while (r.pos < buf.length) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 1 && wire === 2) piece = decoder.decode(r.bytes());
    else if (field === 2 && wire === 5) score = r.float32();
    else if (field === 3 && wire === 0) type = r.varint();
    else r.skip(wire);
  }
  return { piece, score, type };
}

function parseNormalizer(buf: Uint8Array, where: string): SpmNormalizerSpec {
  const r = new Reader(buf, where);
  let name = "";
  let precompiledCharsmap: Uint8Array = new Uint8Array(0);
  let addDummyPrefix = true;
  let removeExtraWhitespaces = true;
  let escapeWhitespaces = true;
  while (r.pos < buf.length) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 1 && wire === 2) name = decoder.decode(r.bytes());
    else if (field === 2 && wire === 2) precompiledCharsmap = r.bytes();
    else if (field === 3 && wire === 0) addDummyPrefix = r.varint() !== 0;
    else if (field === 4 && wire === 0) removeExtraWhitespaces = r.varint() !== 0;
    else if (field === 5 && wire === 0) escapeWhitespaces = r.varint() !== 0;
    else r.skip(wire);
  }
  return { name, precompiledCharsmap, addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces };
}

/**
 * Parses the bytes of a SentencePiece `.model` file.
 *
 * @param bytes The file contents.
 * @param where The file name, for error messages.
 * @returns The pieces and the settings that change encoding.
 *
 * @example Read a model's pieces
 * ```ts
 * import { parseSpmModel, PIECE_TYPE } from "./_spm_proto.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = tinySpmModel(); // or: await Deno.readFile("spm.model")
 * const model = parseSpmModel(bytes, "tiny.model");
 * assert.equal(model.pieces.length, 123);
 * assert.deepEqual(model.pieces[3], { piece: "[UNK]", score: 0, type: PIECE_TYPE.UNKNOWN });
 * assert.equal(model.normalizer.name, "identity");
 * ```
 */
export function parseSpmModel(bytes: Uint8Array, where: string): SpmModel {
  const r = new Reader(bytes, where);
  const pieces: SpmPiece[] = [];
  let modelType = 1;
  let byteFallback = false;
  let treatWhitespaceAsSuffix = false;
  let normalizer: SpmNormalizerSpec | undefined;
  while (r.pos < bytes.length) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 1 && wire === 2) pieces.push(parsePiece(r.bytes(), where));
    else if (field === 2 && wire === 2) {
      const t = new Reader(r.bytes(), where);
      while (t.pos < t.buf.length) {
        const k = t.varint();
        const f = Math.floor(k / 8);
        const w = k & 7;
        if (f === 3 && w === 0) modelType = t.varint();
        else if (f === 24 && w === 0) treatWhitespaceAsSuffix = t.varint() !== 0;
        else if (f === 35 && w === 0) byteFallback = t.varint() !== 0;
        else t.skip(w);
      }
    } else if (field === 3 && wire === 2) normalizer = parseNormalizer(r.bytes(), where);
    else r.skip(wire);
  }
  if (pieces.length === 0) r.fail("the model has no pieces");
  return {
    pieces,
    modelType,
    byteFallback,
    treatWhitespaceAsSuffix,
    normalizer: normalizer ?? {
      name: "identity",
      precompiledCharsmap: new Uint8Array(0),
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    },
  };
}
