import { PgRewindError } from '../errors'
import { crc32cUpdate, CRC32C_INIT } from '../format/crc32c'
import { FORK_NAMES } from '../format/relpath'
import { PAGES_PER_4G, pagePosText } from './page'
import { formatLsn, type Lsn } from '../format/lsn'
import { BLCKSZ, MAX_BUILTIN_RMID, XLOG_BLCKSZ, type VersionInfo } from '../format/versions'

/**
 * Decoding of one assembled WAL record (XLogRecord + block references + main data),
 * PostgreSQL 13–18. Layout: src/include/access/xlogrecord.h; checks mirror
 * xlogreader.c (ValidXLogRecordHeader, ValidXLogRecord, DecodeXLogRecord).
 *
 * Nothing is copied: a decoded record points into the buffer it was decoded from
 * (offsets + lazily created subarrays). A WalRecord (and its BlockRefs) is a reusable
 * object: the reader overwrites it on every read; copy what you need to keep
 * (`toJSON()` gives a detached plain object).
 */

export const SIZE_OF_XLOG_RECORD = 24
/** offsetof(XLogRecord, xl_crc) */
export const XL_CRC_OFFSET = 20

export const XLR_INFO_MASK = 0x0F
export const XLR_RMGR_INFO_MASK = 0xF0
export const XLR_SPECIAL_REL_UPDATE = 0x01
export const XLR_CHECK_CONSISTENCY = 0x02

export const XLR_MAX_BLOCK_ID = 32
export const XLR_BLOCK_ID_DATA_SHORT = 255
export const XLR_BLOCK_ID_DATA_LONG = 254
export const XLR_BLOCK_ID_ORIGIN = 253
export const XLR_BLOCK_ID_TOPLEVEL_XID = 252

export const BKPBLOCK_FORK_MASK = 0x0F
export const BKPBLOCK_HAS_IMAGE = 0x10
export const BKPBLOCK_HAS_DATA = 0x20
export const BKPBLOCK_WILL_INIT = 0x40
export const BKPBLOCK_SAME_REL = 0x80

/** Largest record the reader accepts (xlogreader: MaxAllocSize, 1 GB − 1). */
export const MAX_RECORD_LENGTH = 0x3FFFFFFF

export type ImageCompression = 'none' | 'pglz' | 'lz4' | 'zstd'

/** One block reference of a record. Reused by the decoder: copy to keep. */
export class BlockRef {
  /** block_id 0..32 */
  id = 0
  /** raw fork_flags byte */
  forkFlags = 0
  forkNumber = 0
  hasImage = false
  hasData = false
  willInit = false
  /** the header had BKPBLOCK_SAME_REL (relation copied from the previous block ref) */
  sameRel = false
  dataLength = 0
  /** offset of the block data in `record.buf` */
  dataOffset = 0
  spcOid = 0
  dbOid = 0
  relNumber = 0
  blockNumber = 0
  // image (valid when hasImage)
  /** bimg_len: bytes of image stored in the record */
  imageLength = 0
  holeOffset = 0
  /** computed as xlogreader does: explicit when compressed with hole, else BLCKSZ − bimg_len */
  holeLength = 0
  bimgInfo = 0
  applyImage = false
  compression: ImageCompression = 'none'
  /** offset of the image bytes in `record.buf` */
  imageOffset = 0

  constructor (readonly record: WalRecord) {}

  /** rmgr data of this block (a view; valid while the record is) */
  get data (): Buffer {
    return this.record.buf.subarray(this.dataOffset, this.dataOffset + this.dataLength)
  }

  /** stored image bytes (possibly compressed, hole removed) */
  get image (): Buffer | null {
    return this.hasImage ? this.record.buf.subarray(this.imageOffset, this.imageOffset + this.imageLength) : null
  }

  get forkName (): string {
    return FORK_NAMES[this.forkNumber] ?? `fork${this.forkNumber}`
  }

