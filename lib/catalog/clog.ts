import { PgRewindError } from '../errors'
import type { ReadFile } from '../datadir/files'
import { BLCKSZ } from '../format/versions'

/**
 * Transaction status from pg_xact (src/backend/access/transam/clog.c), identical in
 * 13–18: two bits per transaction, 4 per byte, 32 pages of BLCKSZ per segment file
 * named by 4 upper-case hex digits. A cleanly stopped cluster has written every
 * page; segments before the oldest transaction still of interest were truncated
 * away (their transactions are long frozen or hinted), so a missing segment reads
 * as "committed" for xids below the first segment there is, "unknown" otherwise.
 */

export type XactStatus = 'in-progress' | 'committed' | 'aborted' | 'sub-committed' | 'unknown'

const XACTS_PER_BYTE = 4
const XACTS_PER_PAGE = BLCKSZ * XACTS_PER_BYTE
const PAGES_PER_SEGMENT = 32
const XACTS_PER_SEGMENT = XACTS_PER_PAGE * PAGES_PER_SEGMENT
const STATUS: readonly XactStatus[] = ['in-progress', 'committed', 'aborted', 'sub-committed']
/** BootstrapTransactionId and FrozenTransactionId are committed by definition */
const FIRST_NORMAL_XID = 3

export function clogSegmentName (segno: number): string {
  return `pg_xact/${segno.toString(16).toUpperCase().padStart(4, '0')}`
}

export class ClogReader {
  private readonly segments = new Map<number, Buffer | null>()

  /** `existing`: the segment numbers in pg_xact, when known (to tell "truncated" from "not yet written") */
  constructor (private readonly read: ReadFile, private readonly existing: readonly number[] | null = null) {}

  private async segment (segno: number): Promise<Buffer | null> {
    if (this.segments.has(segno)) return this.segments.get(segno) ?? null
    let buf: Buffer | null
    try {
      buf = await this.read(clogSegmentName(segno))
    } catch (e) {
      if (e instanceof PgRewindError && e.data?.errno === 'ENOENT') buf = null
      else throw e
    }
    this.segments.set(segno, buf)
    return buf
  }

  async status (xid: number): Promise<XactStatus> {
    if (xid === 0) return 'aborted'
    if (xid < FIRST_NORMAL_XID) return 'committed'
    const segno = Math.floor(xid / XACTS_PER_SEGMENT)
    const seg = await this.segment(segno)
    const inSeg = xid % XACTS_PER_SEGMENT
    const byte = Math.floor(inSeg / XACTS_PER_BYTE)
    if (seg === null || byte >= seg.length) {
      const first = this.existing !== null && this.existing.length > 0 ? Math.min(...this.existing) : null
      return seg === null && first !== null && segno < first ? 'committed' : 'unknown'
    }
    return STATUS[(seg[byte] >> ((xid % XACTS_PER_BYTE) * 2)) & 3]
  }
}
