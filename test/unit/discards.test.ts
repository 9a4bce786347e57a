import t from 'tap'
import { versionInfo } from '../../lib/format/versions'
import { decodeRecord } from '../../lib/wal/record'
import { DiscardCollector } from '../../lib/rewind/discardcollector'
import { buildDiscardReport, completeDiscardNames } from '../../lib/rewind/discardreport'
import { emptyDiscardReport, MAX_LISTED_RELATIONS } from '../../lib/rewind/discards'
import { discardSummaryLines } from '../../lib/rewind/discardsummary'
import type { FileRef, NameLookup, Named, RelationName, RelationNames } from '../../lib/catalog/names'
import { encodeRecord, SynthRecord } from '../helpers/synthwal'

const vi = versionInfo(16)
const FORK = 0x3000000n
const u32 = (...v: number[]): Buffer => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i)); return b }
const i64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigInt64LE(v); return b }
const REL = (rel: number, db = 5): [number, number, number] => [1663, db, rel]

function checkpoint (nextXid: number): Buffer {
  const b = Buffer.alloc(88)
  b.writeUInt32LE(1, 8)
  b.writeBigUInt64LE(BigInt(nextXid), 24)
  return b
}
const insert = (xid: number, rel: number, db = 5, blk = 0): SynthRecord => ({ rmid: 10, info: 0x00, xid, blocks: [{ id: 0, rel: REL(rel, db), blk }], main: Buffer.from([1, 0, 0]) })
const update = (xid: number, rel: number): SynthRecord => ({ rmid: 10, info: 0x40, xid, blocks: [{ id: 0, rel: REL(rel), blk: 1 }, { id: 1, blk: 0 }], main: Buffer.alloc(14) })
const del = (xid: number, rel: number): SynthRecord => ({ rmid: 10, info: 0x10, xid, blocks: [{ id: 0, rel: REL(rel), blk: 0 }], main: Buffer.alloc(8) })
const commit = (xid: number, time: bigint, o: { subxacts?: number[], drop?: number[] } = {}): SynthRecord => {
  let xinfo = 0
  const parts: Buffer[] = []
  if (o.subxacts !== undefined) { xinfo |= 2; parts.push(u32(o.subxacts.length, ...o.subxacts)) }
  if (o.drop !== undefined) { xinfo |= 4; parts.push(u32(o.drop.length, ...o.drop.flatMap(r => [1663, 5, r]))) }
  return { rmid: 1, info: xinfo === 0 ? 0x00 : 0x80, xid, main: Buffer.concat([i64(time), ...(xinfo === 0 ? [] : [u32(xinfo)]), ...parts]) }
}
const abort = (xid: number, drop: number[] = []): SynthRecord => ({
  rmid: 1, info: 0xA0, xid, main: Buffer.concat([i64(1n), u32(drop.length > 0 ? 4 : 0), ...(drop.length > 0 ? [u32(drop.length, ...drop.flatMap(r => [1663, 5, r]))] : [])])
})
function prepare (xid: number, gid: string, subxacts: number[] = []): SynthRecord {
  const hs = vi.twoPhaseHeaderSize
  const g = Buffer.from(gid + '\0')
  const body = Buffer.alloc(hs + ((g.length + 7) & ~7) + 4 * subxacts.length)
  body.writeUInt32LE(xid, 8)
  body.writeUInt32LE(5, 12)
  body.writeBigInt64LE(2000000n, 16)
  body.writeInt32LE(subxacts.length, 28)
  body.writeUInt16LE(g.length, hs - 18)
  g.copy(body, hs)
  subxacts.forEach((s, i) => body.writeUInt32LE(s, hs + ((g.length + 7) & ~7) + 4 * i))
  return { rmid: 1, info: 0x10, xid, main: body }
}

/** Feed records at consecutive LSNs from `start`; returns the end. */
function feed (c: DiscardCollector, start: bigint, recs: SynthRecord[]): bigint {
  let lsn = start
  for (const r of recs) {
    const buf = encodeRecord(r, 0n)
    c.onRecord(decodeRecord(buf, 0, lsn, vi))
    lsn += BigInt((buf.length + 7) & ~7)
  }
  return lsn
}

class FakeLookup implements NameLookup {
  constructor (readonly side: 'target' | 'source', private readonly dbs: Record<number, string>, private readonly rels: Record<string, RelationName>) {}
  async databases (oids: readonly number[]): Promise<Map<number, Named<{ name: string }>>> {
    return new Map(oids.map(o => [o, this.dbs[o] !== undefined ? { name: this.dbs[o] } : { reason: `${this.side} knows no database ${o}` }]))
  }

  async relations (dbOid: number, _n: string | null, _files: readonly FileRef[]): Promise<RelationNames> {
    return (f: FileRef) => this.rels[`${dbOid}/${f.relNumber}`] ?? { reason: `${this.side} cannot name file ${f.relNumber}` }
  }
}
const table = (oid: number, name: string, o: Partial<RelationName> = {}): RelationName => ({ oid, schema: 'public', name, kind: 'table', toastOf: null, systemCatalog: false, ...o })

