import type { RelFileLocator } from '../format/relpath'
import type { VersionInfo } from '../format/versions'
import type { ClassTable } from './classtable'
import { DatabaseRow, FileCatalog } from './filecatalog'
import { bestRow } from './rowstate'

/**
 * The indexes of given heap relation files, from a stopped data directory's own
 * catalog files: pg_class (file number → relation OID, and back) and pg_index
 * (indrelid → indexrelid) of the heap's database. Every row version on disk counts,
 * whatever its state (a conservative answer: an index dropped or a file number
 * replaced since only adds a file to compare). A heap file that no pg_class row
 * names gets every index of its database; a database whose catalog cannot be read
 * is reported whole, for the caller to compare all its relation files.
 */

export interface HeapIndexes {
  /** index relation files (main fork) */
  indexes: RelFileLocator[]
  /** heaps whose indexes were found through pg_index */
  heapsResolved: number
  /** heaps no pg_class row names: every index of their database was taken */
  heapsUnresolved: number
  /** databases whose catalog could not be read, with why */
  wholeDatabases: Array<{ dbOid: number, reason: string }>
}

function errorText (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

export async function indexesOfHeaps (pgdata: string, vi: VersionInfo, heaps: readonly RelFileLocator[]): Promise<HeapIndexes> {
  const out: HeapIndexes = { indexes: [], heapsResolved: 0, heapsUnresolved: 0, wholeDatabases: [] }
  if (heaps.length === 0) return out
  const cat = new FileCatalog(pgdata, 'target', vi)
  const byDb = new Map<number, RelFileLocator[]>()
  for (const h of heaps) {
    const l = byDb.get(h.dbOid)
    if (l === undefined) byDb.set(h.dbOid, [h])
    else l.push(h)
  }
  let dbs: DatabaseRow[]
  try {
    dbs = await cat.databases()
  } catch (e) {
    for (const dbOid of byDb.keys()) out.wholeDatabases.push({ dbOid, reason: `pg_database could not be read: ${errorText(e)}` })
    return out
  }
  const seen = new Set<string>()
  const add = (c: ClassTable, i: number, dbOid: number): void => {
    if (c.filenode(i) === 0) return
    const loc = { spcOid: c.tablespace(i), dbOid: c.shared(i) ? 0 : dbOid, relNumber: c.filenode(i) }
    const k = `${loc.spcOid}/${loc.dbOid}/${loc.relNumber}`
    if (seen.has(k)) return
    seen.add(k)
    out.indexes.push(loc)
  }
  for (const [dbOid, list] of byDb) {
    // shared catalogs (global/): every database's pg_class and pg_index list them; take one that reads
    const candidates = dbOid === 0
      ? [...new Map(dbs.map(d => [d.oid, d])).values()]
      : [bestRow(dbs.filter(d => d.oid === dbOid))].filter((d): d is DatabaseRow => d !== undefined)
    if (candidates.length === 0) {
      out.wholeDatabases.push({ dbOid, reason: 'pg_database has no row for it' })
      continue
    }
    let done = false
    let why = ''
    for (const db of candidates) {
      try {
        const { classes } = await cat.database(db)
        const index = await cat.indexes(db)
        const ofDb = (i: number): boolean => dbOid !== 0 || classes.shared(i)
        const heapOids = new Set<number>()
        let unresolved = 0
        for (const h of list) {
          const heapRows = classes.rowsOfFile(h.spcOid, h.relNumber).filter(ofDb)
          if (heapRows.length === 0) unresolved++
          for (const i of heapRows) heapOids.add(classes.oid(i))
        }
        if (unresolved > 0) {
          for (let i = 0; i < classes.length; i++) if (ofDb(i) && classes.kind(i) === 'i') add(classes, i, dbOid)
        } else {
          for (const x of index) {
            if (heapOids.has(x.indrelid)) for (const i of classes.rowsOfOid(x.indexrelid)) add(classes, i, dbOid)
          }
        }
        out.heapsUnresolved += unresolved
        out.heapsResolved += list.length - unresolved
        done = true
        break
      } catch (e) {
        why = errorText(e)
      }
    }
    if (!done) out.wholeDatabases.push({ dbOid, reason: `its catalog could not be read: ${why}` })
  }
  return out
}
