import t, { Test } from 'tap'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from 'pg'
import { Cluster, debianPg15, Pair, pgrewind, rejoinAndCompare, run, snapshotTree, testMajors, treeDiff, withPair } from './harness'
import type { Plan } from '../lib/steps/types'
import { RpcChild } from './helpers/rpcclient'

/**
 * Clusters whose hint bits are not WAL-logged (neither data checksums nor
 * wal_log_hints — PostgreSQL's default before 18): a transaction open at the fork,
 * never committed on the new primary, commits on the old one, and a SELECT there
 * sets its rows' commit hint bits without any WAL. pg_rewind refuses such a target,
 * or — when wal_log_hints was switched on after the fork — goes ahead and the
 * rejoined node shows rows the new primary never committed. pgrewind applies its
 * hint rule there (the blocks of the transactions that ended after the fork, found
 * in older WAL; the indexes of tables with rows deleted after it compared with the
 * source), or with --compare-blocks compares every block, and the node equals the source.
 */

const majors = testMajors([13, 18])
const ROWS = 20000

async function noHintLogging (t: Test, major: number, tcp: boolean, conf: Record<string, string | number | boolean> = {}): Promise<Pair> {
  return await withPair(t, { major, tcp, checksums: false, walLogHints: false, conf: { max_prepared_transactions: 5, ...conf } })
}

/** Open a transaction that inserts ROWS rows into `hz` and is still open at the fork. */
async function openTransaction (c: Cluster): Promise<Client> {
  await c.query('CREATE TABLE hz (id int, v text); CREATE INDEX ON hz (id)')
  const client = await c.connect()
  await client.query('BEGIN')
  await client.query(`INSERT INTO hz SELECT g, 'open at the fork' FROM generate_series(1, ${ROWS}) g`)
  return client
}

/** Fail over with the transaction open; it then commits on the old primary, and a SELECT sets hint bits. */
async function forkWithHints (t: Test, pair: Pair, client: Client, o: { prepared?: boolean, walLogHintsAfter?: boolean, sourceRunning?: boolean } = {}): Promise<void> {
  if (o.prepared === true) await client.query("PREPARE TRANSACTION 'open_at_fork'")
  await pair.target.checkpoint()
  await pair.target.waitForReplay(pair.source)
  await pair.source.promote()
  await pair.source.query("CREATE TABLE after_fork AS SELECT g AS id FROM generate_series(1, 100) g; INSERT INTO hz VALUES (-1, 'source')")
  await pair.source.checkpoint()
  if (o.prepared === true) await pair.target.query("COMMIT PREPARED 'open_at_fork'")
  else await client.query('COMMIT')
  await client.end()
  // the hint bits: set by reading, not WAL-logged
  t.equal(await pair.target.scalar<string>('SELECT count(*)::text FROM hz'), String(ROWS), 'the old primary sees the rows it committed')
  await pair.target.query('SELECT count(*) FROM hz WHERE id > 0')
  if (o.walLogHintsAfter === true) {
    await pair.target.query('ALTER SYSTEM SET wal_log_hints = on')
    await pair.target.restart()
  }
  await pair.target.checkpoint()
  await pair.target.stop()
  if (o.sourceRunning !== true) await pair.source.stop()
}

function args (pair: Pair, kind: 'local' | 'server'): string[] {
  return ['-D', pair.target.dataDir, ...(kind === 'local' ? ['--source-pgdata', pair.source.dataDir] : ['--source-server', `host=127.0.0.1 port=${pair.source.port} user=postgres dbname=postgres`])]
}

/** Make the open transaction older than several checkpoints and much other work. */
async function olderThanCheckpoints (c: Cluster): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await c.query('CREATE TABLE IF NOT EXISTS busy (id int); INSERT INTO busy SELECT generate_series(1, 5000); SELECT pg_switch_wal()')
    await c.checkpoint()
  }
}

/** The WAL segment name (without timeline) of an LSN, 16 MB segments. */
function walSegmentOf (lsn: string): string {
  const [hi, lo] = lsn.split('/').map(x => parseInt(x, 16))
  return hi.toString(16).toUpperCase().padStart(8, '0') + Math.floor(lo / (16 * 1024 * 1024)).toString(16).toUpperCase().padStart(8, '0')
}

