/**
 * triadapt `ops/` layer.
 *
 * @module
 */

export {};
