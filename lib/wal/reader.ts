import { PgRewindError, isPgRewindError } from '../errors'
import { formatLsn, isValidSegmentSize, walFileName, type Lsn } from '../format/lsn'
import {
  newPageSequenceState, pagePosText, validatePageHeader, XLP_FIRST_IS_CONTRECORD, XLP_FIRST_IS_OVERWRITE_CONTRECORD,
  SIZE_OF_LONG_PHD, SIZE_OF_SHORT_PHD, type PageCheckContext, type PageSequenceState
} from './page'
import {
  checkAndDecodeRecord, invalidLengthError, MAX_RECORD_LENGTH, recordDecodeContext, SIZE_OF_XLOG_RECORD,
  u32, validateRecordHeader, WalRecord, type RecordDecodeContext
} from './record'
import { decodeCheckpointRecord, isCheckpointRecord, RM_XLOG_ID, XLOG_SWITCH } from './payloads'
import type { TimelineHistoryEntry } from '../format/timeline'
import { XLOG_BLCKSZ, type VersionInfo } from '../format/versions'

/**
 * A pure, synchronous WAL reader (the part of xlogreader.c + pg_rewind's parsexlog.c
 * that pg_rewind uses), over a page-provider port: src/backend/access/transam/xlogreader.c
 * and src/bin/pg_rewind/parsexlog.c.
 *
 * - segment files are chosen per segment from a timeline history, as pg_rewind's
 *   SimpleXLogPageRead does (the newest timeline whose range covers the segment's end);
 * - every page header is validated when the reader moves onto that page, and the first
 *   page of a segment whenever a new segment is entered;
 * - random access (`readRecord`, `beginRead`): xl_prev must be < the record's LSN;
 *   sequential (`next`): xl_prev must equal the previous record's start;
 * - records spanning pages and segments are assembled in one growable buffer; records
 *   contained in one page are decoded in place (no copy). Every CRC is checked.
 *
 * The returned WalRecord is owned by the reader and overwritten by the next read; its
 * buffers (main data, block data) are only valid until then.
 *
 * Positions are (page index = LSN / 8192, offset in page) pairs of plain numbers, exact
 * for every 64-bit LSN; bigint LSNs appear only at the API boundary.
 */

/** The port the reader reads WAL through. */
export interface WalPageSource {
  /**
   * Bytes of the WAL segment file of timeline `tli`, segment `segNo`, starting at
   * `offsetInSegment`: at least `length` bytes, or fewer only if the file ends first.
   * May return more (up to the end of the segment). The buffer only has to stay valid
   * until the next call. Throws PgRewindError WAL_MISSING when the file does not exist.
   */
  readPage: (tli: number, segNo: bigint, offsetInSegment: number, length: number) => Buffer
}

export interface WalReaderOptions {
  version: VersionInfo
  /** WAL segment size (pg_control xlog_seg_size) */
  segSize: number
  /** pg_control system identifier, checked against long page headers; null = not checked */
  sysid?: bigint | null
  /** timeline history, oldest first (as parsed from the newest .history file, plus the tip) */
  timelines?: readonly TimelineHistoryEntry[]
  /** with no history: the only timeline (default 1) */
  tli?: number
  /** index into `timelines` to start from (pg_rewind passes one); default: the newest */
  tliIndex?: number
}

/** Result of scanning to the end of WAL. */
export interface WalScanEnd {
  /** end (EndRecPtr) of the last record read; the start position if none was read */
  end: Lsn
  /** start of the last record read, null if none */
  lastRecord: Lsn | null
  records: number
  /** what stopped the scan */
  stop: PgRewindError
  /** true when the stop looks like an ordinary end of WAL (zero-filled space, recycled or missing segment) */
  clean: boolean
}

export interface CheckpointLocation {
  /** LSN of the checkpoint record */
  lsn: Lsn
  /** checkpoint's ThisTimeLineID */
  tli: number
  /** checkpoint's REDO pointer */
  redo: Lsn
}

const BLCKSZ = XLOG_BLCKSZ
const BLCKSZ_N = BigInt(XLOG_BLCKSZ)
const INITIAL_ASM = 64 * 1024
const SHRINK_ABOVE = 4 * 1024 * 1024