  toJSON (): BlockRefJson {
    const j: BlockRefJson = {
      id: this.id,
      fork: this.forkNumber,
      rel: { spcOid: this.spcOid, dbOid: this.dbOid, relNumber: this.relNumber },
      block: this.blockNumber,
      flags: this.forkFlags,
      dataLength: this.dataLength
    }
    if (this.hasImage) {
      j.image = {
        length: this.imageLength,
        holeOffset: this.holeOffset,
        holeLength: this.holeLength,
        bimgInfo: this.bimgInfo,
        apply: this.applyImage,
        compression: this.compression
      }
    }
    return j
  }
}

export interface BlockRefJson {
  id: number
  fork: number
  rel: { spcOid: number, dbOid: number, relNumber: number }
  block: number
  flags: number
  dataLength: number
  image?: { length: number, holeOffset: number, holeLength: number, bimgInfo: number, apply: boolean, compression: ImageCompression }
}

export interface WalRecordJson {
  lsn: string
  end: string
  totLen: number
  xid: number
  prev: string
  info: number
  rmid: number
  origin: number
  toplevelXid: number
  mainDataLength: number
  blocks: BlockRefJson[]
}

/** little-endian u32 without Buffer's argument validation (callers check bounds) */
export function u32 (b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
}

/** A decoded record. Positions are kept as (page index, offset in page) numbers: exact for any 64-bit LSN. */
export class WalRecord {
  /** start of the record: page index (LSN / 8192) and offset in that page */
  lsnPage = 0
  lsnOff = 0
  /** position right after the record (xlogreader's EndRecPtr: MAXALIGNed; a SWITCH record extends to the segment end) */
  endPage = 0
  endOff = 0

  totLen = 0
  xid = 0
  prevLo = 0
  prevHi = 0
  info = 0
  rmid = 0
  crc = 0
  /** replication origin (XLR_BLOCK_ID_ORIGIN), 0 = none */
  origin = 0
  /** XLR_BLOCK_ID_TOPLEVEL_XID, 0 = none */
  toplevelXid = 0

  /** buffer the record lies in, contiguous from `start` to `start + totLen` */
  buf: Buffer = Buffer.alloc(0)
  start = 0
  mainDataOffset = 0
  mainDataLength = 0
  /** highest block_id in use, −1 if none */
  maxBlockId = -1
  /** block references in header order (ascending block_id); read-only, reused between records */
  blocks: readonly BlockRef[] = []
  /** Σ image lengths (pg_waldump's "rec" length is totLen − fpiLength) */
  fpiLength = 0

  private readonly pool: BlockRef[] = []
  /** one array per block count, sharing the pooled BlockRefs: no allocation per record */
  private readonly byCount: Array<readonly BlockRef[] | undefined> = []

  get lsn (): Lsn {
    return BigInt(this.lsnPage) * BigInt(XLOG_BLCKSZ) + BigInt(this.lsnOff)
  }

  get end (): Lsn {
    return BigInt(this.endPage) * BigInt(XLOG_BLCKSZ) + BigInt(this.endOff)
  }

  get prev (): Lsn {
    return (BigInt(this.prevHi) << 32n) | BigInt(this.prevLo)
  }

  /** rmgr-specific info bits (xl_info & 0xF0) */
  get rmgrInfo (): number {
    return this.info & XLR_RMGR_INFO_MASK
  }

  get mainData (): Buffer {
    return this.buf.subarray(this.mainDataOffset, this.mainDataOffset + this.mainDataLength)
  }

  /** the whole record bytes (header included) */
  get bytes (): Buffer {
    return this.buf.subarray(this.start, this.start + this.totLen)
  }

  /** block reference with block_id `id`, or null */
  block (id: number): BlockRef | null {
    for (const b of this.blocks) if (b.id === id) return b
    return null
  }

  /** @internal the i-th pooled block reference */
  blockAt (i: number): BlockRef {
    let b = this.pool[i]
    if (b === undefined) {
      b = new BlockRef(this)
      this.pool.push(b)
    }
    return b
  }

  /** @internal */
  setBlockCount (n: number): void {
    if (this.blocks.length === n) return
    let a = this.byCount[n]
    if (a === undefined) {
      for (let i = 0; i < n; i++) this.blockAt(i)
      a = this.pool.slice(0, n)
      this.byCount[n] = a
    }
    this.blocks = a
  }

