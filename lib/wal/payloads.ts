import { PgRewindError } from '../errors'
import { CheckPoint, decodeCheckPoint, SIZE_OF_CHECKPOINT } from '../format/controlfile'
import { formatLsn } from '../format/lsn'
import { XLR_RMGR_INFO_MASK, XLR_SPECIAL_REL_UPDATE, type WalRecord } from './record'
import { MAX_BUILTIN_RMID, type VersionInfo } from '../format/versions'

/**
 * Decoders for the record payloads pg_rewind cares about, PostgreSQL 13–18
 * (src/include/catalog/pg_control.h CheckPoint, storage/smgr and commands/dbcommands_xlog.h,
 * access/xact.h), and pg_rewind's classification of
 * records that change relation files outside block references (extractPageInfo).
 * Per-version codes come from versions.ts.
 */

export { XLR_SPECIAL_REL_UPDATE } from './record'

// ── resource managers ─────────────────────────────────────────────────────────────

export const RM_XLOG_ID = 0
export const RM_XACT_ID = 1
export const RM_SMGR_ID = 2
export const RM_CLOG_ID = 3
export const RM_DBASE_ID = 4
export const RM_TBLSPC_ID = 5
export const RM_MULTIXACT_ID = 6
export const RM_RELMAP_ID = 7
export const RM_STANDBY_ID = 8
export const RM_HEAP2_ID = 9
export const RM_HEAP_ID = 10
export const RM_BTREE_ID = 11
export const RM_HASH_ID = 12
export const RM_GIN_ID = 13
export const RM_GIST_ID = 14
export const RM_SEQ_ID = 15
export const RM_SPGIST_ID = 16
export const RM_BRIN_ID = 17
export const RM_COMMIT_TS_ID = 18
export const RM_REPLORIGIN_ID = 19
export const RM_GENERIC_ID = 20
export const RM_LOGICALMSG_ID = 21

/** Names as pg_waldump / pg_rewind print them (rmgrlist.h), ids 0..21 in all of 13–18. */
export const RMGR_NAMES: readonly string[] = [
  'XLOG', 'Transaction', 'Storage', 'CLOG', 'Database', 'Tablespace', 'MultiXact', 'RelMap',
  'Standby', 'Heap2', 'Heap', 'Btree', 'Hash', 'Gin', 'Gist', 'Sequence', 'SPGist', 'BRIN',
  'CommitTs', 'ReplicationOrigin', 'Generic', 'LogicalMessage'
]

/** Name of a resource manager id: built-in name, "custom" for 128..255 where allowed (15+), else "unknown(N)". */
export function rmgrName (rmid: number, vi: VersionInfo): string {
  if (rmid <= MAX_BUILTIN_RMID) return RMGR_NAMES[rmid]
  if (vi.customRmgrs && rmid >= 128 && rmid <= 255) return 'custom'
  return `unknown(${rmid})`
}

// ── XLOG (rmid 0) ─────────────────────────────────────────────────────────────────

export const XLOG_CHECKPOINT_SHUTDOWN = 0x00
export const XLOG_CHECKPOINT_ONLINE = 0x10
export const XLOG_NOOP = 0x20
export const XLOG_NEXTOID = 0x30
export const XLOG_SWITCH = 0x40
export const XLOG_BACKUP_END = 0x50
export const XLOG_PARAMETER_CHANGE = 0x60
export const XLOG_RESTORE_POINT = 0x70
export const XLOG_FPW_CHANGE = 0x80
export const XLOG_END_OF_RECOVERY = 0x90
export const XLOG_FPI_FOR_HINT = 0xA0
export const XLOG_FPI = 0xB0
export const XLOG_OVERWRITE_CONTRECORD = 0xD0
/** 17+ only (versions.ts hasCheckpointRedo) */
export const XLOG_CHECKPOINT_REDO = 0xE0

/** Minimal view of a record used by the classifiers (a WalRecord fits). */
export interface RecordKey {
  rmid: number
  info: number
}

/** XLOG PARAMETER_CHANGE: written at startup when a WAL-relevant setting (wal_log_hints among them) changed. */
export function isParameterChange (r: RecordKey): boolean {
  return r.rmid === RM_XLOG_ID && (r.info & XLR_RMGR_INFO_MASK) === XLOG_PARAMETER_CHANGE
}

/** CHECKPOINT_SHUTDOWN or CHECKPOINT_ONLINE (what findLastCheckpoint looks for). */
export function isCheckpointRecord (r: RecordKey): boolean {
  if (r.rmid !== RM_XLOG_ID) return false
  const i = r.info & XLR_RMGR_INFO_MASK
  return i === XLOG_CHECKPOINT_SHUTDOWN || i === XLOG_CHECKPOINT_ONLINE
}

export function payloadError (rec: WalRecord, what: string, got: number, expected: string): PgRewindError {
  const at = formatLsn(rec.lsn)
  return new PgRewindError('WAL_INVALID_RECORD', `invalid ${what} record at ${at}: main data is ${got} bytes, expected ${expected}`,
    { data: { lsn: at, reason: 'bad-payload' } })
}

