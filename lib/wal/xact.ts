import type { RelFileLocator } from '../format/relpath'
import type { VersionInfo } from '../format/versions'
import {
  isXactCommitOrAbort, payloadError, RecordKey, requireKind, RM_XACT_ID, XLOG_XACT_ABORT, XLOG_XACT_ABORT_PREPARED, XLOG_XACT_ASSIGNMENT, XLOG_XACT_COMMIT,
  XLOG_XACT_COMMIT_PREPARED, XLOG_XACT_HAS_INFO, XLOG_XACT_INVALIDATIONS, XLOG_XACT_OPMASK, XLOG_XACT_PREPARE
} from './payloads'
import type { WalRecord } from './record'
import { readRelFileLocator } from './smgr'

/**
 * Transaction records (src/include/access/xact.h; parsed as xactdesc.c's
 * ParseCommitRecord, ParseAbortRecord and ParsePrepareRecord do): how a transaction
 * ended, when, with which subtransactions, and which relation files it dropped.
 * Per-version sizes come from versions.ts (xactStatsItemSize, twoPhaseHeaderSize).
 */

export type XactOp = 'COMMIT' | 'PREPARE' | 'ABORT' | 'COMMIT_PREPARED' | 'ABORT_PREPARED' | 'ASSIGNMENT' | 'INVALIDATIONS'

/** Opcode of an XACT record ((info & 0xF0) & OPMASK), or null if not XACT / unknown for the version. */
export function xactOp (r: RecordKey, vi: VersionInfo): XactOp | null {
  if (r.rmid !== RM_XACT_ID) return null
  switch (r.info & XLOG_XACT_OPMASK) {
    case XLOG_XACT_COMMIT: return 'COMMIT'
    case XLOG_XACT_PREPARE: return 'PREPARE'
    case XLOG_XACT_ABORT: return 'ABORT'
    case XLOG_XACT_COMMIT_PREPARED: return 'COMMIT_PREPARED'
    case XLOG_XACT_ABORT_PREPARED: return 'ABORT_PREPARED'
    case XLOG_XACT_ASSIGNMENT: return 'ASSIGNMENT'
    case XLOG_XACT_INVALIDATIONS: return vi.hasXactInvalidations ? 'INVALIDATIONS' : null
    default: return null
  }
}

// xl_xact_xinfo.xinfo bits
export const XACT_XINFO_HAS_DBINFO = 1 << 0
export const XACT_XINFO_HAS_SUBXACTS = 1 << 1
/** XACT_XINFO_HAS_RELFILENODES (13–15) / _RELFILELOCATORS (16+) */
export const XACT_XINFO_HAS_RELFILELOCATORS = 1 << 2
export const XACT_XINFO_HAS_INVALS = 1 << 3
export const XACT_XINFO_HAS_TWOPHASE = 1 << 4
export const XACT_XINFO_HAS_ORIGIN = 1 << 5
export const XACT_XINFO_HAS_AE_LOCKS = 1 << 6
export const XACT_XINFO_HAS_GID = 1 << 7
/** 15+ */
export const XACT_XINFO_HAS_DROPPED_STATS = 1 << 8

/** sizeof(SharedInvalidationMessage) */
const SIZE_OF_INVAL_MSG = 16
const SIZE_OF_RELFILELOCATOR = 12
const SIZE_OF_XACT_ORIGIN = 16
/** GIDSIZE: a prepared transaction's identifier is shorter than this */
const GIDSIZE = 200

/** A COMMIT, ABORT, COMMIT_PREPARED or ABORT_PREPARED record. */
export interface XactEnd {
  committed: boolean
  /** COMMIT_PREPARED / ABORT_PREPARED: the end of a transaction prepared earlier */
  prepared: boolean
  /** the transaction that ended: the record's xid, or the prepared transaction's */
  xid: number
  /** TimestampTz of the commit or abort */
  time: bigint
  xinfo: number
  /** dbinfo, when the record carries it (XACT_XINFO_HAS_DBINFO) */
  dbId: number | null
  /** its subtransactions that committed (commit) or aborted with it (abort) */
  subxacts: number[]
  /** relation files deleted at this commit (DROP, TRUNCATE, rewrites) or abort (files it had created) */
  rels: RelFileLocator[]
  /** prepared transactions: the GID, when the record carries it */
  gid: string | null
}