t.test('what the WAL after the fork says, transaction by transaction', async t => {
  const c = new DiscardCollector(vi, FORK, 0x4000000n)
  // before the fork: the last common checkpoint (nextXid 100), then xid 105 begins
  feed(c, 0x2FFF000n, [{ rmid: 0, info: 0x10, main: checkpoint(100) }, insert(105, 16384)])
  const end = feed(c, FORK, [
    insert(105, 16384), commit(105, 1000n), // began before the fork
    insert(99, 16384), commit(99, 900n), // assigned before the checkpoint
    insert(200, 16384), insert(201, 16384), update(201, 16384), del(202, 16384), abort(202), // 202: a rolled-back subtransaction
    commit(200, 3000n, { subxacts: [201] }),
    { rmid: 2, info: 0x10, main: Buffer.concat([u32(1663, 5, 16400), u32(0)]) }, // SMGR CREATE main fork
    insert(300, 16400), insert(300, 16400, 5, 7), { rmid: 9, info: 0x50, xid: 300, blocks: [{ id: 0, rel: REL(16400), blk: 7 }], main: Buffer.from([0, 0, 5, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]) },
    commit(300, 2000n, { drop: [16390] }), // also drops a file that existed
    { rmid: 2, info: 0x20, main: Buffer.concat([u32(0, 1663, 5, 16400), u32(1)]) }, // SMGR TRUNCATE heap
    insert(400, 16384), { rmid: 1, info: 0x50, main: u32(400, 1, 401) }, insert(401, 16384), prepare(400, 'gid1', [401]),
    insert(500, 16384), // never ends
    { rmid: 4, info: 0x10, main: u32(16500, 1663) }, // DBASE CREATE_WAL_LOG (15+)
    insert(600, 2619, 16500), commit(600, 2500n),
    { rmid: 4, info: 0x20, main: u32(16600, 1, 1663) }, // DBASE DROP
    insert(700, 16384), abort(700, [16401]),
    { rmid: 1, info: 0x00, xid: 701, main: Buffer.alloc(3) } // a commit too short to decode: 701 counts as unfinished
  ])
  t.equal(end > FORK, true)
  const raw = c.finish()
  const rawFiles = Array.from({ length: raw.files.length }, (_, i) => raw.files.at(i))
  t.same(raw.transactions, {
    committed: 5,
    aborted: 2,
    prepared: 1,
    unfinished: 2,
    beganBeforeFork: 2,
    firstCommit: '2000-01-01T00:00:00.000900Z',
    lastCommit: '2000-01-01T00:00:00.003000Z',
    preparedTransactions: [{ gid: 'gid1', xid: 400, preparedAt: '2000-01-01T00:00:02.000000Z', database: 5 }]
  })
  t.equal(raw.records, 28)
  t.match(raw.notes, [/invalid COMMIT record at 0\/[0-9A-F]+: main data is 3 bytes.*not counted in the report/])
  const f = (rel: number, db = 5) => rawFiles.find(x => x.relNumber === rel && x.dbOid === db)
  t.same(f(16384), {
    spcOid: 1663,
    dbOid: 5,
    relNumber: 16384,
    path: 'base/5/16384',
    created: false,
    dropped: false,
    truncations: 0,
    records: 10,
    walBytes: f(16384)?.walBytes,
    blocks: 2,
    committed: { inserted: 4, updated: 1, deleted: 0 },
    prepared: { inserted: 2, updated: 0, deleted: 0 },
    aborted: { inserted: 2, updated: 0, deleted: 1 }
  })
  t.same([f(16400)?.created, f(16400)?.dropped, f(16400)?.truncations, f(16400)?.committed.inserted, f(16400)?.blocks], [true, false, 1, 7, 2], 'created, truncated, MULTI_INSERT of 5')
  t.same([f(16390)?.created, f(16390)?.dropped, f(16390)?.records], [false, true, 0], 'dropped at commit')
  t.same([f(16401)?.dropped], [true], 'removed at abort')
  t.same([f(2619, 16500)?.created, f(2619, 16500)?.committed.inserted], [true, 1], 'every file of a database created after the fork is new')
  t.same(raw.databases.map(d => [d.oid, d.created, d.dropped]), [[5, false, false], [16500, true, false], [16600, false, true]])

  const target = new FakeLookup('target', { 5: 'postgres', 16500: 'newdb' }, {
    '5/16384': table(16384, 'tbl'),
    '5/16400': table(16395, 'newtbl'),
    '16500/2619': table(2619, 'pg_statistic', { schema: 'pg_catalog', systemCatalog: true })
  })
  const report = await buildDiscardReport(raw, target)
  t.same(report.relations.map(r => [r.database, r.name ?? r.files[0].path, r.nameSource, r.created, r.dropped]), [
    [5, 'newtbl', 'target', true, false],
    [5, 'tbl', 'target', false, false],
    [5, 'base/5/16390', null, false, true],
    [5, 'base/5/16401', null, false, true],
    [16500, 'pg_statistic', 'target', true, false]
  ])
  t.equal(report.databases.find(d => d.oid === 16600)?.unresolved, 'target knows no database 16600')
  t.same(report.databases.find(d => d.oid === 5), {
    oid: 5,
    name: 'postgres',
    nameSource: 'target',
    unresolved: null,
    created: false,
    dropped: false,
    committed: { inserted: 11, updated: 1, deleted: 0 },
    prepared: { inserted: 2, updated: 0, deleted: 0 },
    aborted: { inserted: 2, updated: 0, deleted: 1 },
    records: report.databases.find(d => d.oid === 5)?.records,
    blocks: 4,
    walBytes: report.databases.find(d => d.oid === 5)?.walBytes,
    relationsCreated: 1,
    relationsDropped: 2,
    rewrites: 0,
    truncations: 1,
    relationsOmitted: 0
  })

  // the source names the old file of tbl (a rewrite) and the file removed at abort; the dropped database
  const source = new FakeLookup('source', { 16600: 'gone' }, { '5/16390': table(16384, 'tbl'), '5/16401': table(16401, 'rolled_back') })
  const done = await completeDiscardNames(report, source, vi)
  t.not(done, report, 'a new report')
  t.equal(report.relations.length, 5, 'the report given is unchanged')
  const tbl = done.relations.find(r => r.name === 'tbl')
  t.same([tbl?.files.map(x => x.path), tbl?.created, tbl?.dropped, tbl?.rewrites, tbl?.nameSource], [['base/5/16384', 'base/5/16390'], false, false, 0, 'target'], 'merged into the relation the target named')
  t.same(done.relations.map(r => r.name), ['newtbl', 'rolled_back', 'tbl', 'pg_statistic'])
  t.same(done.databases.find(d => d.oid === 5), { ...report.databases.find(d => d.oid === 5), relationsDropped: 1 },
    'the old file of tbl merged into it: tbl is not dropped, so its database has one dropped relation, not two; its other sums unchanged')
  t.same(done.databases.find(d => d.oid === 16600), { ...report.databases.find(d => d.oid === 16600), name: 'gone', nameSource: 'source', unresolved: null })
  t.same(await completeDiscardNames(done, source, vi), done, 'nothing left to name')

  t.same(discardSummaryLines(done), [
    'discards 5 committed transactions (2000-01-01T00:00:00.000900Z … 2000-01-01T00:00:00.003000Z), 2 aborted, 1 prepared (gid1), 2 unfinished; 2 of them began before the divergence point',
    'databases: newdb created; gone dropped',
    'postgres: public.newtbl (created, truncated): 7 rows inserted; public.tbl: 4 rows inserted, 1 updated (prepared: 2 inserted); public.rolled_back (dropped)',
    '1 note on what could not be counted (see the JSON form)'
  ])
  t.same(discardSummaryLines(emptyDiscardReport('0/1', '0/1')), ['discards nothing: the target wrote no WAL after the divergence point'])
})

