import { FileRef, isUnresolved, NameLookup, Named, RelationName, relationNames, Unresolved } from '../catalog/names'
import { FIRST_NORMAL_OBJECT_ID } from '../catalog/filecatalog'
import { parseRelationPath } from '../format/relpath'
import type { VersionInfo } from '../format/versions'
import type { RawDiscards, RawFile, RawFiles } from './discardcollector'
import { orderBy } from '../columns'
import {
  contribute, DiscardedDatabase, DiscardedRelation, DiscardReport, ListedRelations, MAX_LISTED_RELATIONS, NO_ROWS, noRows, relationFlags, sortRelations, sumRows
} from './discards'

/**
 * From what the collector counted per relation file to the report: files grouped
 * into relations by the catalog's pg_class row (a rewritten table has two files),
 * the relations the report lists named; then, for what one side could not name,
 * names from the other.
 */

/** The files of `slots`, one at a time: an object for each of 400,000 held at once was 11 MB a local lookup never reads. */
function * refsOf (files: RawFiles, slots: readonly number[]): Generator<FileRef> {
  for (const s of slots) yield files.ref(s)
}

/** A relation as its files' owner: its pg_class OID (named later, if listed), or why it has none. */
function newRelation (database: number, owner: number | Unresolved): DiscardedRelation {
  const oid = typeof owner === 'number' ? owner : null
  return {
    database,
    oid,
    schema: null,
    name: null,
    kind: null,
    toastOf: null,
    systemCatalog: oid !== null && oid < FIRST_NORMAL_OBJECT_ID,
    nameSource: null,
    unresolved: typeof owner === 'number' ? null : owner.reason,
    created: false,
    dropped: false,
    rewrites: 0,
    truncations: 0,
    committed: NO_ROWS,
    prepared: NO_ROWS,
    aborted: NO_ROWS,
    records: 0,
    blocks: 0,
    walBytes: 0,
    files: []
  }
}

/** A relation's name as `side` gives it, or why it has none. */
function nameRelation (rel: DiscardedRelation, n: Named<RelationName>, side: NameLookup['side']): void {
  if (isUnresolved(n)) {
    rel.unresolved = appendReason(rel.unresolved, n.reason)
    rel.oid = null
    return
  }
  Object.assign(rel, { oid: n.oid, schema: n.schema, name: n.name, kind: n.kind, toastOf: n.toastOf, systemCatalog: n.systemCatalog, nameSource: side, unresolved: null })
}

/** Add one relation's (or file's) counts and files to another's. */
function absorb (into: DiscardedRelation, from: Pick<DiscardedRelation, 'truncations' | 'committed' | 'prepared' | 'aborted' | 'records' | 'blocks' | 'walBytes' | 'files'>): void {
  into.truncations += from.truncations
  into.committed = sumRows(into.committed, from.committed)
  into.prepared = sumRows(into.prepared, from.prepared)
  into.aborted = sumRows(into.aborted, from.aborted)
  into.records += from.records
  into.blocks += from.blocks
  into.walBytes += from.walBytes
  // a new array of just the files' length: an empty array pushed to keeps room for 17
  into.files = into.files.concat(from.files).sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  Object.assign(into, relationFlags(into))
}

function fileAsRelation (f: RawFile): Pick<DiscardedRelation, 'truncations' | 'committed' | 'prepared' | 'aborted' | 'records' | 'blocks' | 'walBytes' | 'files'> {
  return {
    truncations: f.truncations,
    committed: f.committed,
    prepared: f.prepared,
    aborted: f.aborted,
    records: f.records,
    blocks: f.blocks,
    walBytes: f.walBytes,
    files: [{ path: f.path, created: f.created, dropped: f.dropped }]
  }
}

/**
 * The report, named as far as `lookup` (the target's catalog files) can, listing at
 * most `maxRelations` relations (MAX_LISTED_RELATIONS). One database at a time: its
 * files named, grouped into relations, each added to the database's sums and offered
 * to the bounded list — the relations of a big divergence are never all held at once.
 */
