import { RM_HEAP2_ID, RM_HEAP_ID } from './payloads'
import type { WalRecord } from './record'

/**
 * What heap records do to rows (src/include/access/heapam_xlog.h, identical in
 * 13–18): the row changes pg_waldump shows as Heap INSERT / UPDATE / HOT_UPDATE /
 * DELETE / CONFIRM and Heap2 MULTI_INSERT, always on the relation of block
 * reference 0. Records that change no row's contents (LOCK, INPLACE, pruning,
 * freezing, visibility, TRUNCATE under wal_level=logical, NEW_CID) are not row changes.
 */

export const XLOG_HEAP_OPMASK = 0x70
export const XLOG_HEAP_INSERT = 0x00
export const XLOG_HEAP_DELETE = 0x10
export const XLOG_HEAP_UPDATE = 0x20
export const XLOG_HEAP_TRUNCATE = 0x30
export const XLOG_HEAP_HOT_UPDATE = 0x40
export const XLOG_HEAP_CONFIRM = 0x50
export const XLOG_HEAP_LOCK = 0x60
export const XLOG_HEAP_INPLACE = 0x70
/** a bit of xl_info, not an opcode: the page was (re)initialised */
export const XLOG_HEAP_INIT_PAGE = 0x80
export const XLOG_HEAP2_MULTI_INSERT = 0x50

/** xl_heap_insert.flags (byte 2) */
export const XLH_INSERT_IS_SPECULATIVE = 1 << 2
export const XLH_INSERT_ON_TOAST_RELATION = 1 << 4
/** xl_heap_delete.flags (byte 7) */
export const XLH_DELETE_IS_SUPER = 1 << 3
export const XLH_DELETE_IS_PARTITION_MOVE = 1 << 4

export type RowOp = 'insert' | 'update' | 'delete'

export interface RowChange {
  op: RowOp
  rows: number
}

const INSERT1: RowChange = Object.freeze({ op: 'insert', rows: 1 })
const UPDATE1: RowChange = Object.freeze({ op: 'update', rows: 1 })
const DELETE1: RowChange = Object.freeze({ op: 'delete', rows: 1 })

/**
 * The rows a heap record inserts, updates or deletes, or null when it changes none.
 * INSERT ... ON CONFLICT's speculative insertion counts when it is confirmed (CONFIRM),
 * and its "super-deletion" (the insertion withdrawn) is no delete; a row moved to
 * another partition is a DELETE here and an INSERT there, as the records say.
 * Returns null as well for a record too short to carry its flags (never written by
 * PostgreSQL; the record's CRC was good, so it is left uncounted rather than fatal).
 */
export function heapRowChange (rec: WalRecord): RowChange | null {
  if (rec.rmid === RM_HEAP_ID) {
    switch (rec.info & XLOG_HEAP_OPMASK) {
      case XLOG_HEAP_INSERT:
        if (rec.mainDataLength < 3) return null
        return (rec.buf[rec.mainDataOffset + 2] & XLH_INSERT_IS_SPECULATIVE) !== 0 ? null : INSERT1
      case XLOG_HEAP_DELETE:
        if (rec.mainDataLength < 8) return null
        return (rec.buf[rec.mainDataOffset + 7] & XLH_DELETE_IS_SUPER) !== 0 ? null : DELETE1
      case XLOG_HEAP_UPDATE:
      case XLOG_HEAP_HOT_UPDATE:
        return UPDATE1
      case XLOG_HEAP_CONFIRM:
        return INSERT1
      default:
        return null
    }
  }
  if (rec.rmid === RM_HEAP2_ID && (rec.info & XLOG_HEAP_OPMASK) === XLOG_HEAP2_MULTI_INSERT) {
    // xl_heap_multi_insert: uint8 flags, (pad), uint16 ntuples, offsets
    if (rec.mainDataLength < 4) return null
    return { op: 'insert', rows: rec.buf.readUInt16LE(rec.mainDataOffset + 2) }
  }
  return null
}
