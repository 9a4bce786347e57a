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
import { BlockBitmap, rangesCount } from './blockranges'
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
  files: RawFile[]
  databases: RawDatabase[]
  notes: string[]
}

/** `stamp`: the number of the last record that counted for it (a record counts once per file and database) */
interface FileState extends RawFile { bits: BlockBitmap, db: DbState, stamp: number }
interface DbState extends RawDatabase { stamp: number }

type Bucket = 'committed' | 'prepared' | 'aborted'

interface OpenPrepared {
  gid: string
  xid: number
  preparedAt: bigint
  database: number
  rows: Map<FileState, RowCounts>
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
  /** by relation file number (then tablespace and database): numeric keys, no string per block */
  private readonly files = new Map<number, FileState[]>()
  private lastFile: FileState | null = null
  private lastXid = 0
  /** the row counts the last heap record added to (one transaction inserting into one table: the common case) */
  private lastRowsXid = 0
  private lastRowsFile: FileState | null = null
  private lastRows: RowCounts | null = null
  private readonly dbs = new Map<number, DbState>()
  /** row changes of transactions not yet ended, by xid */
  private readonly pending = new Map<number, Map<FileState, RowCounts>>()
  /** xids that wrote after the fork and have not ended */
  private readonly open = new Set<number>()
  /** subtransaction → parent, where the WAL says (assignment records, top-level xid blocks) */
  private readonly parent = new Map<number, number>()
  private readonly prepared = new Map<number, OpenPrepared>()
  private readonly tx = { committed: 0, aborted: 0, beganBeforeFork: 0, firstCommit: null as bigint | null, lastCommit: null as bigint | null }
  private readonly notes: string[] = []
  private readonly noted = new Set<string>()

  constructor (private readonly vi: VersionInfo, private readonly from: Lsn, private readonly to: Lsn) {
    this.forkPage = Number(from / BigInt(XLOG_BLCKSZ))
    this.forkOff = Number(from % BigInt(XLOG_BLCKSZ))
  }

  private note (kind: string, msg: string): void {
    if (this.noted.has(kind) || this.notes.length >= MAX_NOTES) return
    this.noted.add(kind)
    this.notes.push(msg)
  }

  private file (loc: RelFileLocator): FileState {
    const last = this.lastFile
    if (last !== null && last.relNumber === loc.relNumber && last.spcOid === loc.spcOid && last.dbOid === loc.dbOid) return last
    let list = this.files.get(loc.relNumber)
    if (list === undefined) this.files.set(loc.relNumber, list = [])
    let f = list.find(x => x.spcOid === loc.spcOid && x.dbOid === loc.dbOid)
    if (f === undefined) {
      f = {
        db: this.db(loc.dbOid),
        spcOid: loc.spcOid,
        dbOid: loc.dbOid,
        relNumber: loc.relNumber,
        path: relationPath(loc, this.vi, { fork: ForkNumber.MAIN }),
        created: false,
        dropped: false,
        truncations: 0,
        records: 0,
        walBytes: 0,
        blocks: 0,
        committed: noRows(),
        prepared: noRows(),
        aborted: noRows(),
        bits: new BlockBitmap(),
        stamp: 0
      }
      list.push(f)
    }
    this.lastFile = f
    return f
  }

  private db (oid: number): DbState {
    let d = this.dbs.get(oid)
    if (d === undefined) {
      d = { oid, created: false, dropped: false, records: 0, walBytes: 0, stamp: 0 }
      this.dbs.set(oid, d)
    }
    return d
  }

  /** began before the fork: assigned before the last common checkpoint, or no later than an xid seen before the fork */
  private beganBeforeFork (xid: number): boolean {
    if (this.ckptNextXid !== null && xidPrecedes(xid, this.ckptNextXid)) return true
    return this.preForkMaxXid !== null && !xidPrecedes(this.preForkMaxXid, xid)
  }

  private settle (xid: number, bucket: Bucket): void {
    if (this.lastRowsXid === xid) this.lastRows = this.lastRowsFile = null
    const rows = this.pending.get(xid)
    if (rows !== undefined) {
      for (const [f, rc] of rows) addRows(f[bucket], rc)
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
    let first: FileState | null = null
    let prev: FileState | null = null
    const stamp = this.records
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]
      const f: FileState = prev !== null && prev.spcOid === b.spcOid && prev.dbOid === b.dbOid && prev.relNumber === b.relNumber ? prev : this.file(b)
      if (i === 0) first = f
      if (f.stamp !== stamp) {
        f.stamp = stamp
        f.records++
        f.walBytes += rec.totLen
        const d = f.db
        if (d.stamp !== stamp) {
          d.stamp = stamp
          d.records++
          d.walBytes += rec.totLen
        }
      }
      if (b.forkNumber === ForkNumber.MAIN) f.bits.mark(b.blockNumber)
      prev = f
    }
    try {
      switch (rec.rmid) {
        case RM_HEAP_ID:
        case RM_HEAP2_ID: {
          const rc = heapRowChange(rec)
          if (rc === null || first === null) break
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
            if (c.forkNumber === ForkNumber.MAIN || c.forkNumber === ForkNumber.INIT) this.file(c.rel).created = true
          } else if (isSmgrTruncate(rec)) {
            const t = decodeSmgrTruncate(rec)
            if ((t.flags & SMGR_TRUNCATE_HEAP) !== 0) this.file(t.rel).truncations++
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
          for (const [f, rc] of p.rows) addRows(f[bucket], rc)
          this.prepared.delete(end.xid)
        }
      }
      for (const r of end.rels) this.file(r).dropped = true
    } else if (op === 'PREPARE') {
      const p = decodeXactPrepare(rec, this.vi)
      const rows = new Map<FileState, RowCounts>()
      for (const x of [p.xid, ...p.subxacts]) {
        for (const [f, rc] of this.pending.get(x) ?? []) {
          let c = rows.get(f)
          if (c === undefined) rows.set(f, c = noRows())
          addRows(c, rc)
        }
        if (this.lastRowsXid === x) this.lastRows = this.lastRowsFile = null
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

  finish (): RawDiscards {
    const preparedTransactions: PreparedTransaction[] = []
    for (const p of this.prepared.values()) {
      for (const [f, rc] of p.rows) addRows(f.prepared, rc)
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
    const files: RawFile[] = []
    for (const f of [...this.files.values()].flat()) {
      const { bits, db: _db, stamp: _stamp, ...raw } = f
      raw.blocks = rangesCount(bits.toRanges())
      // a database created after the fork has only new files; one dropped takes its files with it
      if (this.dbs.get(f.dbOid)?.created === true) raw.created = true
      if (this.dbs.get(f.dbOid)?.dropped === true) raw.dropped = true
      files.push(raw)
    }
    // the per-file state (a bitmap each) is not needed any more: free it before the
    // report is named and built (120,000 files with 30,000 tables a side)
    this.files.clear()
    this.lastFile = this.lastRowsFile = this.lastRows = null
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
      databases: [...this.dbs.values()].map(({ stamp: _stamp, ...d }) => d).sort((a, b) => a.oid - b.oid),
      notes: this.notes
    }
  }
}
