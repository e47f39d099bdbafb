/**
 * The DeBERTa-v3 tokenizer: SentencePiece (`spm.model`) through the official C++ library compiled
 * to wasm (`@sctg/sentencepiece-js`), plus DeBERTa-v3's conventions as Hugging Face's
 * `DebertaV2Tokenizer` applies them: `[CLS] A [SEP] B [SEP]`, token type 0 through the first
 * `[SEP]` and 1 after it, longest-first truncation, right padding with `[PAD]`.
 *
 * Ids and pieces are exactly the library's. Character offsets are not exposed by the wasm build, so
 * they are recovered by re-running SentencePiece's normaliser with its alignment
 * (`model/_spm_normalizer.ts`); every call checks that the normalised text equals the concatenated
 * pieces before it trusts the alignment.
 *
 * Text is handed to SentencePiece as is: a literal `"[MASK]"` or `"[SEP]"` inside the input is encoded
 * as ordinary characters (the official library's behaviour), whereas Hugging Face's Python
 * tokenizer would split it out as one special token. GLUE and SQuAD text contains none.
 *
 * Offsets are `[start, end)` JS string indices (UTF-16 code units) into the text given to
 * {@linkcode Tokenizer.encode}:
 * - The U+2581 marker is not part of a piece's span: `"▁world"` in `"Hello world"` is `[6, 11]`
 *   (`"world"`), never the space before it. A piece that is only U+2581 spans the whitespace run it
 *   stands for, or is empty (`[i, i]`) when it is the dummy prefix at the start of the text.
 * - NFKC (`nmt_nfkc`) maps original characters to normalised ones: a piece covers the original
 *   characters its normalised characters came from, so `text.slice(start, end)` equals the piece
 *   after NFKC (`"ﬁ"` gives a piece `"fi"` spanning the one character `"ﬁ"`). When a piece boundary
 *   falls inside the expansion of one original character, the first piece gets an empty span at
 *   that character and the next piece the whole character.
 * - Characters the normaliser deletes (zero-width, controls) belong to the piece before them.
 * - Lone surrogates are replaced by U+FFFD before encoding (the wasm string bridge would otherwise
 *   pair them with the next character); this keeps the length, so offsets still index the input.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseSpmModel, PIECE_TYPE, type SpmModel } from "./_spm_proto.ts";
import { createSpmNormalizer, type SpmNormalizer } from "./_spm_normalizer.ts";
import { loadSpmEncoder, type SpmEncoder } from "./_spm_wasm.ts";

/**
 * A `[start, end)` span of JS string indices.
 *
 * @example The span of a piece
 * ```ts
 * import type { Offset } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a 123-piece model built in memory
 * const text = "Hello world!";
 * const span: Offset = tok.encode(text).offsets[1]!;
 * assert.equal(text.slice(...span), "world");
 * ```
 */
export type Offset = [number, number];

/**
 * The encoding of one text, without special tokens.
 *
 * @example Ids, pieces and offsets line up
 * ```ts
 * import type { Encoding } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a 123-piece model built in memory
 * const e: Encoding = tok.encode("Hello world!");
 * assert.deepEqual(e.pieces, ["▁Hello", "▁world", "!"]);
 * assert.equal(e.ids.length, e.pieces.length);
 * assert.equal(e.offsets.length, e.pieces.length);
 * ```
 */
export interface Encoding {
  /** Token ids, as the official library's `encode(text)` returns them. */
  ids: number[];
  /** The pieces, as the official library's `encode(text, out_type=str)` returns them. */
  pieces: string[];
  /** Per piece, the `[start, end)` span of the original text it came from. */
  offsets: Offset[];
}

/**
 * Which segment a position belongs to: 0 (A), 1 (B) or `null` (a special token).
 *
 * @example Segments of a pair
 * ```ts
 * import type { SequenceId } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a 123-piece model built in memory
 * const ids: SequenceId[] = tok.buildPair({ ids: [10, 11] }, { ids: [12] }).sequenceIds;
 * assert.deepEqual(ids, [null, 0, 0, null, 1, null]);
 * ```
 */
export type SequenceId = 0 | 1 | null;

