import { fileRefKey, FileRef, NameLookup, Named, namesFromMap, RelationName, RelationNames, relkindName } from './names'
import { FIRST_NORMAL_OBJECT_ID } from './filecatalog'

/**
 * Names from a running source server, by SQL: pg_database for databases (a shared
 * catalog, readable from the session's own database), and for relations
 * pg_filenode_relation() in the relation's database (a session to that database,
 * made like the first one). Used only for what the target's own catalog files
 * cannot name: relations of a database the target dropped after the fork, rows
 * VACUUM removed. The source knows a relation only if it still has that file: one
 * that existed at the fork and that the source has not rewritten since.
 */

/** A read-only query in one of the source's databases (null: the session's own). */
export type CatalogQuery = <T extends Record<string, unknown>>(dbname: string | null, sql: string, params: unknown[]) => Promise<T[]>

const DATABASES_SQL = 'SELECT oid::int8 AS oid, datname FROM pg_catalog.pg_database WHERE oid = ANY($1::pg_catalog.oid[])'

// pg_filenode_relation takes 0 for the database's default tablespace; a multi-argument
// unnest is FROM-clause syntax, not a function: it cannot be schema-qualified
const RELATIONS_SQL = `SELECT f.spc::int8 AS spc, f.fn::int8 AS fn, c.oid::int8 AS oid, c.relname::text AS relname, n.nspname::text AS nspname,
  c.relkind::text AS relkind, o.owner
FROM unnest($1::pg_catalog.oid[], $2::pg_catalog.oid[]) AS f(spc, fn)
LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.pg_filenode_relation(
  CASE WHEN f.spc = (SELECT dattablespace FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) THEN 0 ELSE f.spc END, f.fn)
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (SELECT (SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = t.relnamespace)::text || '.' || t.relname::text AS owner
  FROM pg_catalog.pg_class t WHERE c.relkind = 't' AND t.reltoastrelid = c.oid LIMIT 1) o ON true`

function errorText (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

export class SqlNameLookup implements NameLookup {
  readonly side = 'source' as const

  constructor (private readonly query: CatalogQuery, private readonly description: string) {}

  async databases (oids: readonly number[]): Promise<Map<number, Named<{ name: string }>>> {
    const out = new Map<number, Named<{ name: string }>>()
    try {
      const rows = await this.query<{ oid: string, datname: string }>(null, DATABASES_SQL, [oids])
      const byOid = new Map(rows.map(r => [Number(r.oid), r.datname]))
      for (const oid of oids) {
        const name = byOid.get(oid)
        out.set(oid, name !== undefined ? { name } : { reason: `the ${this.description} has no database with OID ${oid}` })
      }
    } catch (e) {
      for (const oid of oids) out.set(oid, { reason: `the ${this.description} could not be asked: ${errorText(e)}` })
    }
    return out
  }

  async relations (dbOid: number, dbName: string | null, files: readonly FileRef[]): Promise<RelationNames> {
    const out = new Map<string, Named<RelationName>>()
    const fail = (reason: string): RelationNames => () => ({ reason })
    if (dbOid !== 0 && dbName === null) return fail(`the ${this.description} cannot be asked without the database's name`)
    let rows: Array<{ spc: string, fn: string, oid: string | null, relname: string | null, nspname: string | null, relkind: string | null, owner: string | null }>
    try {
      rows = await this.query(dbOid === 0 ? null : dbName, RELATIONS_SQL, [files.map(f => f.spcOid), files.map(f => f.relNumber)])
    } catch (e) {
      return fail(`the ${this.description} could not be asked in database "${dbName ?? ''}": ${errorText(e)}`)
    }
    for (const r of rows) {
      const key = fileRefKey({ spcOid: Number(r.spc), relNumber: Number(r.fn) })
      if (r.oid === null || r.relname === null) {
        out.set(key, { reason: `the ${this.description} has no relation with file ${r.fn} in database "${dbName ?? ''}"` })
        continue
      }
      const oid = Number(r.oid)
      out.set(key, { oid, schema: r.nspname, name: r.relname, kind: relkindName(r.relkind ?? ''), toastOf: r.owner, systemCatalog: oid < FIRST_NORMAL_OBJECT_ID })
    }
    return namesFromMap(out)
  }
}
