import t from 'tap'
import { spawnSync } from 'node:child_process'
import { planRewind } from '../lib/steps/rewind'
import { silentLogger } from '../lib/steps/types'
import { openSource } from '../lib/source/open'
import type { RowCounts } from '../lib/rewind/discards'
import { debianPg15 } from './harness'
import { discardScenario } from './helpers/discard-scenario'
import { checkReport } from './helpers/discard-check'

/**
 * Differential oracle for the report of what a rewind discards: Debian's pg_waldump
 * 15 reads the old primary's WAL from the divergence point to its end, and what it
 * shows — commit, abort and prepare records, commit times, the rows heap records
 * insert, update and delete per relation file, the records, blocks and bytes naming
 * each file and database — must add up to what the report says.
 */

const bin = debianPg15()
if (bin === null) throw new Error('Debian PostgreSQL 15 (/usr/lib/postgresql/15/bin/pg_waldump) is required for this test; install postgresql-15')

const REC = /^rmgr: (\S+)\s+len \(rec\/tot\):\s*\d+\/\s*(\d+), tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev [0-9A-F]+\/[0-9A-F]+, desc: (.*)$/
const BLK = /^\tblkref #(\d+): rel (\d+)\/(\d+)\/(\d+) (?:fork (\w+) )?blk (\d+)/

interface Dumped { rmgr: string, tot: number, desc: string, blocks: Array<{ spc: number, db: number, rel: number, fork: string, blk: number }> }

function waldump (walDir: string, start: string, end: string): { records: Dumped[], stderr: string } {
  const r = spawnSync(`${bin as string}/pg_waldump`, ['-b', '-p', walDir, '-t', '1', '-s', start, '-e', end], { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, TZ: 'UTC' } })
  const records: Dumped[] = []
  for (const l of r.stdout.split('\n')) {
    const m = REC.exec(l)
    if (m !== null) {
      records.push({ rmgr: m[1], tot: Number(m[2]), desc: m[5], blocks: [] })
      continue
    }
    const b = BLK.exec(l)
    if (b !== null) records[records.length - 1]?.blocks.push({ spc: Number(b[2]), db: Number(b[3]), rel: Number(b[4]), fork: b[5] ?? 'main', blk: Number(b[6]) })
  }
  return { records, stderr: r.stderr }
}

const path = (b: { spc: number, db: number, rel: number }): string => b.spc === 1664 ? `global/${b.rel}` : b.spc === 1663 ? `base/${b.db}/${b.rel}` : `pg_tblspc/${b.spc}/…/${b.db}/${b.rel}`

/** What pg_waldump's descriptions say a heap record does to rows (PostgreSQL 15's wording). */
function rows (d: Dumped): { op: keyof RowCounts, n: number } | null {
  let m: RegExpExecArray | null
  if (d.rmgr === 'Heap') {
    if ((m = /^INSERT(?:\+INIT)? off \d+ flags 0x([0-9A-F]{2})/.exec(d.desc)) !== null) return (parseInt(m[1], 16) & 0x04) !== 0 ? null : { op: 'inserted', n: 1 }
    if ((m = /^DELETE off \d+ flags 0x([0-9A-F]{2})/.exec(d.desc)) !== null) return (parseInt(m[1], 16) & 0x08) !== 0 ? null : { op: 'deleted', n: 1 }
    if (/^(HOT_)?UPDATE(\+INIT)? /.test(d.desc)) return { op: 'updated', n: 1 }
    if (/^CONFIRM /.test(d.desc)) return { op: 'inserted', n: 1 }
  }
  if (d.rmgr === 'Heap2' && (m = /^MULTI_INSERT(?:\+INIT)? (\d+) tuples/.exec(d.desc)) !== null) return { op: 'inserted', n: Number(m[1]) }
  return null
}