/**
 * A model input: `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`.
 *
 * @example `[CLS] A [SEP] B [SEP]` from ids
 * ```ts
 * import type { PairEncoding } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a 123-piece model built in memory
 * const p: PairEncoding = tok.buildPair({ ids: [10, 11] }, { ids: [12] });
 * assert.deepEqual(p.inputIds, [tok.special.cls, 10, 11, tok.special.sep, 12, tok.special.sep]);
 * assert.deepEqual(p.tokenTypeIds, [0, 0, 0, 0, 1, 1]);
 * assert.deepEqual(p.attentionMask, [1, 1, 1, 1, 1, 1]);
 * assert.equal(p.offsets, undefined); // the segments had no offsets
 * ```
 */
export interface PairEncoding {
  /** Token ids, `[CLS]` first. */
  inputIds: number[];
  /** 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`. */
  tokenTypeIds: number[];
  /** All ones (padding is added by {@linkcode padBatch}). */
  attentionMask: number[];
  /**
   * Offsets into the segment's own text; `[0, 0]` for special tokens. Absent when the pair was
   * encoded with `offsets: false` (or built from segments without offsets).
   */
  offsets?: Offset[];
  /** Per position: the segment (0 or 1), `null` for special tokens. */
  sequenceIds: SequenceId[];
}

/**
 * How {@linkcode Tokenizer.encodePair} shortens inputs longer than `maxLength`.
 *
 * @example Cutting A or only B
 * ```ts
 * import type { Truncation } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a 123-piece model built in memory
 * const cut = (truncation: Truncation): number[] =>
 *   tok.buildPair({ ids: [10, 11, 12, 13] }, { ids: [20, 21] }, { maxLength: 8, truncation }).inputIds;
 * assert.deepEqual(cut("longest_first"), [1, 10, 11, 12, 2, 20, 21, 2]);
 * assert.deepEqual(cut("only_second"), [1, 10, 11, 12, 13, 2, 20, 2]);
 * ```
 */
export type Truncation = "longest_first" | "longest_first_fast" | "only_second";

/**
 * Options of {@linkcode Tokenizer.encodePair}.
 *
 * @example Truncated, without offsets
 * ```ts
 * import type { EncodePairOptions } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a 123-piece model built in memory
 * const options: EncodePairOptions = { maxLength: 8, offsets: false };
 * const p = tok.encodePair("The cat sat.", "A cat.", options);
 * assert.equal(p.inputIds.length, 8);
 * assert.equal(p.offsets, undefined);
 * ```
 */
export interface EncodePairOptions {
  /** Maximum length including special tokens; no truncation when omitted. */
  maxLength?: number;
  /**
   * `"longest_first"` (default): while too long, drop the last token of the longer segment (of the
   * second on a tie), as Hugging Face's Python tokenizers do. `"longest_first_fast"`: the lengths
   * Hugging Face's fast (Rust) tokenizers choose, which differ only when both segments must be cut
   * to an odd budget: the longer segment (B on a tie) keeps the extra token, where
   * `"longest_first"` gives it to A. `"only_second"`: drop tokens from the end of B only.
   */
  truncation?: Truncation;
  /**
   * Compute character offsets (default true). `false` skips the alignment, which is most of the
   * cost of encoding (about 4× faster; ids are identical).
   */
  offsets?: boolean;
}

/**
 * A segment for {@linkcode Tokenizer.buildPair}: an {@linkcode Encoding}, or ids alone.
 *
 * @example Offsets carry through, `[0, 0]` on special tokens
 * ```ts
 * import type { SegmentEncoding } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // a 123-piece model built in memory
 * const a: SegmentEncoding = { ids: [10, 11], offsets: [[0, 1], [1, 2]] };
 * assert.deepEqual(tok.buildPair(a).offsets, [[0, 0], [0, 1], [1, 2], [0, 0]]);
 * ```
 */
export interface SegmentEncoding {
  /** Token ids without special tokens. */
  readonly ids: readonly number[];
  /** Per id, its character span (see {@linkcode Encoding}). */
  readonly offsets?: readonly Offset[];
}

/**
 * The ids of DeBERTa-v3's special tokens.
 *
 * @example A model without a `[MASK]` piece
 * ```ts
 * import type { SpecialTokenIds } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const special: SpecialTokenIds = (await createTokenizer(tinySpmModel())).special;
 * assert.deepEqual(special, { pad: 0, cls: 1, sep: 2, unk: 3, mask: 123 }); // mask appended
 * ```
 */
export interface SpecialTokenIds {
  /** `[PAD]`. */
  pad: number;
  /** `[CLS]`. */
  cls: number;
  /** `[SEP]`. */
  sep: number;
  /** `[UNK]` (the model's UNKNOWN piece). */
  unk: number;
  /** `[MASK]`. */
  mask: number;
}

