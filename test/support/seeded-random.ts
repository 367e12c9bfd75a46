/** A small deterministic generator for randomized tests (an LCG: the same seed, the same inputs). */
export function seededRandom(seed: number): { rand: () => number; int: (n: number) => number } {
  let state = seed;
  const rand = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  return { rand, int: (n) => Math.floor(rand() * n) };
}
