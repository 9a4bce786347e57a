import type { VersionInfo } from '../../lib/format/versions'
import type { Lsn } from '../../lib/format/lsn'
import { XLR_RMGR_INFO_MASK, type WalRecord } from '../../lib/wal/record'
import {
  dbaseKind, payloadError, RecordKey, requireKind, RM_DBASE_ID, RM_SMGR_ID, RM_XACT_ID, RM_XLOG_ID, XLOG_CHECKPOINT_REDO,
  XLOG_END_OF_RECOVERY, XLOG_OVERWRITE_CONTRECORD, XLOG_SMGR_CREATE, XLOG_SMGR_TRUNCATE, XLOG_SWITCH, XLOG_XACT_ABORT,
  XLOG_XACT_ABORT_PREPARED, XLOG_XACT_ASSIGNMENT, XLOG_XACT_COMMIT, XLOG_XACT_COMMIT_PREPARED, XLOG_XACT_INVALIDATIONS,
  XLOG_XACT_OPMASK, XLOG_XACT_PREPARE
} from '../../lib/wal/payloads'

/**
 * pg_waldump's view of the records the rewind classifies: names and payload
 * decoders, for the tests that compare our decoding with pg_waldump's (the rewind
 * itself needs only lib/wal/payloads.ts).
 */

export function isSwitchRecord (r: RecordKey): boolean {
  return r.rmid === RM_XLOG_ID && (r.info & XLR_RMGR_INFO_MASK) === XLOG_SWITCH
}

export function isEndOfRecoveryRecord (r: RecordKey): boolean {
  return r.rmid === RM_XLOG_ID && (r.info & XLR_RMGR_INFO_MASK) === XLOG_END_OF_RECOVERY
}

export interface EndOfRecovery {
  /** TimestampTz: microseconds since 2000-01-01 */
  endTime: bigint
  thisTimeLineId: number
  prevTimeLineId: number
  /** 17+ */
  walLevel: number | null
}

export function decodeEndOfRecovery (rec: WalRecord, vi: VersionInfo): EndOfRecovery {
  requireKind(rec, isEndOfRecoveryRecord(rec), 'end-of-recovery')
  if (rec.mainDataLength < vi.endOfRecoverySize) throw payloadError(rec, 'end-of-recovery', rec.mainDataLength, `${vi.endOfRecoverySize}`)
  const b = rec.buf
  const o = rec.mainDataOffset
  return {
    endTime: b.readBigInt64LE(o),
    thisTimeLineId: b.readUInt32LE(o + 8),
    prevTimeLineId: b.readUInt32LE(o + 12),
    walLevel: vi.endOfRecoverySize >= 20 ? b.readInt32LE(o + 16) : null
  }
}

export interface OverwriteContrecord {
  overwrittenLsn: Lsn
  /** TimestampTz */
  overwriteTime: bigint
}

export function decodeOverwriteContrecord (rec: WalRecord): OverwriteContrecord {
  requireKind(rec, rec.rmid === RM_XLOG_ID && rec.rmgrInfo === XLOG_OVERWRITE_CONTRECORD, 'overwrite-contrecord')
  if (rec.mainDataLength < 16) throw payloadError(rec, 'overwrite-contrecord', rec.mainDataLength, '16')
  return { overwrittenLsn: rec.buf.readBigUInt64LE(rec.mainDataOffset), overwriteTime: rec.buf.readBigInt64LE(rec.mainDataOffset + 8) }
}

export interface RelFileLocator {
  spcOid: number
  dbOid: number
  relNumber: number
}

function readRel (b: Buffer, o: number): RelFileLocator {
  return { spcOid: b.readUInt32LE(o), dbOid: b.readUInt32LE(o + 4), relNumber: b.readUInt32LE(o + 8) }
}

export interface SmgrCreate { rel: RelFileLocator, forkNumber: number }
export interface SmgrTruncate { blkno: number, rel: RelFileLocator, flags: number }

export function decodeSmgrCreate (rec: WalRecord): SmgrCreate {
  requireKind(rec, rec.rmid === RM_SMGR_ID && rec.rmgrInfo === XLOG_SMGR_CREATE, 'SMGR CREATE')
  if (rec.mainDataLength < 16) throw payloadError(rec, 'SMGR CREATE', rec.mainDataLength, '16')
  return { rel: readRel(rec.buf, rec.mainDataOffset), forkNumber: rec.buf.readInt32LE(rec.mainDataOffset + 12) }
}