/**
 * A loaded tokenizer.
 *
 * @example The appended `[MASK]` id
 * ```ts
 * import type { Tokenizer } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok: Tokenizer = await createTokenizer(tinySpmModel());
 * assert.equal(tok.vocabSize, 124); // 123 pieces + [MASK]
 * assert.equal(tok.idToPiece(tok.special.mask), "[MASK]");
 * assert.deepEqual(tok.encodeIds("Hello world!"), tok.encode("Hello world!").ids);
 * ```
 */
export interface Tokenizer {
  /** Number of ids: the model's pieces plus any special token appended after them. */
  readonly vocabSize: number;
  /** The special-token ids. */
  readonly special: Readonly<SpecialTokenIds>;
  /** Whether text is lower-cased before encoding (`do_lower_case`; false for DeBERTa-v3). */
  readonly doLowerCase: boolean;
  /** Facts about how the special tokens were resolved, e.g. that `[MASK]` was appended. */
  readonly notes: readonly string[];
  /** Encodes one text without special tokens. */
  encode(text: string): Encoding;
  /** The ids of {@linkcode Tokenizer.encode}, without pieces or offsets (faster). */
  encodeIds(text: string): number[];
  /** Encodes `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, truncated to `maxLength`. */
  encodePair(a: string, b?: string, options?: EncodePairOptions): PairEncoding;
  /** Builds a model input from already encoded segments (as {@linkcode Tokenizer.encodePair}). */
  buildPair(a: SegmentEncoding, b?: SegmentEncoding, options?: EncodePairOptions): PairEncoding;
  /** The piece of an id (`"[MASK]"` for an appended mask id). */
  idToPiece(id: number): string;
}

/**
 * Options of {@linkcode loadTokenizer}.
 *
 * @example Lower-casing an uncased model
 * ```ts
 * import type { LoadTokenizerOptions } from "./tokenizer.ts";
 * import { loadTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".model" });
 * await Deno.writeFile(path, tinySpmModel()); // a 123-piece model built in memory
 * const options: LoadTokenizerOptions = { doLowerCase: true };
 * const tok = await loadTokenizer(path, options);
 * assert.equal(tok.doLowerCase, true);
 * assert.deepEqual(tok.encodeIds("HELLO"), tok.encodeIds("hello"));
 * await Deno.remove(path);
 * ```
 */
export interface LoadTokenizerOptions {
  /** Overrides `do_lower_case` from `tokenizer_config.json` (default false). */
  doLowerCase?: boolean;
}

interface TokenizerConfig {
  doLowerCase: boolean;
  tokens: Record<keyof SpecialTokenIds, string>;
  added: Map<string, number>;
}

const encoder = new TextEncoder();
const SPACE_MARK = "\u2581";
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (
    typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string"
  ) {
    return (v as { content: string }).content;
  }
  return undefined;
}

