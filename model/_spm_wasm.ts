/**
 * The official SentencePiece C++ library compiled to wasm (`@sctg/sentencepiece-js`), loaded from
 * bytes. The package inlines its wasm binary as a `data:` URI, so loading needs no file path, no
 * `fetch` and no network; the model bytes are handed over in memory (never by path), so the same
 * code works under `deno test`, `deno run` and from a clean clone.
 *
 * @internal
 * @module
 */

import { SentencePieceProcessor } from "@sctg/sentencepiece-js";
import { Buffer } from "node:buffer";

/**
 * The two encoders of the official library.
 *
 * @example Ids and pieces agree
 * ```ts
 * import type { SpmEncoder } from "./_spm_wasm.ts";
 * import { loadSpmEncoder } from "./_spm_wasm.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const enc: SpmEncoder = await loadSpmEncoder(tinySpmModel(), "tiny.model");
 * assert.equal(enc.encodeIds("Hello world!").length, enc.encodePieces("Hello world!").length);
 * ```
 */
export interface SpmEncoder {
  encodeIds(text: string): number[];
  encodePieces(text: string): string[];
}

interface StatusLike {
  ToString(): string;
  delete(): void;
}

interface ProcessorLike {
  status(): StatusLike;
}

/**
 * Loads a model into a fresh wasm instance of the official library.
 *
 * @param bytes The `.model` file contents.
 * @param where The file name, for error messages.
 * @returns The encoder.
 *
 * @example Encode with the official library
 * ```ts
 * import { loadSpmEncoder } from "./_spm_wasm.ts";
 * import { tinySpmModel } from "./_spm_tiny.ts";
 * import assert from "node:assert/strict";
 *
 * const enc = await loadSpmEncoder(tinySpmModel(), "tiny.model");
 * assert.deepEqual(enc.encodePieces("Hello Zoe!"), ["▁Hello", "▁", "Z", "o", "e", "!"]);
 * ```
 */
export async function loadSpmEncoder(bytes: Uint8Array, where: string): Promise<SpmEncoder> {
  const sp = new SentencePieceProcessor();
  await sp.loadFromB64StringModel(Buffer.from(bytes).toString("base64"));
  // The package drops the status of Load(); ask the processor for it again.
  const status = (sp.processor as ProcessorLike).status();
  const text = status.ToString();
  status.delete();
  if (text !== "OK") {
    throw new SyntaxError(
      `Cannot load SentencePiece model as ${where} must be accepted by the library: current status is ${text}`,
    );
  }
  return {
    encodeIds: (t: string): number[] => sp.encodeIds(t),
    encodePieces: (t: string): string[] => sp.encodePieces(t),
  };
}