export function requireKind (rec: WalRecord, ok: boolean, what: string): void {
  if (!ok) {
    const at = formatLsn(rec.lsn)
    throw new PgRewindError('INTERNAL', `record at ${at} is not a ${what} record (rmid ${rec.rmid}, info ${hex2(rec.info)})`, { data: { lsn: at } })
  }
}

/** Checkpoint record main data. */
export function decodeCheckpointRecord (rec: WalRecord, vi: VersionInfo): CheckPoint {
  requireKind(rec, isCheckpointRecord(rec), 'checkpoint')
  if (rec.mainDataLength < SIZE_OF_CHECKPOINT) throw payloadError(rec, 'checkpoint', rec.mainDataLength, `${SIZE_OF_CHECKPOINT}`)
  return decodeCheckPoint(rec.buf, rec.mainDataOffset, vi)
}

// ── SMGR (rmid 2) ─────────────────────────────────────────────────────────────────

export const XLOG_SMGR_CREATE = 0x10
export const XLOG_SMGR_TRUNCATE = 0x20
export const SMGR_TRUNCATE_HEAP = 0x0001
export const SMGR_TRUNCATE_VM = 0x0002
export const SMGR_TRUNCATE_FSM = 0x0004

// ── DBASE (rmid 4), info codes per version ───────────────────────────────────────

export type DbaseKind = 'create-file-copy' | 'create-wal-log' | 'drop'

export function dbaseKind (r: RecordKey, vi: VersionInfo): DbaseKind | null {
  if (r.rmid !== RM_DBASE_ID) return null
  const i = r.info & XLR_RMGR_INFO_MASK
  if (i === vi.dbase.createFileCopy) return 'create-file-copy'
  if (vi.dbase.createWalLog !== null && i === vi.dbase.createWalLog) return 'create-wal-log'
  if (i === vi.dbase.drop) return 'drop'
  return null
}

// ── XACT (rmid 1) ─────────────────────────────────────────────────────────────────

export const XLOG_XACT_COMMIT = 0x00
export const XLOG_XACT_PREPARE = 0x10
export const XLOG_XACT_ABORT = 0x20
export const XLOG_XACT_COMMIT_PREPARED = 0x30
export const XLOG_XACT_ABORT_PREPARED = 0x40
export const XLOG_XACT_ASSIGNMENT = 0x50
/** 14+ (versions.ts hasXactInvalidations) */
export const XLOG_XACT_INVALIDATIONS = 0x60
export const XLOG_XACT_OPMASK = 0x70
export const XLOG_XACT_HAS_INFO = 0x80

/** commit/abort(/prepared): the records that may carry dropped-relation lists */
export function isXactCommitOrAbort (r: RecordKey): boolean {
  if (r.rmid !== RM_XACT_ID) return false
  const op = r.info & XLOG_XACT_OPMASK
  return op === XLOG_XACT_COMMIT || op === XLOG_XACT_ABORT || op === XLOG_XACT_COMMIT_PREPARED || op === XLOG_XACT_ABORT_PREPARED
}

// ── pg_rewind's classification (extractPageInfo) ──────────────────────────────────

/**
 * - 'ignored-special': a record type pg_rewind recognises and deliberately ignores
 *   (DBASE create/drop, SMGR create/truncate, XACT commit/abort[_prepared]); its block
 *   references, if any, are still processed like any record's.
 * - 'unrecognized-special': XLR_SPECIAL_REL_UPDATE on any other record → fatal for pg_rewind
 *   (see unrecognizedSpecialRecordError).
 * - 'normal': only the block references matter.
 */
export type SpecialRecordKind = 'ignored-special' | 'unrecognized-special' | 'normal'

export function specialRecordKind (r: RecordKey, vi: VersionInfo): SpecialRecordKind {
  const i = r.info & XLR_RMGR_INFO_MASK
  if (r.rmid === RM_DBASE_ID && dbaseKind(r, vi) !== null) return 'ignored-special'
  if (r.rmid === RM_SMGR_ID && (i === XLOG_SMGR_CREATE || i === XLOG_SMGR_TRUNCATE)) return 'ignored-special'
  if (isXactCommitOrAbort(r)) return 'ignored-special'
  if ((r.info & XLR_SPECIAL_REL_UPDATE) !== 0) return 'unrecognized-special'
  return 'normal'
}

function hex2 (n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0')
}

/** pg_rewind's fatal error for an unrecognized XLR_SPECIAL_REL_UPDATE record. */
export function unrecognizedSpecialRecordError (rec: WalRecord, vi: VersionInfo): PgRewindError {
  const at = formatLsn(rec.lsn)
  return new PgRewindError('UNRECOGNIZED_SPECIAL_RECORD',
    `WAL record modifies a relation, but record type is not recognized: lsn: ${at}, rmid: ${rec.rmid}, rmgr: ${rmgrName(rec.rmid, vi)}, info: ${hex2(rec.info)}`,
    { data: { lsn: at, rmid: rec.rmid, info: rec.info } })
}