t.test('a report of many relations lists those with the most rows lost; the databases\' sums count them all', async t => {
  const c = new DiscardCollector(vi, FORK, 0x4000000n)
  feed(c, FORK - 0x100n, [{ rmid: 0, info: 0x10, main: checkpoint(100) }])
  // 300 tables, table k gets k rows (one INSERT each) in its own committed transaction
  const recs: SynthRecord[] = []
  for (let k = 1; k <= 300; k++) {
    for (let i = 0; i < k; i++) recs.push(insert(1000 + k, 20000 + k))
    recs.push(commit(1000 + k, BigInt(k)))
  }
  feed(c, FORK, recs)
  const raw = c.finish()
  t.equal(raw.files.length, 300)
  const rels: Record<string, RelationName> = {}
  for (let k = 1; k <= 300; k++) rels[`5/${20000 + k}`] = table(30000 + k, `t${k}`)
  const lookup = new FakeLookup('target', { 5: 'postgres' }, rels)
  const full = await buildDiscardReport(raw, lookup)
  t.equal(full.relations.length, 300, `under the bound of ${MAX_LISTED_RELATIONS}: every relation`)
  t.equal(full.databases[0].relationsOmitted, 0)

  const bounded = await buildDiscardReport(raw, lookup, 5)
  t.same(bounded.relations.map(r => r.name), ['t296', 't297', 't298', 't299', 't300'], 'the five with the most rows, in the report\'s order')
  t.same(bounded.databases, full.databases.map(d => ({ ...d, relationsOmitted: 295 })), 'the same sums, and how many were left out')
  t.equal(bounded.databases[0].committed.inserted, 300 * 301 / 2)
  t.match(discardSummaryLines(bounded)[1], /^postgres: public\.t300: 300 rows inserted; .*; 1 more; 295 relations with fewer changes not listed$/)
})
