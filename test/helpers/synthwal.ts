import { walFileName } from '../../lib/format/lsn'
import { decodeRecord, recordCrc, WalRecord } from '../../lib/wal/record'
import type { VersionInfo } from '../../lib/format/versions'

/**
 * A small WAL *writer* for tests: encodes records (header, block references, images,
 * origin, top-level xid, main data, CRC) and lays them into pages and segments the way
 * PostgreSQL does (8-byte alignment, short/long page headers, continuation with
 * XLP_FIRST_IS_CONTRECORD + xlp_rem_len, SWITCH to the next segment, timeline forks
 * that copy the current segment, an aborted record followed by an
 * XLP_FIRST_IS_OVERWRITE_CONTRECORD page). Independent of the decoder under test
 * except for the CRC function (itself tested on real records).
 */

const PAGE = 8192

export interface SynthImage {
  /** stored image bytes */
  bytes: Buffer
  holeOffset?: number
  /** explicit hole length (written only when compressed with a hole) */
  holeLength?: number
  bimgInfo: number
}

export interface SynthBlock {
  id: number
  fork?: number
  /** extra fork_flags bits (e.g. 0x40 WILL_INIT); HAS_IMAGE/HAS_DATA/SAME_REL are derived */
  extraFlags?: number
  /** omitted = BKPBLOCK_SAME_REL */
  rel?: [number, number, number]
  blk: number
  data?: Buffer
  image?: SynthImage
  /** force HAS_DATA flag / data_length independently of `data` (for corrupt records) */
  rawHasData?: boolean
  rawDataLength?: number
}

export interface SynthRecord {
  xid?: number
  rmid?: number
  info?: number
  blocks?: SynthBlock[]
  origin?: number
  toplevelXid?: number
  main?: Buffer
  /** use the long main-data header even when < 256 */
  longMain?: boolean
  /** override xl_prev */
  prev?: bigint
}

export function encodeRecord (r: SynthRecord, prev: bigint): Buffer {
  const hdrs: Buffer[] = []
  const payloads: Buffer[] = []
  for (const b of r.blocks ?? []) {
    let ff = (b.fork ?? 0) | (b.extraFlags ?? 0)
    const data = b.data ?? Buffer.alloc(0)
    const hasData = b.rawHasData ?? data.length > 0
    if (hasData) ff |= 0x20
    if (b.image !== undefined) ff |= 0x10
    if (b.rel === undefined) ff |= 0x80
    const h: number[] = [b.id, ff]
    const dl = b.rawDataLength ?? data.length
    h.push(dl & 0xFF, dl >> 8)
    if (b.image !== undefined) {
      const im = b.image
      h.push(im.bytes.length & 0xFF, im.bytes.length >> 8, (im.holeOffset ?? 0) & 0xFF, (im.holeOffset ?? 0) >> 8, im.bimgInfo)
      if (im.holeLength !== undefined) h.push(im.holeLength & 0xFF, im.holeLength >> 8)
      payloads.push(im.bytes)
    }
    if (b.rel !== undefined) {
      const rb = Buffer.alloc(12)
      rb.writeUInt32LE(b.rel[0], 0)
      rb.writeUInt32LE(b.rel[1], 4)
      rb.writeUInt32LE(b.rel[2], 8)
      h.push(...rb)
    }
    const bn = Buffer.alloc(4)
    bn.writeUInt32LE(b.blk >>> 0, 0)
    h.push(...bn)
    hdrs.push(Buffer.from(h))
    payloads.push(data)
  }
  if (r.origin !== undefined) hdrs.push(Buffer.from([253, r.origin & 0xFF, r.origin >> 8]))
  if (r.toplevelXid !== undefined) {
    const x = Buffer.alloc(5)
    x[0] = 252
    x.writeUInt32LE(r.toplevelXid, 1)
    hdrs.push(x)
  }
  if (r.main !== undefined && (r.main.length > 0 || r.longMain === true)) {
    if (r.main.length < 256 && r.longMain !== true) {
      hdrs.push(Buffer.from([255, r.main.length]))
    } else {
      const m = Buffer.alloc(5)
      m[0] = 254
      m.writeUInt32LE(r.main.length, 1)
      hdrs.push(m)
    }
    payloads.push(r.main)
  }
  const body = Buffer.concat([...hdrs, ...payloads])
  const rec = Buffer.alloc(24 + body.length)
  body.copy(rec, 24)
  rec.writeUInt32LE(rec.length, 0)
  rec.writeUInt32LE(r.xid ?? 0, 4)
  rec.writeBigUInt64LE(r.prev ?? prev, 8)
  rec[16] = r.info ?? 0
  rec[17] = r.rmid ?? 10
  rec.writeUInt32LE(recordCrc(rec, 0, rec.length), 20)
  return rec
}

/** Recompute the CRC of a (modified) encoded record in place. */
/** Records decoded at consecutive LSNs from `start` and handed to a collector; returns the end. */
export function feedRecords (c: { onRecord: (r: WalRecord) => void }, start: bigint, recs: SynthRecord[], vi: VersionInfo): bigint {
  let lsn = start
  for (const r of recs) {
    const buf = encodeRecord(r, 0n)
    c.onRecord(decodeRecord(buf, 0, lsn, vi))
    lsn += BigInt((buf.length + 7) & ~7)
  }
  return lsn
}