async function readJsonIfExists(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`Cannot parse ${path} as it must be JSON: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TypeError(
      `Cannot read ${path} as it must hold a JSON object: current value is ${text.slice(0, 40)}`,
    );
  }
  return v as Record<string, unknown>;
}

async function readConfig(dir: string | undefined): Promise<TokenizerConfig> {
  const config: TokenizerConfig = {
    doLowerCase: false,
    tokens: { pad: "[PAD]", cls: "[CLS]", sep: "[SEP]", unk: "[UNK]", mask: "[MASK]" },
    added: new Map(),
  };
  if (dir === undefined) return config;
  const tc = await readJsonIfExists(`${dir}/tokenizer_config.json`);
  const stm = await readJsonIfExists(`${dir}/special_tokens_map.json`);
  for (const src of [stm, tc]) {
    if (src === undefined) continue;
    for (const key of ["pad", "cls", "sep", "unk", "mask"] as const) {
      const t = tokenText(src[`${key}_token`]);
      if (t !== undefined) config.tokens[key] = t;
    }
  }
  if (tc !== undefined && typeof tc["do_lower_case"] === "boolean") {
    config.doLowerCase = tc["do_lower_case"];
  }
  const added = await readJsonIfExists(`${dir}/added_tokens.json`);
  for (const [k, v] of Object.entries(added ?? {})) {
    if (typeof v === "number" && Number.isInteger(v)) config.added.set(k, v);
  }
  const decoder = tc?.["added_tokens_decoder"];
  if (typeof decoder === "object" && decoder !== null) {
    for (const [k, v] of Object.entries(decoder as Record<string, unknown>)) {
      const t = tokenText(v);
      if (t !== undefined && /^\d+$/.test(k) && !config.added.has(t)) {
        config.added.set(t, Number(k));
      }
    }
  }
  return config;
}

/** Lower-cases `text`, returning the result and, when lengths change, a map back to `text`. */
function lowerWithMap(text: string): [string, Int32Array | undefined] {
  const whole = text.toLowerCase();
  if (whole.length === text.length) return [whole, undefined];
  let out = "";
  const map: number[] = [];
  let i = 0;
  for (const ch of text) {
    const lc = ch.toLowerCase();
    for (let k = 0; k < lc.length; k++) map.push(i);
    out += lc;
    i += ch.length;
  }
  map.push(text.length);
  return [out, Int32Array.from(map)];
}

/** Maps each UTF-8 byte offset of `text` (and its end) to the UTF-16 index of its character. */
function byteToUtf16(text: string, byteLength: number): Int32Array {
  const map = new Int32Array(byteLength + 1);
  let b = 0;
  let u = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) map[b + k] = u;
    b += n;
    u += ch.length;
  }
  map[byteLength] = u;
  return map;
}

function checkMaxLength(maxLength: number | undefined, specials: number): void {
  if (maxLength === undefined) return;
  if (!Number.isInteger(maxLength) || maxLength < specials) {
    throw new RangeError(
      `Cannot encode as maxLength must be an integer >= ${specials} (the special tokens): current value is ${maxLength}`,
    );
  }
}

class SpmTokenizer implements Tokenizer {
  readonly #enc: SpmEncoder;
  readonly #model: SpmModel;
  readonly #normalizer: SpmNormalizer;
  readonly #where: string;
  readonly vocabSize: number;
  readonly special: Readonly<SpecialTokenIds>;
  readonly doLowerCase: boolean;
  readonly notes: readonly string[];

  constructor(
    enc: SpmEncoder,
    model: SpmModel,
    where: string,
    special: SpecialTokenIds,
    doLowerCase: boolean,
    notes: string[],
  ) {
    this.#enc = enc;
    this.#model = model;
    this.#where = where;
    const userDefined = model.pieces.filter((p) => p.type === PIECE_TYPE.USER_DEFINED).map((p) =>
      p.piece
    );
    this.#normalizer = createSpmNormalizer(
      model.normalizer,
      userDefined,
      model.treatWhitespaceAsSuffix,
    );
    this.special = Object.freeze({ ...special });
    this.vocabSize = Math.max(model.pieces.length, ...Object.values(special).map((v) => v + 1));
    this.doLowerCase = doLowerCase;
    this.notes = Object.freeze([...notes]);
  }

  idToPiece(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(
        `Cannot look up id as it must be an integer in [0, ${this.vocabSize}): current value is ${id}`,
      );
    }
    if (id === this.special.mask && id >= this.#model.pieces.length) return "[MASK]";
    return this.#model.pieces[id]?.piece ?? "[UNK]";
  }

  encode(text: string): Encoding {
    if (typeof text !== "string") {
      throw new TypeError(`Cannot encode as text must be a string: current type is ${typeof text}`);
    }
    const clean = text.replace(LONE_SURROGATE, "\ufffd");
    const [input, lowMap] = this.doLowerCase ? lowerWithMap(clean) : [clean, undefined];
    const ids = this.#enc.encodeIds(input);
    const pieces = this.#enc.encodePieces(input);
    if (ids.length !== pieces.length) {
      throw new Error(
        `Cannot encode as ids and pieces must have equal lengths: current values are ${ids.length} and ${pieces.length}`,
      );
    }
    const bytes = encoder.encode(input);
    const norm = this.#normalizer.normalize(bytes);
    const b2u = byteToUtf16(input, bytes.length);
    const toOrig = (normPos: number): number => {
      const u = b2u[norm.normToOrig[normPos] as number] as number;
      return lowMap === undefined ? u : lowMap[u] as number;
    };
    const offsets: Offset[] = [];
    let pos = 0;
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      const id = ids[i] as number;
      const isByte = this.#model.pieces[id]?.type === PIECE_TYPE.BYTE;
      const pb = isByte ? norm.bytes.subarray(pos, pos + 1) : encoder.encode(piece);
      let same = pos + pb.length <= norm.bytes.length;
      for (let k = 0; same && k < pb.length; k++) same = norm.bytes[pos + k] === pb[k];
      if (!same) {
        throw new Error(
          `Cannot align piece ${i} ${
            JSON.stringify(piece)
          } of ${this.#where} with the normalised text ` +
            `as they must agree: text starts ${JSON.stringify(text.slice(0, 60))}`,
        );
      }
      let start = pos;
      if (!isByte) {
        let k = 0;
        while (piece.startsWith(SPACE_MARK, k)) k += SPACE_MARK.length;
        if (k < piece.length) start = pos + 3 * k; // U+2581 is 3 bytes in UTF-8
      }
      const end = pos + pb.length;
      offsets.push([toOrig(start), toOrig(end)]);
      pos = end;
    }
    if (pos !== norm.bytes.length) {
      throw new Error(
        `Cannot align the pieces of ${this.#where} with the normalised text as they must cover it: ` +
          `${pos} of ${norm.bytes.length} bytes covered, text starts ${
            JSON.stringify(text.slice(0, 60))
          }`,
      );
    }
    return { ids, pieces, offsets };
  }

  buildPair(
    a: SegmentEncoding,
    b?: SegmentEncoding,
    options: EncodePairOptions = {},
  ): PairEncoding {
    const { maxLength, truncation = "longest_first" } = options;
    const specials = b === undefined ? 2 : 3;
    checkMaxLength(maxLength, specials);
    if (
      truncation !== "longest_first" && truncation !== "longest_first_fast" &&
      truncation !== "only_second"
    ) {
      throw new TypeError(
        `Cannot encode as truncation must be "longest_first", "longest_first_fast" or "only_second": current value is ${truncation}`,
      );
    }
    let la = a.ids.length;
    let lb = b?.ids.length ?? 0;
    if (maxLength !== undefined && la + lb + specials > maxLength) {
      const budget = maxLength - specials;
      if (truncation === "only_second") {
        if (b === undefined || la > budget) {
          throw new RangeError(
            `Cannot truncate only the second segment as the first must fit in maxLength ${maxLength}: ` +
              `current length is ${la} + ${specials} special tokens`,
          );
        }
        lb = budget - la;
      } else if (truncation === "longest_first_fast") {
        // tokenizers' truncate_encodings (LongestFirst), with n1 the shorter segment's length.
        const swap = la > lb;
        let n1 = Math.min(la, lb);
        let n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
        if (n1 + n2 > budget) {
          n1 = Math.floor(budget / 2);
          n2 = n1 + (budget % 2);
        }
        [la, lb] = swap
          ? [Math.min(la, n2), Math.min(lb, n1)]
          : [Math.min(la, n1), Math.min(lb, n2)];
      } else {
        // Longest first, one token at a time, as Hugging Face truncate_sequences does.
        while (la + lb > budget) {
          if (la > lb) la--;
          else lb--;
        }
      }
    }
    const s = this.special;
    const inputIds = [s.cls, ...a.ids.slice(0, la), s.sep];
    const withOffsets = a.offsets !== undefined && (b === undefined || b.offsets !== undefined);
    const offsets: Offset[] = withOffsets
      ? [[0, 0], ...(a.offsets ?? []).slice(0, la).map(([x, y]): Offset => [x, y]), [0, 0]]
      : [];
    const sequenceIds: SequenceId[] = [null, ...new Array<SequenceId>(la).fill(0), null];
    const tokenTypeIds = new Array<number>(la + 2).fill(0);
    if (b !== undefined) {
      inputIds.push(...b.ids.slice(0, lb), s.sep);
      if (withOffsets) {
        offsets.push(...(b.offsets ?? []).slice(0, lb).map(([x, y]): Offset => [x, y]), [0, 0]);
      }
      sequenceIds.push(...new Array<SequenceId>(lb).fill(1), null);
      for (let i = 0; i <= lb; i++) tokenTypeIds.push(1);
    }
    const out: PairEncoding = {
      inputIds,
      tokenTypeIds,
      attentionMask: new Array<number>(inputIds.length).fill(1),
      sequenceIds,
    };
    if (withOffsets) out.offsets = offsets;
    return out;
  }

  encodeIds(text: string): number[] {
    if (typeof text !== "string") {
      throw new TypeError(`Cannot encode as text must be a string: current type is ${typeof text}`);
    }
    const clean = text.replace(LONE_SURROGATE, "\ufffd");
    return this.#enc.encodeIds(this.doLowerCase ? lowerWithMap(clean)[0] : clean);
  }

  encodePair(a: string, b?: string, options: EncodePairOptions = {}): PairEncoding {
    const seg = (t: string): SegmentEncoding =>
      options.offsets === false ? { ids: this.encodeIds(t) } : this.encode(t);
    return this.buildPair(seg(a), b === undefined ? undefined : seg(b), options);
  }
}

