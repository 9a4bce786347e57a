import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { localReader, lstatOrNull, RangeReader, ReadFile, Side } from '../datadir/files'
import { databasePath, GLOBALTABLESPACE_OID } from '../format/relpath'
import { BLCKSZ, type CatalogColumn, type VersionInfo } from '../format/versions'
import { ClogReader, XactStatus } from './clog'
import {
  HEAP_UPDATED, HEAP_XMAX_COMMITTED, HEAP_XMAX_INVALID, HEAP_XMAX_IS_MULTI, HEAP_XMIN_COMMITTED, HEAP_XMIN_INVALID, heapPageTuples,
  HeapTuple, xmaxIsLockOnly
} from './heappage'
import { ClassTable } from './classtable'
import { parseRelMap, RelMap, RELMAPPER_FILENAME } from './relmap'
import { bestRow, type RowState } from './rowstate'
import { CatalogRow, deformFixed } from './tuple'

/**
 * The system catalogs of a cleanly stopped data directory, read from its files
 * (never by starting a server): pg_database (shared, mapped), and per database
 * pg_class (mapped) and pg_namespace, every row version still on disk with its
 * state from its hint bits or pg_xact. Dead versions matter: a table dropped after
 * the fork is named by the row its DROP deleted (until VACUUM removes it).
 */

/** pg_class.oid etc. of the catalogs we read (src/include/catalog/pg_*.h; fixed in every version) */
export const PG_CLASS_OID = 1259
export const PG_NAMESPACE_OID = 2615
export const PG_DATABASE_OID = 1262
export const PG_INDEX_OID = 2610
/** FirstNormalObjectId: OIDs below are assigned by initdb */
export const FIRST_NORMAL_OBJECT_ID = 16384

export interface DatabaseRow {
  oid: number
  name: string
  tablespace: number
  state: RowState
}

export interface ClassRow {
  oid: number
  name: string
  namespace: number
  /** the file number: pg_class.relfilenode, or the relation map's for a mapped catalog */
  filenode: number
  /** the tablespace its files are in (pg_class says 0 for the database's default) */
  tablespace: number
  toastrelid: number
  kind: string
  shared: boolean
  state: RowState
  /** the row is the new version of an UPDATEd one */
  updated: boolean
}

export interface NamespaceRow {
  oid: number
  name: string
  state: RowState
}

/** A pg_index row: the index's pg_class.oid and its table's */
export interface IndexRow {
  indexrelid: number
  indrelid: number
  state: RowState
}

/** Where a catalog's file is: its tablespace and file number. */
export interface CatalogFile {
  tablespace: number
  filenode: number
}

export interface DatabaseCatalog {
  classes: ClassTable
  namespaces: NamespaceRow[]
}

/** Pages read at a time from a catalog's file: a big pg_class is never held whole */
const CHUNK_PAGES = 128

function num (row: CatalogRow, col: string): number {
  const v = row[col]
  return typeof v === 'number' ? v : 0
}

function str (row: CatalogRow, col: string): string {
  const v = row[col]
  return typeof v === 'string' ? v : ''
}

export class FileCatalog {
  private readonly read: ReadFile
  private readonly clog: ClogReader
  private sharedMap: RelMap | null = null
  private dbs: DatabaseRow[] | null = null
  private readonly perDb = new Map<number, DatabaseCatalog>()
  private readonly perDbIndexes = new Map<number, IndexRow[]>()

  /** `chunkPages`: pages read at a time (tests make it small to cross chunk boundaries) */
  constructor (readonly pgdata: string, readonly side: Side, readonly vi: VersionInfo, private readonly chunkPages = CHUNK_PAGES) {
    this.read = localReader(pgdata, side)
    let segs: number[] | null = null
    try {
      segs = readdirSync(join(pgdata, 'pg_xact')).filter(f => /^[0-9A-F]{4,}$/.test(f)).map(f => parseInt(f, 16))
    } catch { segs = null }
    this.clog = new ClogReader(this.read, segs)
  }

