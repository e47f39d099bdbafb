/**
 * SentencePiece's normaliser, re-implemented with its alignment so that character offsets into the
 * original text can be recovered. It mirrors `normalizer.cc` of the official library
 * (`Normalizer::Normalize` and `NormalizePrefix`): the rules come from the model's
 * `precompiled_charsmap` (a Darts-clone double-array trie followed by NUL-terminated replacement
 * strings), user-defined symbols are matched first and never normalised, leading, trailing and
 * repeated whitespace is removed, a dummy-prefix space is added and spaces become U+2581.
 *
 * The token ids themselves always come from the official library (wasm); this module only explains
 * which original bytes each normalised byte came from. `model/tokenizer.ts` checks that its output
 * equals the concatenated pieces before it trusts the alignment.
 *
 * @internal
 * @module
 */

import type { SpmNormalizerSpec } from "./_spm_proto.ts";

/**
 * The normalised UTF-8 bytes and, per byte (plus one end entry), the original byte offset.
 *
 * @example One entry per byte, plus the end
 * ```ts
 * import type { Normalized } from "./_spm_normalizer.ts";
 * import { createSpmNormalizer } from "./_spm_normalizer.ts";
 * import { parseSpmModel } from "./_spm_proto.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const model = parseSpmModel(tinySpmModel(), "tiny.model"); // a model built in memory
 * const out: Normalized = createSpmNormalizer(model.normalizer, [], false).normalize(new TextEncoder().encode("ab"));
 * assert.equal(new TextDecoder().decode(out.bytes), "▁ab"); // 3 + 2 bytes
 * assert.deepEqual([...out.normToOrig], [0, 0, 0, 0, 1, 2]);
 * ```
 */
export interface Normalized {
  readonly bytes: Uint8Array;
  /** `normToOrig[i]` is the original byte offset of normalised byte `i`; length `bytes.length + 1`. */
  readonly normToOrig: Int32Array;
}

const SPACE_SYMBOL = [0xe2, 0x96, 0x81] as const; // U+2581
const REPLACEMENT = [0xef, 0xbf, 0xbd] as const; // U+FFFD

/**
 * A compiled normaliser for one model.
 *
 * @example Repeated whitespace collapses
 * ```ts
 * import type { SpmNormalizer } from "./_spm_normalizer.ts";
 * import { createSpmNormalizer } from "./_spm_normalizer.ts";
 * import { parseSpmModel } from "./_spm_proto.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const model = parseSpmModel(tinySpmModel(), "tiny.model"); // a model built in memory
 * const n: SpmNormalizer = createSpmNormalizer(model.normalizer, [], false);
 * const text = new TextDecoder().decode(n.normalize(new TextEncoder().encode("a   b ")).bytes);
 * assert.equal(text, "▁a▁b");
 * ```
 */
export interface SpmNormalizer {
  normalize(input: Uint8Array): Normalized;
}

interface Charsmap {
  readonly units: Uint32Array;
  readonly strings: Uint8Array;
}