/**
 * Loads a DeBERTa-v3 tokenizer from a Hugging Face model folder (`spm.model`, and
 * `tokenizer_config.json`, `special_tokens_map.json`, `added_tokens.json` when present) or from a
 * SentencePiece `.model` file.
 *
 * Special-token ids come from the model's pieces (`[PAD]`=0, `[CLS]`=1, `[SEP]`=2, `[UNK]`=3 in
 * DeBERTa-v3). `[PAD]`, `[CLS]` and `[SEP]` must be pieces or entries of `added_tokens.json`.
 * `[UNK]` is the model's UNKNOWN piece. `[MASK]` is a piece when the model has one, else the id
 * `added_tokens.json` gives it, else the first id after the pieces (128000 in the real model, which
 * lacks the piece); {@linkcode Tokenizer.notes} says which.
 *
 * @param dirOrSpmPath A folder holding `spm.model`, or the path of a `.model` file.
 * @param options Overrides for the folder's configuration.
 * @returns The tokenizer.
 *
 * @example Encode a sentence pair
 * ```ts
 * import { loadTokenizer } from "./tokenizer.ts";
 * import { writeTinyModelFolder } from "./tiny_model.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await writeTinyModelFolder(await Deno.makeTempDir()); // config, weights, spm.model
 * const tok = await loadTokenizer(dir);
 * const e = tok.encode("Hello world!");
 * assert.deepEqual(e.pieces, ["▁Hello", "▁world", "!"]);
 * assert.deepEqual(e.offsets[1], [6, 11]); // "world": the U+2581 marker is not in the span
 * const p = tok.encodePair("The cat sat.", "A cat.", { maxLength: 8 });
 * assert.equal(p.inputIds[0], tok.special.cls);
 * assert.equal(p.inputIds.length, 8);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadTokenizer(
  dirOrSpmPath: string | URL,
  options: LoadTokenizerOptions = {},
): Promise<Tokenizer> {
  if (dirOrSpmPath instanceof URL && dirOrSpmPath.protocol !== "file:") {
    throw new TypeError(
      `Cannot load tokenizer as the URL must be a file: URL: current value is ${dirOrSpmPath.href}`,
    );
  }
  const path = dirOrSpmPath instanceof URL ? fileURLToPath(dirOrSpmPath) : dirOrSpmPath;
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TypeError(
        `Cannot load tokenizer as ${path} must be a folder or a .model file: it does not exist`,
      );
    }
    throw e;
  }
  const dir = stat.isDirectory ? path.replace(/\/+$/, "") : undefined;
  const modelPath = dir === undefined ? path : `${dir}/spm.model`;
  const bytes = await Deno.readFile(modelPath);
  const config = await readConfig(dir);
  return await createTokenizer(bytes, {
    where: modelPath,
    doLowerCase: options.doLowerCase ?? config.doLowerCase,
    tokens: config.tokens,
    added: config.added,
  });
}

/**
 * Options of {@linkcode createTokenizer}.
 *
 * @example `[MASK]` from `added_tokens.json`
 * ```ts
 * import type { CreateTokenizerOptions } from "./tokenizer.ts";
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const options: CreateTokenizerOptions = { where: "tiny.model", added: new Map([["[MASK]", 5000]]) };
 * const tok = await createTokenizer(tinySpmModel(), options);
 * assert.equal(tok.special.mask, 5000);
 * assert.deepEqual(tok.notes, ["[MASK] is not a piece of tiny.model; id 5000 from added_tokens.json"]);
 * ```
 */