const LP_ROWS = 20000

/** Rows through an index scan only (no sequential, bitmap or index-only scan). */
async function indexScanCount (c: Cluster): Promise<string> {
  const client = await c.connect()
  try {
    await client.query('SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off')
    const r = await client.query<{ n: string }>(`SELECT count(v)::text AS n FROM lp WHERE k BETWEEN 1 AND ${LP_ROWS}`)
    return r.rows[0].n
  } finally {
    await client.end()
  }
}

/**
 * An indexed table committed before the fork; after it the old primary deletes half
 * its rows and commits, and index scans kill their btree items (LP_DEAD, a hint: no
 * WAL without checksums or wal_log_hints) on index pages no WAL record touches.
 */
async function deleteAndKillItems (pair: Pair, o: { walLogHintsAfter?: boolean } = {}): Promise<void> {
  await pair.target.query(`CREATE TABLE lp (k int PRIMARY KEY, v text) WITH (autovacuum_enabled = off); INSERT INTO lp SELECT g, 'row ' || g FROM generate_series(1, ${LP_ROWS}) g`)
  await pair.target.checkpoint()
  await pair.target.waitForReplay(pair.source)
  await pair.source.promote()
  await pair.source.query('CREATE TABLE after_fork AS SELECT g AS id FROM generate_series(1, 100) g')
  await pair.source.checkpoint()
  await pair.target.query(`DELETE FROM lp WHERE k <= ${LP_ROWS / 2}`)
  for (let i = 0; i < 2; i++) await indexScanCount(pair.target)
  if (o.walLogHintsAfter === true) {
    await pair.target.query('ALTER SYSTEM SET wal_log_hints = on')
    await pair.target.restart()
  }
  await pair.target.checkpoint()
  await pair.target.stop()
  await pair.source.stop()
}

const RULE = /changed blocks found from the WAL and the hint rule: the target has neither data checksums nor wal_log_hints/

async function planFile (t: Test, pair: Pair, extra: string[] = []): Promise<{ file: string, plan: Plan, stdout: string }> {
  const file = join(pair.root, 'plan.json')
  const p = await pgrewind(['plan', ...args(pair, 'local'), '--out', file, ...extra])
  t.equal(p.code, 0, p.stderr)
  return { file, plan: (JSON.parse(readFileSync(file, 'utf8')) as { plan: Plan }).plan, stdout: p.stdout }
}

/** The same diverged target rewound on a copy with --compare-blocks: the node equals the source too. */
async function compareModeOnCopy (t: Test, pair: Pair, kind: 'local' | 'server'): Promise<void> {
  const copy: Cluster = pair.target.clone('compare-target')
  t.teardown(async () => { await copy.destroy() })
  const r = await pgrewind(['--compare-blocks', '-D', copy.dataDir, ...args(pair, kind).slice(2)])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /changed blocks found by comparing with the source: asked for/)
  t.same(await rejoinAndCompare(copy, pair.source), [], '--compare-blocks: the rejoined copy equals the source')
  t.equal(await copy.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0')
  await copy.stop()
  if (kind === 'local') await pair.source.stop()
}

