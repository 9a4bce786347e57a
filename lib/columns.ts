/**
 * Typed-array columns for tables of many small rows (relation files met in the WAL,
 * pg_class row versions): a few bytes a row where an object per row costs a hundred,
 * and nothing for the garbage collector to trace.
 */

export type Column = Uint32Array | Int32Array | Float64Array | Uint8Array

/** `a` with room for at least `n` elements (doubling), its contents kept. */
export function grown<T extends Column> (a: T, n: number): T {
  if (n <= a.length) return a
  let len = Math.max(a.length, 64)
  while (len < n) len *= 2
  const b = new (a.constructor as new (n: number) => T)(len)
  b.set(a)
  return b
}

/** Rows below this are ordered by one native sort of key · 2^21 + row (exact in a double: 2^32 · 2^21 = 2^53). */
const PACKED_ROWS = 2 ** 21

/** The rows 0..n-1 ordered by `keys` (uint32), equal keys in row order (`packedRows`: for tests of the other way). */
export function orderBy (keys: Uint32Array, n: number, packedRows = PACKED_ROWS): Uint32Array {
  const out = new Uint32Array(n)
  if (n <= packedRows) {
    const packed = new Float64Array(n)
    for (let i = 0; i < n; i++) packed[i] = keys[i] * PACKED_ROWS + i
    packed.sort()
    for (let i = 0; i < n; i++) out[i] = packed[i] % PACKED_ROWS
  } else {
    for (let i = 0; i < n; i++) out[i] = i
    out.sort((a, b) => keys[a] - keys[b] || a - b)
  }
  return out
}

/** Where the rows whose key is `k` start in an `orderBy` of `keys` (order.length: none is greater). */
export function firstWithKey (order: Uint32Array, keys: Uint32Array, k: number): number {
  let lo = 0
  let hi = order.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[order[mid]] < k) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The rows whose key is `k`, from an `orderBy` of `keys`, in row order. */
export function rowsWithKey (order: Uint32Array, keys: Uint32Array, k: number): number[] {
  const out: number[] = []
  for (let p = firstWithKey(order, keys, k); p < order.length && keys[order[p]] === k; p++) out.push(order[p])
  return out
}

/** Values a chunk of a ChunkedColumn holds (2^14: 128 kB of Float64, malloc's mmap threshold that the launcher sets). */
const CHUNK_BITS = 14
const CHUNK = 1 << CHUNK_BITS

/**
 * A column that grows a chunk at a time: never copied, so no moment where the old and
 * the doubled column are both alive, and never more than a chunk of room. For tables
 * whose rows are added one by one while much else is held (the plan's entries, made
 * as the target's directory is walked: doubling their columns at 262,144 entries was a
 * 14 MB moment at buildPlan's peak).
 */
export class ChunkedColumn<T extends Column> {
  private readonly chunks: T[] = []

  constructor (private readonly Make: new (n: number) => T) {}

  get (i: number): number { return this.chunks[i >>> CHUNK_BITS][i & (CHUNK - 1)] }

  set (i: number, v: number): void {
    const c = i >>> CHUNK_BITS
    while (c >= this.chunks.length) this.chunks.push(new this.Make(CHUNK))
    this.chunks[c][i & (CHUNK - 1)] = v
  }
}
