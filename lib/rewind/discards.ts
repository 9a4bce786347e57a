/**
 * The report of what a rewind throws away: the target's own history after the
 * divergence point (everything its WAL records from there to its end), which the
 * rewind replaces with the source's. Plain JSON, part of scanWal's result and of the
 * pinned plan (schemas/defs.json discardReport).
 *
 * What is counted, and how:
 * - transactions: one per COMMIT / COMMIT PREPARED record after the divergence point
 *   (committed), one per ABORT / ABORT PREPARED record (aborted: a ROLLBACK, or a
 *   ROLLBACK TO SAVEPOINT of a subtransaction that had written; WAL does not tell the
 *   two apart), PREPAREs after it not finished by the end of the WAL (prepared), and
 *   transactions that wrote after it but have no end record (unfinished: the target
 *   stopped with them open; they roll back). beganBeforeFork counts those of them
 *   that had started before the divergence point: their earlier changes are in the
 *   WAL both sides share, but the source never saw them commit, so those are lost
 *   too (and not in the row counts).
 * - rows: what the heap records after the divergence point say (lib/wal/heap.ts),
 *   per relation, in three buckets by how their transaction ended: committed (the
 *   data the rewind really loses), prepared (lost with the prepared transaction),
 *   aborted (rolled back or never finished: never visible, nothing lost).
 * - records, blocks, walBytes of a relation: the records whose block references name
 *   it (as pg_waldump's blkref lines), the distinct main-fork blocks they change, and
 *   their total length; a database's records and walBytes count each record once.
 * - created / dropped: a relation is created when all its files were created after
 *   the divergence point (SMGR CREATE, or its database was created), dropped when
 *   none of its files is left at the end (removed at a commit or an abort, or its
 *   database was dropped); a new file for a relation that existed is a rewrite
 *   (TRUNCATE, VACUUM FULL, CLUSTER, a rewriting ALTER TABLE); truncations are
 *   SMGR TRUNCATE records of its main fork (VACUUM cutting empty pages off, TRUNCATE
 *   in the transaction that created it).
 * - names: from the target's catalog files (lib/catalog), else the source's; where
 *   neither knows, the relation is listed by its file with the reason.
 */

export interface RowCounts { inserted: number, updated: number, deleted: number }

export interface DiscardedFile {
  /** main-fork path of the file in the data directory */
  path: string
  /** created after the divergence point */
  created: boolean
  /** gone at the end of the target's WAL */
  dropped: boolean
}

/** Where a name came from: the target's own catalog files, or the source (its catalog files or SQL). */
export type NameSource = 'target' | 'source'

export interface DiscardedRelation {
  /** database OID; 0 for the shared catalogs */
  database: number
  /** pg_class.oid, null when unresolved */
  oid: number | null
  schema: string | null
  name: string | null
  /** table, index, sequence, toast table, materialized view, … */
  kind: string | null
  /** a TOAST table's owner, schema-qualified */
  toastOf: string | null
  /** a system catalog (OID below 16384) or its TOAST table or index */
  systemCatalog: boolean
  nameSource: NameSource | null
  /** why there is no name */
  unresolved: string | null
  created: boolean
  dropped: boolean
  rewrites: number
  truncations: number
  committed: RowCounts
  prepared: RowCounts
  aborted: RowCounts
  records: number
  blocks: number
  walBytes: number
  files: DiscardedFile[]
}

export interface DiscardedDatabase {
  oid: number
  name: string | null
  nameSource: NameSource | null
  unresolved: string | null
  created: boolean
  dropped: boolean
  committed: RowCounts
  prepared: RowCounts
  aborted: RowCounts
  records: number
  blocks: number
  walBytes: number
  relationsCreated: number
  relationsDropped: number
  rewrites: number
  truncations: number
  /** its relations not in the report's list (see MAX_LISTED_RELATIONS); the sums above count them */
  relationsOmitted: number
}

export interface PreparedTransaction {
  gid: string
  xid: number
  /** ISO 8601 */
  preparedAt: string
  database: number
}

export interface DiscardedTransactions {
  committed: number
  aborted: number
  prepared: number
  unfinished: number
  beganBeforeFork: number
  /** ISO 8601 commit times of the first and last commit record, null when none */
  firstCommit: string | null
  lastCommit: string | null
  preparedTransactions: PreparedTransaction[]
}

export interface DiscardReport {
  /** the divergence point */
  from: string
  /** the end of the target's WAL */
  to: string
  records: number
  walBytes: number
  transactions: DiscardedTransactions
  databases: DiscardedDatabase[]
  relations: DiscardedRelation[]
  /** what the report could not account for (a record it could not decode, …) */
  notes: string[]
}

export const noRows = (): RowCounts => ({ inserted: 0, updated: 0, deleted: 0 })

/**
 * No rows, one object for every relation that has none in a bucket (most of them:
 * an index, a TOAST table, a table nothing was written to) — three objects fewer per
 * relation of a big report (issue 13). Frozen: counts are summed with `sumRows`,
 * never added in place.
 */
export const NO_ROWS: RowCounts = Object.freeze(noRows())

const isZero = (r: RowCounts): boolean => r.inserted === 0 && r.updated === 0 && r.deleted === 0

/** The sum of two counts, without a new object when either is zero (neither is changed). */
export function sumRows (a: RowCounts, b: RowCounts): RowCounts {
  if (isZero(b)) return a
  if (isZero(a)) return b
  return { inserted: a.inserted + b.inserted, updated: a.updated + b.updated, deleted: a.deleted + b.deleted }
}

