import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Side } from '../datadir/files'
import { GLOBALTABLESPACE_OID } from '../format/relpath'
import type { VersionInfo } from '../format/versions'
import { ClassTable } from './classtable'
import { firstWithKey, grown, orderBy } from '../columns'
import { DatabaseCatalog, DatabaseRow, FileCatalog, FIRST_NORMAL_OBJECT_ID } from './filecatalog'
import { bestRow, ROW_STATE_RANK } from './rowstate'

/**
 * Names for relation files and database OIDs, from one side of a rewind. Two ways:
 * a stopped data directory's own catalog files (FileNameLookup, here) and a running
 * source server's SQL (sqlnames.ts). A lookup never fails: what it cannot name comes
 * back with the reason.
 */

export interface RelationName {
  oid: number
  schema: string | null
  name: string
  kind: string
  toastOf: string | null
  systemCatalog: boolean
}

export interface Unresolved { reason: string }

export type Named<T> = T | Unresolved

export function isUnresolved<T> (x: Named<T>): x is Unresolved {
  return typeof x === 'object' && x !== null && 'reason' in x
}

/** A relation file to name: its tablespace and file number (the database is the lookup's argument). */
export interface FileRef { spcOid: number, relNumber: number }

/** A file's name, or why it has none: what `relationNames` gives for the files it was asked about. */
export type RelationNames = (f: FileRef) => Named<RelationName>

/** The relations (pg_class OIDs) that own files, in the order the files were asked about; 0 where none was found, and why. */
export interface FileOwners {
  oid: (i: number) => number
  why: (i: number) => string
}

/**
 * Names in two questions, so that a divergence of hundreds of thousands of files is
 * named without a name or a catalog row held for each: which relation owns each file
 * (a number a file), then the names of the few relations a report lists. A stopped
 * data directory's lookup reads pg_class once for each, keeping nothing else; its
 * whole pg_class held at once took 40 MB with 100,000 tables (issue 13).
 */
export interface NameLookup {
  readonly side: Side
  databases (oids: readonly number[]): Promise<Map<number, Named<{ name: string }>>>
  /** `dbName`: what the report knows the database as (a server source connects to it by name) */
  fileOwners (dbOid: number, dbName: string | null, files: Iterable<FileRef>): Promise<FileOwners>
  /** The relations' names, by OID (those fileOwners found: a server source is asked once, by file) */
  describe (dbOid: number, dbName: string | null, oids: readonly number[]): Promise<(oid: number) => Named<RelationName>>
}

/** Both questions at once, for a few files: each file's relation, named. */
export async function relationNames (lookup: NameLookup, dbOid: number, dbName: string | null, files: readonly FileRef[]): Promise<RelationNames> {
  const owners = await lookup.fileOwners(dbOid, dbName, files)
  const oids = new Set<number>()
  for (let i = 0; i < files.length; i++) if (owners.oid(i) !== 0) oids.add(owners.oid(i))
  const names = await lookup.describe(dbOid, dbName, [...oids])
  return namesFromMap(new Map(files.map((f, i) => [fileRefKey(f), owners.oid(i) !== 0 ? names(owners.oid(i)) : { reason: owners.why(i) }])))
}

export const fileRefKey = (f: FileRef): string => `${f.spcOid}/${f.relNumber}`

/** Names looked up all at once, by file */
export function namesFromMap (m: ReadonlyMap<string, Named<RelationName>>): RelationNames {
  return f => m.get(fileRefKey(f)) ?? { reason: 'not looked up' }
}

/** pg_class.relkind, as psql's \d calls them */
const RELKINDS: Record<string, string> = {
  r: 'table',
  i: 'index',
  S: 'sequence',
  t: 'toast table',
  v: 'view',
  m: 'materialized view',
  c: 'composite type',
  f: 'foreign table',
  p: 'partitioned table',
  I: 'partitioned index'
}

export function relkindName (relkind: string): string {
  return RELKINDS[relkind] ?? `relkind ${relkind}`
}

