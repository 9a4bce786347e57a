/** xorshift32: deterministic, so a failing fuzz case is reproducible from its seed. Yields u32. */
export function xorshift32 (seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x
  }
}
