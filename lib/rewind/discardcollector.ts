import type { FileRef } from '../catalog/names'
import { isPgRewindError } from '../errors'
import { formatLsn, type Lsn } from '../format/lsn'
import { ForkNumber, relationPath, type RelFileLocator } from '../format/relpath'
import { timestampTzToIso } from '../format/timestamp'
import { XLOG_BLCKSZ, type VersionInfo } from '../format/versions'
import { decodeDbaseCreateFileCopy, decodeDbaseCreateWalLog, decodeDbaseDrop } from '../wal/dbase'
import { heapRowChange } from '../wal/heap'
import { dbaseKind, decodeCheckpointRecord, isCheckpointRecord, RM_DBASE_ID, RM_HEAP2_ID, RM_HEAP_ID, RM_SMGR_ID, RM_XACT_ID, SMGR_TRUNCATE_HEAP } from '../wal/payloads'
import type { WalRecord } from '../wal/record'
import { decodeSmgrCreate, decodeSmgrTruncate, isSmgrCreate, isSmgrTruncate } from '../wal/smgr'
import { decodeXactAssignment, decodeXactEnd, decodeXactPrepare, xactOp } from '../wal/xact'
import { grown } from '../columns'
import { RelFileIndex, SlotBlocks } from './relfiles'
import { addRows, DiscardedTransactions, noRows, PreparedTransaction, RowCounts } from './discards'

/**
 * Collects, while scanWal reads the target's WAL, what the records after the
 * divergence point do (see discards.ts for what is counted and how). Records before
 * it only tell which transactions had begun before the fork. Row changes wait under
 * their transaction's xid until its commit, abort or prepare record says which
 * bucket they belong to, so memory follows the open transactions, not the WAL.
 */

/** One relation file (by its locator) with what the records after the fork did to it. */
export interface RawFile extends RelFileLocator {
  path: string
  created: boolean
  dropped: boolean
  truncations: number
  records: number
  walBytes: number
  blocks: number
  committed: RowCounts
  prepared: RowCounts
  aborted: RowCounts
}

export interface RawDatabase {
  oid: number
  created: boolean
  dropped: boolean
  records: number
  walBytes: number
}

export interface RawDiscards {
  from: string
  to: string
  records: number
  walBytes: number
  transactions: DiscardedTransactions
  files: RawFiles
  databases: RawDatabase[]
  notes: string[]
}

/**
 * The files the report names, as RawFile one at a time: at 120,000 files (30,000
 * tables a side) a RawFile each held at once cost some 25 MB for a moment.
 */
export interface RawFiles {
  readonly length: number
  at: (i: number) => RawFile
  dbOid: (i: number) => number
  /** the file's tablespace and number, to name it by */
  ref: (i: number) => FileRef
}

/** `stamp`: the number of the last record that counted for it (a record counts once per file and database) */
interface DbState extends RawDatabase { stamp: number, slot: number }

const CREATED = 1
const DROPPED = 2
/** the collector met the file (the slot index is shared with the scan, which meets files before the fork too) */
const MET = 4
/** where each bucket's three counts start in a file's row of `rows` */
const BUCKET = { committed: 0, prepared: 3, aborted: 6 } as const
const ROW_WIDTH = 9
/** a record has at most XLR_MAX_BLOCK_ID + 1 block references (the decoder refuses more) */
const MAX_RECORD_BLOCKS = 33

/**
 * What the records after the fork did to each relation file, in columns by slot
 * (lib/rewind/relfiles.ts). The slots are scanWal's own (a file's segment 0): one
 * index of the files met instead of two, 12 MB less for 400,000 files (100,000 tables
 * a side).
 */
class FileColumns {
  readonly blocks = new SlotBlocks()
  flags = new Uint8Array(0)
  truncations = new Uint32Array(0)
  records = new Float64Array(0)
  walBytes = new Float64Array(0)
  dbSlot = new Int32Array(0)
  /** 1 + the file's row in `rows`; 0: no row changes (an index, a TOAST table, most catalogs) */
  rowSlot = new Int32Array(0)
  rows = new Float64Array(0)
  rowCount = 0
  /** the slots of the files met, in the order met */
  met = new Uint32Array(0)
  metCount = 0