function posLsn (page: number, off: number): Lsn {
  return BigInt(page) * BLCKSZ_N + BigInt(off)
}

function markNotClean (e: unknown): unknown {
  if (isPgRewindError(e) && e.data !== undefined) e.data.cleanEnd = false
  return e
}

/** Re-throw `e` with pg_rewind's context prefix, keeping its code and data. */
function withContext (prefix: string, e: unknown): unknown {
  if (!isPgRewindError(e)) return e
  return new PgRewindError(e.code, `${prefix}: ${e.message}`, { detail: e.detail, hint: e.hint, data: e.data })
}

export class WalReader {
  readonly version: VersionInfo
  readonly segSize: number
  private readonly src: WalPageSource
  private readonly ctx: RecordDecodeContext
  private readonly pagesPerSeg: number
  private readonly pageCtx: PageCheckContext
  private readonly seq: PageSequenceState = newPageSequenceState()
  private readonly history: readonly TimelineHistoryEntry[] | null
  private readonly singleTli: number
  private tliIndex: number

  // current chunk from the source
  private chunk: Buffer | null = null
  private chunkSegNo = -1
  private chunkTli = -1
  private chunkStart = 0
  // current segment (first page validated) and current page (validated)
  private curSegNo = -1
  private curSegTli = 0
  private curPageIdx = -1
  private pbuf: Buffer = Buffer.alloc(0)
  private poff = 0
  private curHdrSize = SIZE_OF_SHORT_PHD
  private curInfo = 0
  private curRemLen = 0

  private asm: Buffer = Buffer.alloc(INITIAL_ASM)
  private readonly rec = new WalRecord()

  // read position
  private positioned = false
  private randAccess = true
  private nextPage = 0
  private nextOff = 0
  private prevPage = 0
  private prevOff = 0
  private haveRecord = false
  /** start of a record abandoned because of XLP_FIRST_IS_OVERWRITE_CONTRECORD, if the last read met one */
  private overwrittenPage = -1
  private overwrittenOff = 0

  constructor (source: WalPageSource, opts: WalReaderOptions) {
    if (!isValidSegmentSize(opts.segSize)) {
      throw new PgRewindError('INVALID_SEGMENT_SIZE', `invalid WAL segment size ${opts.segSize} bytes`,
        { detail: 'The WAL segment size must be a power of two between 1 MB and 1 GB.' })
    }
    this.src = source
    this.version = opts.version
    this.segSize = opts.segSize
    this.ctx = recordDecodeContext(opts.version)
    this.pagesPerSeg = opts.segSize / BLCKSZ
    this.pageCtx = { magic: opts.version.walPageMagic, segSize: opts.segSize, sysid: opts.sysid ?? null, fileTli: 0 }
    if (opts.timelines !== undefined && opts.timelines.length > 0) {
      this.history = opts.timelines
      const idx = opts.tliIndex ?? opts.timelines.length - 1
      if (!Number.isInteger(idx) || idx < 0 || idx >= opts.timelines.length) {
        throw new PgRewindError('INTERNAL', `timeline index ${idx} out of range (history has ${opts.timelines.length} entries)`)
      }
      this.tliIndex = idx
      this.singleTli = opts.timelines[idx].tli
    } else {
      this.history = null
      this.tliIndex = 0
      this.singleTli = opts.tli ?? 1
    }
  }

  // ── positions ─────────────────────────────────────────────────────────────────

  /** EndRecPtr: end of the last record read (next record position, MAXALIGNed; segment end after a SWITCH). */
  get endRecPtr (): Lsn {
    return posLsn(this.nextPage, this.nextOff)
  }

  /** ReadRecPtr: start of the last record read, or null. */
  get readRecPtr (): Lsn | null {
    return this.haveRecord ? posLsn(this.prevPage, this.prevOff) : null
  }

  /** LSN of the record abandoned at an XLP_FIRST_IS_OVERWRITE_CONTRECORD page during the last read, or null. */
  get overwrittenRecPtr (): Lsn | null {
    return this.overwrittenPage < 0 ? null : posLsn(this.overwrittenPage, this.overwrittenOff)
  }

