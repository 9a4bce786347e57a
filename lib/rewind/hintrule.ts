import { isPgRewindError, PgRewindError } from '../errors'
import { formatLsn, type Lsn } from '../format/lsn'
import { ForkNumber, type RelFileLocator } from '../format/relpath'
import { XLOG_BLCKSZ, type VersionInfo } from '../format/versions'
import { heapRowChange, XLOG_HEAP_DELETE, XLOG_HEAP_HOT_UPDATE, XLOG_HEAP_OPMASK, XLOG_HEAP_UPDATE } from '../wal/heap'
import { decodeCheckpointRecord, isCheckpointRecord, RM_HEAP_ID, RM_STANDBY_ID } from '../wal/payloads'
import type { WalReader } from '../wal/reader'
import type { WalRecord } from '../wal/record'
import { decodeXactEnd, xactOp } from '../wal/xact'
import { BlockRanges } from './blockranges'
import { blocksByPath, RelFileIndex, SlotBlocks } from './relfiles'

/**
 * The hint rule: which blocks a target whose hint bits were not WAL-logged (no data
 * checksums, wal_log_hints off for some of the range) may have changed without WAL,
 * found from the WAL instead of by comparing every block with the source.
 *
 * Hints are set without WAL (MarkBufferDirtyHint) from a transaction's outcome:
 * heap tuple hint bits (heapam_visibility.c SetHintBits: XMIN/XMAX COMMITTED or
 * INVALID) and index items marked LP_DEAD because the heap tuple they point to is
 * dead to everyone (nbtree _bt_killitems and _bt_check_unique, hash _hash_kill_items,
 * GiST gistkillitems). A hint is only wrong on the rewound node where the outcome
 * it records differs between the two timelines:
 *
 * (a) heap hints: a transaction that ended (commit, abort, commit or abort of a
 *     prepared transaction, with its subtransactions) on the target after the
 *     divergence; before it, both timelines agree. Its hints sit on tuples it
 *     inserted, deleted, updated or locked — blocks its own WAL records name. Those
 *     records after the last common checkpoint are in the scan already; the earlier
 *     ones are found by walking the WAL back from the checkpoint to where none of
 *     these xids had been assigned yet (an XLOG_RUNNING_XACTS record, which is
 *     inserted holding XidGenLock, or a checkpoint's redo point, both with
 *     nextXid at or before the oldest of them).
 * (b) index LP_DEAD hints: an item killed because its heap tuple is dead on the
 *     target only — deleted or updated by any heap DELETE/UPDATE/HOT_UPDATE after the
 *     divergence, or changed in any way before it by one of (a)'s transactions (rows
 *     inserted by a prepared transaction the target rolled back are dead there, but
 *     the source may still commit it). The
 *     index page itself need not be in any WAL record, so the indexes of those
 *     heaps are compared with the source block by block (buildPlan).
 */

export const FIRST_NORMAL_XID = 3

/**
 * Why the hint rule applies — hint bits were not WAL-logged for all of the range: no
 * data checksums and no wal_log_hints now, or a restart with other settings after the
 * divergence (PARAMETER_CHANGE; wal_log_hints may have been off before it) — or null.
 */
export function hintRuleWhy (hintsLogged: boolean, parameterChange: Lsn | null): string | null {
  if (!hintsLogged) return 'the target has neither data checksums nor wal_log_hints, so hint bits it set after the divergence are not in its WAL'
  if (parameterChange !== null) {
    return `the target restarted with other settings after the divergence (PARAMETER_CHANGE at ${formatLsn(parameterChange)}): wal_log_hints may have been off, and data checksums too (pg_checksums), before that`
  }
  return null
}

/** TransactionIdPrecedes (transam.c): modulo-2^32 for normal xids, plain order when either is special. */
export function transactionIdPrecedes (a: number, b: number): boolean {
  a >>>= 0
  b >>>= 0
  if (a < FIRST_NORMAL_XID || b < FIRST_NORMAL_XID) return a < b
  return ((a - b) | 0) < 0
}

/** The oldest xid of a set (which spans less than 2^31, as live xids always do), or null for none. */
export function oldestXid (xids: Iterable<number>): number | null {
  let oldest: number | null = null
  for (const x of xids) if (oldest === null || transactionIdPrecedes(x, oldest)) oldest = x
  return oldest
}

/** Main-fork blocks per relation segment file, collected from records. */
export class RelationBlocks {
  private readonly files = new RelFileIndex()
  private readonly changed = new SlotBlocks()

  constructor (private readonly relsegSize: number) {}