  /** the last slot() met its file for the first time: the caller sets its dbSlot */
  added = false

  constructor (readonly index: RelFileIndex) {}

  slot (loc: RelFileLocator): number {
    const s = this.index.slot(loc.spcOid, loc.dbOid, loc.relNumber, 0)
    if (s >= this.flags.length) {
      const n = s + 1
      this.flags = grown(this.flags, n)
      this.truncations = grown(this.truncations, n)
      this.records = grown(this.records, n)
      this.walBytes = grown(this.walBytes, n)
      this.dbSlot = grown(this.dbSlot, n)
      this.rowSlot = grown(this.rowSlot, n)
    }
    this.added = (this.flags[s] & MET) === 0
    if (this.added) {
      this.flags[s] |= MET
      this.met = grown(this.met, this.metCount + 1)
      this.met[this.metCount++] = s
    }
    return s
  }

  addRows (f: number, bucket: Bucket, c: RowCounts): void {
    let r = this.rowSlot[f] - 1
    if (r < 0) {
      r = this.rowCount++
      this.rows = grown(this.rows, this.rowCount * ROW_WIDTH)
      this.rowSlot[f] = r + 1
    }
    const o = r * ROW_WIDTH + BUCKET[bucket]
    this.rows[o] += c.inserted
    this.rows[o + 1] += c.updated
    this.rows[o + 2] += c.deleted
  }
}

/**
 * The files as the report reads them, in the order met: the block maps (only their
 * counts are reported) and the database slots are let go. The columns are not cut
 * to size: copies made at the end of the WAL read were, for a moment, 23 MB on top
 * of everything the scan holds (its high-water with 100,000 tables a side).
 */
function rawFiles (c: FileColumns, vi: VersionInfo): RawFiles {
  const { index, met, flags, truncations, records, walBytes, rowSlot, rows } = c
  const n = c.metCount
  // a relation has fewer than 2^32 blocks
  const blocks = new Uint32Array(n)
  for (let i = 0; i < n; i++) blocks[i] = c.blocks.count(met[i])
  const rowCounts = (s: number, bucket: Bucket): RowCounts => {
    const r = rowSlot[s] - 1
    if (r < 0) return noRows()
    const o = r * ROW_WIDTH + BUCKET[bucket]
    return { inserted: rows[o], updated: rows[o + 1], deleted: rows[o + 2] }
  }
  // a literal of one fixed shape: built with a spread, each was a dictionary of some
  // 3 kB, allocated straight into the old generation (350 MB of garbage for 120,000)
  const at = (i: number): RawFile => {
    const s = met[i]
    const spcOid = index.spc[s]
    const dbOid = index.db[s]
    const relNumber = index.rel[s]
    return {
      spcOid,
      dbOid,
      relNumber,
      path: relationPath({ spcOid, dbOid, relNumber }, vi, { fork: ForkNumber.MAIN }),
      created: (flags[s] & CREATED) !== 0,
      dropped: (flags[s] & DROPPED) !== 0,
      truncations: truncations[s],
      records: records[s],
      walBytes: walBytes[s],
      blocks: blocks[i],
      committed: rowCounts(s, 'committed'),
      prepared: rowCounts(s, 'prepared'),
      aborted: rowCounts(s, 'aborted')
    }
  }
  return {
    length: n,
    at,
    dbOid: i => index.db[met[i]],
    ref: i => ({ spcOid: index.spc[met[i]], relNumber: index.rel[met[i]] })
  }
}

type Bucket = 'committed' | 'prepared' | 'aborted'

interface OpenPrepared {
  gid: string
  xid: number
  preparedAt: bigint
  database: number
  /** by file slot */
  rows: Map<number, RowCounts>
}

const MAX_NOTES = 50

/** TransactionIdPrecedes for normal xids: modulo-2^32 comparison */
function xidPrecedes (a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}