  /** Timeline whose file the reader last read from. */
  get currentTli (): number {
    return this.curSegTli
  }

  /**
   * Position the reader at `lsn` (a record start, or a page start: the page header is
   * skipped). The next record is read with random-access checks (xl_prev < lsn).
   */
  beginRead (lsn: Lsn): void {
    if (lsn <= 0n || lsn % 8n !== 0n || lsn >= (1n << 64n)) {
      throw new PgRewindError('INVALID_LSN', `WAL location ${formatLsn(lsn & 0xFFFFFFFFFFFFFFFFn)} is not a valid record start`, { data: { lsn: formatLsn(lsn & 0xFFFFFFFFFFFFFFFFn) } })
    }
    this.nextPage = Number(lsn / BLCKSZ_N)
    this.nextOff = Number(lsn % BLCKSZ_N)
    this.randAccess = true
    this.positioned = true
    this.haveRecord = false
  }

  /** Read the record at `lsn` (random access). */
  readRecord (lsn: Lsn): WalRecord {
    this.beginRead(lsn)
    return this.next()
  }

  /**
   * Read the next record: the one at the position given to beginRead, then each
   * following one (xl_prev must equal the previous record's start). Throws a
   * PgRewindError (WAL_END, WAL_MISSING, WAL_READ, WAL_INVALID_PAGE, WAL_INVALID_RECORD,
   * WAL_CRC) whose data has lsn, reason and cleanEnd.
   */
  next (): WalRecord {
    if (!this.positioned) throw new PgRewindError('INTERNAL', 'WAL reader not positioned (call beginRead first)')
    const rec = this.rec
    const vi = this.version
    const expectPrev = this.randAccess ? null : this.prevPage
    const expectPrevOff = this.prevOff
    let recPage = this.nextPage
    let recOff = this.nextOff
    this.overwrittenPage = -1

    for (;;) { // restart point (XLP_FIRST_IS_OVERWRITE_CONTRECORD)
      this.loadPageAtRecordStart(recPage)
      const hdr = this.curHdrSize
      if (recOff === 0) {
        recOff = hdr
      } else if (recOff < hdr) {
        const at = pagePosText(recPage, recOff)
        throw new PgRewindError('WAL_INVALID_RECORD', `invalid record offset at ${at}: expected at least ${hdr}, got ${recOff}`,
          { data: { lsn: at, reason: 'offset-in-page-header', cleanEnd: false } })
      }
      if ((this.curInfo & XLP_FIRST_IS_CONTRECORD) !== 0 && recOff === hdr) {
        const at = pagePosText(recPage, recOff)
        throw new PgRewindError('WAL_INVALID_RECORD', `contrecord is requested by ${at}`, { data: { lsn: at, reason: 'contrecord-requested', cleanEnd: false } })
      }
      const pbuf = this.pbuf
      const at = this.poff + recOff
      const totLen = u32(pbuf, at)
      const avail = BLCKSZ - recOff
      let gotHeader = false
      if (avail >= SIZE_OF_XLOG_RECORD) {
        validateRecordHeader(pbuf, at, recPage, recOff, expectPrev, expectPrevOff, vi)
        gotHeader = true
      } else if (totLen < SIZE_OF_XLOG_RECORD) {
        throw invalidLengthError(recPage, recOff, totLen)
      }
      rec.lsnPage = recPage
      rec.lsnOff = recOff
      rec.totLen = totLen
      let endPage: number
      let endOff: number
      if (totLen <= avail) {
        rec.buf = pbuf
        rec.start = at
        endPage = recPage
        endOff = recOff + ((totLen + 7) & ~7)
      } else {
        // assemble a record spanning pages
        let asm = this.asm
        if (asm.length > SHRINK_ABOVE && totLen <= INITIAL_ASM) {
          asm = this.asm = Buffer.alloc(INITIAL_ASM)
        }
        pbuf.copy(asm, 0, at, at + avail)
        let gotLen = avail
        let page = recPage
        let restart = false
        try {
          do {
            page++
            this.loadPage(page)
            const info = this.curInfo
            if ((info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) !== 0) {
              this.overwrittenPage = recPage
              this.overwrittenOff = recOff
              restart = true
              break
            }
            if ((info & XLP_FIRST_IS_CONTRECORD) === 0) {
              const r = pagePosText(recPage, recOff)
              throw new PgRewindError('WAL_INVALID_RECORD', `there is no contrecord flag at ${r}`, { data: { lsn: r, reason: 'missing-contrecord', cleanEnd: false } })
            }
            const rem = this.curRemLen
            if (rem === 0 || totLen !== rem + gotLen) {
              const r = pagePosText(recPage, recOff)
              throw new PgRewindError('WAL_INVALID_RECORD', `invalid contrecord length ${rem} (expected ${totLen - gotLen}) at ${r}`,
                { data: { lsn: r, reason: 'bad-contrecord-length', cleanEnd: false } })
            }
            if (asm.length < totLen) {
              if (totLen > MAX_RECORD_LENGTH) {
                const r = pagePosText(recPage, recOff)
                throw new PgRewindError('WAL_INVALID_RECORD', `record length ${totLen} at ${r} too long`, { data: { lsn: r, reason: 'too-long', cleanEnd: false } })
              }
              const bigger = Buffer.allocUnsafe(Math.max(totLen, Math.min(asm.length * 2, MAX_RECORD_LENGTH)))
              asm.copy(bigger, 0, 0, gotLen)
              asm = this.asm = bigger
            }
            const h2 = this.curHdrSize
            let len = BLCKSZ - h2
            if (rem < len) len = rem
            this.pbuf.copy(asm, gotLen, this.poff + h2, this.poff + h2 + len)
            gotLen += len
            if (!gotHeader) {
              validateRecordHeader(asm, 0, recPage, recOff, expectPrev, expectPrevOff, vi)
              gotHeader = true
            }
          } while (gotLen < totLen)
        } catch (e) {
          throw markNotClean(e)
        }
        if (restart) {
          recPage = page
          recOff = 0
          continue
        }
        rec.buf = asm
        rec.start = 0
        endPage = page
        endOff = this.curHdrSize + ((this.curRemLen + 7) & ~7)
      }

      checkAndDecodeRecord(rec, this.ctx)

      if (endOff >= BLCKSZ) {
        endPage += 1
        endOff = 0
      }
      if (rec.rmid === RM_XLOG_ID && (rec.info & 0xF0) === XLOG_SWITCH) {
        // pretend the record extends to the end of its segment
        if (endOff !== 0 || endPage % this.pagesPerSeg !== 0) {
          endPage = (Math.floor(endPage / this.pagesPerSeg) + 1) * this.pagesPerSeg
          endOff = 0
        }
      }
      rec.endPage = endPage
      rec.endOff = endOff
      this.prevPage = recPage
      this.prevOff = recOff
      this.nextPage = endPage
      this.nextOff = endOff
      this.randAccess = false
      this.haveRecord = true
      return rec
    }
  }

