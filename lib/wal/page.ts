import { PgRewindError } from '../errors'
import { formatLsn, walFileName } from '../format/lsn'
import { XLOG_BLCKSZ } from '../format/versions'

/**
 * WAL page headers (XLogPageHeaderData / XLogLongPageHeaderData), PostgreSQL 13–18.
 * Layout: src/include/access/xlog_internal.h (verified on real segments of every
 * major by the tests against pg_waldump). All little-endian.
 *
 *   0 u16 xlp_magic   2 u16 xlp_info   4 u32 xlp_tli   8 u64 xlp_pageaddr
 *  16 u32 xlp_rem_len 20 (4 pad)       — short header, 24 bytes
 *  24 u64 xlp_sysid  32 u32 xlp_seg_size 36 u32 xlp_xlog_blcksz — long header, 40 bytes
 */

export const XLP_FIRST_IS_CONTRECORD = 0x0001
export const XLP_LONG_HEADER = 0x0002
export const XLP_BKP_REMOVABLE = 0x0004
export const XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008
export const XLP_ALL_FLAGS = 0x000F

export const SIZE_OF_SHORT_PHD = 24
export const SIZE_OF_LONG_PHD = 40

export interface WalPageHeader {
  magic: number
  info: number
  tli: number
  pageAddr: bigint
  remLen: number
  /** 24 (short) or 40 (long) */
  headerSize: number
  isLong: boolean
  /** long header only */
  sysid: bigint | null
  segSize: number | null
  xlogBlcksz: number | null
}

/** Header size implied by the page's flags (24 or 40). Needs 4 bytes at `off`. */
export function pageHeaderSize (buf: Uint8Array, off = 0): number {
  return (buf[off + 2] & XLP_LONG_HEADER) !== 0 ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD
}

/** Decode (without validating) the page header at `off`. */
export function decodePageHeader (buf: Buffer, off = 0): WalPageHeader {
  if (buf.length - off < SIZE_OF_SHORT_PHD) {
    throw new PgRewindError('WAL_INVALID_PAGE', `WAL page header truncated: ${buf.length - off} bytes, expected at least ${SIZE_OF_SHORT_PHD}`)
  }
  const info = buf.readUInt16LE(off + 2)
  const isLong = (info & XLP_LONG_HEADER) !== 0
  if (isLong && buf.length - off < SIZE_OF_LONG_PHD) {
    throw new PgRewindError('WAL_INVALID_PAGE', `WAL long page header truncated: ${buf.length - off} bytes, expected ${SIZE_OF_LONG_PHD}`)
  }
  return {
    magic: buf.readUInt16LE(off),
    info,
    tli: buf.readUInt32LE(off + 4),
    pageAddr: buf.readBigUInt64LE(off + 8),
    remLen: buf.readUInt32LE(off + 16),
    headerSize: isLong ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD,
    isLong,
    sysid: isLong ? buf.readBigUInt64LE(off + 24) : null,
    segSize: isLong ? buf.readUInt32LE(off + 32) : null,
    xlogBlcksz: isLong ? buf.readUInt32LE(off + 36) : null
  }
}

/** What a page is checked against. */
export interface PageCheckContext {
  /** XLOG_PAGE_MAGIC of the expected major (versions.ts walPageMagic) */
  magic: number
  segSize: number
  /** pg_control system identifier; null/0n = not checked (like xlogreader without a sysid) */
  sysid: bigint | null
  /** timeline whose file the page was read from; only used to name the file in messages */
  fileTli: number
}

/**
 * Mutable TLI-sequence state (xlogreader's latestPagePtr / latestPageTLI): a page at a
 * higher LSN than the last validated one must not carry a lower TLI.
 * LSNs are kept as (page index = LSN / 8192) numbers: exact up to 2^64 bytes of WAL.
 */
export interface PageSequenceState {
  latestPageIdx: number
  latestPageTli: number
}

export function newPageSequenceState (): PageSequenceState {
  return { latestPageIdx: -1, latestPageTli: 0 }
}

/** WAL pages per 4 GB: positions are (page index, offset) pairs of plain numbers, exact for every 64-bit LSN. */
export const PAGES_PER_4G = 0x100000000 / XLOG_BLCKSZ