export class DiscardCollector {
  private readonly forkPage: number
  private readonly forkOff: number
  private checkpointSeen = false
  private ckptNextXid: number | null = null
  private preForkMaxXid: number | null = null

  private records = 0
  private walBytes = 0
  private files: FileColumns
  /** the file slots of the record being counted: it counts once per file */
  private readonly recordFiles = new Int32Array(MAX_RECORD_BLOCKS)
  private lastXid = 0
  /** the row counts the last heap record added to (one transaction inserting into one table: the common case) */
  private lastRowsXid = 0
  private lastRowsFile = -1
  private lastRows: RowCounts | null = null
  private readonly dbs = new Map<number, DbState>()
  /** by slot, for the file columns */
  private readonly dbList: DbState[] = []
  /** row changes of transactions not yet ended, by xid, then file slot */
  private readonly pending = new Map<number, Map<number, RowCounts>>()
  /** xids that wrote after the fork and have not ended */
  private readonly open = new Set<number>()
  /** subtransaction → parent, where the WAL says (assignment records, top-level xid blocks) */
  private readonly parent = new Map<number, number>()
  private readonly prepared = new Map<number, OpenPrepared>()
  private readonly tx = { committed: 0, aborted: 0, beganBeforeFork: 0, firstCommit: null as bigint | null, lastCommit: null as bigint | null }
  private readonly notes: string[] = []
  private readonly noted = new Set<string>()

  /** `index`: scanWal's slots of relation files, shared (a collector of its own by default) */
  constructor (private readonly vi: VersionInfo, private readonly from: Lsn, private readonly to: Lsn, private readonly index = new RelFileIndex()) {
    this.files = new FileColumns(index)
    this.forkPage = Number(from / BigInt(XLOG_BLCKSZ))
    this.forkOff = Number(from % BigInt(XLOG_BLCKSZ))
  }

  private note (kind: string, msg: string): void {
    if (this.noted.has(kind) || this.notes.length >= MAX_NOTES) return
    this.noted.add(kind)
    this.notes.push(msg)
  }

  private file (loc: RelFileLocator): number {
    const s = this.files.slot(loc)
    if (this.files.added) this.files.dbSlot[s] = this.db(loc.dbOid).slot
    return s
  }

  private db (oid: number): DbState {
    let d = this.dbs.get(oid)
    if (d === undefined) {
      d = { oid, created: false, dropped: false, records: 0, walBytes: 0, stamp: 0, slot: this.dbList.length }
      this.dbs.set(oid, d)
      this.dbList.push(d)
    }
    return d
  }

  /** began before the fork: assigned before the last common checkpoint, or no later than an xid seen before the fork */
  private beganBeforeFork (xid: number): boolean {
    if (this.ckptNextXid !== null && xidPrecedes(xid, this.ckptNextXid)) return true
    return this.preForkMaxXid !== null && !xidPrecedes(this.preForkMaxXid, xid)
  }

  private settle (xid: number, bucket: Bucket): void {
    if (this.lastRowsXid === xid) this.clearLastRows()
    const rows = this.pending.get(xid)
    if (rows !== undefined) {
      for (const [f, rc] of rows) this.files.addRows(f, bucket, rc)
      this.pending.delete(xid)
    }
    this.open.delete(xid)
    this.parent.delete(xid)
  }