export interface XactPrepare {
  xid: number
  dbId: number
  /** TimestampTz */
  preparedAt: bigint
  gid: string
  subxacts: number[]
}

export interface XactAssignment {
  top: number
  subxacts: number[]
}

/** Reads an int32 count at `o` and checks that `n × size` more bytes fit before `end`. */
function countAt (rec: WalRecord, what: string, o: number, size: number, end: number): number {
  if (o + 4 > end) throw payloadError(rec, what, rec.mainDataLength, `more (a count at byte ${o - rec.mainDataOffset})`)
  const n = rec.buf.readInt32LE(o)
  if (n < 0 || o + 4 + n * size > end) throw payloadError(rec, what, rec.mainDataLength, `room for ${n} items of ${size} bytes at byte ${o - rec.mainDataOffset}`)
  return n
}

function u32s (b: Buffer, o: number, n: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(b.readUInt32LE(o + 4 * i))
  return out
}

function rels (b: Buffer, o: number, n: number): RelFileLocator[] {
  const out: RelFileLocator[] = []
  for (let i = 0; i < n; i++) out.push(readRelFileLocator(b, o + SIZE_OF_RELFILELOCATOR * i))
  return out
}

/**
 * A commit or abort record, every optional part in ParseCommitRecord's order; the
 * parts must account for the main data exactly (so a wrong per-version size shows).
 */
export function decodeXactEnd (rec: WalRecord, vi: VersionInfo): XactEnd {
  requireKind(rec, isXactCommitOrAbort(rec), 'transaction commit or abort')
  const op = rec.info & XLOG_XACT_OPMASK
  const committed = op === XLOG_XACT_COMMIT || op === XLOG_XACT_COMMIT_PREPARED
  const what = committed ? 'COMMIT' : 'ABORT'
  const b = rec.buf
  const end = rec.mainDataOffset + rec.mainDataLength
  let o = rec.mainDataOffset
  if (rec.mainDataLength < 8) throw payloadError(rec, what, rec.mainDataLength, 'at least 8')
  const time = b.readBigInt64LE(o)
  o += 8
  let xinfo = 0
  if ((rec.info & XLOG_XACT_HAS_INFO) !== 0) {
    if (o + 4 > end) throw payloadError(rec, what, rec.mainDataLength, 'at least 12')
    xinfo = b.readUInt32LE(o)
    o += 4
  }
  let dbId: number | null = null
  if ((xinfo & XACT_XINFO_HAS_DBINFO) !== 0) {
    if (o + 8 > end) throw payloadError(rec, what, rec.mainDataLength, 'room for dbinfo')
    dbId = b.readUInt32LE(o)
    o += 8
  }
  let subxacts: number[] = []
  if ((xinfo & XACT_XINFO_HAS_SUBXACTS) !== 0) {
    const n = countAt(rec, what, o, 4, end)
    subxacts = u32s(b, o + 4, n)
    o += 4 + 4 * n
  }
  let dropped: RelFileLocator[] = []
  if ((xinfo & XACT_XINFO_HAS_RELFILELOCATORS) !== 0) {
    const n = countAt(rec, what, o, SIZE_OF_RELFILELOCATOR, end)
    dropped = rels(b, o + 4, n)
    o += 4 + SIZE_OF_RELFILELOCATOR * n
  }
  if ((xinfo & XACT_XINFO_HAS_DROPPED_STATS) !== 0) {
    if (vi.xactStatsItemSize === null) throw payloadError(rec, what, rec.mainDataLength, `no dropped-stats part on PostgreSQL ${vi.major}`)
    const n = countAt(rec, what, o, vi.xactStatsItemSize, end)
    o += 4 + vi.xactStatsItemSize * n
  }
  if (committed && (xinfo & XACT_XINFO_HAS_INVALS) !== 0) {
    const n = countAt(rec, what, o, SIZE_OF_INVAL_MSG, end)
    o += 4 + SIZE_OF_INVAL_MSG * n
  }
  let xid = rec.xid
  let gid: string | null = null
  if ((xinfo & XACT_XINFO_HAS_TWOPHASE) !== 0) {
    if (o + 4 > end) throw payloadError(rec, what, rec.mainDataLength, 'room for the prepared transaction\'s xid')
    xid = b.readUInt32LE(o)
    o += 4
    if ((xinfo & XACT_XINFO_HAS_GID) !== 0) {
      const nul = b.indexOf(0, o)
      if (nul < 0 || nul >= end) throw payloadError(rec, what, rec.mainDataLength, 'a NUL-terminated GID')
      gid = b.toString('utf8', o, nul)
      o = nul + 1
    }
  }
  if ((xinfo & XACT_XINFO_HAS_ORIGIN) !== 0) o += SIZE_OF_XACT_ORIGIN
  if (o !== end) throw payloadError(rec, what, rec.mainDataLength, `${o - rec.mainDataOffset} (xinfo 0x${xinfo.toString(16)})`)
  const prepared = op === XLOG_XACT_COMMIT_PREPARED || op === XLOG_XACT_ABORT_PREPARED
  return { committed, prepared, xid, time, xinfo, dbId, subxacts, rels: dropped, gid }
}

