import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { childEnv, unprivilegedUser } from '../lib/harness/runas'
import { cliCommand, projectRoot } from '../lib/harness/runtime'
import { MAX_LISTED_RELATIONS } from '../lib/rewind/discards'
import { Cluster, testMajors, withPair } from './harness'

/**
 * Peak memory follows the work in bytes, not the number of files (issue 13): the
 * one-shot CLI on a pair where each side created TABLES tables after the fork
 * (4 relation files each — heap, TOAST table and index, primary key — so about
 * 4 × TABLES files a side, most of them both sides' under the same OIDs, and as many
 * relations in the report of what the rewind discards, which lists the 1,000 that
 * lose the most rows), run under bench/measure.py, which reads the child's peak RSS
 * from the kernel (ru_maxrss).
 *
 * Measured here (TABLES 5000: 21,000 files a side, 10,500 plan entries, 20,000
 * discarded relations): 237 MB on PG 15 before the heap's growth was bounded and the
 * block maps and the discard report made compact (issue 13), 167–194 MB on PG 15
 * after, over eight runs (the higher figures while another test suite loaded the
 * machine: V8's concurrent marking gets less CPU and the heap grows further before it
 * finishes); 147 MB once pg_class was read in columns and names made only when
 * asked for; 116 MB with the young generation kept at its first size (lib/heap.ts).
 * The bound leaves some 40 MB above that for noise and the major's differences; it
 * fails when the cost per file goes up by about 2 kB or more.
 */
const TABLES = 5000
const BOUND_MB = 160

/** In transactions of 500 tables (one takes a lock per table: max_locks_per_transaction). */
const createTables = async (c: Cluster, side: string): Promise<void> => {
  for (let from = 1; from <= TABLES; from += 500) {
    await c.query(`DO $$ BEGIN FOR i IN ${from}..${Math.min(TABLES, from + 499)} LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', '${side}_' || i); END LOOP; END $$`)
  }
}

/** Run the CLI as the tests run it, measured as a whole process; its peak RSS in MB. */
async function measured (args: string[]): Promise<{ exit: number, rssMb: number, stdout: string, stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pgrewind-memory-'))
  const out = join(dir, 'm.json')
  const u = unprivilegedUser()
  const c = cliCommand(args)
  try {
    const r = await new Promise<{ stdout: string, stderr: string }>((resolve, reject) => {
      execFile('python3', [join(projectRoot(), 'bench', 'measure.py'), out, String(u?.uid ?? -1), String(u?.gid ?? -1), c.cmd, ...c.args],
        { cwd: '/', env: childEnv(), maxBuffer: 256 * 1024 * 1024 }, (e, stdout, stderr) => e !== null ? reject(e) : resolve({ stdout, stderr }))
    })
    const m = JSON.parse(readFileSync(out, 'utf8')) as { exit: number, maxRssKb: number }
    return { exit: m.exit, rssMb: m.maxRssKb / 1024, ...r }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const major = testMajors([15])[0]

t.test(`PostgreSQL ${major}: ${TABLES} tables created on each side after the fork, rewound within ${BOUND_MB} MB`, async t => {
  const pair = await withPair(t, { major })
  await pair.source.promote()
  await Promise.all([createTables(pair.source, 'source'), createTables(pair.target, 'target')])
  // rows the rewind discards, in more tables than the report lists: which ones it keeps is checked below
  await pair.target.query(`DO $$ BEGIN FOR i IN 1..${MAX_LISTED_RELATIONS + 100} LOOP
    EXECUTE format('INSERT INTO %I SELECT g, ''x'' FROM generate_series(1, %s) g', 'target_' || i, CASE WHEN i <= ${MAX_LISTED_RELATIONS} THEN 2 ELSE 1 END); END LOOP; END $$`)
  await pair.source.stop()
  await pair.target.stop()

  const r = await measured(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '--json'])
  t.equal(r.exit, 0, r.stderr.slice(-800))
  const summary = JSON.parse(r.stdout)
  t.ok(summary.plan.totals.entries >= 2 * TABLES, `a big plan: ${summary.plan.totals.entries} entries`)
  const omitted = summary.discards.databases.reduce((n: number, d: { relationsOmitted: number }) => n + d.relationsOmitted, 0)
  t.ok(summary.discards.relations.length + omitted >= 4 * TABLES, `a big report: ${summary.discards.relations.length} discarded relations listed, ${omitted} more counted`)
  t.equal(summary.discards.relations.length, MAX_LISTED_RELATIONS, 'the list is bounded')
  // the tables that lose 2 rows rank above those that lose 1; the system catalogs the CREATE TABLEs filled lose more
  type Listed = { name: string | null, systemCatalog: boolean, committed: { inserted: number, updated: number, deleted: number } }
  const listed: Listed[] = summary.discards.relations
  const user = listed.filter(r => !r.systemCatalog)
  const lost = (r: Listed): number => r.committed.inserted + r.committed.updated + r.committed.deleted
  t.ok(user.length >= MAX_LISTED_RELATIONS - 50, `${user.length} user tables listed, the rest system catalogs`)
  t.same(user.filter(r => !/^target_[0-9]+$/.test(r.name ?? '') || Number(r.name?.slice(7)) > MAX_LISTED_RELATIONS || r.committed.inserted !== 2).map(r => r.name), [],
    `every user table listed is one of the ${MAX_LISTED_RELATIONS} that lose 2 rows`)
  t.same(listed.filter(r => r.systemCatalog && lost(r) < 2).map(r => r.name), [], 'every system catalog listed loses more rows than the tables left out')
  const postgres = summary.discards.databases.find((d: { name: string | null }) => d.name === 'postgres')
  const listedRows = listed.reduce((n, r) => n + r.committed.inserted, 0)
  t.ok(postgres.committed.inserted >= listedRows + 100, `the database's sums count the relations left out too (${postgres.committed.inserted} rows inserted, ${listedRows} in the list)`)
  t.ok(r.rssMb < BOUND_MB, `peak RSS ${r.rssMb.toFixed(0)} MB < ${BOUND_MB} MB`)
})