function errorText (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** A database's catalog (or the rows of it a lookup kept), for many lookups: its pg_class rows found by OID, TOAST tables by owner. */
export class IndexedCatalog {
  private readonly classes: ClassTable
  private readonly namespaces = new Map<number, Array<DatabaseCatalog['namespaces'][number]>>()

  constructor (cat: DatabaseCatalog) {
    this.classes = cat.classes
    for (const n of cat.namespaces) {
      const l = this.namespaces.get(n.oid)
      if (l === undefined) this.namespaces.set(n.oid, [n])
      else l.push(n)
    }
  }

  private schemaOf (namespace: number): string | null {
    return bestRow(this.namespaces.get(namespace) ?? [])?.name ?? null
  }

  /** The catalog's view of one relation: its current name, schema and (for TOAST) owner. */
  describe (oid: number): RelationName | null {
    const c = this.classes
    const i = c.best(c.rowsOfOid(oid))
    if (i < 0) return null
    let toastOf: string | null = null
    if (c.kind(i) === 't') {
      const owner = c.best(c.rowsOwningToast(oid))
      if (owner >= 0) toastOf = `${this.schemaOf(c.namespace(owner)) ?? '?'}.${c.name(owner)}`
    }
    return { oid, schema: this.schemaOf(c.namespace(i)), name: c.name(i), kind: relkindName(c.kind(i)), toastOf, systemCatalog: oid < FIRST_NORMAL_OBJECT_ID }
  }
}

/** Names from a cleanly stopped data directory's catalog files. */
export class FileNameLookup implements NameLookup {
  readonly catalog: FileCatalog
  private dbRows: DatabaseRow[] | Unresolved | null = null

  constructor (readonly pgdata: string, readonly side: Side, vi: VersionInfo) {
    this.catalog = new FileCatalog(pgdata, side, vi)
  }

  private async allDatabases (): Promise<DatabaseRow[] | Unresolved> {
    if (this.dbRows === null) {
      try {
        this.dbRows = await this.catalog.databases()
      } catch (e) {
        this.dbRows = { reason: `the ${this.side}'s pg_database could not be read: ${errorText(e)}` }
      }
    }
    return this.dbRows
  }

  async databases (oids: readonly number[]): Promise<Map<number, Named<{ name: string }>>> {
    const all = await this.allDatabases()
    const out = new Map<number, Named<{ name: string }>>()
    for (const oid of oids) {
      if (isUnresolved(all)) { out.set(oid, all); continue }
      const row = bestRow(all.filter(d => d.oid === oid))
      out.set(oid, row !== undefined ? { name: row.name } : { reason: `the ${this.side}'s pg_database has no row for OID ${oid}` })
    }
    return out
  }

  /** The database whose catalog names dbOid's files (shared catalogs: any database that is there), or why there is none. */
  private async catalogDatabase (dbOid: number): Promise<DatabaseRow | Unresolved> {
    const all = await this.allDatabases()
    if (isUnresolved(all)) return all
    // shared catalogs are described in every database's pg_class: read any one that is there
    const candidates = dbOid === 0
      ? [...new Map(all.filter(d => d.state === 'live').map(d => [d.oid, d])).values()]
      : [bestRow(all.filter(d => d.oid === dbOid))].filter((d): d is DatabaseRow => d !== undefined)
    if (candidates.length === 0) return { reason: `the ${this.side}'s pg_database has no row for database OID ${dbOid}` }
    const db = candidates.find(d => existsSync(join(this.pgdata, this.catalog.databaseDir(d))))
    if (db !== undefined) return db
    const d = candidates[0]
    return { reason: `the ${this.side} has no directory ${this.catalog.databaseDir(d)} for database "${d.name}" (it was dropped)` }
  }

  private unreadable (db: DatabaseRow, e: unknown): Unresolved {
    return { reason: `the ${this.side}'s catalog of database "${db.name}" could not be read: ${errorText(e)}` }
  }

  /**
   * pg_class read once, each row version matched to the files it names (by a sorted
   * column of their numbers): the best version's OID kept for each file, and nothing
   * else.
   */
  async fileOwners (dbOid: number, _dbName: string | null, files: Iterable<FileRef>): Promise<FileOwners> {
    let n = 0
    let spcs = new Uint32Array(0)
    let rels = new Uint32Array(0)
    for (const f of files) {
      spcs = grown(spcs, n + 1)
      rels = grown(rels, n + 1)
      // a shared catalog's file is in the global tablespace, whatever it was asked by
      spcs[n] = dbOid === 0 ? GLOBALTABLESPACE_OID : f.spcOid
      rels[n++] = f.relNumber
    }
    const db = await this.catalogDatabase(dbOid)
    if (isUnresolved(db)) return { oid: () => 0, why: () => db.reason }
    const order = orderBy(rels, n)
    const oids = new Uint32Array(n)
    /** the rank + 1 of the row version that gave the file its OID (0: none yet): the best one wins, the first of equals */
    const ranks = new Uint8Array(n)
    try {
      await this.catalog.eachClassRow(db, r => {
        if (r.shared !== (dbOid === 0)) return
        const rank = ROW_STATE_RANK[r.state] + 1
        for (let p = firstWithKey(order, rels, r.filenode); p < n && rels[order[p]] === r.filenode; p++) {
          const k = order[p]
          if (spcs[k] === r.tablespace && rank > ranks[k]) {
            ranks[k] = rank
            oids[k] = r.oid
          }
        }
      })
    } catch (e) {
      const u = this.unreadable(db, e)
      return { oid: () => 0, why: () => u.reason }
    }
    return {
      oid: i => oids[i],
      why: i => `no row of the ${this.side}'s pg_class in database "${db.name}" has file ${rels[i]} in tablespace ${spcs[i]} (VACUUM may have removed it)`
    }
  }

  /** pg_class read again for the rows of these relations and of the tables whose TOAST tables they are. */
  async describe (dbOid: number, _dbName: string | null, oids: readonly number[]): Promise<(oid: number) => Named<RelationName>> {
    const db = await this.catalogDatabase(dbOid)
    if (isUnresolved(db)) return () => db
    const wanted = new Set(oids)
    const classes = new ClassTable()
    let cat: IndexedCatalog
    try {
      const at = await this.catalog.eachClassRow(db, r => {
        if (wanted.has(r.oid) || (r.toastrelid !== 0 && wanted.has(r.toastrelid))) classes.add(r)
      })
      cat = new IndexedCatalog({ classes, namespaces: await this.catalog.namespaceRows(db, at) })
    } catch (e) {
      const u = this.unreadable(db, e)
      return () => u
    }
    return oid => cat.describe(oid) ?? { reason: `no row of the ${this.side}'s pg_class in database "${db.name}" has OID ${oid}` }
  }
}
