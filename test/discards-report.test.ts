import t from 'tap'
import { versionInfo } from '../lib/format/versions'
import { DiscardCollector } from '../lib/rewind/discardcollector'
import { buildDiscardReport, completeDiscardNames } from '../lib/rewind/discardreport'
import { emptyDiscardReport, MAX_LISTED_RELATIONS } from '../lib/rewind/discards'
import { discardSummaryLines } from '../lib/rewind/discardsummary'
import { FileNameLookup } from '../lib/catalog/names'
import { feedRecords, SynthRecord } from './helpers/synthwal'
import { Cluster } from './harness'

/**
 * The discard report built from WAL records and named from real catalogs: the records
 * are written here (to reach cases a cluster rarely logs on demand: a file removed at
 * abort, a commit too short to decode, a prepared transaction with a subtransaction),
 * but every relation and database they touch is one a real PostgreSQL 16 cluster made,
 * and the names come from its catalog files — the target's after its changes, the
 * source's from a copy taken before them. Every major's own WAL and catalogs are
 * covered by test/discards.test.ts and test/discards-pg15-waldump.test.ts.
 */

const MAJOR = 16
const vi = versionInfo(MAJOR)
const FORK = 0x3000000n
const u32 = (...v: number[]): Buffer => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i)); return b }
const i64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigInt64LE(v); return b }

function checkpoint (nextXid: number): Buffer {
  const b = Buffer.alloc(88)
  b.writeUInt32LE(1, 8)
  b.writeBigUInt64LE(BigInt(nextXid), 24)
  return b
}

/** WAL records on relations of database `db` in the default tablespace. */
function records (db: number) {
  const REL = (rel: number, d = db): [number, number, number] => [1663, d, rel]
  const dropList = (rels: number[]): Buffer => u32(rels.length, ...rels.flatMap(r => [1663, db, r]))
  return {
    REL,
    insert: (xid: number, rel: number, d = db, blk = 0): SynthRecord => ({ rmid: 10, info: 0x00, xid, blocks: [{ id: 0, rel: REL(rel, d), blk }], main: Buffer.from([1, 0, 0]) }),
    update: (xid: number, rel: number): SynthRecord => ({ rmid: 10, info: 0x40, xid, blocks: [{ id: 0, rel: REL(rel), blk: 1 }, { id: 1, blk: 0 }], main: Buffer.alloc(14) }),
    del: (xid: number, rel: number): SynthRecord => ({ rmid: 10, info: 0x10, xid, blocks: [{ id: 0, rel: REL(rel), blk: 0 }], main: Buffer.alloc(8) }),
    commit: (xid: number, time: bigint, o: { subxacts?: number[], drop?: number[] } = {}): SynthRecord => {
      let xinfo = 0
      const parts: Buffer[] = []
      if (o.subxacts !== undefined) { xinfo |= 2; parts.push(u32(o.subxacts.length, ...o.subxacts)) }
      if (o.drop !== undefined) { xinfo |= 4; parts.push(dropList(o.drop)) }
      return { rmid: 1, info: xinfo === 0 ? 0x00 : 0x80, xid, main: Buffer.concat([i64(time), ...(xinfo === 0 ? [] : [u32(xinfo)]), ...parts]) }
    },
    abort: (xid: number, drop: number[] = []): SynthRecord => ({
      rmid: 1, info: 0xA0, xid, main: Buffer.concat([i64(1n), u32(drop.length > 0 ? 4 : 0), ...(drop.length > 0 ? [dropList(drop)] : [])])
    }),
    prepare: (xid: number, gid: string, subxacts: number[] = []): SynthRecord => {
      const hs = vi.twoPhaseHeaderSize
      const g = Buffer.from(gid + '\0')
      const body = Buffer.alloc(hs + ((g.length + 7) & ~7) + 4 * subxacts.length)
      body.writeUInt32LE(xid, 8)
      body.writeUInt32LE(db, 12)
      body.writeBigInt64LE(2000000n, 16)
      body.writeInt32LE(subxacts.length, 28)
      body.writeUInt16LE(g.length, hs - 18)
      g.copy(body, hs)
      subxacts.forEach((s, i) => body.writeUInt32LE(s, hs + ((g.length + 7) & ~7) + 4 * i))
      return { rmid: 1, info: 0x10, xid, main: body }
    }
  }
}

