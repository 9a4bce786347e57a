import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Side } from '../datadir/files'
import { GLOBALTABLESPACE_OID } from '../format/relpath'
import type { VersionInfo } from '../format/versions'
import { bestRow, ClassRow, DatabaseCatalog, DatabaseRow, FileCatalog, FIRST_NORMAL_OBJECT_ID } from './filecatalog'

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

export interface NameLookup {
  readonly side: Side
  databases (oids: readonly number[]): Promise<Map<number, Named<{ name: string }>>>
  /** `dbName`: what the report knows the database as (a server source connects to it by name) */
  relations (dbOid: number, dbName: string | null, files: readonly FileRef[]): Promise<Map<string, Named<RelationName>>>
}

export const fileRefKey = (f: FileRef): string => `${f.spcOid}/${f.relNumber}`

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

/** A database's catalog rows by file, by OID, and TOAST tables by owner, for many lookups. */
export class IndexedCatalog {
  private readonly byFile = new Map<string, ClassRow[]>()
  private readonly byOid = new Map<number, ClassRow[]>()
  private readonly byToast = new Map<number, ClassRow[]>()
  private readonly namespaces = new Map<number, Array<DatabaseCatalog['namespaces'][number]>>()

  constructor (cat: DatabaseCatalog) {
    const add = <K, V>(m: Map<K, V[]>, k: K, v: V): void => {
      const l = m.get(k)
      if (l === undefined) m.set(k, [v])
      else l.push(v)
    }
    for (const c of cat.classes) {
      add(this.byFile, `${c.tablespace}/${c.filenode}`, c)
      add(this.byOid, c.oid, c)
      if (c.toastrelid !== 0) add(this.byToast, c.toastrelid, c)
    }
    for (const n of cat.namespaces) add(this.namespaces, n.oid, n)
  }

  /** the pg_class row (best version) of the relation whose file this is */
  fileOwner (spcOid: number, relNumber: number, shared: boolean): ClassRow | undefined {
    return bestRow((this.byFile.get(`${spcOid}/${relNumber}`) ?? []).filter(c => c.shared === shared))
  }

  private schemaOf (r: ClassRow): string | null {
    return bestRow(this.namespaces.get(r.namespace) ?? [])?.name ?? null
  }

  /** The catalog's view of one relation: its current name, schema and (for TOAST) owner. */
  describe (oid: number): RelationName | null {
    const c = bestRow(this.byOid.get(oid) ?? [])
    if (c === undefined) return null
    let toastOf: string | null = null
    if (c.kind === 't') {
      const owner = bestRow(this.byToast.get(oid) ?? [])
      if (owner !== undefined) toastOf = `${this.schemaOf(owner) ?? '?'}.${owner.name}`
    }
    return { oid, schema: this.schemaOf(c), name: c.name, kind: relkindName(c.kind), toastOf, systemCatalog: oid < FIRST_NORMAL_OBJECT_ID }
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

  async relations (dbOid: number, _dbName: string | null, files: readonly FileRef[]): Promise<Map<string, Named<RelationName>>> {
    const out = new Map<string, Named<RelationName>>()
    const fail = (reason: string): Map<string, Named<RelationName>> => {
      for (const f of files) out.set(fileRefKey(f), { reason })
      return out
    }
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
    for (const f of files) {
      const spc = dbOid === 0 ? GLOBALTABLESPACE_OID : f.spcOid
      const match = cat.fileOwner(spc, f.relNumber, dbOid === 0)
      const named = match !== undefined ? cat.describe(match.oid) : null
      out.set(fileRefKey(f), named ?? {
        reason: `no row of the ${this.side}'s pg_class in database "${db.name}" has file ${f.relNumber} in tablespace ${f.spcOid} (VACUUM may have removed it)`
      })
    }
    return out
  }
}
