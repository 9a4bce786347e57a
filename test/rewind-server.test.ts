import t from 'tap'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chownToRunner, diverge, makeDir, pgrewind, rejoinAndCompare, snapshotTree, testMajors, treeDiff, withPair } from './harness'

/**
 * The rewind from a running source server (--source-server), the remote variants of
 * the local scenarios, each verified by starting the rewound node with the
 * recovery configuration -R wrote and comparing every table with the source.
 */

const majors = testMajors()

function mk (path: string, content?: string): void {
  if (content === undefined) mkdirSync(path, { mode: 0o700 })
  else writeFileSync(path, content, { mode: 0o600 })
  chownToRunner(path)
}

/** The primary_conninfo lines of a postgresql.auto.conf. */
function primaryConninfos (pgdata: string): string[] {
  return readFileSync(join(pgdata, 'postgresql.auto.conf'), 'utf8').split('\n').filter(l => l.startsWith('primary_conninfo'))
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: from a running server — tablespaces (in-place too), databases, extra files, pg_wal symlink, -R`, async t => {
    const pair = await withPair(t, { major, tablespace: true, tcp: true, conf: { allow_in_place_tablespaces: true } })
    const { target, source } = pair
    // common history: an in-place tablespace (a directory under pg_tblspc/, no link)
    await target.query("CREATE TABLESPACE ts_inplace LOCATION ''")
    await target.query("CREATE TABLE t_inplace (id int, v text) TABLESPACE ts_inplace; INSERT INTO t_inplace SELECT g, 'ip' || g FROM generate_series(1, 3000) g")
    await target.waitForReplay(source)
    // the target keeps its WAL elsewhere
    await target.stop()
    const walDir = makeDir(join(pair.root, 'target-wal'))
    renameSync(join(target.dataDir, 'pg_wal'), join(walDir, 'pg_wal'))
    symlinkSync(join(walDir, 'pg_wal'), join(target.dataDir, 'pg_wal'))
    await target.start()

    await diverge(pair, { sourceStop: 'running' })
    // the new primary creates an in-place tablespace of its own, and writes to the old one
    await source.query("CREATE TABLESPACE ts_src LOCATION ''")
    await source.query("CREATE TABLE t_src_ts (id int) TABLESPACE ts_src; INSERT INTO t_src_ts SELECT generate_series(1, 500); UPDATE t_inplace SET v = 'src' WHERE id % 5 = 0")
    const odd = 'dir with "quotes" and \'spaces\''
    mk(join(source.dataDir, odd))
    mk(join(source.dataDir, odd, 'file one.txt'), 'from source\n')
    mk(join(target.dataDir, 'target only dir'))
    mk(join(target.dataDir, 'target only dir', "it's here"), 'junk\n')

    // a URI this time (libpq's other syntax)
    const args = ['-D', target.dataDir, '--source-server', `postgresql://postgres@127.0.0.1:${source.port}/postgres`]
    const before = snapshotTree(target.dataDir)
    const dry = await pgrewind([...args, '--dry-run', '--debug', '-R'])
    t.equal(dry.code, 0, `dry run succeeds: ${dry.stderr.slice(-800)}`)
    t.match(dry.stderr, /servers diverged at WAL location [0-9A-F]+\/[0-9A-F]+ on timeline 1/)
    t.match(dry.stderr, /pgrewind: base\/\d+\/\d+ \((COPY_TAIL|TRUNCATE|NONE|COPY)\)\npgrewind: block \d+/, 'the debug map lists relation blocks')
    t.same(treeDiff(before, snapshotTree(target.dataDir)), [], 'a dry run (even with -R) leaves the target byte-identical')

    const r = await pgrewind([...args, '-P', '-R', '--json'])
    t.equal(r.code, 0, `rewind succeeds: ${r.stderr.slice(-1500)}`)
    t.match(r.stderr, /pgrewind: connected to server\n/)
    t.match(r.stderr, /need to copy \d+ MB \(total source directory size is \d+ MB\)[^]*\d+\/\d+ kB \(100%\) copied[^]*Done!/)
    const summary = JSON.parse(r.stdout)
    t.equal(summary.rewindNeeded, true)
    t.match(summary.plan.source, /^source server "host=127\.0\.0\.1 port=\d+ user=postgres dbname=postgres"$/)
    t.equal(summary.recoveryConf.changed, true)
    t.same(summary.recoveryConf.files, ['postgresql.auto.conf', 'standby.signal'])
    t.ok(existsSync(join(target.dataDir, odd, 'file one.txt')), 'source-only directory and file copied')
    t.notOk(existsSync(join(target.dataDir, 'target only dir')), 'target-only directory removed')
    t.ok(lstatSync(join(target.dataDir, 'pg_wal')).isSymbolicLink(), 'pg_wal is still the symlink')
    t.ok(readdirSync(join(walDir, 'pg_wal')).some(f => f.startsWith('00000002')), 'the new timeline\'s WAL was written through it')
    const spc = await source.query<{ oid: string, loc: string }>("SELECT oid::text, pg_tablespace_location(oid) AS loc FROM pg_tablespace WHERE spcname IN ('ts_inplace', 'ts_src')")
    for (const s of spc) t.ok(lstatSync(join(target.dataDir, 'pg_tblspc', s.oid)).isDirectory(), `in-place tablespace ${s.oid} (${s.loc}) is a directory on the target`)
    t.ok(lstatSync(join(target.dataDir, 'pg_tblspc', (await source.scalar<string>("SELECT oid::text FROM pg_tablespace WHERE spcname = 'ts1'")))).isSymbolicLink(), 'the absolute tablespace is still a link')
    const lines = primaryConninfos(target.dataDir)
    t.match(lines[lines.length - 1], new RegExp(`^primary_conninfo = 'user=postgres host=127\\.0\\.0\\.1 port=${source.port} dbname=postgres'$`), 'primary_conninfo is the connection used')
    t.equal(readFileSync(join(target.dataDir, 'standby.signal'), 'utf8'), '', 'standby.signal is empty')

    t.same(await rejoinAndCompare(target, source, { configured: true }), [], 'the node rejoins with the written primary_conninfo and identical contents')
    t.equal(Number(await target.scalar('SELECT received_tli FROM pg_stat_wal_receiver')), 2, 'it streams the new timeline')
    t.equal(await target.scalar('SELECT count(*)::int FROM t_src_ts'), 500, 'the source-only in-place tablespace is readable')
  })

  t.test(`PostgreSQL ${major}: from a running server — crash-stopped target, then -R`, async t => {
    const pair = await withPair(t, { major, tcp: true })
    await diverge(pair, { targetStop: 'crash', sourceStop: 'running' })
    // two hosts, the first refusing connections: libpq moves on to the next, and so
    // does the standby with the primary_conninfo written from this string
    const connstr = `host=127.0.0.1,127.0.0.1 port=1,${pair.source.port} user=postgres dbname=postgres`
    const r = await pgrewind(['-D', pair.target.dataDir, '--source-server', connstr, '--pg-bindir', pair.target.binDir, '-R'])
    t.equal(r.code, 0, r.stderr.slice(-1500))
    t.match(readFileSync(join(pair.target.dataDir, 'postgresql.auto.conf'), 'utf8'), `primary_conninfo = 'user=postgres host=''127.0.0.1,127.0.0.1'' port=''1,${pair.source.port}'' dbname=postgres'`)
    t.match(r.stderr, /executing ".*postgres" for target server to complete crash recovery/)
    t.match(r.stderr, /Done!/)
    t.same(await rejoinAndCompare(pair.target, pair.source, { configured: true }), [], 'rejoins with identical contents')
  })
}