const maxAlign = (n: number): number => (n + 7) & ~7

/**
 * A PREPARE record: the two-phase state file's contents (twophase.c), an
 * xl_xact_prepare header, then the GID and the subtransaction xids, each part
 * padded to MAXALIGN.
 */
export function decodeXactPrepare (rec: WalRecord, vi: VersionInfo): XactPrepare {
  requireKind(rec, xactOp(rec, vi) === 'PREPARE', 'transaction PREPARE')
  const hs = vi.twoPhaseHeaderSize
  const b = rec.buf
  const o = rec.mainDataOffset
  if (rec.mainDataLength < hs) throw payloadError(rec, 'PREPARE', rec.mainDataLength, `at least ${hs}`)
  const xid = b.readUInt32LE(o + 8)
  const dbId = b.readUInt32LE(o + 12)
  const preparedAt = b.readBigInt64LE(o + 16)
  const nsubxacts = b.readInt32LE(o + 28)
  // gidlen is followed by origin_lsn and origin_timestamp, the header's last fields
  const gidlen = b.readUInt16LE(o + hs - 18)
  const gidAt = maxAlign(hs)
  const subAt = gidAt + maxAlign(gidlen)
  if (xid !== rec.xid || gidlen < 1 || gidlen > GIDSIZE || nsubxacts < 0 || subAt + 4 * nsubxacts > rec.mainDataLength) {
    throw payloadError(rec, 'PREPARE', rec.mainDataLength, `a two-phase state for xid ${rec.xid} (header says xid ${xid}, gidlen ${gidlen}, ${nsubxacts} subtransactions)`)
  }
  const gidEnd = b.indexOf(0, o + gidAt)
  const gid = b.toString('utf8', o + gidAt, gidEnd >= 0 && gidEnd < o + gidAt + gidlen ? gidEnd : o + gidAt + gidlen)
  return { xid, dbId, preparedAt, gid, subxacts: u32s(b, o + subAt, nsubxacts) }
}

/** xl_xact_assignment: a top-level transaction's subtransaction xids (logged every 64 under hot standby). */
export function decodeXactAssignment (rec: WalRecord, vi: VersionInfo): XactAssignment {
  requireKind(rec, xactOp(rec, vi) === 'ASSIGNMENT', 'transaction ASSIGNMENT')
  const o = rec.mainDataOffset
  const end = o + rec.mainDataLength
  if (rec.mainDataLength < 8) throw payloadError(rec, 'ASSIGNMENT', rec.mainDataLength, 'at least 8')
  const n = countAt(rec, 'ASSIGNMENT', o + 4, 4, end)
  return { top: rec.buf.readUInt32LE(o), subxacts: u32s(rec.buf, o + 8, n) }
}