export interface CreateTokenizerOptions {
  /** Name of the model, for messages (default `"spm.model"`). */
  where?: string;
  /** Lower-case text before encoding (default false). */
  doLowerCase?: boolean;
  /** Special-token texts (defaults `[PAD]`, `[CLS]`, `[SEP]`, `[UNK]`, `[MASK]`). */
  tokens?: Partial<Record<keyof SpecialTokenIds, string>>;
  /** Ids of tokens added outside the model (`added_tokens.json`). */
  added?: ReadonlyMap<string, number>;
}

/**
 * Builds a tokenizer from the bytes of a SentencePiece `.model` file (see {@linkcode loadTokenizer}
 * for how special tokens are resolved).
 *
 * @param bytes The `.model` file contents.
 * @param options Special tokens and casing.
 * @returns The tokenizer.
 *
 * @example From bytes
 * ```ts
 * import { createTokenizer } from "./tokenizer.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const tok = await createTokenizer(tinySpmModel()); // the bytes of a .model file
 * assert.deepEqual(tok.special, { pad: 0, cls: 1, sep: 2, unk: 3, mask: 123 });
 * assert.equal(tok.vocabSize, 124);
 * ```
 */
export async function createTokenizer(
  bytes: Uint8Array,
  options: CreateTokenizerOptions = {},
): Promise<Tokenizer> {
  const where = options.where ?? "spm.model";
  const model = parseSpmModel(bytes, where);
  const enc = await loadSpmEncoder(bytes, where);
  const tokens = {
    pad: "[PAD]",
    cls: "[CLS]",
    sep: "[SEP]",
    unk: "[UNK]",
    mask: "[MASK]",
    ...options.tokens,
  };
  const added = options.added ?? new Map<string, number>();
  const index = new Map<string, number>();
  model.pieces.forEach((p, i) => {
    if (!index.has(p.piece)) index.set(p.piece, i);
  });
  const notes: string[] = [];
  const required = (key: "pad" | "cls" | "sep"): number => {
    const t = tokens[key];
    const id = index.get(t) ?? added.get(t);
    if (id === undefined) {
      throw new RangeError(
        `Cannot resolve ${key} token as ${
          JSON.stringify(t)
        } must be a piece of ${where} or in added_tokens.json: it is neither`,
      );
    }
    if (!index.has(t)) {
      notes.push(`${t} is not a piece of ${where}; id ${id} from added_tokens.json`);
    }
    return id;
  };
  const unk = model.pieces.findIndex((p) => p.type === PIECE_TYPE.UNKNOWN);
  if (unk < 0) {
    throw new RangeError(
      `Cannot resolve unk token as ${where} must have an UNKNOWN piece: it has none`,
    );
  }
  if (model.pieces[unk]?.piece !== tokens.unk) {
    notes.push(
      `the UNKNOWN piece of ${where} is ${JSON.stringify(model.pieces[unk]?.piece)}, not ${
        JSON.stringify(tokens.unk)
      }; using its id ${unk}`,
    );
  }
  let mask = index.get(tokens.mask);
  if (mask === undefined) {
    mask = added.get(tokens.mask);
    if (mask !== undefined) {
      notes.push(`${tokens.mask} is not a piece of ${where}; id ${mask} from added_tokens.json`);
    } else {
      mask = model.pieces.length;
      notes.push(
        `${tokens.mask} is not a piece of ${where}; appended as id ${mask} after the ${mask} pieces ` +
          `(as DeBERTa-v3's added_tokens.json does with 128000)`,
      );
    }
  }
  const special = { pad: required("pad"), cls: required("cls"), sep: required("sep"), unk, mask };
  return new SpmTokenizer(enc, model, where, special, options.doLowerCase ?? false, notes);
}

