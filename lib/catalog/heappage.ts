import { PgRewindError } from '../errors'
import { BLCKSZ } from '../format/versions'

/**
 * Heap pages and tuple headers as stored in a relation file (src/include/storage/
 * bufpage.h, itemid.h, access/htup_details.h), identical in 13–18: a 24-byte page
 * header, line pointers, tuples; each tuple a 23-byte header (+ null bitmap,
 * padded to t_hoff) and its attributes.
 */

const SIZE_OF_PAGE_HEADER = 24
const PAGE_LAYOUT_VERSION = 4
/** ItemIdData.lp_flags */
const LP_NORMAL = 1
/** offsetof(HeapTupleHeaderData, t_bits) */
const SIZE_OF_HEAP_TUPLE_HEADER = 23

// t_infomask
export const HEAP_HASNULL = 0x0001
export const HEAP_XMAX_KEYSHR_LOCK = 0x0010
export const HEAP_XMAX_EXCL_LOCK = 0x0040
export const HEAP_XMAX_LOCK_ONLY = 0x0080
export const HEAP_XMIN_COMMITTED = 0x0100
export const HEAP_XMIN_INVALID = 0x0200
export const HEAP_XMAX_COMMITTED = 0x0400
export const HEAP_XMAX_INVALID = 0x0800
export const HEAP_XMAX_IS_MULTI = 0x1000
/** this tuple is the new version of an updated row */
export const HEAP_UPDATED = 0x2000
const HEAP_LOCK_MASK = HEAP_XMAX_EXCL_LOCK | HEAP_XMAX_KEYSHR_LOCK
// t_infomask2
export const HEAP_NATTS_MASK = 0x07FF

export interface HeapTuple {
  /** block and line pointer (1-based) */
  block: number
  offset: number
  xmin: number
  xmax: number
  infomask: number
  infomask2: number
  /** the whole tuple: header, null bitmap, attributes from t_hoff */
  data: Buffer
  hoff: number
}

/** HEAP_XMAX_IS_LOCKED_ONLY: xmax only locked the row, it did not delete or update it. */
export function xmaxIsLockOnly (infomask: number): boolean {
  return (infomask & HEAP_XMAX_LOCK_ONLY) !== 0 || (infomask & (HEAP_XMAX_IS_MULTI | HEAP_LOCK_MASK)) === HEAP_XMAX_EXCL_LOCK
}

function invalid (what: string, path: string, block: number, detail: string): PgRewindError {
  return new PgRewindError('CATALOG_INVALID', `invalid ${what} in block ${block} of "${path}"`, { detail, data: { path, block } })
}

/**
 * The tuples on one heap page (line pointers that are LP_NORMAL; redirects, dead and
 * unused pointers carry none). An all-zero page (extended but never written) has
 * none. `path` and `block` are for messages.
 */
export function * heapPageTuples (page: Buffer, path: string, block: number): Generator<HeapTuple> {
  if (page.length !== BLCKSZ) throw invalid('page', path, block, `it is ${page.length} bytes, not ${BLCKSZ}`)
  const lower = page.readUInt16LE(12)
  const upper = page.readUInt16LE(14)
  const special = page.readUInt16LE(16)
  const sizeVersion = page.readUInt16LE(18)
  if (upper === 0) {
    // PageIsNew: never initialised
    return
  }
  if ((sizeVersion & 0xFF00) !== BLCKSZ || (sizeVersion & 0xFF) !== PAGE_LAYOUT_VERSION || lower < SIZE_OF_PAGE_HEADER ||
      lower > upper || upper > special || special > BLCKSZ) {
    throw invalid('page header', path, block, `pd_lower ${lower}, pd_upper ${upper}, pd_special ${special}, pd_pagesize_version 0x${sizeVersion.toString(16)}`)
  }
  const n = (lower - SIZE_OF_PAGE_HEADER) >> 2
  for (let i = 0; i < n; i++) {
    const lp = page.readUInt32LE(SIZE_OF_PAGE_HEADER + 4 * i)
    const off = lp & 0x7FFF
    const flags = (lp >>> 15) & 0x3
    const len = lp >>> 17
    if (flags !== LP_NORMAL) continue
    if (off < upper || off + len > special || len < SIZE_OF_HEAP_TUPLE_HEADER) {
      throw invalid('line pointer', path, block, `item ${i + 1}: offset ${off}, length ${len}`)
    }
    const data = page.subarray(off, off + len)
    const hoff = data[22]
    if (hoff < SIZE_OF_HEAP_TUPLE_HEADER || hoff > len) throw invalid('tuple header', path, block, `item ${i + 1}: t_hoff ${hoff}, length ${len}`)
    yield {
      block,
      offset: i + 1,
      xmin: data.readUInt32LE(0),
      xmax: data.readUInt32LE(4),
      infomask2: data.readUInt16LE(18),
      infomask: data.readUInt16LE(20),
      hoff,
      data
    }
  }
}