  setLsn (lsn: Lsn): void {
    this.lsnPage = Number(lsn / BigInt(XLOG_BLCKSZ))
    this.lsnOff = Number(lsn % BigInt(XLOG_BLCKSZ))
  }

  toJSON (): WalRecordJson {
    return {
      lsn: formatLsn(this.lsn),
      end: formatLsn(this.end),
      totLen: this.totLen,
      xid: this.xid,
      prev: formatLsn(this.prev),
      info: this.info,
      rmid: this.rmid,
      origin: this.origin,
      toplevelXid: this.toplevelXid,
      mainDataLength: this.mainDataLength,
      blocks: this.blocks.map(b => b.toJSON())
    }
  }
}

/** Version-dependent decoding facts, precomputed from a VersionInfo row. */
export interface RecordDecodeContext {
  vi: VersionInfo
  hasHole: number
  apply: number
  compressMask: number
  compressionBits: ReadonlyArray<{ bit: number, method: ImageCompression }>
}

const contexts = new Map<number, RecordDecodeContext>()

export function recordDecodeContext (vi: VersionInfo): RecordDecodeContext {
  let c = contexts.get(vi.major)
  if (c === undefined) {
    let mask = 0
    for (const x of vi.bimg.compression) mask |= x.bit
    c = { vi, hasHole: vi.bimg.hasHole, apply: vi.bimg.apply, compressMask: mask, compressionBits: vi.bimg.compression }
    contexts.set(vi.major, c)
  }
  return c
}

/** RmgrIdIsValid for the version: built-in ids 0..21, and 128..255 where custom rmgrs exist (15+). */
export function isValidRmid (rmid: number, vi: VersionInfo): boolean {
  return rmid <= MAX_BUILTIN_RMID || (vi.customRmgrs && rmid >= 128 && rmid <= 255)
}

function recErr (rec: WalRecord, message: string, reason: string, code: 'WAL_INVALID_RECORD' | 'WAL_CRC' | 'WAL_END' = 'WAL_INVALID_RECORD', cleanEnd = false): PgRewindError {
  return new PgRewindError(code, message, { data: { lsn: pagePosText(rec.lsnPage, rec.lsnOff), reason, cleanEnd } })
}

/** "invalid record length" error for a record start (xl_tot_len < 24); zero = the usual end of WAL. */
export function invalidLengthError (page: number, off: number, totLen: number): PgRewindError {
  const at = pagePosText(page, off)
  const zero = totLen === 0
  return new PgRewindError(zero ? 'WAL_END' : 'WAL_INVALID_RECORD',
    `invalid record length at ${at}: expected at least ${SIZE_OF_XLOG_RECORD}, got ${totLen}`,
    { data: { lsn: at, reason: zero ? 'zero-length' : 'short-length', cleanEnd: zero } })
}

/**
 * ValidXLogRecordHeader on the 24 header bytes at buf[off..]: length ≥ 24, valid rmgr id,
 * prev-link. `expectedPrev` = start of the previous record for sequential reading
 * (prev must be equal) or null for random access (prev must be < the record's LSN).
 * Positions are (page index, offset) pairs. Throws; returns xl_tot_len.
 */
