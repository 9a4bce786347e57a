import type { Test } from 'tap'
import type { DiscardReport } from '../../lib/rewind/discards'
import { DiscardScenario, EXPECTED_TRANSACTIONS, ExpectedRelation } from './discard-scenario'

/** The report says exactly what the scenario did (see discard-scenario.ts). */
export function checkReport (t: Test, r: DiscardReport, s: DiscardScenario, label: string): void {
  const dbName = (oid: number): string => r.databases.find(d => d.oid === oid)?.name ?? `?${oid}`
  const { preparedTransactions, ...counts } = r.transactions
  t.same(counts, { ...EXPECTED_TRANSACTIONS, firstCommit: s.firstCommit, lastCommit: s.lastCommit }, `${label}: transactions and commit times`)
  t.same(preparedTransactions.map(p => [p.gid, dbName(p.database)]), [['lost_gid', 'postgres']], `${label}: the prepared transaction`)
  t.match(preparedTransactions[0]?.preparedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
  const rc = (c: { inserted: number, updated: number, deleted: number }): [number, number, number] => [c.inserted, c.updated, c.deleted]
  const mine: ExpectedRelation[] = r.relations
    .filter(x => !x.systemCatalog && (x.kind === 'table' || (x.kind === 'toast table' && x.toastOf === 'public.toasty')))
    .map(x => ({
      database: dbName(x.database),
      name: `${x.schema ?? '?'}.${x.name ?? '?'}`,
      kind: x.kind ?? '?',
      ...(x.toastOf !== null ? { toastOf: x.toastOf } : {}),
      created: x.created,
      dropped: x.dropped,
      rewrites: x.rewrites,
      committed: rc(x.committed),
      prepared: rc(x.prepared),
      aborted: rc(x.aborted),
      nameSource: x.nameSource ?? 'target'
    }))
  const order = (a: ExpectedRelation, b: ExpectedRelation): number => `${a.database}/${a.name}` < `${b.database}/${b.name}` ? -1 : 1
  t.same(mine.sort(order), [...s.relations].sort(order), `${label}: every table's rows, created, dropped, rewritten, and where its name came from`)
  t.same(r.relations.filter(x => x.unresolved !== null).map(x => x.files[0]?.path), [], `${label}: every relation named`)
  const db = (name: string) => r.databases.find(d => d.name === name)
  t.same([db('db_lost')?.created, db('db_lost')?.dropped, db('db_drop_on_target')?.created, db('db_drop_on_target')?.dropped, db('postgres')?.created, db('postgres')?.dropped],
    [true, false, false, true, false, false], `${label}: a database created and one dropped after the fork`)
  t.same([db('db_lost')?.committed.inserted, db('db_drop_on_target')?.committed.deleted], [
    r.relations.filter(x => dbName(x.database) === 'db_lost').reduce((a, x) => a + x.committed.inserted, 0), 7
  ], `${label}: database sums`)
  t.equal(db('db_drop_on_target')?.nameSource, 'target', `${label}: a dropped database is named by its deleted pg_database row`)
  t.same(r.notes, [], `${label}: nothing the report could not account for`)
}