export async function buildDiscardReport (raw: RawDiscards, lookup: NameLookup, maxRelations = MAX_LISTED_RELATIONS): Promise<DiscardReport> {
  const dbNames = await lookup.databases(raw.databases.map(d => d.oid).filter(o => o !== 0))
  const databases: DiscardedDatabase[] = raw.databases.map(d => {
    const n = dbNames.get(d.oid)
    return {
      oid: d.oid,
      name: n !== undefined && !isUnresolved(n) ? n.name : null,
      nameSource: n !== undefined && !isUnresolved(n) ? lookup.side : null,
      // the shared catalogs belong to no database: nothing to resolve
      unresolved: n !== undefined && isUnresolved(n) ? n.reason : null,
      created: d.created,
      dropped: d.dropped,
      committed: noRows(),
      prepared: noRows(),
      aborted: noRows(),
      records: d.records,
      blocks: 0,
      walBytes: d.walBytes,
      relationsCreated: 0,
      relationsDropped: 0,
      rewrites: 0,
      truncations: 0,
      relationsOmitted: 0
    }
  })
  const files = raw.files
  const byDb = new Map<number, number[]>()
  for (let i = 0; i < files.length; i++) {
    const list = byDb.get(files.dbOid(i))
    if (list === undefined) byDb.set(files.dbOid(i), [i])
    else list.push(i)
  }
  const listed = new ListedRelations(maxRelations)
  for (const [dbOid, slots] of byDb) {
    const db = databases.find(d => d.oid === dbOid)!
    const owners = await lookup.fileOwners(dbOid, db.name, refsOf(files, slots))
    // a relation's files: one, unless it was rewritten (by pg_class OID; unnamed files
    // stand alone). Grouped by sorting the OIDs: a Map of an array per relation held
    // some 40 MB for 300,000 files (100,000 tables a side).
    const oids = new Uint32Array(slots.length)
    // OID 0 (InvalidOid) is no pg_class row's
    for (let k = 0; k < slots.length; k++) oids[k] = owners.oid(k)
    // the rows of one OID next to each other, in row order; a group offered where its
    // first row comes, the unnamed files after them (the order of ties in the report)
    const order = orderBy(oids, slots.length)
    const at = new Uint32Array(slots.length)
    for (let p = 0; p < order.length; p++) at[order[p]] = p
    const offer = (p: number): void => {
      const first = order[p]
      const oid = oids[first]
      let end = p + 1
      if (oid !== 0) while (end < order.length && oids[order[end]] === oid) end++
      const rel = newRelation(dbOid, oid !== 0 ? oid : { reason: owners.why(first) })
      for (let q = p; q < end; q++) absorb(rel, fileAsRelation(files.at(slots[order[q]])))
      contribute(db, rel)
      listed.offer(rel)
    }
    for (let k = 0; k < slots.length; k++) {
      const p = at[k]
      // a group's first row: none before it in the order has its OID
      if (oids[k] !== 0 && (p === 0 || oids[order[p - 1]] !== oids[k])) offer(p)
    }
    for (let k = 0; k < slots.length; k++) if (oids[k] === 0) offer(at[k])
  }
  // only the relations listed are named: a second read of each database's catalog for a
  // thousand names, instead of every relation's held while the files were grouped
  const relations = listed.finish()
  for (const db of databases) {
    const rels = relations.filter(r => r.database === db.oid && r.oid !== null)
    if (rels.length === 0) continue
    const names = await lookup.describe(db.oid, db.name, [...new Set(rels.map(r => r.oid!))])
    for (const r of rels) nameRelation(r, names(r.oid!), lookup.side)
  }
  for (const d of databases) d.relationsOmitted = listed.omitted.get(d.oid) ?? 0
  return {
    from: raw.from,
    to: raw.to,
    records: raw.records,
    walBytes: raw.walBytes,
    transactions: raw.transactions,
    databases,
    relations: sortRelations(relations),
    notes: raw.notes
  }
}

const hasUnresolved = (r: DiscardReport): boolean =>
  r.databases.some(d => d.unresolved !== null) || r.relations.some(x => x.unresolved !== null)

function appendReason (old: string | null, more: string): string {
  return old === null ? more : `${old}; ${more}`
}

/**
 * Names the other side knows for what the report could not name (a copy: the
 * report given stays as it is). `vi` parses the files' paths back to their numbers.
 */
export async function completeDiscardNames (report: DiscardReport, lookup: NameLookup, vi: VersionInfo): Promise<DiscardReport> {
  if (!hasUnresolved(report)) return report
  const out: DiscardReport = structuredClone(report)
  const dbs = out.databases.filter(d => d.unresolved !== null)
  if (dbs.length > 0) {
    const names = await lookup.databases(dbs.map(d => d.oid))
    for (const d of dbs) {
      const n = names.get(d.oid)
      if (n === undefined) continue
      if (isUnresolved(n)) d.unresolved = appendReason(d.unresolved, n.reason)
      else Object.assign(d, { name: n.name, nameSource: lookup.side, unresolved: null })
    }
  }
  const pending = out.relations.filter(r => r.unresolved !== null && r.oid === null)
  const byDb = new Map<number, Array<{ rel: DiscardedRelation, spcOid: number, relNumber: number }>>()
  for (const rel of pending) {
    const p = rel.files.length === 1 ? parseRelationPath(rel.files[0].path, vi) : null
    if (p === null) continue
    const list = byDb.get(rel.database) ?? []
    list.push({ rel, spcOid: p.spcOid, relNumber: p.relNumber })
    byDb.set(rel.database, list)
  }
  const gone = new Set<DiscardedRelation>()
  for (const [dbOid, list] of byDb) {
    const dbName = out.databases.find(d => d.oid === dbOid)?.name ?? null
    const names = await relationNames(lookup, dbOid, dbName, list)
    for (const { rel, spcOid, relNumber } of list) {
      const n = names({ spcOid, relNumber })
      if (isUnresolved(n)) {
        nameRelation(rel, n, lookup.side)
        continue
      }
      const same = out.relations.find(r => r !== rel && !gone.has(r) && r.database === dbOid && r.oid === n.oid)
      if (same !== undefined) {
        // two relations become one: its created, dropped and rewrites follow from all its files
        const db = out.databases.find(d => d.oid === dbOid)
        if (db !== undefined) {
          contribute(db, same, -1)
          contribute(db, rel, -1)
        }
        absorb(same, rel)
        if (db !== undefined) contribute(db, same)
        gone.add(rel)
      } else {
        nameRelation(rel, n, lookup.side)
      }
    }
  }
  out.relations = sortRelations(out.relations.filter(r => !gone.has(r)))
  return out
}
