/**
 * Paths of the tiny-a golden checkpoint in the repository's `testdata/`.
 *
 * @module
 */

/** Folder of the tiny-a golden model. */
export const GOLDEN_DIR: string =
  new URL("../../../testdata/golden/deberta/tiny-a/", import.meta.url)
    .pathname;

/** `config.json` of tiny-a. */
export const GOLDEN_CONFIG: string = `${GOLDEN_DIR}config.json`;
/** `model.safetensors` of tiny-a. */
export const GOLDEN_SAFETENSORS: string = `${GOLDEN_DIR}model.safetensors`;
/** `pytorch_model.bin` of tiny-a. */
export const GOLDEN_BIN: string = `${GOLDEN_DIR}pytorch_model.bin`;