export function addRows (into: RowCounts, from: RowCounts): void {
  into.inserted += from.inserted
  into.updated += from.updated
  into.deleted += from.deleted
}

/** A report of nothing: no rewind is needed, or the target wrote nothing after the fork. */
export function emptyDiscardReport (from: string, to: string): DiscardReport {
  return {
    from,
    to,
    records: 0,
    walBytes: 0,
    transactions: { committed: 0, aborted: 0, prepared: 0, unfinished: 0, beganBeforeFork: 0, firstCommit: null, lastCommit: null, preparedTransactions: [] },
    databases: [],
    relations: [],
    notes: []
  }
}

/** A relation's created/dropped/rewrites follow from its files. */
export function relationFlags (r: Pick<DiscardedRelation, 'files'>): Pick<DiscardedRelation, 'created' | 'dropped' | 'rewrites'> {
  const created = r.files.length > 0 && r.files.every(f => f.created)
  const dropped = r.files.length > 0 && r.files.every(f => f.dropped)
  const rewrites = r.files.filter(f => f.created).length - (created ? 1 : 0)
  return { created, dropped, rewrites }
}

/**
 * The report lists this many relations at most: those with the most rows lost (committed or
 * prepared), then the most records. A divergence where each side created 30,000 tables
 * names 120,000 relations — 55 MB of JSON in every plan, and the biggest part of a big
 * rewind's memory (issue 13) — which nobody reviews one by one; the databases' sums
 * still count them all.
 */
export const MAX_LISTED_RELATIONS = 1000

/** What a relation adds to its database's sums (`sign` -1: takes back). */
export function contribute (db: DiscardedDatabase, r: Pick<DiscardedRelation, 'committed' | 'prepared' | 'aborted' | 'blocks' | 'created' | 'dropped' | 'rewrites' | 'truncations'>, sign: 1 | -1 = 1): void {
  const rows = (into: RowCounts, from: RowCounts): void => {
    into.inserted += sign * from.inserted
    into.updated += sign * from.updated
    into.deleted += sign * from.deleted
  }
  rows(db.committed, r.committed)
  rows(db.prepared, r.prepared)
  rows(db.aborted, r.aborted)
  db.blocks += sign * r.blocks
  if (r.created) db.relationsCreated += sign
  if (r.dropped) db.relationsDropped += sign
  db.rewrites += sign * r.rewrites
  db.truncations += sign * r.truncations
}

const lostRows = (r: DiscardedRelation): number =>
  r.committed.inserted + r.committed.updated + r.committed.deleted + r.prepared.inserted + r.prepared.updated + r.prepared.deleted

/** What orders relations within a database: the name; one not yet named, its OID (the oldest first); one without a name, its first file's path, last. */
function relationKey (r: DiscardedRelation): string {
  if (r.name !== null) return `${r.schema ?? ''}.${r.name}`
  if (r.oid !== null) return `#${String(r.oid).padStart(10, '0')}`
  return `~${r.files[0]?.path ?? ''}`
}

const sortKey = (r: DiscardedRelation): string => `${String(r.database).padStart(10, '0')}/${relationKey(r)}`

/** A relation offered to the list, with what ranks it (computed once: the list is sorted again and again). */
interface Ranked { r: DiscardedRelation, lost: number, key: string }

/**
 * The relations a bounded report keeps first. Among equals, the key is what the
 * relation has when offered: a report names only the relations it keeps, so ties go
 * by OID (the oldest relation first), then by the path of the first file.
 */
function rank (a: Ranked, b: Ranked): number {
  return b.lost - a.lost || b.r.records - a.r.records || b.r.walBytes - a.r.walBytes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}

/** At most `max` relations, the ones `rank` puts first, kept as they are offered (never all held at once). */
export class ListedRelations {
  private list: Ranked[] = []
  /** relations left out, by database */
  readonly omitted = new Map<number, number>()
  constructor (private readonly max: number) {}

  /** the last one kept at the last trim: what ranks after it is never kept */
  private threshold: Ranked | null = null

  /**
   * The relation is kept as a copy: the objects the caller builds for every relation
   * then all die young. Kept themselves, V8 saw most of them survive while the list
   * first filled and allocated every later one straight into the old generation
   * (allocation-site pretenuring), where 120,000 relations left out took the heap
   * from 90 to 340 MB of garbage before a full collection.
   */
  offer (r: DiscardedRelation): void {
    const x = { r, lost: lostRows(r), key: sortKey(r) }
    if (this.threshold !== null && rank(x, this.threshold) > 0) {
      this.leaveOut(r.database)
      return
    }
    x.r = structuredClone(r)
    this.list.push(x)
    if (this.list.length >= 2 * this.max + 64) this.trim()
  }

  private leaveOut (database: number): void {
    this.omitted.set(database, (this.omitted.get(database) ?? 0) + 1)
  }

  private trim (): void {
    if (this.list.length <= this.max) return
    this.list.sort(rank)
    for (let i = this.max; i < this.list.length; i++) this.leaveOut(this.list[i].r.database)
    this.list.length = this.max
    this.threshold = this.list[this.max - 1] ?? null
  }

  /** The kept relations (to be named, then put in the report's order: sortRelations). */
  finish (): DiscardedRelation[] {
    this.trim()
    const kept = this.list.map(x => x.r)
    this.list = []
    return kept
  }
}

/** Relations in a stable order: by database, then name (unresolved last, by path). */
export function sortRelations (rels: DiscardedRelation[]): DiscardedRelation[] {
  return rels.sort((a, b) => sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0)
}