/**
 * Options of {@linkcode padBatch}.
 *
 * @example Padding to a multiple of 4 with a custom pad id
 * ```ts
 * import type { PadBatchOptions } from "./tokenizer.ts";
 * import { padBatch } from "./tokenizer.ts";
 * import assert from "node:assert/strict";
 *
 * const options: PadBatchOptions = { padId: 9, multipleOf: 4 };
 * const b = padBatch([{ inputIds: [1, 5, 2], tokenTypeIds: [0, 0, 0] }], options);
 * assert.deepEqual(b.inputIds, [[1, 5, 2, 9]]);
 * assert.deepEqual(b.tokenTypeIds, [[0, 0, 0, 0]]);
 * ```
 */
export interface PadBatchOptions {
  /** The id to pad `inputIds` with (`tokenizer.special.pad`). */
  padId: number;
  /** Round the padded length up to a multiple of this (e.g. 8). */
  multipleOf?: number;
}

/**
 * A padded batch: `[batch, length]` arrays.
 *
 * @example Every row has the same length
 * ```ts
 * import type { PaddedBatch } from "./tokenizer.ts";
 * import { padBatch } from "./tokenizer.ts";
 * import assert from "node:assert/strict";
 *
 * const b: PaddedBatch = padBatch([
 *   { inputIds: [1, 2], tokenTypeIds: [0, 0] },
 *   { inputIds: [1, 7, 8, 2], tokenTypeIds: [0, 0, 1, 1] },
 * ], { padId: 0 });
 * assert.deepEqual(b.inputIds, [[1, 2, 0, 0], [1, 7, 8, 2]]);
 * assert.deepEqual(b.attentionMask, [[1, 1, 0, 0], [1, 1, 1, 1]]);
 * ```
 */