for (const major of majors) {
  for (const kind of ['local', 'server'] as const) {
    t.test(`PostgreSQL ${major}, ${kind} source: neither checksums nor wal_log_hints — the hint rule (and --compare-blocks), the node equals the source`, async t => {
      const pair = await noHintLogging(t, major, kind === 'server')
      const client = await openTransaction(pair.target)
      await forkWithHints(t, pair, client, { sourceRunning: kind === 'server' })
      await compareModeOnCopy(t, pair, kind)
      const r = await pgrewind(args(pair, kind))
      t.equal(r.code, 0, r.stderr)
      t.match(r.stderr, RULE)
      t.same(await rejoinAndCompare(pair.target, pair.source), [], 'the rejoined node equals the source, table by table')
      t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0', 'no row of the transaction the source never committed')
    })
  }

  t.test(`PostgreSQL ${major}: wal_log_hints switched on after the fork — the hint rule still applies`, async t => {
    const pair = await noHintLogging(t, major, false)
    const client = await openTransaction(pair.target)
    await forkWithHints(t, pair, client, { walLogHintsAfter: true })
    const { file, stdout } = await planFile(t, pair)
    t.match(stdout, /changed blocks from the WAL and the hint rule \(the target restarted with other settings after the divergence \(PARAMETER_CHANGE at [0-9A-F]+\/[0-9A-F]+\)/)
    const a = await pgrewind(['apply', file])
    t.equal(a.code, 0, a.stderr)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
    t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0')
  })

  t.test(`PostgreSQL ${major}: a transaction begun before the last common checkpoint; a prepared one open at the fork`, async t => {
    const pair = await noHintLogging(t, major, false)
    const client = await openTransaction(pair.target)
    await olderThanCheckpoints(pair.target)
    await forkWithHints(t, pair, client, { prepared: true })
    const { file, plan } = await planFile(t, pair)
    t.equal(plan.method.kind, 'wal+hints')
    t.match(plan.method.why, /1 transaction ended after the divergence .*the WAL searched back from the last common checkpoint to [0-9A-F]+\/[0-9A-F]+, (where a RUNNING_XACTS record|to the redo point)/)
    t.ok(plan.method.extraBlocks > 100, `the rule added the blocks the transaction wrote before the last common checkpoint (${plan.method.extraBlocks}): ${plan.method.why}`)
    const a = await pgrewind(['apply', file])
    t.equal(a.code, 0, a.stderr)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
    t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0')
    t.equal(await pair.source.scalar<string>('SELECT count(*)::text FROM pg_prepared_xacts'), '1', 'on the source it is still prepared')
  })

  t.test(`PostgreSQL ${major}: the hint rule over JSON-RPC — scanWal's result carries it to buildPlan, each step its own server process`, async t => {
    const pair = await noHintLogging(t, major, false)
    const client = await openTransaction(pair.target)
    await olderThanCheckpoints(pair.target)
    await forkWithHints(t, pair, client)
    const target = { pgdata: pair.target.dataDir }
    const source = { pgdata: pair.source.dataDir }
    // a new server per step, as separate Ansible tasks run them: the rule's result must survive JSON
    const step = async (method: string, params: Record<string, unknown>): Promise<any> => {
      const c = new RpcChild()
      try { return await c.result(method, params) } finally { c.kill() }
    }
    const divergence = await step('findDivergence', { target, source })
    t.equal(divergence.hintsLogged, false)
    const scan = await step('scanWal', { target, source, divergence })
    t.not(scan.hints, null, 'scanWal ran the hint rule')
    t.equal(scan.hints.transactions, 1, 'one transaction ended after the divergence')
    t.ok(scan.hints.blockCount > 100, `the blocks it wrote before the last common checkpoint (${scan.hints.blockCount as number})`)
    const plan = await step('buildPlan', { target, source, divergence, scan })
    t.equal(plan.method.kind, 'wal+hints')
    t.ok(plan.method.extraBlocks > 100, `the plan holds the rule's blocks (${plan.method.extraBlocks as number} more than the WAL after the checkpoint names)`)
    await step('applyPlan', { target, source, plan })
    await step('writeBackupLabel', { target, source, plan })
    t.same(await rejoinAndCompare(pair.target, pair.source), [], 'the rejoined node equals the source, table by table')
    t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0', 'no row of the transaction the source never committed')
  })

  t.test(`PostgreSQL ${major}: rows deleted after the fork and their index items killed by index scans — visible again through the index`, async t => {
    const pair = await noHintLogging(t, major, false)
    await deleteAndKillItems(pair)
    const r = await pgrewind(args(pair, 'local'))
    t.equal(r.code, 0, r.stderr)
    t.match(r.stderr, RULE)
    t.match(r.stderr, /1 index of 1 table with rows deleted or updated after the divergence compared with the source \(LP_DEAD hints\): 1 file, [1-9]\d* blocks? differs?/)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
    await pair.target.promote() // a standby ignores LP_DEAD items; a primary trusts them
    t.equal(await indexScanCount(pair.target), String(LP_ROWS), 'every row through an index scan')
    t.equal(await pair.target.scalar<string>('SELECT count(v)::text FROM lp'), String(LP_ROWS), 'and through a sequential scan')
  })

  t.test(`PostgreSQL ${major}: the WAL the rule needs is missing — a clear error, the target unchanged; --compare-blocks goes on`, async t => {
    const pair = await noHintLogging(t, major, false)
    const client = await openTransaction(pair.target)
    await olderThanCheckpoints(pair.target)
    await forkWithHints(t, pair, client)
    const { plan } = await planFile(t, pair)
    const redoSeg = walSegmentOf(plan.backupLabel!.redo)
    const removed = readdirSync(join(pair.target.dataDir, 'pg_wal')).filter(f => /^[0-9A-F]{24}$/.test(f) && f.slice(8) < redoSeg).sort()
    t.ok(removed.length > 0, `segments before the last common checkpoint's redo: ${removed.join(' ')}`)
    for (const f of removed) rmSync(join(pair.target.dataDir, 'pg_wal', f))
    const before = snapshotTree(pair.target.dataDir)
    const r = await pgrewind(args(pair, 'local'))
    t.equal(r.code, 1)
    t.match(r.stderr, /WAL segment "[0-9A-F]{24}" is missing, and the target's hint bits were not WAL-logged/)
    t.match(r.stderr, /--compare-blocks/)
    const named = /WAL segment "([0-9A-F]{24})"/.exec(r.stderr)?.[1]
    t.ok(named !== undefined && removed.includes(named), `it names a removed segment (${named ?? '-'})`)
    t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'the target is unchanged')
    const c = await pgrewind(['--compare-blocks', ...args(pair, 'local')])
    t.equal(c.code, 0, c.stderr)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
    t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0')
  })
}

t.test('the hazard is real: C pg_rewind 15 rewinds this target wrongly, pgrewind does not', async t => {
  const bin = debianPg15()
  t.ok(bin !== null, 'Debian\'s PostgreSQL 15 is installed (apt-get install postgresql-15)')
  if (bin === null) return
  const pair = await noHintLogging(t, 15, false)
  const client = await openTransaction(pair.target)
  await forkWithHints(t, pair, client, { walLogHintsAfter: true })
  // the same diverged pair twice: C pg_rewind on a copy, pgrewind on the original
  const cNode: Cluster = pair.target.clone('c-target')
  t.teardown(async () => { await cNode.destroy() })
  const c = await run(join(bin, 'pg_rewind'), ['-D', cNode.dataDir, '--source-pgdata', pair.source.dataDir])
  t.equal(c.code, 0, `C pg_rewind goes ahead: ${c.stderr}`)
  const wrong = await rejoinAndCompare(cNode, pair.source)
  await cNode.stop()
  t.ok(wrong.some(d => d.startsWith('postgres:public.hz')), `C pg_rewind's node differs from the source in hz: ${wrong.join('; ')}`)
  await pair.source.stop()
  const r = await pgrewind(args(pair, 'local'))
  t.equal(r.code, 0, r.stderr)
  t.same(await rejoinAndCompare(pair.target, pair.source), [], 'pgrewind\'s node equals the source')
})

t.test('the LP_DEAD hazard is real: after C pg_rewind 15, an index scan misses rows the source has; not after pgrewind', async t => {
  const bin = debianPg15()
  t.ok(bin !== null, 'Debian\'s PostgreSQL 15 is installed (apt-get install postgresql-15)')
  if (bin === null) return
  const pair = await noHintLogging(t, 15, false)
  await deleteAndKillItems(pair, { walLogHintsAfter: true })
  const cNode: Cluster = pair.target.clone('c-target')
  t.teardown(async () => { await cNode.destroy() })
  const c = await run(join(bin, 'pg_rewind'), ['-D', cNode.dataDir, '--source-pgdata', pair.source.dataDir])
  t.equal(c.code, 0, `C pg_rewind goes ahead: ${c.stderr}`)
  t.same(await rejoinAndCompare(cNode, pair.source), [], 'C pg_rewind\'s node looks equal through sequential scans')
  await cNode.promote()
  const cCount = await indexScanCount(cNode)
  t.ok(Number(cCount) < LP_ROWS, `but after promotion an index scan finds ${cCount} of ${LP_ROWS} rows`)
  await cNode.stop()
  await pair.source.stop()
  const r = await pgrewind(args(pair, 'local'))
  t.equal(r.code, 0, r.stderr)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
  await pair.target.promote()
  t.equal(await indexScanCount(pair.target), String(LP_ROWS), 'pgrewind\'s node finds every row through the index')
})
