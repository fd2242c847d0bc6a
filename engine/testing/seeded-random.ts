/**
 * A small deterministic generator for the tests' random sequences (mulberry32): the same numbers on every run, so a
 * failing sequence is found again by its seed. Node's crypto and Math.random cannot be seeded.
 */
export function seededRandom(seed: number): { next: () => number; pick: <T>(xs: readonly T[]) => T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  return { next, pick };
}
