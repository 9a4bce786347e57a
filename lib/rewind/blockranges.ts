/**
 * Changed blocks of one relation segment file. While scanning WAL they are bits in
 * a growable bitmap (like pg_rewind's datapagemap: 1 bit per block, so a fully
 * rewritten 1 GB segment costs 16 kB); in plans and results they are sorted
 * half-open ranges [[start, end), …] so a big map stays small in JSON.
 */
export type BlockRanges = Array<[number, number]>

export class BlockBitmap {
  /**
   * Until a second block is marked, the one block as a number: most relation files
   * of a big divergence have one changed block (a new table's first page, an index
   * metapage), and a Uint8Array costs some 150 bytes however small (issue 13).
   */
  private one = -1
  private bits: Uint8Array | null = null
  private max = -1

  mark (blk: number): void {
    if (this.bits === null) {
      if (this.one < 0 || this.one === blk) {
        this.one = blk
        this.max = blk
        return
      }
      this.bits = new Uint8Array(16)
      const first = this.one
      this.one = -1
      this.mark(first)
    }
    const byte = blk >>> 3
    if (byte >= this.bits.length) {
      let n = this.bits.length
      while (n <= byte) n *= 2
      const grown = new Uint8Array(n)
      grown.set(this.bits)
      this.bits = grown
    }
    this.bits[byte] |= 1 << (blk & 7)
    if (blk > this.max) this.max = blk
  }

  /** How many blocks are marked. */
  count (): number {
    const bits = this.bits
    if (bits === null) return this.one < 0 ? 0 : 1
    let n = 0
    for (let i = 0; i < bits.length; i++) {
      let v = bits[i]
      while (v !== 0) {
        v &= v - 1
        n++
      }
    }
    return n
  }

  toRanges (): BlockRanges {
    const bits = this.bits
    if (bits === null) return this.one < 0 ? [] : oneRange(this.one, this.one + 1)
    const out: BlockRanges = []
    let start = -1
    for (let b = 0; b <= this.max + 1; b++) {
      const set = b <= this.max && (bits[b >>> 3] & (1 << (b & 7))) !== 0
      if (set && start < 0) start = b
      else if (!set && start >= 0) {
        out.push([start, b])
        start = -1
      }
    }
    return exact(out)
  }
}

/**
 * The same array with room for just its elements: one built by push keeps room for
 * 17 or more (V8's growth), 150 bytes for a single range, and a plan holds one
 * array of ranges per changed relation segment file (issue 13).
 */
function exact (r: BlockRanges): BlockRanges {
  return r.length === 1 ? oneRange(r[0][0], r[0][1]) : r.slice()
}

/** Ranges ending at or below this are shared (oneRange). */
const SHARED_END = 128
const sharedRanges: Array<BlockRanges | undefined> = []

/**
 * [[start, end)]: one array for each small range, frozen and shared by every file
 * that has it. Most relation files of a big divergence have one short run from block
 * 0 (a new table's first page, an index's metapage and root): 90,000 files of a pair
 * with 30,000 tables a side held 11 MB of arrays [[0, 1]] and [[0, 2]] in the scan
 * and the plan, ~120 bytes each (issue 13). Ranges are never changed in place
 * (unionRanges and clipRanges make new ones); a frozen one would say so loudly.
 */
export function oneRange (start: number, end: number): BlockRanges {
  if (end > SHARED_END || start < 0 || start >= end) return [[start, end]]
  const k = start * SHARED_END + end
  sharedRanges[k] ??= Object.freeze([Object.freeze([start, end])]) as unknown as BlockRanges
  return sharedRanges[k]
}

export function rangesCount (r: BlockRanges): number {
  let n = 0
  for (const [a, b] of r) n += b - a
  return n
}

/** Only blocks below `limit` (`r` itself when it has none past it: the scan's ranges are already exact). */
export function clipRanges (r: BlockRanges, limit: number): BlockRanges {
  if (r.length === 0 || r[r.length - 1][1] <= limit) return r
  const out: BlockRanges = []
  for (const [a, b] of r) {
    if (a >= limit) break
    out.push([a, Math.min(b, limit)])
  }
  return exact(out)
}

export function * iterBlocks (r: BlockRanges): Generator<number> {
  for (const [a, b] of r) for (let x = a; x < b; x++) yield x
}

/** Blocks in either (both sorted, half-open). */
export function unionRanges (a: BlockRanges, b: BlockRanges): BlockRanges {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0])
  const out: BlockRanges = []
  for (const [s, e] of all) {
    const last = out[out.length - 1]
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e)
    else out.push([s, e])
  }
  return out
}