export function validateRecordHeader (buf: Buffer, off: number, recPage: number, recOff: number,
  expectedPrevPage: number | null, expectedPrevOff: number, vi: VersionInfo): number {
  const totLen = u32(buf, off)
  if (totLen < SIZE_OF_XLOG_RECORD) throw invalidLengthError(recPage, recOff, totLen)
  const rmid = buf[off + 17]
  if (!isValidRmid(rmid, vi)) {
    const at = pagePosText(recPage, recOff)
    throw new PgRewindError('WAL_INVALID_RECORD', `invalid resource manager ID ${rmid} at ${at}`, { data: { lsn: at, reason: 'bad-rmid', cleanEnd: false } })
  }
  const prevLo = u32(buf, off + 8)
  const prevHi = u32(buf, off + 12)
  const recHi = Math.floor(recPage / PAGES_PER_4G)
  const recLo = (recPage - recHi * PAGES_PER_4G) * XLOG_BLCKSZ + recOff
  let ok: boolean
  if (expectedPrevPage === null) {
    ok = prevHi < recHi || (prevHi === recHi && prevLo < recLo)
  } else {
    const eHi = Math.floor(expectedPrevPage / PAGES_PER_4G)
    const eLo = (expectedPrevPage - eHi * PAGES_PER_4G) * XLOG_BLCKSZ + expectedPrevOff
    ok = prevHi === eHi && prevLo === eLo
  }
  if (!ok) {
    const at = pagePosText(recPage, recOff)
    const prev = `${prevHi.toString(16).toUpperCase()}/${prevLo.toString(16).toUpperCase()}`
    throw new PgRewindError('WAL_INVALID_RECORD', `record with incorrect prev-link ${prev} at ${at}`,
      { data: { lsn: at, reason: 'bad-prev-link', cleanEnd: false } })
  }
  return totLen
}

/** CRC-32C over bytes [24, totLen) then [0, 20) of the record at buf[start..]. */
export function recordCrc (buf: Uint8Array, start: number, totLen: number): number {
  let crc = crc32cUpdate(CRC32C_INIT, buf, start + SIZE_OF_XLOG_RECORD, start + totLen)
  crc = crc32cUpdate(crc, buf, start, start + XL_CRC_OFFSET)
  return (crc ^ 0xFFFFFFFF) >>> 0
}

/**
 * Check the CRC of the assembled record in `rec` (rec.buf/start/totLen already set),
 * then decode its fragment headers into `rec`. Throws WAL_CRC / WAL_INVALID_RECORD.
 */
