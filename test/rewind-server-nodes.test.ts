import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseLsn } from '../lib/format/lsn'
import { VERSIONS } from '../lib/format/versions'
import { Cluster, compareContents, pgrewind, snapshotTree, testMajors, treeDiff, withPair } from './harness'

/**
 * Three-node topologies with a running source server: a standby as the source
 * (PostgreSQL 14+, pg_rewind's t/007), its refusal on 13, and a target that was a
 * standby which followed a promoted node past the divergence (t/008).
 */

const majors = testMajors()

async function rows (c: Cluster, sql: string): Promise<string[]> {
  return (await c.query<{ v: string }>(sql)).map(r => r.v)
}

/** Start `node` (configured to follow `upstream`'s chain), write on `primary`, wait until it arrives. */
async function rejoinVia (node: Cluster, primary: Cluster): Promise<void> {
  node.reassertLocalConf()
  await node.start()
  await primary.query("INSERT INTO tbl1 VALUES ('in A, after rewind')")
  await primary.waitForReplay(node, 120000)
}

for (const major of majors) {
  if (VERSIONS[major as 13].standbySourceAllowed) {
    t.test(`PostgreSQL ${major}: a standby as the source, a cascading standby that was promoted as the target`, async t => {
      // A (primary) <- B (standby) <- C (standby); C is promoted and diverges; C is
      // rewound from B while B keeps replaying, and follows B again.
      const a = await Cluster.init({ major, name: 'a', tcp: true })
      const nodes = [a]
      // standbys live in a's root: stop them before it is removed
      t.teardown(async () => { for (const n of nodes.reverse()) await n.destroy() })
      await a.start()
      await a.query("CREATE TABLE tbl1 (d text); INSERT INTO tbl1 VALUES ('in A'); CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g")
      await a.checkpoint()
      const b = await a.createStandby('b')
      nodes.push(b)
      const c = await b.createStandby('c')
      nodes.push(c)
      await a.query("INSERT INTO tbl1 VALUES ('in A, before promotion')")
      await a.checkpoint()
      await a.waitForReplay(b)
      await a.waitForReplay(c)

      await c.promote()
      await a.query("INSERT INTO tbl1 VALUES ('in A, after C was promoted'); UPDATE big SET v = 'a' WHERE id % 7 = 0")
      await a.waitForReplay(b)
      await c.query("INSERT INTO tbl1 VALUES ('in C, after C was promoted'); UPDATE big SET v = 'c' WHERE id % 5 = 0")
      await c.stop()

      const r = await pgrewind(['-D', c.dataDir, '--source-server', b.connstr(), '-R', '--debug', '--json'])
      t.equal(r.code, 0, r.stderr.slice(-1500))
      t.match(r.stderr, /servers diverged at WAL location [0-9A-F/]+ on timeline 1/)
      const sum = JSON.parse(r.stdout)
      // B has replayed A's last checkpoint but not made a restartpoint of it: its files
      // may be older than that checkpoint, so recovery must start at B's own redo
      t.ok(parseLsn(sum.plan.backupLabel.redo) < parseLsn(sum.divergence.lastCommonCheckpoint.redo),
        `backup_label starts at the standby's older restartpoint (${sum.plan.backupLabel.redo} < ${sum.divergence.lastCommonCheckpoint.redo})`)
      const lines = readFileSync(join(c.dataDir, 'postgresql.auto.conf'), 'utf8').split('\n').filter(l => l.startsWith('primary_conninfo'))
      t.match(lines[lines.length - 1], `port=${b.port} `, 'C now follows B')

      await rejoinVia(c, a)
      t.same(await rows(c, 'SELECT d AS v FROM tbl1 ORDER BY 1'),
        ['in A', 'in A, after C was promoted', 'in A, after rewind', 'in A, before promotion'], 'C has A\'s rows, not its own, and receives new ones through B')
      t.same(await compareContents(c, a), [], 'every table equals A\'s')
    })
  } else {
    t.test(`PostgreSQL ${major}: a standby as the source is refused before anything changes`, async t => {
      const pair = await withPair(t, { major, tcp: true })
      await pair.target.crash()
      const before = snapshotTree(pair.target.dataDir)
      const r = await pgrewind(['-D', pair.target.dataDir, '--source-server', pair.source.connstr(), '--pg-bindir', pair.target.binDir])
      t.equal(r.code, 1)
      t.match(r.stderr, /error: source server must not be in recovery mode\n.*detail: The source is a standby; on PostgreSQL 13 only a primary can be the source/)
      t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'not even crash recovery ran on the target')
    })
  }

  t.test(`PostgreSQL ${major}: a standby that followed a promoted node past the divergence, rewound from the third node`, async t => {
    // pg_rewind's t/008: n2 and n3 follow n1; n3 is promoted (TLI 2), n1 and n2
    // follow it; n1 is promoted too (TLI 3); n2 keeps replaying TLI 2 past the
    // point where n1 left it, and is rewound from n1 while n1 runs.
    const n1 = await Cluster.init({ major, name: 'n1', tcp: true })
    const nodes = [n1]
    t.teardown(async () => { for (const n of nodes.reverse()) await n.destroy() })
    await n1.start()
    await n1.query("CREATE TABLE foo (t text); CREATE TABLE bar (t text); INSERT INTO bar VALUES ('in both')")
    await n1.checkpoint()
    const n2 = await n1.createStandby('n2')
    nodes.push(n2)
    const n3 = await n1.createStandby('n3')
    nodes.push(n3)
    await n1.waitForReplay(n2)
    await n1.waitForReplay(n3)
    await n1.stop()
    await n3.promote()
    n1.followPrimary(n3)
    await n1.start()
    n2.followPrimary(n3)
    await n2.restart()
    await n3.waitForReplay(n1)
    await n1.promote()
    await n1.query("INSERT INTO foo VALUES ('keep this'); INSERT INTO foo VALUES ('and this'); INSERT INTO foo VALUES ('and this too')")
    await n3.query("INSERT INTO bar VALUES ('rewind this'); CREATE TABLE more AS SELECT generate_series(1, 10000) AS x")
    await n3.waitForReplay(n2)
    await n2.stop()
    await n3.stop()

    const r = await pgrewind(['-D', n2.dataDir, '--source-server', n1.connstr(), '-R'])
    t.equal(r.code, 0, r.stderr.slice(-1500))
    t.match(r.stderr, /servers diverged at WAL location [0-9A-F/]+ on timeline 2/, 'the divergence is on the timeline n2 followed')
    t.match(r.stderr, /rewinding from last common checkpoint/, 'a rewind was needed: n2\'s minRecoveryPoint is past the divergence')
    n2.reassertLocalConf()
    await n2.start()
    await n1.query('CREATE TABLE IF NOT EXISTS rejoin_marker (n int); INSERT INTO rejoin_marker VALUES (1)')
    await n1.waitForReplay(n2, 120000)
    t.same(await rows(n2, 'SELECT t AS v FROM foo ORDER BY 1'), ['and this', 'and this too', 'keep this'])
    t.same(await rows(n2, 'SELECT t AS v FROM bar ORDER BY 1'), ['in both'], 'n3\'s row was rewound away')
    t.same(await compareContents(n2, n1), [])
  })
}