  /**
   * Every row version of a catalog (its main fork's segment files in turn until one
   * is missing, a chunk of pages at a time): its leading columns, its tuple (whose
   * bytes are valid only during the call) and its state. Segment 0's path and a
   * block number counted across segments are for messages.
   */
  private async eachRow (dir: string, filenode: number, columns: readonly CatalogColumn[], f: (row: CatalogRow, t: HeapTuple, state: RowState) => void): Promise<void> {
    const base = `${dir}/${filenode}`
    const reader = new RangeReader(this.pgdata, this.side)
    try {
      let block = 0
      for (let seg = 0; ; seg++) {
        const path = seg === 0 ? base : `${base}.${seg}`
        if (seg > 0 && lstatOrNull(join(this.pgdata, path), this.side) === null) break
        const size = this.chunkPages * BLCKSZ
        for (let offset = 0; ; offset += size) {
          const chunk = reader.read(path, offset, size)
          for (let p = 0; p + BLCKSZ <= chunk.length; p += BLCKSZ, block++) {
            for (const t of heapPageTuples(chunk.subarray(p, p + BLCKSZ), base, block)) f(deformFixed(t, columns, base), t, await this.rowState(t))
          }
          if (chunk.length < size) break
        }
      }
    } finally {
      reader.close()
    }
  }

  private async xactStatus (xid: number): Promise<XactStatus> {
    return await this.clog.status(xid)
  }

  /** The row version's state: hint bits when set, else pg_xact. */
  private async rowState (t: HeapTuple): Promise<RowState> {
    let xmin: XactStatus
    if ((t.infomask & HEAP_XMIN_COMMITTED) !== 0) xmin = 'committed' // also "frozen" (both bits)
    else if ((t.infomask & HEAP_XMIN_INVALID) !== 0) xmin = 'aborted'
    else xmin = await this.xactStatus(t.xmin)
    if (xmin === 'aborted') return 'rolled-back'
    if (xmin === 'in-progress' || xmin === 'sub-committed') return 'uncommitted'
    if (xmin === 'unknown') return 'unknown'
    // a lock, or a MultiXact (on catalog rows: locks only), does not delete
    if ((t.infomask & HEAP_XMAX_INVALID) !== 0 || t.xmax === 0 || xmaxIsLockOnly(t.infomask) || (t.infomask & HEAP_XMAX_IS_MULTI) !== 0) return 'live'
    if ((t.infomask & HEAP_XMAX_COMMITTED) !== 0) return 'deleted'
    return (await this.xactStatus(t.xmax)) === 'committed' ? 'deleted' : 'live'
  }

  private async rows<T> (dir: string, filenode: number, columns: readonly CatalogColumn[], f: (row: CatalogRow, t: HeapTuple, state: RowState) => T): Promise<T[]> {
    const out: T[] = []
    await this.eachRow(dir, filenode, columns, (r, t, state) => { out.push(f(r, t, state)) })
    return out
  }

  private async relmap (dir: string): Promise<RelMap> {
    const path = `${dir}/${RELMAPPER_FILENAME}`
    return parseRelMap(await this.read(path), this.vi, path)
  }

  async sharedRelMap (): Promise<RelMap> {
    this.sharedMap ??= await this.relmap('global')
    return this.sharedMap
  }

  /** Every row version of pg_database. */
  async databases (): Promise<DatabaseRow[]> {
    if (this.dbs !== null) return this.dbs
    const map = await this.sharedRelMap()
    const filenode = map.get(PG_DATABASE_OID)
    if (filenode === undefined) throw new PgRewindError('CATALOG_INVALID', 'the shared relation map has no entry for pg_database', { data: { path: `global/${RELMAPPER_FILENAME}` } })
    this.dbs = await this.rows('global', filenode, this.vi.catalogs.pgDatabase, (r, _t, state) => ({
      oid: num(r, 'oid'), name: str(r, 'datname'), tablespace: num(r, 'dattablespace'), state
    }))
    return this.dbs
  }

  /** The directory of a database's default tablespace, e.g. base/5. */
  databaseDir (db: Pick<DatabaseRow, 'oid' | 'tablespace'>): string {
    return databasePath(db.tablespace, db.oid, this.vi)
  }

