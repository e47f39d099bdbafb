/**
 * The seeded PRNG behind every pure-JS random init (random weights, random heads, planted tasks).
 *
 * @internal
 * @module
 */

/**
 * mulberry32: a small, fast, seeded 32-bit PRNG.
 *
 * @internal
 * @param seed Seed (used as an unsigned 32-bit integer).
 * @returns A generator of uniforms in [0, 1); same seed → same sequence.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
