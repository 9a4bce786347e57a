import type { RelFileLocator } from '../format/relpath'
import { payloadError, requireKind, RM_SMGR_ID, XLOG_SMGR_CREATE, XLOG_SMGR_TRUNCATE } from './payloads'
import type { WalRecord } from './record'

/**
 * SMGR records (src/include/catalog/storage_xlog.h), identical in 13–18: a relation
 * fork's file created (xl_smgr_create) or cut short (xl_smgr_truncate).
 */

export interface SmgrCreate { rel: RelFileLocator, forkNumber: number }
export interface SmgrTruncate {
  /** the new length in blocks */
  blkno: number
  rel: RelFileLocator
  /** SMGR_TRUNCATE_HEAP | _VM | _FSM: which forks */
  flags: number
}

export function readRelFileLocator (b: Buffer, o: number): RelFileLocator {
  return { spcOid: b.readUInt32LE(o), dbOid: b.readUInt32LE(o + 4), relNumber: b.readUInt32LE(o + 8) }
}

export function isSmgrCreate (rec: WalRecord): boolean {
  return rec.rmid === RM_SMGR_ID && rec.rmgrInfo === XLOG_SMGR_CREATE
}

export function isSmgrTruncate (rec: WalRecord): boolean {
  return rec.rmid === RM_SMGR_ID && rec.rmgrInfo === XLOG_SMGR_TRUNCATE
}

export function decodeSmgrCreate (rec: WalRecord): SmgrCreate {
  requireKind(rec, isSmgrCreate(rec), 'SMGR CREATE')
  if (rec.mainDataLength < 16) throw payloadError(rec, 'SMGR CREATE', rec.mainDataLength, '16')
  return { rel: readRelFileLocator(rec.buf, rec.mainDataOffset), forkNumber: rec.buf.readInt32LE(rec.mainDataOffset + 12) }
}

export function decodeSmgrTruncate (rec: WalRecord): SmgrTruncate {
  requireKind(rec, isSmgrTruncate(rec), 'SMGR TRUNCATE')
  if (rec.mainDataLength < 20) throw payloadError(rec, 'SMGR TRUNCATE', rec.mainDataLength, '20')
  const o = rec.mainDataOffset
  return { blkno: rec.buf.readUInt32LE(o), rel: readRelFileLocator(rec.buf, o + 4), flags: rec.buf.readInt32LE(o + 16) }
}
