import { fileRefKey, FileOwners, FileRef, NameLookup, Named, RelationName, relkindName } from './names'
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
  /** the relations fileOwners found, by database and OID */
  private readonly named = new Map<string, RelationName>()

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

  /** Each file's relation, with its name (kept for `describe`): one query for them all, in the relation's database. */
  async fileOwners (dbOid: number, dbName: string | null, files: Iterable<FileRef>): Promise<FileOwners> {
    const list = [...files]
    const fail = (reason: string): FileOwners => ({ oid: () => 0, why: () => reason })
    if (dbOid !== 0 && dbName === null) return fail(`the ${this.description} cannot be asked without the database's name`)
    let rows: Array<{ spc: string, fn: string, oid: string | null, relname: string | null, nspname: string | null, relkind: string | null, owner: string | null }>
    try {
      rows = await this.query(dbOid === 0 ? null : dbName, RELATIONS_SQL, [list.map(f => f.spcOid), list.map(f => f.relNumber)])
    } catch (e) {
      return fail(`the ${this.description} could not be asked in database "${dbName ?? ''}": ${errorText(e)}`)
    }
    const owner = new Map<string, number>()
    for (const r of rows) {
      if (r.oid === null || r.relname === null) continue
      const oid = Number(r.oid)
      owner.set(fileRefKey({ spcOid: Number(r.spc), relNumber: Number(r.fn) }), oid)
      this.named.set(`${dbOid}/${oid}`, { oid, schema: r.nspname, name: r.relname, kind: relkindName(r.relkind ?? ''), toastOf: r.owner, systemCatalog: oid < FIRST_NORMAL_OBJECT_ID })
    }
    return {
      oid: i => owner.get(fileRefKey(list[i])) ?? 0,
      why: i => `the ${this.description} has no relation with file ${list[i].relNumber} in database "${dbName ?? ''}"`
    }
  }

  async describe (dbOid: number, _dbName: string | null, _oids: readonly number[]): Promise<(oid: number) => Named<RelationName>> {
    return oid => this.named.get(`${dbOid}/${oid}`) ?? { reason: `the ${this.description} was not asked about relation ${oid}` }
  }
}