  addRecord (rec: WalRecord): void {
    for (const b of rec.blocks) {
      if (b.forkNumber !== ForkNumber.MAIN) continue
      const seg = Math.floor(b.blockNumber / this.relsegSize)
      this.changed.mark(this.files.slot(b.spcOid, b.dbOid, b.relNumber, seg), b.blockNumber % this.relsegSize)
    }
  }

  toRecord (vi: VersionInfo): { blocks: Record<string, BlockRanges>, count: number } {
    return blocksByPath(this.files, this.changed, vi)
  }
}

/** A heap record that deletes or updates a tuple (so an index item pointing to the old version may be killed). */
export function isHeapDeleteOrUpdate (rec: WalRecord): boolean {
  if (rec.rmid !== RM_HEAP_ID) return false
  const op = rec.info & XLOG_HEAP_OPMASK
  return op === XLOG_HEAP_DELETE || op === XLOG_HEAP_UPDATE || op === XLOG_HEAP_HOT_UPDATE
}

/**
 * Any heap record that changes a row (insert, multi-insert, delete, update): before the
 * fork, by a transaction that ended after it, the row's fate differs between the
 * timelines either way — deleted on the target only, or inserted by a prepared
 * transaction the target rolled back but the source may still commit.
 */
export function isHeapRowChange (rec: WalRecord): boolean {
  return isHeapDeleteOrUpdate(rec) || heapRowChange(rec) !== null
}

const locKey = (l: RelFileLocator): string => `${l.spcOid}/${l.dbOid}/${l.relNumber}`

/** XLOG_RUNNING_XACTS (standby.h): int xcnt, int subxcnt, bool subxid_overflow, TransactionId nextXid at byte 12 (13–18). */
export const XLOG_RUNNING_XACTS = 0x10

export function runningXactsNextXid (rec: WalRecord): number | null {
  if (rec.rmid !== RM_STANDBY_ID || (rec.info & 0xF0) !== XLOG_RUNNING_XACTS || rec.mainDataLength < 24) return null
  return rec.buf.readUInt32LE(rec.mainDataOffset + 12)
}

/**
 * Collects, during scanWal's forward read from the last common checkpoint, the
 * transactions that ended after the divergence (their xids and subtransactions'),
 * and the heaps whose tuples may be dead on the target only.
 */
export class HintCollector {
  /** xids (top-level and subtransactions) that ended after the divergence */
  readonly ended = new Set<number>()
  /** top-level transactions that ended after the divergence */
  transactions = 0
  /** heaps with a tuple deleted or updated after the divergence, or before it by a transaction in `ended` */
  readonly heaps = new Map<string, RelFileLocator>()
  /** heap deletes/updates before the divergence, by xid, until we know whose transaction ended after it */
  private readonly preFork = new Map<number, Map<string, RelFileLocator>>()
  private readonly forkPage: number
  private readonly forkOff: number
  readonly notes: string[] = []

  constructor (private readonly vi: VersionInfo, fork: Lsn) {
    this.forkPage = Number(fork / BigInt(XLOG_BLCKSZ))
    this.forkOff = Number(fork % BigInt(XLOG_BLCKSZ))
  }

  private addHeap (rec: WalRecord, into: Map<string, RelFileLocator>): void {
    const b = rec.blocks[0]
    if (b === undefined) return
    const loc = { spcOid: b.spcOid, dbOid: b.dbOid, relNumber: b.relNumber }
    into.set(locKey(loc), loc)
  }

  onRecord (rec: WalRecord): void {
    const afterFork = rec.lsnPage > this.forkPage || (rec.lsnPage === this.forkPage && rec.lsnOff >= this.forkOff)
    if (afterFork ? isHeapDeleteOrUpdate(rec) : isHeapRowChange(rec)) {
      if (afterFork) this.addHeap(rec, this.heaps)
      else if (rec.xid !== 0) {
        let m = this.preFork.get(rec.xid)
        if (m === undefined) this.preFork.set(rec.xid, m = new Map())
        this.addHeap(rec, m)
      }
      return
    }
    if (!afterFork) return
    const op = xactOp(rec, this.vi)
    if (op !== 'COMMIT' && op !== 'ABORT' && op !== 'COMMIT_PREPARED' && op !== 'ABORT_PREPARED') return
    let end
    try {
      end = decodeXactEnd(rec, this.vi)
    } catch (e) {
      if (!isPgRewindError(e)) throw e
      // an end we cannot read: the rule cannot be sure of its transaction
      throw new PgRewindError(e.code, `${e.message}: the transaction's outcome is needed to find the blocks its hint bits changed`,
        { detail: e.detail, hint: 'Use --compare-blocks (options.compareBlocks) to compare every block with the source instead.', data: e.data })
    }
    if (end.xid === 0) return
    this.transactions++
    this.ended.add(end.xid)
    for (const s of end.subxacts) this.ended.add(s)
  }

