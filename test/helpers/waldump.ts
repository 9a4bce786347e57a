import type { VersionInfo } from '../../lib/format/versions'
import type { Lsn } from '../../lib/format/lsn'
import { XLR_RMGR_INFO_MASK, type WalRecord } from '../../lib/wal/record'
import {
  dbaseKind, payloadError, RecordKey, requireKind, RM_DBASE_ID, RM_SMGR_ID, RM_XACT_ID, RM_XLOG_ID, XLOG_CHECKPOINT_REDO,
  XLOG_END_OF_RECOVERY, XLOG_OVERWRITE_CONTRECORD, XLOG_SMGR_CREATE, XLOG_SMGR_TRUNCATE, XLOG_SWITCH
} from '../../lib/wal/payloads'
import { xactOp } from '../../lib/wal/xact'

/**
 * pg_waldump's view of the records the rewind classifies: names, and the payloads
 * only tests decode (the SMGR, DBASE, XACT and heap decoders the rewind and its
 * discard report use are in lib/wal/).
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