export interface PaddedBatch {
  /** Token ids, padded with `padId`. */
  inputIds: number[][];
  /** Token types, padded with 0. */
  tokenTypeIds: number[][];
  /** 1 for tokens, 0 for padding. */
  attentionMask: number[][];
}

/**
 * The fields {@linkcode padBatch} reads.
 *
 * @example An explicit attention mask is kept
 * ```ts
 * import type { PaddableEncoding } from "./tokenizer.ts";
 * import { padBatch } from "./tokenizer.ts";
 * import assert from "node:assert/strict";
 *
 * const e: PaddableEncoding = { inputIds: [1, 5, 0], tokenTypeIds: [0, 0, 0], attentionMask: [1, 1, 0] };
 * const b = padBatch([e, { inputIds: [1, 5, 6, 2], tokenTypeIds: [0, 0, 0, 0] }], { padId: 0 });
 * assert.deepEqual(b.attentionMask[0], [1, 1, 0, 0]);
 * ```
 */
export interface PaddableEncoding {
  /** Token ids. */
  readonly inputIds: readonly number[];
  /** Token types, as long as `inputIds`. */
  readonly tokenTypeIds: readonly number[];
  /** Attention mask, as long as `inputIds`. */
  readonly attentionMask?: readonly number[];
}

/**
 * Pads encodings on the right to the longest in the batch: `inputIds` with `padId`,
 * `tokenTypeIds` and `attentionMask` with 0.
 *
 * @param encodings The encodings (an `attentionMask` of all ones is assumed when absent).
 * @param options The pad id and an optional length multiple.
 * @returns `[batch, length]` arrays.
 *
 * @example Pad two encodings
 * ```ts
 * import { padBatch } from "./tokenizer.ts";
 * import assert from "node:assert/strict";
 *
 * const b = padBatch([
 *   { inputIds: [1, 5, 2], tokenTypeIds: [0, 0, 0] },
 *   { inputIds: [1, 2], tokenTypeIds: [0, 0] },
 * ], { padId: 0, multipleOf: 4 });
 * assert.deepEqual(b.inputIds, [[1, 5, 2, 0], [1, 2, 0, 0]]);
 * assert.deepEqual(b.attentionMask, [[1, 1, 1, 0], [1, 1, 0, 0]]);
 * ```
 */
export function padBatch(
  encodings: readonly PaddableEncoding[],
  options: PadBatchOptions,
): PaddedBatch {
  const { padId, multipleOf = 1 } = options;
  if (!Number.isInteger(padId) || padId < 0) {
    throw new RangeError(
      `Cannot pad as padId must be a non-negative integer: current value is ${padId}`,
    );
  }
  if (!Number.isInteger(multipleOf) || multipleOf < 1) {
    throw new RangeError(
      `Cannot pad as multipleOf must be a positive integer: current value is ${multipleOf}`,
    );
  }
  let longest = 0;
  for (const [i, e] of encodings.entries()) {
    if (e.tokenTypeIds.length !== e.inputIds.length) {
      throw new TypeError(
        `Cannot pad encoding ${i} as tokenTypeIds must match inputIds in length: current values are ${e.tokenTypeIds.length} and ${e.inputIds.length}`,
      );
    }
    longest = Math.max(longest, e.inputIds.length);
  }
  const length = Math.ceil(longest / multipleOf) * multipleOf;
  const out: PaddedBatch = { inputIds: [], tokenTypeIds: [], attentionMask: [] };
  for (const e of encodings) {
    const pad = length - e.inputIds.length;
    out.inputIds.push([...e.inputIds, ...new Array<number>(pad).fill(padId)]);
    out.tokenTypeIds.push([...e.tokenTypeIds, ...new Array<number>(pad).fill(0)]);
    const mask = e.attentionMask ?? new Array<number>(e.inputIds.length).fill(1);
    out.attentionMask.push([...mask, ...new Array<number>(pad).fill(0)]);
  }
  return out;
}