  onRecord (rec: WalRecord): void {
    const afterFork = rec.lsnPage > this.forkPage || (rec.lsnPage === this.forkPage && rec.lsnOff >= this.forkOff)
    if (!afterFork) {
      if (!this.checkpointSeen && isCheckpointRecord(rec)) {
        // the scan starts at the last common checkpoint: every xid below its nextXid began before it
        this.checkpointSeen = true
        try { this.ckptNextXid = Number(decodeCheckpointRecord(rec, this.vi).nextXid & 0xFFFFFFFFn) } catch { /* the rewind itself reports a bad checkpoint */ }
      }
      if (rec.xid !== 0 && (this.preForkMaxXid === null || xidPrecedes(this.preForkMaxXid, rec.xid))) this.preForkMaxXid = rec.xid
      return
    }
    this.records++
    this.walBytes += rec.totLen
    if (rec.xid !== 0) {
      if (rec.xid !== this.lastXid) this.open.add(rec.xid)
      if (rec.toplevelXid !== 0) this.parent.set(rec.xid, rec.toplevelXid)
    }
    this.lastXid = rec.xid
    const blocks = rec.blocks
    const fc = this.files
    let first = -1
    const stamp = this.records
    const seen = this.recordFiles
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]
      const f = this.file(b)
      if (i === 0) first = f
      let again = false
      for (let j = 0; j < i && !again; j++) again = seen[j] === f
      seen[i] = f
      if (!again) {
        fc.records[f]++
        fc.walBytes[f] += rec.totLen
        const d = this.dbList[fc.dbSlot[f]]
        if (d.stamp !== stamp) {
          d.stamp = stamp
          d.records++
          d.walBytes += rec.totLen
        }
      }
      if (b.forkNumber === ForkNumber.MAIN) fc.blocks.mark(f, b.blockNumber)
    }
    try {
      switch (rec.rmid) {
        case RM_HEAP_ID:
        case RM_HEAP2_ID: {
          const rc = heapRowChange(rec)
          if (rc === null || first < 0) break
          if (rec.xid === 0) {
            this.note('heap-no-xid', `a row change without a transaction at ${formatLsn(rec.lsn)} is not counted`)
            break
          }
          let c = this.lastRows
          if (c === null || this.lastRowsXid !== rec.xid || this.lastRowsFile !== first) {
            let rows = this.pending.get(rec.xid)
            if (rows === undefined) this.pending.set(rec.xid, rows = new Map())
            c = rows.get(first) ?? null
            if (c === null) rows.set(first, c = noRows())
            this.lastRows = c
            this.lastRowsXid = rec.xid
            this.lastRowsFile = first
          }
          if (rc.op === 'insert') c.inserted += rc.rows
          else if (rc.op === 'update') c.updated += rc.rows
          else c.deleted += rc.rows
          break
        }
        case RM_XACT_ID:
          this.xact(rec)
          break
        case RM_SMGR_ID:
          if (isSmgrCreate(rec)) {
            const c = decodeSmgrCreate(rec)
            // permanent relations log their main fork's creation, unlogged ones their init fork's
            if (c.forkNumber === ForkNumber.MAIN || c.forkNumber === ForkNumber.INIT) this.files.flags[this.file(c.rel)] |= CREATED
          } else if (isSmgrTruncate(rec)) {
            const t = decodeSmgrTruncate(rec)
            if ((t.flags & SMGR_TRUNCATE_HEAP) !== 0) this.files.truncations[this.file(t.rel)]++
          }
          break
        case RM_DBASE_ID: {
          const k = dbaseKind(rec, this.vi)
          if (k === 'create-file-copy') this.db(decodeDbaseCreateFileCopy(rec, this.vi).dbId).created = true
          else if (k === 'create-wal-log') this.db(decodeDbaseCreateWalLog(rec, this.vi).dbId).created = true
          else if (k === 'drop') this.db(decodeDbaseDrop(rec, this.vi).dbId).dropped = true
          break
        }
      }
    } catch (e) {
      if (!isPgRewindError(e)) throw e
      this.note(`decode-${rec.rmid}-${rec.info & 0xF0}`, `${e.message}: not counted in the report`)
    }
  }

  private xact (rec: WalRecord): void {
    const op = xactOp(rec, this.vi)
    if (op === 'COMMIT' || op === 'ABORT' || op === 'COMMIT_PREPARED' || op === 'ABORT_PREPARED') {
      const end = decodeXactEnd(rec, this.vi)
      const bucket: Bucket = end.committed ? 'committed' : 'aborted'
      if (end.committed) {
        this.tx.committed++
        if (this.tx.firstCommit === null || end.time < this.tx.firstCommit) this.tx.firstCommit = end.time
        if (this.tx.lastCommit === null || end.time > this.tx.lastCommit) this.tx.lastCommit = end.time
      } else {
        this.tx.aborted++
      }
      if (this.beganBeforeFork(end.xid)) this.tx.beganBeforeFork++
      this.settle(end.xid, bucket)
      for (const s of end.subxacts) this.settle(s, bucket)
      if (end.prepared) {
        const p = this.prepared.get(end.xid)
        if (p !== undefined) {
          for (const [f, rc] of p.rows) this.files.addRows(f, bucket, rc)
          this.prepared.delete(end.xid)
        }
      }
      for (const r of end.rels) this.files.flags[this.file(r)] |= DROPPED
    } else if (op === 'PREPARE') {
      const p = decodeXactPrepare(rec, this.vi)
      const rows = new Map<number, RowCounts>()
      for (const x of [p.xid, ...p.subxacts]) {
        for (const [f, rc] of this.pending.get(x) ?? []) {
          let c = rows.get(f)
          if (c === undefined) rows.set(f, c = noRows())
          addRows(c, rc)
        }
        if (this.lastRowsXid === x) this.clearLastRows()
        this.pending.delete(x)
        this.open.delete(x)
        this.parent.delete(x)
      }
      this.prepared.set(p.xid, { gid: p.gid, xid: p.xid, preparedAt: p.preparedAt, database: p.dbId, rows })
    } else if (op === 'ASSIGNMENT') {
      const a = decodeXactAssignment(rec, this.vi)
      for (const s of a.subxacts) this.parent.set(s, a.top)
    }
  }

  private clearLastRows (): void {
    this.lastRows = null
    this.lastRowsFile = -1
  }

  finish (): RawDiscards {
    const preparedTransactions: PreparedTransaction[] = []
    for (const p of this.prepared.values()) {
      for (const [f, rc] of p.rows) this.files.addRows(f, 'prepared', rc)
      if (this.beganBeforeFork(p.xid)) this.tx.beganBeforeFork++
      preparedTransactions.push({ gid: p.gid, xid: p.xid, preparedAt: timestampTzToIso(p.preparedAt), database: p.database })
    }
    // transactions that wrote after the fork and never ended: they roll back
    const roots = new Set<number>()
    for (const x of this.open) {
      let top = x
      for (let hops = 0; this.parent.has(top) && hops < 64; hops++) top = this.parent.get(top) as number
      roots.add(top)
    }
    for (const x of [...this.open]) this.settle(x, 'aborted')
    for (const r of roots) if (this.beganBeforeFork(r)) this.tx.beganBeforeFork++
    // a database created after the fork has only new files; one dropped takes its files with it
    const fc = this.files
    for (let i = 0; i < fc.metCount; i++) {
      const f = fc.met[i]
      const d = this.dbList[fc.dbSlot[f]]
      if (d.created) fc.flags[f] |= CREATED
      if (d.dropped) fc.flags[f] |= DROPPED
    }
    const files = rawFiles(fc, this.vi)
    // the columns now belong to the report; a collector that went on would start anew
    this.files = new FileColumns(this.index)
    this.clearLastRows()
    return {
      from: formatLsn(this.from),
      to: formatLsn(this.to),
      records: this.records,
      walBytes: this.walBytes,
      transactions: {
        committed: this.tx.committed,
        aborted: this.tx.aborted,
        prepared: this.prepared.size,
        unfinished: roots.size,
        beganBeforeFork: this.tx.beganBeforeFork,
        firstCommit: this.tx.firstCommit === null ? null : timestampTzToIso(this.tx.firstCommit),
        lastCommit: this.tx.lastCommit === null ? null : timestampTzToIso(this.tx.lastCommit),
        preparedTransactions: preparedTransactions.sort((a, b) => a.xid - b.xid)
      },
      files,
      databases: [...this.dbs.values()].map(({ stamp: _stamp, slot: _slot, ...d }) => d).sort((a, b) => a.oid - b.oid),
      notes: this.notes
    }
  }
}
