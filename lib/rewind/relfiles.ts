import { grown } from '../columns'
import { ForkNumber, GLOBALTABLESPACE_OID, parseRelationPath, relationPath } from '../format/relpath'
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
  /**
   * Open addressing, linear probing: slot + 1 per bucket (0: empty), at most half
   * full. A Map of the slots held 14.7 MB of heap for 300,000 files (100,000 tables a
   * side); this, 4.2 MB outside it.
   */
  private buckets = new Int32Array(0)
  /** consecutive records mostly name the same file: no lookup for those */
  private last = -1

  /** The slot of a file, added when it is new. */
  slot (spc: number, db: number, rel: number, seg = 0): number {
    const l = this.last
    if (l >= 0 && this.rel[l] === rel && this.seg[l] === seg && this.db[l] === db && this.spc[l] === spc) return l
    const b = this.bucketOf(spc, db, rel, seg)
    let s = this.buckets.length === 0 ? -1 : this.buckets[b] - 1
    if (s < 0) {
      s = this.size++
      if (s >= this.rel.length) this.grow(s + 1)
      this.spc[s] = spc
      this.db[s] = db
      this.rel[s] = rel
      this.seg[s] = seg
      if (2 * this.size > this.buckets.length) {
        // the new slot goes in with the others
        this.rehash()
      } else {
        this.buckets[b] = s + 1
      }
    }
    this.last = s
    return s
  }

  /** The slot of a file, or -1 when the WAL never named it. */
  find (spc: number, db: number, rel: number, seg: number): number {
    return this.buckets.length === 0 ? -1 : this.buckets[this.bucketOf(spc, db, rel, seg)] - 1
  }

  /** The file's bucket: the one holding its slot, or the empty one where it would go. */
  private bucketOf (spc: number, db: number, rel: number, seg: number): number {
    const mask = this.buckets.length - 1
    if (mask < 0) return 0
    let h = Math.imul(rel ^ Math.imul(db, 0x9E3779B1) ^ Math.imul(spc, 0x85EBCA77) ^ Math.imul(seg, 0xC2B2AE3D), 0x27D4EB2F)
    h = Math.imul(h ^ (h >>> 16), 0x85EBCA6B)
    h ^= h >>> 13
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const s = this.buckets[b] - 1
      if (s < 0 || (this.rel[s] === rel && this.seg[s] === seg && this.db[s] === db && this.spc[s] === spc)) return b
    }
  }

  /**
   * The columns cut to the slots, the buckets up to three quarters full: for an index
   * that is only looked up from now on (a slot added later makes them grow again).
   */
  trim (): void {
    this.spc = this.spc.slice(0, this.size)
    this.db = this.db.slice(0, this.size)
    this.rel = this.rel.slice(0, this.size)
    this.seg = this.seg.slice(0, this.size)
    this.rehash(4 / 3)
  }

  /** Buckets for the slots, at most 1/`fill` full (half, while slots are added). */
  private rehash (fill = 2): void {
    let n = 64
    while (n < fill * this.size) n *= 2
    this.buckets = new Int32Array(n)
    for (let s = 0; s < this.size; s++) this.buckets[this.bucketOf(this.spc[s], this.db[s], this.rel[s], this.seg[s])] = s + 1
  }

  private grow (n: number): void {
    this.spc = grown(this.spc, n)
    this.db = grown(this.db, n)
    this.rel = grown(this.rel, n)
    this.seg = grown(this.seg, n)
  }
}

/** A slot's start when its blocks are in a bitmap: no run starts there (no block is numbered 0xFFFFFFFF). */
const IN_BITMAP = 0xFFFFFFFF

/**
 * Changed blocks per slot: one run of consecutive blocks [start, end) while they are
 * (a new table's first pages, an index's metapage, rows appended at the end: most files
 * of a big divergence), a bitmap only when a block falls outside the run.
 */
export class SlotBlocks {
  // a block number is below 0xFFFFFFFF (InvalidBlockNumber), so a run's end fits too
  private start = new Uint32Array(0)
  /** 0: no block; start IN_BITMAP: the slot's blocks are in `bitmaps` */
  private end = new Uint32Array(0)
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
    if (s === IN_BITMAP) {
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
      this.start[slot] = IN_BITMAP
    }
  }

  /** The columns cut to `slots` (those of a trimmed RelFileIndex). */
  trim (slots: number): void {
    this.start = this.start.slice(0, slots)
    this.end = this.end.slice(0, slots)
  }

  ranges (slot: number): BlockRanges {
    if (slot >= this.end.length || this.end[slot] === 0) return []
    const s = this.start[slot]
    return s === IN_BITMAP ? this.bitmaps.get(slot)!.toRanges() : oneRange(s, this.end[slot])
  }

  count (slot: number): number {
    if (slot >= this.end.length || this.end[slot] === 0) return 0
    const s = this.start[slot]
    return s === IN_BITMAP ? this.bitmaps.get(slot)!.count() : this.end[slot] - s
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

/**
 * scanWal's changed blocks as the steps pass them on: the scan's own columns, looked
 * up by path (a file's path parsed into its locator, as pg_rewind's hash of file
 * entries is keyed), where a record of 300,000 paths (a pair with 100,000 tables a
 * side) held 37 MB of heap. The record is made only for a JSON result (`toRecord`).
 */
export class ChangedBlocks {
  /** changed blocks in all */
  readonly count: number

  constructor (private readonly files: RelFileIndex, private readonly blocks: SlotBlocks, private readonly vi: VersionInfo | null) {
    let n = 0
    for (let s = 0; s < files.size; s++) {
      const c = blocks.count(s)
      // a locator no file can have (corrupt WAL) is refused as the record's path for it would be
      if (c > 0 && vi !== null && files.spc[s] === GLOBALTABLESPACE_OID && files.db[s] !== 0) {
        relationPath({ spcOid: files.spc[s], dbOid: files.db[s], relNumber: files.rel[s] }, vi, { segNo: files.seg[s] })
      }
      n += c
    }
    this.count = n
  }

  /**
   * Its columns cut to size, for the file map's lookups: after the scan, whose
   * collectors share the index, has let it go. The room that doubling left (7 MB of
   * 17 with 300,000 files) would be held through the listings, buildPlan's peak.
   */
  trim (): void {
    this.files.trim()
    this.blocks.trim(this.files.size)
  }

  /** No changed block (no rewind needed, or the blocks let go once the plan carries them). */
  static none (): ChangedBlocks { return new ChangedBlocks(new RelFileIndex(), new SlotBlocks(), null) }

  /** A segment file's changed blocks, or undefined when none: `toRecord()`'s own property `path`, if it has one. */
  get (path: string): BlockRanges | undefined {
    // parseRelationPath accepts only the canonical path of a file, so a path the
    // record would not have as a key (a temporary relation's, another fork's, a
    // number with a leading zero) finds nothing
    if (this.vi === null) return undefined
    const r = parseRelationPath(path, this.vi)
    if (r === null || r.fork !== ForkNumber.MAIN || r.tempProcNumber !== null) return undefined
    const s = this.files.find(r.spcOid, r.dbOid, r.relNumber, r.segNo)
    return s < 0 || this.blocks.count(s) === 0 ? undefined : this.blocks.ranges(s)
  }

  /** By segment file path, as JSON results carry them. */
  toRecord (): Record<string, BlockRanges> {
    return this.vi === null ? {} : blocksByPath(this.files, this.blocks, this.vi).blocks
  }

  /** JSON.stringify of a scan writes the record: a scan stays plain JSON for a step in another process. */
  toJSON (): Record<string, BlockRanges> { return this.toRecord() }
}