const feed = (c: DiscardCollector, start: bigint, recs: SynthRecord[]): bigint => feedRecords(c, start, recs, vi)

const num = async (c: Cluster, sql: string, db = 'postgres'): Promise<number> => Number(await c.scalar(sql, db))
const filenode = async (c: Cluster, rel: string, db = 'postgres'): Promise<number> => await num(c, `SELECT pg_relation_filenode('${rel}')::int8`, db)
const oidOf = async (c: Cluster, rel: string): Promise<number> => await num(c, `SELECT '${rel}'::regclass::oid::int8`)
const dbOid = async (c: Cluster, name: string): Promise<number> => await num(c, `SELECT oid::int8 FROM pg_database WHERE datname = '${name}'`)

t.test('what the WAL after the fork says, transaction by transaction, named from the catalogs', async t => {
  // the source: the cluster as it was; the target: the same cluster after tbl was rewritten,
  // newtbl created and truncated, rolled_back dropped, newdb created and gone dropped
  const target = await Cluster.init({ major: MAJOR })
  t.teardown(async () => { await target.destroy() })
  await target.start()
  await target.query('CREATE TABLE tbl (id int); CREATE TABLE rolled_back (id int)')
  await target.query('CREATE DATABASE gone')
  const db = await dbOid(target, 'postgres')
  const GONE = await dbOid(target, 'gone')
  const OLD_TBL = await filenode(target, 'tbl')
  const ROLLED_BACK = await filenode(target, 'rolled_back')
  await target.stop()
  const source = target.clone('source')
  await target.start()
  await target.query('VACUUM FULL tbl')
  await target.query('CREATE TABLE newtbl (id int)')
  await target.query('TRUNCATE newtbl')
  await target.query('DROP TABLE rolled_back')
  await target.query('CREATE DATABASE newdb')
  await target.query('DROP DATABASE gone')
  // no dead row version left to name the old files and the dropped database
  await target.query('VACUUM pg_class, pg_database')
  const TBL = await filenode(target, 'tbl')
  const NEWTBL = await filenode(target, 'newtbl')
  const NEWTBL_OID = await oidOf(target, 'newtbl')
  const NEWDB = await dbOid(target, 'newdb')
  const STATISTIC = await filenode(target, 'pg_statistic', 'newdb')
  await target.stop()
  t.not(TBL, OLD_TBL, 'VACUUM FULL gave tbl a new file')
  t.not(NEWTBL, NEWTBL_OID, 'TRUNCATE gave newtbl a file numbered unlike its OID')

  const { REL, insert, update, del, commit, abort, prepare } = records(db)
  const c = new DiscardCollector(vi, FORK, 0x4000000n)
  // before the fork: the last common checkpoint (nextXid 100), then xid 105 begins
  feed(c, 0x2FFF000n, [{ rmid: 0, info: 0x10, main: checkpoint(100) }, insert(105, TBL)])
  const end = feed(c, FORK, [
    insert(105, TBL), commit(105, 1000n), // began before the fork
    insert(99, TBL), commit(99, 900n), // assigned before the checkpoint
    insert(200, TBL), insert(201, TBL), update(201, TBL), del(202, TBL), abort(202), // 202: a rolled-back subtransaction
    commit(200, 3000n, { subxacts: [201] }),
    { rmid: 2, info: 0x10, main: Buffer.concat([u32(...REL(NEWTBL)), u32(0)]) }, // SMGR CREATE main fork
    insert(300, NEWTBL), insert(300, NEWTBL, db, 7), { rmid: 9, info: 0x50, xid: 300, blocks: [{ id: 0, rel: REL(NEWTBL), blk: 7 }], main: Buffer.from([0, 0, 5, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]) },
    commit(300, 2000n, { drop: [OLD_TBL] }), // also drops a file that existed
    { rmid: 2, info: 0x20, main: Buffer.concat([u32(0, ...REL(NEWTBL)), u32(1)]) }, // SMGR TRUNCATE heap
    insert(400, TBL), { rmid: 1, info: 0x50, main: u32(400, 1, 401) }, insert(401, TBL), prepare(400, 'gid1', [401]),
    insert(500, TBL), // never ends
    { rmid: 4, info: 0x10, main: u32(NEWDB, 1663) }, // DBASE CREATE_WAL_LOG (15+)
    insert(600, STATISTIC, NEWDB), commit(600, 2500n),
    { rmid: 4, info: 0x20, main: u32(GONE, 1, 1663) }, // DBASE DROP
    insert(700, TBL), abort(700, [ROLLED_BACK]),
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
    preparedTransactions: [{ gid: 'gid1', xid: 400, preparedAt: '2000-01-01T00:00:02.000000Z', database: db }]
  })
  t.equal(raw.records, 28)
  t.match(raw.notes, [/invalid COMMIT record at 0\/[0-9A-F]+: main data is 3 bytes.*not counted in the report/])
  const f = (rel: number, d = db) => rawFiles.find(x => x.relNumber === rel && x.dbOid === d)
  t.same(f(TBL), {
    spcOid: 1663,
    dbOid: db,
    relNumber: TBL,
    path: `base/${db}/${TBL}`,
    created: false,
    dropped: false,
    truncations: 0,
    records: 10,
    walBytes: f(TBL)?.walBytes,
    blocks: 2,
    committed: { inserted: 4, updated: 1, deleted: 0 },
    prepared: { inserted: 2, updated: 0, deleted: 0 },
    aborted: { inserted: 2, updated: 0, deleted: 1 }
  })
  t.same([f(NEWTBL)?.created, f(NEWTBL)?.dropped, f(NEWTBL)?.truncations, f(NEWTBL)?.committed.inserted, f(NEWTBL)?.blocks], [true, false, 1, 7, 2], 'created, truncated, MULTI_INSERT of 5')
  t.same([f(OLD_TBL)?.created, f(OLD_TBL)?.dropped, f(OLD_TBL)?.records], [false, true, 0], 'dropped at commit')
  t.same([f(ROLLED_BACK)?.dropped], [true], 'removed at abort')
  t.same([f(STATISTIC, NEWDB)?.created, f(STATISTIC, NEWDB)?.committed.inserted], [true, 1], 'every file of a database created after the fork is new')
  t.same(raw.databases.map(d => [d.oid, d.created, d.dropped]), [[db, false, false], [NEWDB, true, false], [GONE, false, true]].sort((a, b) => Number(a[0]) - Number(b[0])))

  const report = await buildDiscardReport(raw, new FileNameLookup(target.dataDir, 'target', vi))
  t.same(report.relations.map(r => [r.database, r.name ?? r.files[0].path, r.nameSource, r.created, r.dropped]), [
    [db, 'newtbl', 'target', true, false],
    [db, 'tbl', 'target', false, false],
    ...[OLD_TBL, ROLLED_BACK].sort((a, b) => a - b).map(rel => [db, `base/${db}/${rel}`, null, false, true]),
    [NEWDB, 'pg_statistic', 'target', true, false]
  ])
  t.match(report.relations.find(r => r.name === 'newtbl'), { oid: NEWTBL_OID, schema: 'public', kind: 'table', systemCatalog: false }, 'named by its OID, not its file number')
  t.match(report.relations.find(r => r.name === 'pg_statistic'), { schema: 'pg_catalog', systemCatalog: true })
  t.equal(report.databases.find(d => d.oid === GONE)?.unresolved, `the target's pg_database has no row for OID ${GONE}`)
  t.same(report.databases.find(d => d.oid === db), {
    oid: db,
    name: 'postgres',
    nameSource: 'target',
    unresolved: null,
    created: false,
    dropped: false,
    committed: { inserted: 11, updated: 1, deleted: 0 },
    prepared: { inserted: 2, updated: 0, deleted: 0 },
    aborted: { inserted: 2, updated: 0, deleted: 1 },
    records: report.databases.find(d => d.oid === db)?.records,
    blocks: 4,
    walBytes: report.databases.find(d => d.oid === db)?.walBytes,
    relationsCreated: 1,
    relationsDropped: 2,
    rewrites: 0,
    truncations: 1,
    relationsOmitted: 0
  })

  // the source names the old file of tbl (a rewrite), the file removed at abort, the dropped database
  const fromSource = new FileNameLookup(source.dataDir, 'source', vi)
  const done = await completeDiscardNames(report, fromSource, vi)
  t.not(done, report, 'a new report')
  t.equal(report.relations.length, 5, 'the report given is unchanged')
  const tbl = done.relations.find(r => r.name === 'tbl')
  t.same([tbl?.files.map(x => x.path), tbl?.created, tbl?.dropped, tbl?.rewrites, tbl?.nameSource],
    [[`base/${db}/${TBL}`, `base/${db}/${OLD_TBL}`].sort(), false, false, 0, 'target'], 'merged into the relation the target named')
  t.same(done.relations.map(r => r.name), ['newtbl', 'rolled_back', 'tbl', 'pg_statistic'])
  t.same(done.databases.find(d => d.oid === db), { ...report.databases.find(d => d.oid === db), relationsDropped: 1 },
    'the old file of tbl merged into it: tbl is not dropped, so its database has one dropped relation, not two; its other sums unchanged')
  t.same(done.databases.find(d => d.oid === GONE), { ...report.databases.find(d => d.oid === GONE), name: 'gone', nameSource: 'source', unresolved: null })
  t.same(await completeDiscardNames(done, fromSource, vi), done, 'nothing left to name')

  t.same(discardSummaryLines(done), [
    'discards 5 committed transactions (2000-01-01T00:00:00.000900Z … 2000-01-01T00:00:00.003000Z), 2 aborted, 1 prepared (gid1), 2 unfinished; 2 of them began before the divergence point',
    'databases: newdb created; gone dropped',
    'postgres: public.newtbl (created, truncated): 7 rows inserted; public.tbl: 4 rows inserted, 1 updated (prepared: 2 inserted); public.rolled_back (dropped)',
    '1 note on what could not be counted (see the JSON form)'
  ])
  t.same(discardSummaryLines(emptyDiscardReport('0/1', '0/1')), ['discards nothing: the target wrote no WAL after the divergence point'])
})