export function checkAndDecodeRecord (rec: WalRecord, ctx: RecordDecodeContext): void {
  const buf = rec.buf
  const s = rec.start
  const stored = u32(buf, s + XL_CRC_OFFSET)
  const crc = recordCrc(buf, s, rec.totLen)
  if (crc !== stored) {
    throw recErr(rec, `incorrect resource manager data checksum in record at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'bad-crc', 'WAL_CRC')
  }
  decodeRecordBody(rec, ctx)
}

/**
 * DecodeXLogRecord: header fields, then fragment headers while remaining > announced
 * payload, with every consistency check; finally payload offsets and the exact length
 * balance. rec.buf/start/totLen must be set and the record must be complete.
 */
export function decodeRecordBody (rec: WalRecord, ctx: RecordDecodeContext): void {
  const buf = rec.buf
  const s = rec.start
  const totLen = rec.totLen
  rec.xid = u32(buf, s + 4)
  rec.prevLo = u32(buf, s + 8)
  rec.prevHi = u32(buf, s + 12)
  rec.info = buf[s + 16]
  rec.rmid = buf[s + 17]
  rec.crc = u32(buf, s + 20)
  rec.origin = 0
  rec.toplevelXid = 0
  rec.mainDataLength = 0
  rec.mainDataOffset = s + totLen
  rec.maxBlockId = -1
  rec.fpiLength = 0
  let nblocks = 0

  let p = s + SIZE_OF_XLOG_RECORD
  const end = s + totLen
  let datatotal = 0
  let haveRel = false
  let spc = 0
  let db = 0
  let relNo = 0

  while (end - p > datatotal) {
    const blockId = buf[p++]
    if (blockId === XLR_BLOCK_ID_DATA_SHORT) {
      if (end - p < 1) throw shortData(rec)
      rec.mainDataLength = buf[p++]
      datatotal += rec.mainDataLength
      break
    } else if (blockId === XLR_BLOCK_ID_DATA_LONG) {
      if (end - p < 4) throw shortData(rec)
      rec.mainDataLength = u32(buf, p)
      p += 4
      datatotal += rec.mainDataLength
      break
    } else if (blockId === XLR_BLOCK_ID_ORIGIN) {
      if (end - p < 2) throw shortData(rec)
      rec.origin = buf[p] | (buf[p + 1] << 8)
      p += 2
    } else if (blockId === XLR_BLOCK_ID_TOPLEVEL_XID && ctx.vi.hasToplevelXidBlock) {
      if (end - p < 4) throw shortData(rec)
      rec.toplevelXid = u32(buf, p)
      p += 4
    } else if (blockId <= XLR_MAX_BLOCK_ID) {
      if (blockId <= rec.maxBlockId) {
        throw recErr(rec, `out-of-order block_id ${blockId} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'out-of-order-block-id')
      }
      rec.maxBlockId = blockId
      if (end - p < 3) throw shortData(rec)
      const b = rec.blockAt(nblocks++)
      b.id = blockId
      const ff = buf[p]
      b.forkFlags = ff
      b.forkNumber = ff & BKPBLOCK_FORK_MASK
      b.hasImage = (ff & BKPBLOCK_HAS_IMAGE) !== 0
      b.hasData = (ff & BKPBLOCK_HAS_DATA) !== 0
      b.willInit = (ff & BKPBLOCK_WILL_INIT) !== 0
      b.sameRel = (ff & BKPBLOCK_SAME_REL) !== 0
      b.dataLength = buf[p + 1] | (buf[p + 2] << 8)
      p += 3
      if (b.hasData && b.dataLength === 0) {
        throw recErr(rec, `BKPBLOCK_HAS_DATA set, but no data included at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'has-data-no-data')
      }
      if (!b.hasData && b.dataLength !== 0) {
        throw recErr(rec, `BKPBLOCK_HAS_DATA not set, but data length is ${b.dataLength} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'data-without-has-data')
      }
      datatotal += b.dataLength
      b.applyImage = false
      b.compression = 'none'
      b.imageLength = 0
      b.holeOffset = 0
      b.holeLength = 0
      b.bimgInfo = 0
      if (b.hasImage) {
        if (end - p < 5) throw shortData(rec)
        b.imageLength = buf[p] | (buf[p + 1] << 8)
        b.holeOffset = buf[p + 2] | (buf[p + 3] << 8)
        const bi = buf[p + 4]
        p += 5
        b.bimgInfo = bi
        b.applyImage = (bi & ctx.apply) !== 0
        const compressed = (bi & ctx.compressMask) !== 0
        const hasHole = (bi & ctx.hasHole) !== 0
        if (compressed) {
          for (const c of ctx.compressionBits) {
            if ((bi & c.bit) !== 0) { b.compression = c.method; break }
          }
          if (hasHole) {
            if (end - p < 2) throw shortData(rec)
            b.holeLength = buf[p] | (buf[p + 1] << 8)
            p += 2
          } else {
            b.holeLength = 0
          }
        } else {
          b.holeLength = BLCKSZ - b.imageLength
        }
        datatotal += b.imageLength
        rec.fpiLength += b.imageLength
        if (hasHole && (b.holeOffset === 0 || b.holeLength === 0 || b.imageLength === BLCKSZ)) {
          throw recErr(rec, `BKPIMAGE_HAS_HOLE set, but hole offset ${b.holeOffset} length ${b.holeLength} block image length ${b.imageLength} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'bad-hole')
        }
        if (hasHole && b.holeOffset + b.holeLength > BLCKSZ) {
          // stricter than xlogreader.c (which would later copy a negative length): a hole
          // is [pd_lower, pd_upper) of a page, so it never extends beyond the page
          throw recErr(rec, `BKPIMAGE_HAS_HOLE set, but hole offset ${b.holeOffset} length ${b.holeLength} exceeds the block size at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'hole-beyond-page')
        }
        if (!hasHole && (b.holeOffset !== 0 || b.holeLength !== 0)) {
          throw recErr(rec, `BKPIMAGE_HAS_HOLE not set, but hole offset ${b.holeOffset} length ${b.holeLength} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'unexpected-hole')
        }
        if (compressed && b.imageLength === BLCKSZ) {
          throw recErr(rec, `BKPIMAGE_COMPRESSED set, but block image length ${b.imageLength} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'bad-compressed-length')
        }
        // (unreachable after the check above, as in xlogreader.c; kept for fidelity)
        if (!hasHole && !compressed && b.imageLength !== BLCKSZ) {
          throw recErr(rec, `neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, but block image length is ${b.imageLength} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'bad-image-length')
        }
      }
      if ((ff & BKPBLOCK_SAME_REL) === 0) {
        if (end - p < 12) throw shortData(rec)
        spc = u32(buf, p)
        db = u32(buf, p + 4)
        relNo = u32(buf, p + 8)
        p += 12
        haveRel = true
      } else if (!haveRel) {
        throw recErr(rec, `BKPBLOCK_SAME_REL set but no previous rel at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'same-rel-without-rel')
      }
      b.spcOid = spc
      b.dbOid = db
      b.relNumber = relNo
      if (end - p < 4) throw shortData(rec)
      b.blockNumber = u32(buf, p)
      // InvalidBlockNumber: PostgreSQL never registers it (and the block maps count on it)
      if (b.blockNumber === 0xFFFFFFFF) throw recErr(rec, `invalid block number 4294967295 in block reference ${blockId} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'invalid-block-number')
      p += 4
    } else {
      throw recErr(rec, `invalid block_id ${blockId} at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'invalid-block-id')
    }
  }
  if (end - p !== datatotal) {
    rec.setBlockCount(0)
    throw shortData(rec)
  }
  rec.setBlockCount(nblocks)

  // payloads: per block image then data, in header order; then main data
  for (let i = 0; i < nblocks; i++) {
    const b = rec.blocks[i]
    if (b.hasImage) {
      b.imageOffset = p
      p += b.imageLength
    }
    b.dataOffset = p
    p += b.dataLength
  }
  rec.mainDataOffset = p
}