function readCharsmap(blob: Uint8Array): Charsmap | undefined {
  if (blob.length === 0) return undefined;
  if (blob.length < 4) {
    throw new SyntaxError(
      `Cannot read precompiled_charsmap as it must hold a 4-byte trie size: current length is ${blob.length}`,
    );
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const trieSize = view.getUint32(0, true);
  if (trieSize % 4 !== 0 || 4 + trieSize > blob.length) {
    throw new SyntaxError(
      `Cannot read precompiled_charsmap as its trie size must fit the blob: current value is ${trieSize} of ${blob.length}`,
    );
  }
  const units = new Uint32Array(trieSize / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
  return { units, strings: blob.subarray(4 + trieSize) };
}

/** Darts-clone `commonPrefixSearch`, returning only the longest match (length, value). */
function longestPrefix(units: Uint32Array, key: Uint8Array, from: number): [number, number] {
  let bestLen = 0;
  let bestValue = 0;
  let nodePos = 0;
  let unit = units[0] as number;
  nodePos ^= (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
  for (let i = from; i < key.length; i++) {
    const c = key[i] as number;
    nodePos ^= c;
    if (nodePos >= units.length) return [bestLen, bestValue];
    unit = units[nodePos] as number;
    // label(): unit & ((1 << 31) | 0xff)
    if (((unit & 0x800000ff) >>> 0) !== c) return [bestLen, bestValue];
    nodePos ^= (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    if (((unit >>> 8) & 1) === 1) {
      const leaf = units[nodePos] as number;
      bestLen = i - from + 1;
      bestValue = leaf & 0x7fffffff;
    }
  }
  return [bestLen, bestValue];
}

/** Length of the valid UTF-8 character at `i`, or 0 when the bytes there are malformed. */
function utf8Length(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  let n = 0;
  let min = 0;
  if ((c & 0xe0) === 0xc0) [n, min] = [2, 0x80];
  else if ((c & 0xf0) === 0xe0) [n, min] = [3, 0x800];
  else if ((c & 0xf8) === 0xf0) [n, min] = [4, 0x10000];
  else return 0;
  if (i + n > b.length) return 0;
  let cp = c & (0x7f >> n);
  for (let k = 1; k < n; k++) {
    const cc = b[i + k] as number;
    if ((cc & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

function startsWith(b: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > b.length) return false;
  for (let k = 0; k < prefix.length; k++) if (b[at + k] !== prefix[k]) return false;
  return true;
}

/**
 * Compiles the normaliser of a model.
 *
 * @param spec The model's `NormalizerSpec`.
 * @param userDefined The model's USER_DEFINED pieces (matched before normalisation).
 * @param treatWhitespaceAsSuffix `TrainerSpec.treat_whitespace_as_suffix`.
 * @returns The normaliser.
 *
 * @example Normalise with alignment
 * ```ts
 * import { createSpmNormalizer } from "./_spm_normalizer.ts";
 * import { parseSpmModel } from "./_spm_proto.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const model = parseSpmModel(tinySpmModel(), "tiny.model"); // a model built in memory
 * const n = createSpmNormalizer(model.normalizer, [], false);
 * const out = n.normalize(new TextEncoder().encode("  hi  x"));
 * assert.equal(new TextDecoder().decode(out.bytes), "▁hi▁x");
 * assert.deepEqual([...out.normToOrig], [2, 2, 2, 2, 3, 4, 4, 4, 6, 7]);
 * // With a trained model's NFKC table, "ﬁ" becomes "fi" and both bytes map to the ligature.
 * ```
 */
export function createSpmNormalizer(
  spec: SpmNormalizerSpec,
  userDefined: readonly string[],
  treatWhitespaceAsSuffix: boolean,
): SpmNormalizer {
  const charsmap = readCharsmap(spec.precompiledCharsmap);
  const enc = new TextEncoder();
  const userBytes = userDefined.map((s) => enc.encode(s)).filter((b) => b.length > 0);

  /** Returns [replacement bytes, consumed length] for the prefix of `input` at `at`. */
  function normalizePrefix(input: Uint8Array, at: number): [ArrayLike<number>, number] {
    let userLen = 0;
    for (const u of userBytes) {
      if (u.length > userLen && startsWith(input, at, u)) userLen = u.length;
    }
    if (userLen > 0) return [input.subarray(at, at + userLen), userLen];
    if (charsmap !== undefined) {
      const [len, value] = longestPrefix(charsmap.units, input, at);
      if (len > 0) {
        let end = value;
        while (end < charsmap.strings.length && charsmap.strings[end] !== 0) end++;
        return [charsmap.strings.subarray(value, end), len];
      }
    }
    const n = utf8Length(input, at);
    if (n === 0) return [REPLACEMENT, 1];
    return [input.subarray(at, at + n), n];
  }

  function isSpaceOnly(r: ArrayLike<number>): boolean {
    return r.length === 1 && r[0] === 0x20;
  }

  return {
    normalize(input: Uint8Array): Normalized {
      const out: number[] = [];
      const n2o: number[] = [];
      let consumed = 0;
      let pos = 0;
      if (input.length === 0) return { bytes: new Uint8Array(0), normToOrig: new Int32Array([0]) };
      if (spec.removeExtraWhitespaces) {
        while (pos < input.length) {
          const [r, len] = normalizePrefix(input, pos);
          if (!isSpaceOnly(r)) break;
          pos += len;
          consumed += len;
        }
      }
      if (pos >= input.length) return { bytes: new Uint8Array(0), normToOrig: new Int32Array([0]) };
      const addWs = (): void => {
        if (spec.escapeWhitespaces) {
          for (const b of SPACE_SYMBOL) {
            out.push(b);
            n2o.push(consumed);
          }
        } else {
          out.push(0x20);
          n2o.push(consumed);
        }
      };
      if (!treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();
      let isPrevSpace = spec.removeExtraWhitespaces;
      while (pos < input.length) {
        const [r, len] = normalizePrefix(input, pos);
        let k = 0;
        while (isPrevSpace && k < r.length && r[k] === 0x20) k++;
        if (k < r.length) {
          for (; k < r.length; k++) {
            const b = r[k] as number;
            if (spec.escapeWhitespaces && b === 0x20) {
              for (const s of SPACE_SYMBOL) {
                out.push(s);
                n2o.push(consumed);
              }
            } else {
              out.push(b);
              n2o.push(consumed);
            }
          }
          isPrevSpace = r[r.length - 1] === 0x20;
        }
        consumed += len;
        pos += len;
        if (!spec.removeExtraWhitespaces) isPrevSpace = false;
      }
      if (spec.removeExtraWhitespaces) {
        const space: readonly number[] = spec.escapeWhitespaces ? SPACE_SYMBOL : [0x20];
        while (
          out.length >= space.length &&
          space.every((b, k) => out[out.length - space.length + k] === b)
        ) {
          const length = out.length - space.length;
          consumed = n2o[length] as number;
          out.length = length;
          n2o.length = length;
        }
      }
      if (treatWhitespaceAsSuffix && spec.addDummyPrefix) addWs();
      n2o.push(consumed);
      return { bytes: Uint8Array.from(out), normToOrig: Int32Array.from(n2o) };
    },
  };
}
