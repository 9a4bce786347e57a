import type { DiscardedDatabase, DiscardedRelation, DiscardReport, RowCounts } from './discards'
import { plural } from '../words'

/**
 * The short, human form of the report of what a rewind discards (the JSON form,
 * complete, is the plan's `discards`): a line of transactions, a line of databases
 * created or dropped, and per database its most changed tables. System catalogs,
 * indexes and TOAST tables are left to the JSON.
 */

const MAX_DATABASES = 4
const MAX_RELATIONS = 4

function rowsText (c: RowCounts): string {
  const parts: string[] = []
  if (c.inserted > 0) parts.push(`${plural(c.inserted, 'row')} inserted`)
  if (c.updated > 0) parts.push(parts.length === 0 ? `${plural(c.updated, 'row')} updated` : `${c.updated} updated`)
  if (c.deleted > 0) parts.push(parts.length === 0 ? `${plural(c.deleted, 'row')} deleted` : `${c.deleted} deleted`)
  return parts.join(', ')
}

const total = (c: RowCounts): number => c.inserted + c.updated + c.deleted

function relationText (r: DiscardedRelation): string {
  const what: string[] = []
  if (r.created && r.dropped) what.push('created and dropped')
  else if (r.created) what.push('created')
  else if (r.dropped) what.push('dropped')
  if (r.rewrites > 0) what.push(r.rewrites === 1 ? 'rewritten' : `rewritten ${r.rewrites} times`)
  if (r.truncations > 0) what.push(r.truncations === 1 ? 'truncated' : `truncated ${r.truncations} times`)
  const name = r.name !== null ? `${r.schema ?? '?'}.${r.name}` : r.files[0]?.path ?? '?'
  let s = name + (what.length > 0 ? ` (${what.join(', ')})` : '')
  const rows = rowsText(r.committed)
  if (rows !== '') s += `: ${rows}`
  if (total(r.prepared) > 0) s += `${rows !== '' ? '' : ':'} (prepared: ${rowsText(r.prepared).replace(/ rows?/, '')})`
  return s
}

/** user tables, sequences, materialized views …, and what the target could not name */
function shown (r: DiscardedRelation): boolean {
  if (r.systemCatalog || r.kind === 'index' || r.kind === 'toast table' || r.kind === 'partitioned index') return false
  return r.created || r.dropped || r.rewrites > 0 || r.truncations > 0 || total(r.committed) > 0 || total(r.prepared) > 0
}

function dbName (d: DiscardedDatabase | undefined, oid: number): string {
  return d?.name ?? (oid === 0 ? '(shared catalogs)' : `database ${oid}`)
}

export function discardSummaryLines (r: DiscardReport): string[] {
  const t = r.transactions
  if (r.records === 0) return ['discards nothing: the target wrote no WAL after the divergence point']
  let first = `discards ${plural(t.committed, 'committed transaction')}`
  if (t.firstCommit !== null && t.lastCommit !== null) first += ` (${t.firstCommit} … ${t.lastCommit})`
  first += `, ${t.aborted} aborted, ${t.prepared} prepared`
  if (t.preparedTransactions.length > 0) first += ` (${t.preparedTransactions.map(p => p.gid).join(', ')})`
  if (t.unfinished > 0) first += `, ${t.unfinished} unfinished`
  if (t.beganBeforeFork > 0) first += `; ${t.beganBeforeFork} of them began before the divergence point`
  const lines = [first]
  const created = r.databases.filter(d => d.created && !d.dropped).map(d => `${dbName(d, d.oid)} created`)
  const dropped = r.databases.filter(d => d.dropped).map(d => `${dbName(d, d.oid)} ${d.created ? 'created and dropped' : 'dropped'}`)
  if (created.length + dropped.length > 0) lines.push(`databases: ${[...created, ...dropped].join('; ')}`)
  const byDb = new Map<number, DiscardedRelation[]>()
  for (const rel of r.relations.filter(shown)) {
    const list = byDb.get(rel.database) ?? []
    list.push(rel)
    byDb.set(rel.database, list)
  }
  // the databases with the most lost rows first
  const dbs = [...byDb.entries()].map(([oid, rels]) => ({ oid, rels, rows: rels.reduce((a, x) => a + total(x.committed), 0) }))
    .sort((a, b) => b.rows - a.rows || a.oid - b.oid)
  for (const { oid, rels } of dbs.slice(0, MAX_DATABASES)) {
    const sorted = [...rels].sort((a, b) => total(b.committed) - total(a.committed) || Number(b.created || b.dropped) - Number(a.created || a.dropped))
    const shownRels = sorted.slice(0, MAX_RELATIONS).map(relationText)
    if (sorted.length > MAX_RELATIONS) shownRels.push(`${sorted.length - MAX_RELATIONS} more`)
    const db = r.databases.find(d => d.oid === oid)
    if ((db?.relationsOmitted ?? 0) > 0) shownRels.push(`${plural(db?.relationsOmitted ?? 0, 'relation')} with fewer changes not listed`)
    lines.push(`${dbName(db, oid)}: ${shownRels.join('; ')}`)
  }
  if (dbs.length > MAX_DATABASES) lines.push(`… and ${plural(dbs.length - MAX_DATABASES, 'more database')}`)
  if (r.notes.length > 0) lines.push(`${plural(r.notes.length, 'note')} on what could not be counted (see the JSON form)`)
  return lines
}
