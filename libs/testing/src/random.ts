/**
 * mulberry32: a small, fast, seedable generator, so a failing run or a simulated workload can be replayed
 * exactly from its seed. Not for anything secret. (libs/contracts' uuidv7 spec keeps its own copy: the
 * contracts library depends on nothing but itself, its tests included, and this one starts servers.)
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