function shortData (rec: WalRecord): PgRewindError {
  return recErr(rec, `record with invalid length at ${pagePosText(rec.lsnPage, rec.lsnOff)}`, 'length-mismatch')
}

/**
 * Convenience for a record already assembled in `buf` at `start` (tests, tools):
 * header checks (length, rmgr id; prev only as "< lsn"), CRC, body decoding.
 */
export function decodeRecord (buf: Buffer, start: number, lsn: Lsn, vi: VersionInfo, out: WalRecord = new WalRecord()): WalRecord {
  out.setLsn(lsn)
  const at = formatLsn(lsn)
  if (buf.length - start < 4) throw new PgRewindError('WAL_INVALID_RECORD', `record at ${at} truncated: ${buf.length - start} bytes`, { data: { lsn: at, reason: 'truncated' } })
  const totLen = buf.readUInt32LE(start)
  if (totLen < SIZE_OF_XLOG_RECORD) throw invalidLengthError(out.lsnPage, out.lsnOff, totLen)
  if (buf.length - start < totLen) {
    throw new PgRewindError('WAL_INVALID_RECORD', `record at ${at} truncated: ${buf.length - start} of ${totLen} bytes`, { data: { lsn: at, reason: 'truncated' } })
  }
  validateRecordHeader(buf, start, out.lsnPage, out.lsnOff, null, 0, vi)
  out.buf = buf
  out.start = start
  out.totLen = totLen
  out.endPage = out.lsnPage
  out.endOff = out.lsnOff
  checkAndDecodeRecord(out, recordDecodeContext(vi))
  const e = lsn + BigInt((totLen + 7) & ~7)
  out.endPage = Number(e / BigInt(XLOG_BLCKSZ))
  out.endOff = Number(e % BigInt(XLOG_BLCKSZ))
  return out
}

/**
 * Rebuild the 8192-byte page of an uncompressed image (hole filled with zeros).
 * Compressed images return null (decompression is not needed by pg_rewind).
 */
export function restoreUncompressedImage (b: BlockRef): Buffer | null {
  if (!b.hasImage || b.compression !== 'none') return null
  const page = Buffer.alloc(BLCKSZ)
  const img = b.record.buf
  if (b.holeLength === 0) {
    img.copy(page, 0, b.imageOffset, b.imageOffset + BLCKSZ)
  } else {
    img.copy(page, 0, b.imageOffset, b.imageOffset + b.holeOffset)
    img.copy(page, b.holeOffset + b.holeLength, b.imageOffset + b.holeOffset, b.imageOffset + b.imageLength)
  }
  return page
}
