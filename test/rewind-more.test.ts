import t from 'tap'
import { existsSync, lstatSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { parseLsn, lsnToSegNo, parseWalFileName } from '../lib/format/lsn'
import { unprivilegedUser } from '../lib/harness/runas'
import { chownToRunner, CLI, PROJECT_CLI, Cluster, diverge, pgrewind, rejoinAndCompare, run, testMajors, withPair } from './harness'

const majors = testMajors()

for (const major of majors) {
  t.test(`PostgreSQL ${major}: multi-hop timelines (target on 2, source on 3)`, async t => {
    // P → S1 promoted (timeline 2) → S2, a standby of S1, promoted (timeline 3) while
    // S1 goes on writing: S1 is rewound from S2; their common timeline is 2.
    const p = await Cluster.init({ major, name: 'p' })
    const nodes: Cluster[] = []
    // the standbys live in p's root: stop them before it is removed
    t.teardown(async () => { for (const n of nodes) await n.destroy(); await p.destroy() })
    await p.start()
    await p.query("CREATE TABLE h (id int, v text); INSERT INTO h SELECT g, 'p' FROM generate_series(1, 3000) g")
    const s1 = await p.createStandby('s1')
    nodes.push(s1)
    await p.waitForReplay(s1)
    await p.stop()
    await s1.promote()
    await s1.query("INSERT INTO h SELECT g, 's1' FROM generate_series(3001, 4000) g")
    await s1.checkpoint()
    const s2 = await s1.createStandby('s2')
    nodes.push(s2)
    await s1.waitForReplay(s2)
    await s2.promote()
    await s2.query("UPDATE h SET v = 's2' WHERE id % 5 = 0")
    await s1.query("UPDATE h SET v = 's1 diverged' WHERE id % 3 = 0; INSERT INTO h SELECT g, 'x' FROM generate_series(5000, 9000) g")
    await s1.stop()
    await s2.stop()
    t.equal(await (async () => { await s2.start(); const v = await s2.timeline(); await s2.stop(); return v })(), 3)
    const r = await pgrewind(['-D', s1.dataDir, '--source-pgdata', s2.dataDir, '--debug'])
    t.equal(r.code, 0, r.stderr.slice(-800))
    t.match(r.stderr, /servers diverged at WAL location \S+ on timeline 2/)
    t.match(r.stderr, /Source timeline history:\n.*debug: 1: 0\/0 - \S+\n.*debug: 2: \S+ - \S+\n.*debug: 3: \S+ - 0\/0/)
    t.same(await rejoinAndCompare(s1, s2), [])
  })

  t.test(`PostgreSQL ${major}: group access, the WAL of the common history is not copied`, async t => {
    const pair = await withPair(t, { major, groupAccess: true })
    // a few segments of common history, streamed to the standby
    for (let i = 0; i < 3; i++) await pair.target.query('SELECT pg_switch_wal(); INSERT INTO t_common VALUES (-1 - ' + i + ", 'common')")
    await pair.target.waitForReplay(pair.source)
    await diverge(pair)
    const extra = join(pair.source.dataDir, 'extra.conf')
    writeFileSync(extra, 'x = 1\n', { mode: 0o640 })
    chownToRunner(extra)
    const r = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '--dry-run', '--debug', '--json'])
    t.equal(r.code, 0, r.stderr.slice(-800))
    const d = JSON.parse(r.stdout).divergence
    const divSeg = lsnToSegNo(parseLsn(d.divergeLsn), d.segSize)
    const common = readdirSync(join(pair.target.dataDir, 'pg_wal')).filter(f => {
      const w = parseWalFileName(f, d.segSize)
      const other = join(pair.source.dataDir, 'pg_wal', f)
      return w !== null && w.segNo < divSeg && existsSync(other) && statSync(other).size === statSync(join(pair.target.dataDir, 'pg_wal', f)).size
    })
    t.ok(common.length > 0, `segments of the common history exist on both sides (${common.join(', ')})`)
    for (const f of common) t.notMatch(r.stderr, new RegExp(`pg_wal/${f} \\(COPY\\)`), `${f} is not copied`)

    const real = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    t.equal(real.code, 0, real.stderr.slice(-800))
    t.equal(lstatSync(join(pair.target.dataDir, 'extra.conf')).mode & 0o777, 0o640, 'new files get 0640 in a group-access data dir')
    const newDir = readdirSync(join(pair.target.dataDir, 'base')).map(n => join(pair.target.dataDir, 'base', n))
    t.ok(newDir.every(p => (lstatSync(p).mode & 0o777) === 0o750), 'directories are 0750')
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
  })
}

