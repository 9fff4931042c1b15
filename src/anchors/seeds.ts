/**
 * Seeds derived from a root seed and a path of integers (identity, image; block, stream), by
 * SplitMix64 (Steele, Lea & Flood 2014): each component is mixed into the state, the result is
 * its top 52 bits, so that it is a safe JSON integer and collisions are negligible (5·10⁶ images:
 * about 3·10⁻³ expected colliding pairs).
 */
const MASK = (1n << 64n) - 1n;

function splitmix64(state: bigint): bigint {
  let z = (state + 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

/** A seed in [0, 2^52) that depends only on `root` and `path`. */
export function derivedSeed(root: number, ...path: number[]): number {
  let state = splitmix64(BigInt(root));
  for (const part of path) state = splitmix64(state ^ BigInt(part));
  return Number(state >> 12n);
}