  /** From the back walk too: the heaps of pre-fork row changes by the transactions that ended after the fork. */
  onEarlierRecord (rec: WalRecord): void {
    if (isHeapRowChange(rec) && this.ended.has(rec.xid)) this.addHeap(rec, this.heaps)
  }

  finish (): void {
    for (const [xid, m] of this.preFork) {
      if (!this.ended.has(xid)) continue
      for (const [k, l] of m) this.heaps.set(k, l)
    }
    this.preFork.clear()
  }
}

export interface SearchBack {
  /** where the walk stopped: no transaction of the set had been assigned before it */
  stoppedAt: Lsn
  /** why it stopped there */
  stop: 'running-xacts' | 'checkpoint' | 'start-of-wal' | 'nothing-to-find'
  records: number
  walBytes: number
}

/**
 * Walk the target's WAL back from the record at `from` (the last common checkpoint,
 * whose own record and every later one the forward scan read) along xl_prev, handing
 * every earlier record whose xid is in `xids` to `onRecord`, until no xid of the set
 * can have a record further back:
 * - an XLOG_RUNNING_XACTS record whose nextXid is not after the oldest xid of the
 *   set (LogStandbySnapshot holds XidGenLock while inserting it, so every xid at or
 *   after its nextXid was assigned, and wrote, after it);
 * - a checkpoint record whose nextXid is not after the oldest xid, once the walk
 *   has passed its redo point (CreateCheckPoint reads nextXid after fixing the redo
 *   point, so such xids wrote only after the redo point);
 * - the first record of the WAL (xl_prev 0).
 * A segment that is missing fails with WAL_MISSING naming it and pointing at
 * --compare-blocks.
 */
export function searchBack (reader: WalReader, from: Lsn, xids: ReadonlySet<number>, vi: VersionInfo,
  onRecord: (rec: WalRecord) => void, checkCancelled?: () => void): SearchBack {
  const oldest = oldestXid(xids)
  if (oldest === null) return { stoppedAt: from, stop: 'nothing-to-find', records: 0, walBytes: 0 }
  let records = 0
  let walBytes = 0
  let stopRedo: Lsn | null = null
  let stop: SearchBack['stop'] = 'start-of-wal'
  let stoppedAt = from
  const notAfter = (nextXid: number): boolean => !transactionIdPrecedes(oldest, nextXid)
  try {
    reader.walkBackward(from, (rec, lsn) => {
      stoppedAt = lsn
      if (lsn < from) {
        records++
        walBytes += rec.totLen
        if ((records & 0x3FFF) === 0) checkCancelled?.()
        if (rec.xid !== 0 && xids.has(rec.xid)) onRecord(rec)
      }
      if (stopRedo !== null && lsn <= stopRedo) return true
      const next = runningXactsNextXid(rec)
      if (next !== null && notAfter(next)) {
        stop = 'running-xacts'
        return true
      }
      if (isCheckpointRecord(rec)) {
        const cp = decodeCheckpointRecord(rec, vi)
        if (notAfter(Number(cp.nextXid & 0xFFFFFFFFn))) {
          stop = 'checkpoint'
          stopRedo = cp.redo
          if (cp.redo >= lsn) return true
        }
      }
      if (rec.prev === 0n) {
        stop = 'start-of-wal'
        return true
      }
      return false
    })
  } catch (e) {
    if (isPgRewindError(e) && e.code === 'WAL_MISSING') {
      const file = typeof e.data?.file === 'string' ? e.data.file : 'a WAL segment'
      throw new PgRewindError('WAL_MISSING',
        `WAL segment "${file}" is missing, and the target's hint bits were not WAL-logged: the transactions that ended after the divergence (the oldest xid ${oldest}) wrote before ${formatLsn(stoppedAt)}, and their blocks must be found in that WAL`,
        {
          detail: e.message,
          hint: 'Put the segment back into the target\'s pg_wal, use --restore-target-wal (options.restoreTargetWal) to fetch it with restore_command, or use --compare-blocks (options.compareBlocks): the block-comparison mode compares every block with the source and needs no older WAL.',
          data: { ...e.data, file, oldestXid: oldest, searchedBackTo: formatLsn(stoppedAt) }
        })
    }
    throw e
  }
  return { stoppedAt, stop, records, walBytes }
}