t.test('a report of many relations lists those with the most rows lost; the databases\' sums count them all', async t => {
  const cluster = await Cluster.init({ major: MAJOR })
  t.teardown(async () => { await cluster.destroy() })
  await cluster.start()
  const N = 300
  await cluster.query(`DO $$ BEGIN FOR k IN 1..${N} LOOP EXECUTE format('CREATE TABLE t%s (id int)', k); END LOOP; END $$`)
  const files = (await cluster.query<{ k: string, file: string }>(
    `SELECT k, pg_relation_filenode(format('t%s', k)::regclass)::int8 AS file FROM generate_series(1, ${N}) k ORDER BY k`)).map(r => Number(r.file))
  const db = await dbOid(cluster, 'postgres')
  await cluster.stop()

  const { insert, commit } = records(db)
  const c = new DiscardCollector(vi, FORK, 0x4000000n)
  feed(c, FORK - 0x100n, [{ rmid: 0, info: 0x10, main: checkpoint(100) }])
  // table tk gets k rows (one INSERT each) in its own committed transaction
  const recs: SynthRecord[] = []
  files.forEach((file, i) => {
    const k = i + 1
    for (let j = 0; j < k; j++) recs.push(insert(1000 + k, file))
    recs.push(commit(1000 + k, BigInt(k)))
  })
  feed(c, FORK, recs)
  const raw = c.finish()
  t.equal(raw.files.length, N)
  const lookup = new FileNameLookup(cluster.dataDir, 'target', vi)
  const full = await buildDiscardReport(raw, lookup)
  t.equal(full.relations.length, N, `under the bound of ${MAX_LISTED_RELATIONS}: every relation`)
  const tableOfFile = new Map(files.map((file, i) => [`base/${db}/${file}`, `t${i + 1}`]))
  t.same(full.relations.map(r => [r.name, r.nameSource]), full.relations.map(r => [tableOfFile.get(r.files[0].path), 'target']), 'each named from the catalog by its file')
  t.equal(full.databases[0].relationsOmitted, 0)

  const bounded = await buildDiscardReport(raw, lookup, 5)
  t.same(bounded.relations.map(r => r.name), ['t296', 't297', 't298', 't299', 't300'], 'the five with the most rows, in the report\'s order')
  t.same(bounded.databases, full.databases.map(d => ({ ...d, relationsOmitted: 295 })), 'the same sums, and how many were left out')
  t.equal(bounded.databases[0].committed.inserted, N * (N + 1) / 2)
  t.match(discardSummaryLines(bounded)[1], /^postgres: public\.t300: 300 rows inserted; .*; 1 more; 295 relations with fewer changes not listed$/)
})