t.test('in-place tablespaces (PostgreSQL 15+)', async t => {
  const inPlace = majors.filter(m => m >= 15)
  for (const major of inPlace.length > 0 ? inPlace : [15]) {
    const pair = await withPair(t, { major, conf: { allow_in_place_tablespaces: true } })
    await pair.target.query("CREATE TABLESPACE inplace LOCATION ''")
    await pair.target.query("CREATE TABLE tip (id int, v text) TABLESPACE inplace; INSERT INTO tip SELECT g, 'x' FROM generate_series(1, 2000) g")
    await pair.target.waitForReplay(pair.source)
    await diverge(pair, { sourceStop: 'running', targetStop: 'running' })
    await pair.source.query("INSERT INTO tip SELECT g, 'src' FROM generate_series(2001, 2500) g")
    await pair.target.query("UPDATE tip SET v = 'tgt' WHERE id % 2 = 0")
    await pair.source.stop()
    await pair.target.stop()
    const r = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    t.equal(r.code, 0, `PG ${major}: ${r.stderr.slice(-800)}`)
    t.same(await rejoinAndCompare(pair.target, pair.source), [], `PG ${major}: in-place tablespace rewound`)
  }
})

t.test('the CLI refuses root and bad usage like pg_rewind', async t => {
  const asRoot = spawnSync(process.execPath, [CLI, '-D', '/nonexistent', '--source-pgdata', '/nonexistent'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  if (unprivilegedUser() !== null) {
    t.equal(asRoot.status, 1)
    // root becomes the owner of the target; one it cannot find out is refused like pg_rewind refuses root
    t.match(asRoot.stderr, /pgrewind: error: cannot be executed by "root"\npgrewind: detail: .*"\/nonexistent" cannot be read.*\npgrewind: hint: You must run pgrewind as the PostgreSQL superuser/)
  } else {
    t.equal(asRoot.status, 1)
    t.notMatch(asRoot.stderr, /cannot be executed by "root"/, 'a non-root user is not refused')
  }
  const cases: Array<[string[], RegExp]> = [
    [['-D', '/x'], /no source specified \(--source-pgdata or --source-server\)/],
    [['-D', '/x', '--source-pgdata', '/a', '--source-server', 'host=h'], /only one of --source-pgdata or --source-server can be specified/],
    [['--source-pgdata', '/a'], /no target data directory specified \(--target-pgdata\)/],
    [['-D', '/x', '--source-pgdata', '/a', '-R'], /no source server information \(--source-server\) specified for --write-recovery-conf/],
    [['-D', '/x', '--source-pgdata', '/a', 'extra'], /too many command-line arguments \(first is "extra"\)/],
    [['-D', '/x', '--source-pgdata', '/a', '--sync-method', 'bogus'], /unrecognized sync method: bogus/],
    [['-D', '/x', '--bogus'], /unrecognized option '--bogus'/]
  ]
  for (const [args, re] of cases) {
    const r = await run(process.execPath, [CLI, ...args])
    t.equal(r.code, 1, args.join(' '))
    t.match(r.stderr, re)
    t.match(r.stderr, /hint: Try "pgrewind --help" for more information\./)
  }
  const help = await run(process.execPath, [CLI, '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /--target-pgdata=DIRECTORY/)
  const v = await run(process.execPath, [CLI, '-V'])
  t.equal(v.code, 0)
  t.match(v.stdout, /^pgrewind /)
})

t.test('the README\'s drill runs and verifies', async t => {
  const major = majors[0]
  // as a user runs it: this checkout's CLI (as root: it runs the drill as the servers' user)
  const r = spawnSync(process.execPath, [PROJECT_CLI, 'drill', '--pg-version', String(major)], { encoding: 'utf8', timeout: 300_000 })
  t.equal(r.status, 0, r.stdout + r.stderr)
  t.match(r.stdout, new RegExp(`failover drill on PostgreSQL ${major}`))
  for (const step of ['findDivergence', 'scanWal', 'buildPlan', 'applyPlan', 'writeBackupLabel']) t.match(r.stdout, new RegExp(`rewind: ${step} +\\d+ ms`))
  t.match(r.stdout, /OK: the rewound node rejoined with identical contents/)
})