  // ── pg_rewind-shaped operations ───────────────────────────────────────────────

  /** readOneRecord: the end (EndRecPtr) of the record at `lsn`. Errors: "could not read WAL record at X/X: …". */
  readOneRecordEnd (lsn: Lsn): Lsn {
    try {
      return this.readRecord(lsn).end
    } catch (e) {
      throw withContext(`could not read WAL record at ${formatLsn(lsn)}`, e)
    }
  }

  /**
   * extractPageMap's loop: read from `start` (random access) and call `onRecord` for each
   * record until the reader's end pointer reaches `end`; then the end pointer must equal
   * `end` exactly (WAL_END "end pointer X/X is not a valid end point; expected X/X").
   * Like pg_rewind, at least one record is read. Read errors: "could not read WAL record at X/X: …".
   */
  readUntil (start: Lsn, end: Lsn, onRecord: (rec: WalRecord) => void): void {
    this.beginRead(start)
    const endPage = Number(end / BLCKSZ_N)
    const endOff = Number(end % BLCKSZ_N)
    let first = true
    for (;;) {
      let rec: WalRecord
      try {
        rec = this.next()
      } catch (e) {
        const errptr = first ? start : this.endRecPtr
        throw withContext(`could not read WAL record at ${formatLsn(errptr)}`, e)
      }
      first = false
      onRecord(rec)
      if (this.nextPage > endPage || (this.nextPage === endPage && this.nextOff >= endOff)) break
    }
    if (this.nextPage !== endPage || this.nextOff !== endOff) {
      throw new PgRewindError('WAL_END', `end pointer ${formatLsn(end)} is not a valid end point; expected ${formatLsn(this.endRecPtr)}`,
        { data: { lsn: formatLsn(end), expected: formatLsn(this.endRecPtr), reason: 'invalid-end-point' } })
    }
  }

