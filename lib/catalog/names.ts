import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Side } from '../datadir/files'
import { GLOBALTABLESPACE_OID } from '../format/relpath'
import type { VersionInfo } from '../format/versions'
import type { ClassTable } from './classtable'
import { DatabaseCatalog, DatabaseRow, FileCatalog, FIRST_NORMAL_OBJECT_ID } from './filecatalog'
import { bestRow } from './rowstate'

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

/**
 * The names of the files one `relations` call was asked for, a file at a time: a
 * lookup may make each name only when it is asked for (120,000 names held at once
 * took 22 MB while a big divergence was named; the report keeps a thousand).
 */
export type RelationNames = (f: FileRef) => Named<RelationName>

export interface NameLookup {
  readonly side: Side
  databases (oids: readonly number[]): Promise<Map<number, Named<{ name: string }>>>
  /** `dbName`: what the report knows the database as (a server source connects to it by name) */
  relations (dbOid: number, dbName: string | null, files: readonly FileRef[]): Promise<RelationNames>
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

/** A database's catalog, for many lookups: its pg_class rows found by file, by OID, TOAST tables by owner. */
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

  /** the OID of the relation (its best pg_class row) whose file this is */
  fileOwner (spcOid: number, relNumber: number, shared: boolean): number | undefined {
    const c = this.classes
    const i = c.best(c.rowsOfFile(spcOid, relNumber).filter(r => c.shared(r) === shared))
    return i < 0 ? undefined : c.oid(i)
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

  async relations (dbOid: number, _dbName: string | null, _files: readonly FileRef[]): Promise<RelationNames> {
    const fail = (reason: string): RelationNames => () => ({ reason })
    const all = await this.allDatabases()
    if (isUnresolved(all)) return fail(all.reason)
    // shared catalogs are described in every database's pg_class: read any one that is there
    const candidates = dbOid === 0
      ? [...new Map(all.filter(d => d.state === 'live').map(d => [d.oid, d])).values()]
      : [bestRow(all.filter(d => d.oid === dbOid))].filter((d): d is DatabaseRow => d !== undefined)
    if (candidates.length === 0) return fail(`the ${this.side}'s pg_database has no row for database OID ${dbOid}`)
    const db = candidates.find(d => existsSync(join(this.pgdata, this.catalog.databaseDir(d))))
    if (db === undefined) {
      const d = candidates[0]
      return fail(`the ${this.side} has no directory ${this.catalog.databaseDir(d)} for database "${d.name}" (it was dropped)`)
    }
    let cat: IndexedCatalog
    try {
      cat = new IndexedCatalog(await this.catalog.database(db))
    } catch (e) {
      return fail(`the ${this.side}'s catalog of database "${db.name}" could not be read: ${errorText(e)}`)
    }
    return f => {
      const owner = cat.fileOwner(dbOid === 0 ? GLOBALTABLESPACE_OID : f.spcOid, f.relNumber, dbOid === 0)
      return (owner !== undefined ? cat.describe(owner) : null) ?? {
        reason: `no row of the ${this.side}'s pg_class in database "${db.name}" has file ${f.relNumber} in tablespace ${f.spcOid} (VACUUM may have removed it)`
      }
    }
  }
}