  /** pg_class and pg_namespace of one database (every row version), kept for the lookups that follow. */
  async database (db: Pick<DatabaseRow, 'oid' | 'tablespace'>): Promise<DatabaseCatalog> {
    const cached = this.perDb.get(db.oid)
    if (cached !== undefined) return cached
    const classes = new ClassTable()
    const namespaceFile = await this.eachClassRow(db, r => classes.add(r))
    const c = { classes, namespaces: await this.namespaceRows(db, namespaceFile) }
    this.perDb.set(db.oid, c)
    return c
  }

  /**
   * Every row version of one database's pg_class, one at a time and none held (a
   * database with 100,000 tables has half a million); returns where its
   * pg_namespace is (the version of that row that best describes it).
   */
  async eachClassRow (db: Pick<DatabaseRow, 'oid' | 'tablespace'>, f: (r: ClassRow) => void): Promise<CatalogFile> {
    const dir = this.databaseDir(db)
    const local = await this.relmap(dir)
    const shared = await this.sharedRelMap()
    const classFilenode = local.get(PG_CLASS_OID)
    if (classFilenode === undefined) throw new PgRewindError('CATALOG_INVALID', `the relation map of "${dir}" has no entry for pg_class`, { data: { path: `${dir}/${RELMAPPER_FILENAME}` } })
    const nspRows: ClassRow[] = []
    await this.eachRow(dir, classFilenode, this.vi.catalogs.pgClass, (r, t, state) => {
      const oid = num(r, 'oid')
      const shared_ = r.relisshared === true
      const relfilenode = num(r, 'relfilenode')
      const reltablespace = num(r, 'reltablespace')
      const row: ClassRow = {
        oid,
        name: str(r, 'relname'),
        namespace: num(r, 'relnamespace'),
        filenode: relfilenode !== 0 ? relfilenode : ((shared_ ? shared : local).get(oid) ?? 0),
        tablespace: reltablespace !== 0 ? reltablespace : (shared_ ? GLOBALTABLESPACE_OID : db.tablespace),
        toastrelid: num(r, 'reltoastrelid'),
        kind: str(r, 'relkind'),
        shared: shared_,
        state,
        updated: (t.infomask & HEAP_UPDATED) !== 0
      }
      if (oid === PG_NAMESPACE_OID) nspRows.push(row)
      f(row)
    })
    const nsp = bestRow(nspRows)
    if (nsp === undefined || nsp.filenode === 0) throw new PgRewindError('CATALOG_INVALID', `pg_class of "${dir}" has no row for pg_namespace`, { data: { path: dir } })
    return { tablespace: nsp.tablespace, filenode: nsp.filenode }
  }

  /** Every row version of one database's pg_namespace (where eachClassRow found it). */
  async namespaceRows (db: Pick<DatabaseRow, 'oid'>, at: CatalogFile): Promise<NamespaceRow[]> {
    return await this.rows(databasePath(at.tablespace, db.oid, this.vi), at.filenode, this.vi.catalogs.pgNamespace, (r, _t, state) => ({
      oid: num(r, 'oid'), name: str(r, 'nspname'), state
    }))
  }

  /** pg_index of one database (every row version): which table each index belongs to. */
  async indexes (db: Pick<DatabaseRow, 'oid' | 'tablespace'>): Promise<IndexRow[]> {
    const cached = this.perDbIndexes.get(db.oid)
    if (cached !== undefined) return cached
    const { classes } = await this.database(db)
    const dir = this.databaseDir(db)
    const row = classes.best(classes.rowsOfOid(PG_INDEX_OID))
    if (row < 0 || classes.filenode(row) === 0) throw new PgRewindError('CATALOG_INVALID', `pg_class of "${dir}" has no row for pg_index`, { data: { path: dir } })
    const rows = await this.rows(databasePath(classes.tablespace(row), db.oid, this.vi), classes.filenode(row), this.vi.catalogs.pgIndex, (r, _t, state) => ({
      indexrelid: num(r, 'indexrelid'), indrelid: num(r, 'indrelid'), state
    }))
    this.perDbIndexes.set(db.oid, rows)
    return rows
  }
}