/** A (page index, offset) position as PostgreSQL prints an LSN ("X/X"). */
export function pagePosText (page: number, off: number): string {
  const hi = Math.floor(page / PAGES_PER_4G)
  const lo = (page - hi * PAGES_PER_4G) * XLOG_BLCKSZ + off
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`
}

function pageIdxToLsn (pageIdx: number): bigint {
  return BigInt(pageIdx) * BigInt(XLOG_BLCKSZ)
}

function hex4 (n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0')
}

/**
 * Validate the page header at buf[off..] as the header of the WAL page number `pageIdx`
 * (LSN = pageIdx * 8192), the way XLogReaderValidatePageHeader does. Returns the header
 * size (24 or 40). Throws WAL_INVALID_PAGE (or WAL_END for an all-zero header, i.e.
 * never-written space) naming the file, LSN and offset.
 *
 * `data.cleanEnd` is true when the failure looks like the ordinary end of WAL: an
 * all-zero page, or a valid-looking page with an older page address (recycled segment).
 */
export function validatePageHeader (buf: Buffer, off: number, pageIdx: number, ctx: PageCheckContext, seq: PageSequenceState | null): number {
  const segPages = ctx.segSize / XLOG_BLCKSZ
  const segNo = Math.floor(pageIdx / segPages)
  const offsetInSeg = (pageIdx - segNo * segPages) * XLOG_BLCKSZ
  const magic = buf[off] | (buf[off + 1] << 8)
  const info = buf[off + 2] | (buf[off + 3] << 8)

  if (magic !== ctx.magic) {
    const zero = magic === 0 && info === 0 && buf.readUInt32LE(off + 8) === 0 && buf.readUInt32LE(off + 12) === 0
    throw pageError(zero ? 'WAL_END' : 'WAL_INVALID_PAGE', `invalid magic number ${hex4(magic)}`, ctx, segNo, pageIdx, offsetInSeg,
      zero ? 'zero-page' : 'bad-magic', zero)
  }
  if ((info & ~XLP_ALL_FLAGS) !== 0) {
    throw pageError('WAL_INVALID_PAGE', `invalid info bits ${hex4(info)}`, ctx, segNo, pageIdx, offsetInSeg, 'bad-info-bits', false)
  }
  let headerSize = SIZE_OF_SHORT_PHD
  if ((info & XLP_LONG_HEADER) !== 0) {
    headerSize = SIZE_OF_LONG_PHD
    const fileName = walFileName(ctx.fileTli, BigInt(segNo), ctx.segSize)
    const sysid = buf.readBigUInt64LE(off + 24)
    if (ctx.sysid !== null && ctx.sysid !== 0n && sysid !== ctx.sysid) {
      throw new PgRewindError('WAL_INVALID_PAGE',
        `WAL file is from different database system: WAL file database system identifier is ${sysid}, pg_control database system identifier is ${ctx.sysid}`,
        { data: { file: fileName, lsn: formatLsn(pageIdxToLsn(pageIdx)), reason: 'sysid-mismatch' } })
    }
    const segSize = buf.readUInt32LE(off + 32)
    if (segSize !== ctx.segSize) {
      throw new PgRewindError('WAL_INVALID_PAGE', 'WAL file is from different database system: incorrect segment size in page header',
        { detail: `segment size in page header is ${segSize}, expected ${ctx.segSize}`, data: { file: fileName, lsn: formatLsn(pageIdxToLsn(pageIdx)), reason: 'segsize-mismatch' } })
    }
    const blcksz = buf.readUInt32LE(off + 36)
    if (blcksz !== XLOG_BLCKSZ) {
      throw new PgRewindError('WAL_INVALID_PAGE', 'WAL file is from different database system: incorrect XLOG_BLCKSZ in page header',
        { detail: `XLOG_BLCKSZ in page header is ${blcksz}, expected ${XLOG_BLCKSZ}`, data: { file: fileName, lsn: formatLsn(pageIdxToLsn(pageIdx)), reason: 'blcksz-mismatch' } })
    }
  } else if (offsetInSeg === 0) {
    // first page of a segment without a long header
    throw pageError('WAL_INVALID_PAGE', `invalid info bits ${hex4(info)}`, ctx, segNo, pageIdx, offsetInSeg, 'missing-long-header', false)
  }

  // xlp_pageaddr must equal the page's own LSN
  const addrLo = buf.readUInt32LE(off + 8)
  const addrHi = buf.readUInt32LE(off + 12)
  const expHi = Math.floor(pageIdx / PAGES_PER_4G)
  const expLo = (pageIdx - expHi * PAGES_PER_4G) * XLOG_BLCKSZ
  if (addrLo !== expLo || addrHi !== expHi) {
    const older = addrHi < expHi || (addrHi === expHi && addrLo < expLo)
    const addr = (BigInt(addrHi) << 32n) | BigInt(addrLo)
    throw pageError('WAL_INVALID_PAGE', `unexpected pageaddr ${formatLsn(addr)}`, ctx, segNo, pageIdx, offsetInSeg,
      older ? 'stale-pageaddr' : 'bad-pageaddr', older)
  }

  if (seq !== null) {
    const tli = buf.readUInt32LE(off + 4)
    if (pageIdx > seq.latestPageIdx && tli < seq.latestPageTli) {
      throw pageError('WAL_INVALID_PAGE', `out-of-sequence timeline ID ${tli} (after ${seq.latestPageTli})`, ctx, segNo, pageIdx, offsetInSeg,
        'tli-out-of-sequence', false)
    }
    seq.latestPageIdx = pageIdx
    seq.latestPageTli = tli
  }
  return headerSize
}

function pageError (code: 'WAL_END' | 'WAL_INVALID_PAGE', what: string, ctx: PageCheckContext, segNo: number, pageIdx: number,
  offsetInSeg: number, reason: string, cleanEnd: boolean): PgRewindError {
  const fileName = walFileName(ctx.fileTli, BigInt(segNo), ctx.segSize)
  const lsn = formatLsn(pageIdxToLsn(pageIdx))
  return new PgRewindError(code, `${what} in WAL segment ${fileName}, LSN ${lsn}, offset ${offsetInSeg}`,
    { data: { file: fileName, lsn, offset: offsetInSeg, reason, cleanEnd } })
}
