import t, { Test } from 'tap'
import { appendFileSync, existsSync, mkdirSync, readdirSync, renameSync, symlinkSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { chownToRunner, Cluster, destroyPair, diverge, makeDir, makeTempRoot, pgrewind, rejoinAndCompare, removeTree, setupPair, snapshotTree, testMajors, treeDiff, withPair } from './harness'

const majors = testMajors()

function mk (path: string, content?: string): void {
  if (content === undefined) mkdirSync(path, { mode: 0o700 })
  else writeFileSync(path, content, { mode: 0o600 })
  chownToRunner(path)
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: pg_wal as a symlink, extra files and directories with odd names`, async t => {
    const pair = await withPair(t, { major })
    // the target keeps its WAL elsewhere
    await pair.target.stop()
    const walDir = makeDir(join(pair.root, 'target-wal'))
    renameSync(join(pair.target.dataDir, 'pg_wal'), join(walDir, 'pg_wal'))
    symlinkSync(join(walDir, 'pg_wal'), join(pair.target.dataDir, 'pg_wal'))
    await pair.target.start()
    await diverge(pair)
    const odd = 'dir with "quotes" and \'spaces\''
    mk(join(pair.source.dataDir, odd))
    mk(join(pair.source.dataDir, odd, 'file one.txt'), 'from source\n')
    mk(join(pair.source.dataDir, 'source only "x".conf'), 'a = 1\n')
    mk(join(pair.target.dataDir, 'target only dir'))
    mk(join(pair.target.dataDir, 'target only dir', "it's here"), 'junk\n')
    mk(join(pair.target.dataDir, 'postmaster.opts.keep'), 'x\n')

    const r = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    t.equal(r.code, 0, r.stderr.slice(-800))
    t.ok(existsSync(join(pair.target.dataDir, odd, 'file one.txt')), 'source-only directory and file copied')
    t.ok(existsSync(join(pair.target.dataDir, 'source only "x".conf')), 'source-only file with quotes copied')
    t.notOk(existsSync(join(pair.target.dataDir, 'target only dir')), 'target-only directory removed')
    t.notOk(existsSync(join(pair.target.dataDir, 'postmaster.opts.keep')), 'target-only file removed')
    t.equal(readdirSync(join(walDir, 'pg_wal')).length > 0, true, 'WAL written through the pg_wal symlink')
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
  })

  t.test(`PostgreSQL ${major}: no rewind required (switchover) and same timeline`, async t => {
    const pair = await withPair(t, { major })
    // a clean switchover: the old primary stops before the standby is promoted
    await pair.target.stop()
    await pair.source.promote()
    await pair.source.query('CREATE TABLE after_switchover AS SELECT 1 AS x')
    await pair.source.stop()
    const before = snapshotTree(pair.target.dataDir)
    const r = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stderr, /no rewind required/)
    t.notMatch(r.stderr, /Done!/)
    const changed = treeDiff(before, snapshotTree(pair.target.dataDir))
    t.same(changed.map(c => c.split(':')[0]), ['pg_wal/00000002.history'], 'only the new timeline\'s history file was added')
    t.same(await rejoinAndCompare(pair.target, pair.source), [], 'the old primary follows the new one')

    // now both are on timeline 2: same timeline
    await pair.target.stop()
    await pair.source.stop()
    const r2 = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    t.equal(r2.code, 0, r2.stderr)
    t.match(r2.stderr, /source and target cluster are on the same timeline/)
    t.match(r2.stderr, /no rewind required/)
  })

  t.test(`PostgreSQL ${major}: target was a standby that replayed past its last restartpoint`, async t => {
    // P primary with standbys S1 and S2; S1 is promoted, S2 keeps following P past
    // the fork, then is rewound from S1 (pg_rewind's t/008).
    const p = await Cluster.init({ major, name: 'p' })
    const nodes: Cluster[] = []
    // the standbys live in p's root: stop them before it is removed
    t.teardown(async () => { for (const n of nodes) await n.destroy(); await p.destroy() })
    await p.start()
    await p.query('CREATE TABLE tbl (id int, v text); INSERT INTO tbl SELECT g, \'a\' FROM generate_series(1, 5000) g')
    await p.checkpoint()
    const s1 = await p.createStandby('s1')
    const s2 = await p.createStandby('s2')
    nodes.push(s1, s2)
    await p.waitForReplay(s1)
    await p.waitForReplay(s2)
    await s1.promote()
    await s1.query('INSERT INTO tbl SELECT g, \'s1\' FROM generate_series(1, 1000) g')
    await p.query('UPDATE tbl SET v = \'p\' WHERE id % 3 = 0; INSERT INTO tbl SELECT g, \'p\' FROM generate_series(1, 3000) g')
    await p.waitForReplay(s2)
    await s2.stop()
    await s1.stop()
    const r = await pgrewind(['-D', s2.dataDir, '--source-pgdata', s1.dataDir])
    t.equal(r.code, 0, r.stderr.slice(-800))
    t.match(r.stderr, /rewinding from last common checkpoint/, 'a rewind was needed: minRecoveryPoint is past the fork')
    t.same(await rejoinAndCompare(s2, s1), [])
    await p.stop()
  })

  /** A pair whose new primary archives its WAL and then runs far enough ahead to recycle the common history. */
  async function pairWithRecycledSourceWal (t: Test): Promise<{ pair: Awaited<ReturnType<typeof setupPair>>, archive: string }> {
    // the clusters do not own a root given to them: it goes, archives and all, with the test
    const root = makeTempRoot()
    let pair: Awaited<ReturnType<typeof setupPair>> | undefined
    t.teardown(async () => {
      try {
        if (pair !== undefined) await destroyPair(pair)
      } finally {
        removeTree(root)
      }
    })
    const archive = makeDir(join(root, 'archive'))
    pair = await setupPair({
      major,
      root,
      conf: { wal_keep_size: 0, max_wal_size: '32MB', min_wal_size: '32MB', archive_mode: true, archive_command: `test ! -f ${archive}/%f && cp %p ${archive}/%f` }
    })
    // Only the source may recycle its WAL: the target (archiving to the same place)
    // keeps all of its own, so what the tests move or expect is really there.
    await pair.target.query("ALTER SYSTEM SET wal_keep_size = '1GB'")
    await pair.target.query('SELECT pg_reload_conf()')
    await diverge(pair, { sourceStop: 'running' })
    for (let i = 0; i < 4; i++) {
      await pair.source.query(`SELECT pg_switch_wal(); INSERT INTO t_common SELECT g, 'more' FROM generate_series(${2000000 + i * 1000}, ${2000100 + i * 1000}) g`)
      await pair.source.checkpoint()
    }
    await pair.source.stop()
    return { pair, archive }
  }

  t.test(`PostgreSQL ${major}: WAL needed for recovery that the source no longer has is kept`, async t => {
    const { pair, archive } = await pairWithRecycledSourceWal(t)
    const r = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '--json'])
    t.equal(r.code, 0, r.stderr.slice(-800))
    const keep: string[] = JSON.parse(r.stdout).divergence.keepWal
    t.ok(keep.length > 0, 'segments from the common checkpoint to the divergence are needed')
    const missingOnSource = keep.filter(f => !existsSync(join(pair.source.dataDir, f)))
    t.ok(missingOnSource.length > 0, 'the source no longer has some of them')
    for (const f of keep) t.ok(existsSync(join(pair.target.dataDir, f)), `${f} kept on the target`)
    appendFileSync(join(pair.target.dataDir, 'postgresql.conf'), `restore_command = 'cp ${archive}/%f %p'\narchive_mode = off\n`)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
  })

  t.test(`PostgreSQL ${major}: -c restores the target's WAL from its archive`, async t => {
    const { pair, archive } = await pairWithRecycledSourceWal(t)
    // The target's own WAL was moved to its archive.
    const targetArchive = makeDir(join(pair.root, 'target-archive'))
    const walDir = join(pair.target.dataDir, 'pg_wal')
    for (const f of readdirSync(walDir)) if (/^[0-9A-F]{24}$/.test(f)) renameSync(join(walDir, f), join(targetArchive, f))
    appendFileSync(join(pair.target.dataDir, 'postgresql.conf'), `restore_command = 'cp ${targetArchive}/%f %p'\n`)
    const args = ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '--pg-bindir', pair.target.binDir]
    const before = snapshotTree(pair.target.dataDir)
    const noC = await pgrewind(args)
    t.equal(noC.code, 1, 'without -c the WAL is missing')
    t.match(noC.stderr, /could not (read|find previous) WAL record at/)
    t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'the failed run changed nothing')
    const dry = await pgrewind([...args, '-c', '--dry-run'])
    t.equal(dry.code, 0, dry.stderr.slice(-800))
    t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'a dry run with -c restores nothing into the target')
    const r = await pgrewind([...args, '-c'])
    t.equal(r.code, 0, r.stderr.slice(-800))
    appendFileSync(join(pair.target.dataDir, 'postgresql.conf'), `restore_command = 'cp ${targetArchive}/%f %p || cp ${archive}/%f %p'\narchive_mode = off\n`)
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
  })

  t.test(`PostgreSQL ${major}: a source file that grows during the run aborts it, a re-run completes`, async t => {
    const pair = await withPair(t, { major })
    await diverge(pair)
    const growing = join(pair.source.dataDir, 'growing.log')
    mk(growing, 'x'.repeat(1024))
    const fd = openSync(growing, 'a')
    const chunk = Buffer.alloc(64 * 1024, 0x41)
    const timer = setInterval(() => { writeSync(fd, chunk) }, 5)
    let r
    try {
      r = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    } finally {
      clearInterval(timer)
      closeSync(fd)
    }
    t.equal(r.code, 1)
    t.match(r.stderr, /size of source file "growing.log" changed concurrently/)
    const again = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    t.equal(again.code, 0, again.stderr.slice(-800))
    t.same(await rejoinAndCompare(pair.target, pair.source), [])
  })
}
