/**
 * triadapt `model/` layer.
 *
 * @module
 */

export {};
