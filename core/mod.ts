/**
 * triadapt `core/` layer.
 *
 * @module
 */

export {};
