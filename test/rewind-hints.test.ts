import t, { Test } from 'tap'
import { join } from 'node:path'
import { Client } from 'pg'
import { Cluster, debianPg15, Pair, pgrewind, rejoinAndCompare, run, testMajors, withPair } from './harness'

/**
 * Clusters whose hint bits are not WAL-logged (neither data checksums nor
 * wal_log_hints — PostgreSQL's default before 18): a transaction open at the fork,
 * never committed on the new primary, commits on the old one, and a SELECT there
 * sets its rows' commit hint bits without any WAL. pg_rewind refuses such a target,
 * or — when wal_log_hints was switched on after the fork — goes ahead and the
 * rejoined node shows rows the new primary never committed. pgrewind compares
 * blocks instead of trusting the WAL there, and the node equals the source.
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

for (const major of majors) {
  for (const kind of ['local', 'server'] as const) {
    t.test(`PostgreSQL ${major}, ${kind} source: neither checksums nor wal_log_hints — compared block by block, the node equals the source`, async t => {
      const pair = await noHintLogging(t, major, kind === 'server')
      const client = await openTransaction(pair.target)
      await forkWithHints(t, pair, client, { sourceRunning: kind === 'server' })
      const r = await pgrewind(args(pair, kind))
      t.equal(r.code, 0, r.stderr)
      t.match(r.stderr, /changed blocks found by comparing with the source: the target has neither data checksums nor wal_log_hints/)
      t.same(await rejoinAndCompare(pair.target, pair.source), [], 'the rejoined node equals the source, table by table')
      t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0', 'no row of the transaction the source never committed')
    })
  }

  t.test(`PostgreSQL ${major}: wal_log_hints switched on after the fork — still compared`, async t => {
    const pair = await noHintLogging(t, major, false)
    const client = await openTransaction(pair.target)
    await forkWithHints(t, pair, client, { walLogHintsAfter: true })
    const planFile = join(pair.root, 'plan.json')
    const p = await pgrewind(['plan', ...args(pair, 'local'), '--out', planFile])
    t.equal(p.code, 0, p.stderr)
    t.match(p.stdout, /changed blocks by comparison with the source \(the target restarted with other settings after the divergence \(PARAMETER_CHANGE at [0-9A-F]+\/[0-9A-F]+\)/)
    const a = await pgrewind(['apply', planFile])
    t.equal(a.code, 0, a.stderr)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
    t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0')
  })

  t.test(`PostgreSQL ${major}: a transaction begun before the last common checkpoint; a prepared one open at the fork`, async t => {
    const pair = await noHintLogging(t, major, false)
    const client = await openTransaction(pair.target)
    // the transaction is older than several checkpoints and much other work
    for (let i = 0; i < 3; i++) {
      await pair.target.query('CREATE TABLE IF NOT EXISTS busy (id int); INSERT INTO busy SELECT generate_series(1, 5000); SELECT pg_switch_wal()')
      await pair.target.checkpoint()
    }
    await forkWithHints(t, pair, client, { prepared: true })
    const r = await pgrewind(args(pair, 'local'))
    t.equal(r.code, 0, r.stderr)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
    t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM hz WHERE v = 'open at the fork'"), '0')
    t.equal(await pair.source.scalar<string>('SELECT count(*)::text FROM pg_prepared_xacts'), '1', 'on the source it is still prepared')
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