export function fixCrc (rec: Buffer): Buffer {
  rec.writeUInt32LE(recordCrc(rec, 0, rec.readUInt32LE(0)), 20)
  return rec
}

export class SynthWal {
  readonly segs = new Map<number, Buffer>()
  pos: bigint
  lastRecord = 0n
  readonly records: bigint[] = []
  /** per-page flag overrides to apply when the page header is written */
  private overwriteNextPage = false

  constructor (readonly vi: VersionInfo, readonly segSize: number, public tli = 1, readonly sysid = 0x1234567890ABCDEFn, start?: bigint) {
    this.pos = start ?? BigInt(segSize)
  }

  private seg (segNo: number): Buffer {
    let b = this.segs.get(segNo)
    if (b === undefined) {
      b = Buffer.alloc(this.segSize)
      this.segs.set(segNo, b)
    }
    return b
  }

  private writePageHeader (pageLsn: bigint, remLen: number): number {
    const segNo = Number(pageLsn / BigInt(this.segSize))
    const off = Number(pageLsn % BigInt(this.segSize))
    const b = this.seg(segNo)
    const long = off === 0
    let info = 0x0004 | (long ? 0x0002 : 0) | (remLen > 0 ? 0x0001 : 0)
    if (this.overwriteNextPage) {
      info = (info & ~0x0001) | 0x0008
      remLen = 0
      this.overwriteNextPage = false
    }
    b.writeUInt16LE(this.vi.walPageMagic, off)
    b.writeUInt16LE(info, off + 2)
    b.writeUInt32LE(this.tli, off + 4)
    b.writeBigUInt64LE(pageLsn, off + 8)
    b.writeUInt32LE(remLen, off + 16)
    if (long) {
      b.writeBigUInt64LE(this.sysid, off + 24)
      b.writeUInt32LE(this.segSize, off + 32)
      b.writeUInt32LE(PAGE, off + 36)
      return 40
    }
    return 24
  }

  /** Write raw record bytes at the insert position (page headers inserted), return its LSN. */
  writeRaw (rec: Buffer, opts: { stopAfter?: number } = {}): bigint {
    let p = this.pos
    if (p % BigInt(PAGE) === 0n) p += BigInt(this.writePageHeader(p, 0))
    const start = p
    let i = 0
    const total = opts.stopAfter ?? rec.length
    while (i < total) {
      if (p % BigInt(PAGE) === 0n) {
        if (opts.stopAfter !== undefined) break
        p += BigInt(this.writePageHeader(p, rec.length - i))
      }
      const pageEnd = p - p % BigInt(PAGE) + BigInt(PAGE)
      const n = Math.min(total - i, Number(pageEnd - p))
      const segNo = Number(p / BigInt(this.segSize))
      rec.copy(this.seg(segNo), Number(p % BigInt(this.segSize)), i, i + n)
      i += n
      p += BigInt(n)
    }
    this.pos = (p + 7n) & ~7n
    return start
  }

  /** Encode and append a record (xl_prev = previous record), return its LSN. */
  append (r: SynthRecord): bigint {
    const rec = encodeRecord(r, this.lastRecord)
    const at = this.writeRaw(rec)
    this.lastRecord = at
    this.records.push(at)
    if ((r.rmid ?? 10) === 0 && ((r.info ?? 0) & 0xF0) === 0x40) {
      // SWITCH: the rest of the segment stays unused
      const s = BigInt(this.segSize)
      if (this.pos % s !== 0n) this.pos = (this.pos / s + 1n) * s
    }
    return at
  }

  /**
   * Write only the part of a record that fits before the next page boundary (a record
   * torn by a crash), and mark the next page XLP_FIRST_IS_OVERWRITE_CONTRECORD, as
   * PostgreSQL does when it writes new WAL after such an aborted record.
   */
  appendAborted (r: SynthRecord): bigint {
    const rec = encodeRecord(r, this.lastRecord)
    let p = this.pos
    if (p % BigInt(PAGE) === 0n) p += BigInt(this.writePageHeader(p, 0))
    const room = Number(p - p % BigInt(PAGE) + BigInt(PAGE) - p)
    if (room >= rec.length) throw new Error('record fits on the page; cannot abort it')
    this.pos = p
    const at = this.writeRaw(rec, { stopAfter: room })
    this.pos = p + BigInt(room)
    this.overwriteNextPage = true
    return at
  }

  /** pad with a record of `n` bytes of main data so that the next insert lands at `target` offset-in-page (approximately) */
  filler (bytes: number): bigint {
    return this.append({ rmid: 21, info: 0, main: Buffer.alloc(Math.max(0, bytes), 0x61) })
  }

  /** A new timeline starting at the current insert position: the current segment is copied. */
  fork (newTli: number): SynthWal {
    const w = new SynthWal(this.vi, this.segSize, newTli, this.sysid, this.pos)
    const segNo = Number(this.pos / BigInt(this.segSize))
    const cur = this.segs.get(segNo)
    if (cur !== undefined) w.segs.set(segNo, Buffer.from(cur))
    w.lastRecord = this.lastRecord
    w.records.push(...this.records)
    return w
  }

  files (into = new Map<string, Buffer>()): Map<string, Buffer> {
    for (const [segNo, b] of this.segs) into.set(walFileName(this.tli, BigInt(segNo), this.segSize), b)
    return into
  }
}