  /**
   * Read forward from `start` until the WAL ends. Never throws for a read failure: the
   * failure is returned as `stop`, with `clean` telling an ordinary end of WAL (zero-filled
   * space, a recycled segment's stale page, a missing next segment) from corruption.
   */
  scanToEnd (start: Lsn, onRecord?: (rec: WalRecord) => void): WalScanEnd {
    this.beginRead(start)
    let records = 0
    for (;;) {
      let rec: WalRecord
      try {
        rec = this.next()
      } catch (e) {
        if (!isPgRewindError(e)) throw e
        return {
          end: records > 0 ? this.endRecPtr : start,
          lastRecord: records > 0 ? this.readRecPtr : null,
          records,
          stop: e,
          clean: e.data?.cleanEnd === true
        }
      }
      records++
      if (onRecord !== undefined) onRecord(rec)
    }
  }

  /**
   * Walk backwards along xl_prev from the record at `from` (if `from` is a page start,
   * the page header is skipped first, as findLastCheckpoint does), reading each record
   * with random-access checks, until `visit` returns true; returns that record.
   * Errors: "could not find previous WAL record at X/X: …".
   */
  walkBackward (from: Lsn, visit: (rec: WalRecord, lsn: Lsn) => boolean): WalRecord {
    let ptr = this.skipPageHeader(from)
    for (;;) {
      let rec: WalRecord
      try {
        rec = this.readRecord(ptr)
      } catch (e) {
        throw withContext(`could not find previous WAL record at ${formatLsn(ptr)}`, e)
      }
      if (visit(rec, ptr)) return rec
      ptr = rec.prev
    }
  }

  /**
   * findLastCheckpoint: the last checkpoint record (shutdown or online) strictly before
   * `forkPtr`, walking backwards from the record at `forkPtr` (never accepted itself).
   */
  findLastCheckpoint (forkPtr: Lsn): CheckpointLocation {
    const fork = this.skipPageHeader(forkPtr)
    let found: CheckpointLocation | null = null
    this.walkBackward(fork, (rec, lsn) => {
      if (lsn < fork && isCheckpointRecord(rec)) {
        const cp = decodeCheckpointRecord(rec, this.version)
        found = { lsn, tli: cp.thisTimeLineID, redo: cp.redo }
        return true
      }
      return false
    })
    return found as unknown as CheckpointLocation
  }

