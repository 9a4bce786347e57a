import type { VersionInfo } from '../format/versions'
import { dbaseKind, payloadError, requireKind } from './payloads'
import type { WalRecord } from './record'

/**
 * DBASE records (src/include/commands/dbcommands_xlog.h); their info codes differ
 * by version (versions.ts dbase): a database created by copying a directory
 * (13/14 CREATE, 15+ CREATE_FILE_COPY), created with WAL-logged files (15+
 * CREATE_WAL_LOG) or dropped.
 */

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