t.test('PostgreSQL 15: the report adds up to what pg_waldump shows of the same WAL', async t => {
  const s = await discardScenario(t, 15)
  const { target, source } = s.pair
  const { divergence, plan } = await planRewind({ target: { pgdata: target.dataDir }, source: { pgdata: source.dataDir }, options: { dryRun: true } },
    { log: silentLogger, openSource: async spec => await openSource(spec) })
  const r = plan.discards
  checkReport(t, r, s, 'PG15')
  t.equal(r.from, divergence.divergeLsn)
  t.equal(r.to, divergence.targetWalEnd)

  const { records, stderr } = waldump(`${target.dataDir}/pg_wal`, r.from, r.to)
  t.equal(stderr, '', 'pg_waldump read the whole range')
  t.equal(records.length, r.records, 'records after the divergence point')
  t.equal(records.reduce((a, d) => a + d.tot, 0), r.walBytes, 'their bytes')

  const xact = (re: RegExp): Dumped[] => records.filter(d => d.rmgr === 'Transaction' && re.test(d.desc))
  const commits = xact(/^COMMIT(_PREPARED)? /)
  t.equal(r.transactions.committed, commits.length, 'COMMIT and COMMIT_PREPARED records')
  t.equal(r.transactions.aborted, xact(/^ABORT(_PREPARED)? /).length, 'ABORT and ABORT_PREPARED records')
  t.equal(r.transactions.prepared, xact(/^PREPARE /).length - xact(/^(COMMIT|ABORT)_PREPARED /).length, 'PREPAREs not finished')
  t.same(xact(/^PREPARE /).map(d => /^PREPARE gid (\S+):/.exec(d.desc)?.[1]), r.transactions.preparedTransactions.map(p => p.gid))
  const times = commits.map(d => /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{6}) UTC/.exec(d.desc)).map(m => m === null ? '?' : `${m[1]}T${m[2]}Z`).sort()
  t.same([r.transactions.firstCommit, r.transactions.lastCommit], [times[0], times[times.length - 1]], 'first and last commit time, to the microsecond')

  // per relation file: rows (all buckets), records and bytes naming it, main-fork blocks
  const perPath = new Map<string, { rows: RowCounts, records: number, walBytes: number, blocks: Set<number> }>()
  const perDb = new Map<number, { records: number, walBytes: number }>()
  for (const d of records) {
    const seen = new Set<string>()
    const dbs = new Set<number>()
    for (const b of d.blocks) {
      const p = path(b)
      let e = perPath.get(p)
      if (e === undefined) perPath.set(p, e = { rows: { inserted: 0, updated: 0, deleted: 0 }, records: 0, walBytes: 0, blocks: new Set() })
      if (!seen.has(p)) { seen.add(p); e.records++; e.walBytes += d.tot }
      if (!dbs.has(b.db)) {
        dbs.add(b.db)
        const x = perDb.get(b.db) ?? { records: 0, walBytes: 0 }
        x.records++
        x.walBytes += d.tot
        perDb.set(b.db, x)
      }
      if (b.fork === 'main') e.blocks.add(b.blk)
    }
    const rc = rows(d)
    if (rc !== null && d.blocks.length > 0) (perPath.get(path(d.blocks[0])) as { rows: RowCounts }).rows[rc.op] += rc.n
  }
  const theirs: string[] = []
  const ours: string[] = []
  for (const rel of r.relations) {
    const sum = { inserted: 0, updated: 0, deleted: 0, records: 0, walBytes: 0, blocks: 0 }
    for (const f of rel.files) {
      const e = perPath.get(f.path)
      if (e === undefined) continue
      sum.inserted += e.rows.inserted
      sum.updated += e.rows.updated
      sum.deleted += e.rows.deleted
      sum.records += e.records
      sum.walBytes += e.walBytes
      sum.blocks += e.blocks.size
    }
    const name = `${rel.database} ${rel.schema ?? ''}.${rel.name ?? rel.files[0]?.path ?? ''}`
    theirs.push(`${name}: ${sum.inserted}/${sum.updated}/${sum.deleted} rows, ${sum.records} records, ${sum.walBytes} bytes, ${sum.blocks} blocks`)
    const all = (k: keyof RowCounts): number => rel.committed[k] + rel.prepared[k] + rel.aborted[k]
    ours.push(`${name}: ${all('inserted')}/${all('updated')}/${all('deleted')} rows, ${rel.records} records, ${rel.walBytes} bytes, ${rel.blocks} blocks`)
  }
  t.same(ours, theirs, `every one of the ${r.relations.length} relations: rows, records, bytes and blocks as pg_waldump's blkrefs say`)
  t.equal(r.relations.reduce((a, x) => a + x.files.filter(f => perPath.has(f.path)).length, 0), perPath.size, 'and no file pg_waldump names is missing from the report')
  t.same(r.databases.map(d => [d.oid, d.records, d.walBytes]), [...perDb.entries()].sort((a, b) => a[0] - b[0]).map(([oid, x]) => [oid, x.records, x.walBytes]),
    'per database: records and bytes, each record once')
})