export function decodeSmgrTruncate (rec: WalRecord): SmgrTruncate {
  requireKind(rec, rec.rmid === RM_SMGR_ID && rec.rmgrInfo === XLOG_SMGR_TRUNCATE, 'SMGR TRUNCATE')
  if (rec.mainDataLength < 20) throw payloadError(rec, 'SMGR TRUNCATE', rec.mainDataLength, '20')
  const o = rec.mainDataOffset
  return { blkno: rec.buf.readUInt32LE(o), rel: readRel(rec.buf, o + 4), flags: rec.buf.readInt32LE(o + 16) }
}

export interface DbaseCreateFileCopy { dbId: number, tablespaceId: number, srcDbId: number, srcTablespaceId: number }
export interface DbaseCreateWalLog { dbId: number, tablespaceId: number }
export interface DbaseDrop { dbId: number, tablespaceIds: number[] }

export function decodeDbaseCreateFileCopy (rec: WalRecord, vi: VersionInfo): DbaseCreateFileCopy {
  requireKind(rec, dbaseKind(rec, vi) === 'create-file-copy', 'DBASE CREATE (file copy)')
  if (rec.mainDataLength < 16) throw payloadError(rec, 'DBASE CREATE', rec.mainDataLength, '16')
  const b = rec.buf
  const o = rec.mainDataOffset
  return { dbId: b.readUInt32LE(o), tablespaceId: b.readUInt32LE(o + 4), srcDbId: b.readUInt32LE(o + 8), srcTablespaceId: b.readUInt32LE(o + 12) }
}

export function decodeDbaseCreateWalLog (rec: WalRecord, vi: VersionInfo): DbaseCreateWalLog {
  requireKind(rec, dbaseKind(rec, vi) === 'create-wal-log', 'DBASE CREATE_WAL_LOG')
  if (rec.mainDataLength < 8) throw payloadError(rec, 'DBASE CREATE_WAL_LOG', rec.mainDataLength, '8')
  return { dbId: rec.buf.readUInt32LE(rec.mainDataOffset), tablespaceId: rec.buf.readUInt32LE(rec.mainDataOffset + 4) }
}

export function decodeDbaseDrop (rec: WalRecord, vi: VersionInfo): DbaseDrop {
  requireKind(rec, dbaseKind(rec, vi) === 'drop', 'DBASE DROP')
  const b = rec.buf
  const o = rec.mainDataOffset
  if (rec.mainDataLength < 8) throw payloadError(rec, 'DBASE DROP', rec.mainDataLength, 'at least 8')
  const n = b.readInt32LE(o + 4)
  if (n < 0 || rec.mainDataLength < 8 + 4 * n) throw payloadError(rec, 'DBASE DROP', rec.mainDataLength, `${8 + 4 * Math.max(n, 0)} (ntablespaces ${n})`)
  const tablespaceIds: number[] = []
  for (let i = 0; i < n; i++) tablespaceIds.push(b.readUInt32LE(o + 8 + 4 * i))
  return { dbId: b.readUInt32LE(o), tablespaceIds }
}

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

const XLOG_NAMES: Record<number, string> = {
  0x00: 'CHECKPOINT_SHUTDOWN',
  0x10: 'CHECKPOINT_ONLINE',
  0x20: 'NOOP',
  0x30: 'NEXTOID',
  0x40: 'SWITCH',
  0x50: 'BACKUP_END',
  0x60: 'PARAMETER_CHANGE',
  0x70: 'RESTORE_POINT',
  0x80: 'FPW_CHANGE',
  0x90: 'END_OF_RECOVERY',
  0xA0: 'FPI_FOR_HINT',
  0xB0: 'FPI',
  0xD0: 'OVERWRITE_CONTRECORD',
  0xE0: 'CHECKPOINT_REDO'
}

/** A short record-type name for the rmgrs pg_rewind inspects (XLOG, XACT, SMGR, DBASE); null otherwise. */
export function recordTypeName (r: RecordKey, vi: VersionInfo): string | null {
  const i = r.info & XLR_RMGR_INFO_MASK
  switch (r.rmid) {
    case RM_XLOG_ID:
      if (i === XLOG_CHECKPOINT_REDO && !vi.hasCheckpointRedo) return null
      return XLOG_NAMES[i] ?? null
    case RM_XACT_ID: return xactOp(r, vi)
    case RM_SMGR_ID: return i === XLOG_SMGR_CREATE ? 'CREATE' : i === XLOG_SMGR_TRUNCATE ? 'TRUNCATE' : null
    case RM_DBASE_ID: {
      const k = dbaseKind(r, vi)
      if (k === null) return null
      if (k === 'drop') return 'DROP'
      if (k === 'create-wal-log') return 'CREATE_WAL_LOG'
      return vi.dbase.createWalLog === null ? 'CREATE' : 'CREATE_FILE_COPY'
    }
    default: return null
  }
}
