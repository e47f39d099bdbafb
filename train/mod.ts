/**
 * triadapt `train/` layer.
 *
 * @module
 */

export {};
