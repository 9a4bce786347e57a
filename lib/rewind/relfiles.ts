import { grown } from '../columns'
import { relationPath } from '../format/relpath'
import type { VersionInfo } from '../format/versions'
import { BlockBitmap, BlockRanges, oneRange } from './blockranges'

/**
 * Relation files met in the WAL, numbered densely, and what the records did to each,
 * in columns rather than an object per file (issue 13): a divergence where each side
 * created 30,000 tables names some 120,000 files, and an object, a bitmap and a key
 * string for each (in the discard collector and again in scanWal's block map) held
 * 102 MB when the WAL was read; in columns, 32 MB.
 * pg_rewind keeps a hash table of file entries with a datapagemap each; this is the
 * same, keyed by the relation file locator (and segment) instead of the path.
 */

/** Dense slot numbers for (tablespace, database, relation number, segment). */
export class RelFileIndex {
  size = 0
  spc = new Uint32Array(0)
  db = new Uint32Array(0)
  rel = new Uint32Array(0)
  seg = new Uint32Array(0)
  /** relation number → its first slot; slots of the same number chained by `next` */
  private readonly heads = new Map<number, number>()
  private next = new Int32Array(0)
  /** consecutive records mostly name the same file: no lookup for those */
  private last = -1

  /** The slot of a file, added when it is new. */
  slot (spc: number, db: number, rel: number, seg = 0): number {
    const l = this.last
    if (l >= 0 && this.rel[l] === rel && this.seg[l] === seg && this.db[l] === db && this.spc[l] === spc) return l
    const head = this.heads.get(rel)
    let s = head ?? -1
    while (s >= 0 && (this.seg[s] !== seg || this.db[s] !== db || this.spc[s] !== spc)) s = this.next[s]
    if (s < 0) {
      s = this.size++
      if (s >= this.rel.length) this.grow(s + 1)
      this.spc[s] = spc
      this.db[s] = db
      this.rel[s] = rel
      this.seg[s] = seg
      this.next[s] = head ?? -1
      this.heads.set(rel, s)
    }
    this.last = s
    return s
  }

  private grow (n: number): void {
    this.spc = grown(this.spc, n)
    this.db = grown(this.db, n)
    this.rel = grown(this.rel, n)
    this.seg = grown(this.seg, n)
    this.next = grown(this.next, n)
  }
}

/**
 * Changed blocks per slot: one run of consecutive blocks [start, end) while they are
 * (a new table's first pages, an index's metapage, rows appended at the end: most files
 * of a big divergence), a bitmap only when a block falls outside the run.
 */
export class SlotBlocks {
  private start = new Float64Array(0)
  /** 0: no block; start -1: the slot's blocks are in `bitmaps` */
  private end = new Float64Array(0)
  private readonly bitmaps = new Map<number, BlockBitmap>()
  private lastSlot = -1
  private lastBits: BlockBitmap | null = null

  mark (slot: number, blk: number): void {
    if (slot >= this.end.length) {
      this.start = grown(this.start, slot + 1)
      this.end = grown(this.end, slot + 1)
    }
    const s = this.start[slot]
    const e = this.end[slot]
    if (s < 0) {
      // records in a row mostly change the same file: its bitmap without a lookup
      if (slot !== this.lastSlot) {
        this.lastSlot = slot
        this.lastBits = this.bitmaps.get(slot)!
      }
      this.lastBits!.mark(blk)
    } else if (e === 0) {
      this.start[slot] = blk
      this.end[slot] = blk + 1
    } else if (blk === e) {
      this.end[slot] = e + 1
    } else if (blk === s - 1) {
      this.start[slot] = blk
    } else if (blk < s || blk > e) {
      const bits = new BlockBitmap()
      for (let b = s; b < e; b++) bits.mark(b)
      bits.mark(blk)
      this.bitmaps.set(slot, bits)
      this.start[slot] = -1
    }
  }

  ranges (slot: number): BlockRanges {
    if (slot >= this.end.length || this.end[slot] === 0) return []
    const s = this.start[slot]
    return s < 0 ? this.bitmaps.get(slot)!.toRanges() : oneRange(s, this.end[slot])
  }

  count (slot: number): number {
    if (slot >= this.end.length || this.end[slot] === 0) return 0
    const s = this.start[slot]
    return s < 0 ? this.bitmaps.get(slot)!.count() : this.end[slot] - s
  }
}

/** The changed blocks of every slot, by segment file path, as plans and results carry them. */
export function blocksByPath (files: RelFileIndex, blocks: SlotBlocks, vi: VersionInfo): { blocks: Record<string, BlockRanges>, count: number } {
  const out: Record<string, BlockRanges> = {}
  let count = 0
  for (let s = 0; s < files.size; s++) {
    const r = blocks.ranges(s)
    if (r.length === 0) continue
    out[relationPath({ spcOid: files.spc[s], dbOid: files.db[s], relNumber: files.rel[s] }, vi, { segNo: files.seg[s] })] = r
    count += blocks.count(s)
  }
  return { blocks: out, count }
}