  /**
   * XLogFindNextRecord: the first valid record starting at or after `lsn` (which need not
   * be a record boundary; continuation data at page starts is skipped). The reader is left
   * positioned to read that record. Throws like next().
   */
  findNextRecord (lsn: Lsn): Lsn {
    let page = Number(lsn / BLCKSZ_N)
    let start: Lsn
    for (;;) {
      this.loadPage(page)
      if ((this.curInfo & XLP_FIRST_IS_CONTRECORD) !== 0) {
        const rem = (this.curRemLen + 7) & ~7
        if (rem >= BLCKSZ - this.curHdrSize) {
          page++
          continue
        }
        start = posLsn(page, this.curHdrSize + rem)
      } else {
        start = posLsn(page, this.curHdrSize)
      }
      break
    }
    this.beginRead(start)
    for (;;) {
      const rec = this.next()
      const at = rec.lsn
      if (at >= lsn) {
        this.beginRead(at)
        return at
      }
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────────

  private skipPageHeader (lsn: Lsn): Lsn {
    if (lsn % BLCKSZ_N !== 0n) return lsn
    return lsn + BigInt(lsn % BigInt(this.segSize) === 0n ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD)
  }

  /** pg_rewind's per-segment timeline choice (SimpleXLogPageRead), keeping its moving index. */
  private tliForSegment (segNo: number): number {
    const h = this.history
    if (h === null) return this.singleTli
    const segEnd = BigInt(segNo + 1) * BigInt(this.segSize)
    let i = this.tliIndex
    for (;;) {
      const e = h[i].end
      if (i < h.length - 1 && e !== 0n && e < segEnd) i++
      else break
    }
    while (i > 0 && h[i].begin >= segEnd) i--
    this.tliIndex = i
    return h[i].tli
  }

  /** Load the page holding a record start; failures here that look like the end of WAL keep cleanEnd. */
  private loadPageAtRecordStart (pageIdx: number): void {
    try {
      this.loadPage(pageIdx)
    } catch (e) {
      if (isPgRewindError(e) && e.code === 'WAL_MISSING') {
        const data = e.data ?? {}
        data.cleanEnd = true
        data.lsn ??= pagePosText(pageIdx, 0)
        throw new PgRewindError(e.code, e.message, { detail: e.detail, hint: e.hint, data })
      }
      throw e
    }
  }

  /** Make page `pageIdx` current (pbuf/poff) and validated. */
  private loadPage (pageIdx: number): void {
    if (pageIdx === this.curPageIdx) return
    this.curPageIdx = -1
    const segNo = Math.floor(pageIdx / this.pagesPerSeg)
    const pageInSeg = pageIdx - segNo * this.pagesPerSeg
    if (segNo !== this.curSegNo) {
      this.curSegNo = -1
      const tli = this.tliForSegment(segNo)
      this.curSegTli = tli
      this.pageCtx.fileTli = tli
      if (pageInSeg !== 0) {
        // entering a segment: validate its first (long) header too
        this.fetch(segNo, tli, 0)
        validatePageHeader(this.pbuf, this.poff, segNo * this.pagesPerSeg, this.pageCtx, this.seq)
      }
      this.curSegNo = segNo
    }
    this.fetch(segNo, this.curSegTli, pageInSeg)
    const b = this.pbuf
    const o = this.poff
    this.curHdrSize = validatePageHeader(b, o, pageIdx, this.pageCtx, this.seq)
    this.curInfo = b[o + 2] | (b[o + 3] << 8)
    this.curRemLen = b.readUInt32LE(o + 16)
    this.curPageIdx = pageIdx
  }

  private fetch (segNo: number, tli: number, pageInSeg: number): void {
    const off = pageInSeg * BLCKSZ
    const c = this.chunk
    if (c !== null && this.chunkSegNo === segNo && this.chunkTli === tli && off >= this.chunkStart && off + BLCKSZ <= this.chunkStart + c.length) {
      this.pbuf = c
      this.poff = off - this.chunkStart
      return
    }
    this.chunk = null
    this.curPageIdx = -1
    let b: Buffer
    try {
      b = this.src.readPage(tli, BigInt(segNo), off, BLCKSZ)
    } catch (e) {
      if (isPgRewindError(e)) throw e
      const err = e as NodeJS.ErrnoException
      const name = walFileName(tli, BigInt(segNo), this.segSize)
      throw new PgRewindError('WAL_READ', `could not read file "${name}": ${err?.message ?? String(e)}`, { data: { file: name, lsn: pagePosText(segNo * this.pagesPerSeg + pageInSeg, 0), errno: err?.code } })
    }
    if (b.length < BLCKSZ) {
      const name = walFileName(tli, BigInt(segNo), this.segSize)
      throw new PgRewindError('WAL_READ', `could not read file "${name}": read ${b.length} of ${BLCKSZ}`,
        { data: { file: name, offset: off, lsn: pagePosText(segNo * this.pagesPerSeg + pageInSeg, 0), reason: 'short-read', cleanEnd: false } })
    }
    const maxLen = this.segSize - off
    if (b.length > maxLen) b = b.subarray(0, maxLen)
    this.chunk = b
    this.chunkSegNo = segNo
    this.chunkTli = tli
    this.chunkStart = off
    this.pbuf = b
    this.poff = 0
  }
}
