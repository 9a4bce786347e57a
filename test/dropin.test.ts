import t from 'tap'
import { lchownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync, copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { unprivilegedUser } from '../lib/harness/runas'
import { runtime } from '../lib/harness/runtime'
import { chownToRunner, CLI, diverge, makeDir, makeTempRoot, pgrewind, rejoinAndCompare, removeTree, run, snapshotTree, treeDiff, withPair } from './harness'

/**
 * Drop-in details (README, "Where pgrewind deliberately differs"): the name
 * pg_rewind and its --version, libpq's connection service file, and symbolic links
 * in the source data directory, each on real PostgreSQL 15 clusters.
 */
const major = 15
const DEBIAN15 = '/usr/lib/postgresql/15/bin'

function own (path: string): void {
  const u = unprivilegedUser()
  if (u !== null) lchownSync(path, u.uid, u.gid)
}

t.test('the built CLI is executable; the command linked in as pg_rewind speaks as pg_rewind', async t => {
  t.equal(statSync(CLI).mode & 0o111, 0o111, 'dist/lib/cli/main.js can be run directly')
  const rt = runtime()
  const bin = makeTempRoot('pgrewind-bindir-')
  t.teardown(() => removeTree(bin))
  // what the README links: `command -v pgrewind`, npm's bin, the launcher
  const link = join(bin, 'pg_rewind')
  symlinkSync(rt.launcher, link)
  own(link)
  // the node the unprivileged user can run, without the test runner's loader (which a staged copy cannot read)
  const runLink = async (args: string[]): ReturnType<typeof run> => await run('/usr/bin/env', ['-u', 'NODE_OPTIONS', link, ...args], { env: { PGREWIND_NODE: rt.node } })
  // no postgres beside it: the newest major pgrewind supports
  const alone = await runLink(['--version'])
  t.equal(alone.code, 0, alone.stderr)
  t.match(alone.stdout, /^pg_rewind \(PostgreSQL\) 18 \(pgrewind \d+\.\d+\.\d+, PostgreSQL 13-18\)\n$/)
  // in a bin_dir: the version of the postgres beside it, as that installation's pg_rewind would say
  symlinkSync(join(DEBIAN15, 'postgres'), join(bin, 'postgres'))
  own(join(bin, 'postgres'))
  const deb = await run(DEBIAN15 + '/postgres', ['--version'])
  const debVersion = /\(PostgreSQL\) (\d+\.\d+)/.exec(deb.stdout)?.[1]
  const v = await runLink(['-V'])
  t.equal(v.stdout, `pg_rewind (PostgreSQL) ${debVersion} (pgrewind ${/\d+\.\d+\.\d+/.exec(alone.stdout)?.[0]}, PostgreSQL 13-18)\n`)
  t.match(v.stdout, /^pg_rewind \(PostgreSQL\) (\d+)\.\d+/, 'what scripts parse: pg_rewind (PostgreSQL) MAJOR.MINOR')
  const help = await runLink(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^pg_rewind resynchronizes a PostgreSQL cluster/)
  const bad = await runLink(['-D', '/x'])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^pg_rewind: error: no source specified \(--source-pgdata or --source-server\)\npg_rewind: hint: Try "pg_rewind --help" for more information\.\n$/)
  const plain = await pgrewind(['--version'])
  t.match(plain.stdout, /^pgrewind \(PostgreSQL 13-18\) /, 'as pgrewind: its own form')
  // main.js itself linked so, run through its #! line: the same
  const direct = join(bin, 'direct')
  makeDir(direct)
  symlinkSync(CLI, join(direct, 'pg_rewind'))
  own(join(direct, 'pg_rewind'))
  const d = await run('/usr/bin/env', ['-u', 'NODE_OPTIONS', join(direct, 'pg_rewind'), '-D', '/x'])
  t.match(d.stderr, /^pg_rewind: error: no source specified/, 'main.js linked as pg_rewind')
})

t.test('a connection service file: service= with PGSERVICEFILE, PGSERVICE with PGSYSCONFDIR; -R writes its values', async t => {
  const pair = await withPair(t, { major, tcp: true })
  await diverge(pair, { targetStop: 'clean', sourceStop: 'running' })
  const etc = makeTempRoot('pgrewind-service-')
  t.teardown(() => removeTree(etc))
  const file = join(etc, 'services.conf')
  writeFileSync(file, `# services\n[newprimary]\nhost=127.0.0.1\nport=${pair.source.port}\nuser=postgres\ndbname=postgres\n`)
  chownToRunner(file)
  // a name the file lacks: libpq's message, nothing changed
  const before = snapshotTree(pair.target.dataDir)
  const missing = await pgrewind(['-D', pair.target.dataDir, '--source-server=service=nosuch', '-n'], { PGSERVICEFILE: file })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /pgrewind: error: definition of service "nosuch" not found/)
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [])
  // a dry run by service=, PGHOST pointing elsewhere (the service wins over the environment)
  const dry = await pgrewind(['-D', pair.target.dataDir, '--source-server=service=newprimary', '-n'], { PGSERVICEFILE: file, PGHOST: '/nonexistent' })
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stderr, /servers diverged at WAL location/)
  // the real one by PGSERVICE, from PGSYSCONFDIR/pg_service.conf
  copyFileSync(file, join(etc, 'pg_service.conf'))
  chownToRunner(join(etc, 'pg_service.conf'))
  const r = await pgrewind(['-D', pair.target.dataDir, '--source-server=', '-R'], { PGSERVICE: 'newprimary', PGSYSCONFDIR: etc })
  t.equal(r.code, 0, r.stderr)
  const auto = readFileSync(join(pair.target.dataDir, 'postgresql.auto.conf'), 'utf8')
  t.match(auto, new RegExp(`primary_conninfo = '.*host=127\\.0\\.0\\.1 port=${pair.source.port}.*'`), '-R writes the service\'s values')
  t.notMatch(auto, /service=/, 'not the service: the standby\'s host may not have the file')
  t.same(await rejoinAndCompare(pair.target, pair.source, { configured: true }), [])
})

t.test('symbolic links in a local source: recreated as pg_rewind does, never written through; a relative one refused with what to do', async t => {
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'clean' })
  const outside = makeTempRoot('pgrewind-linked-')
  t.teardown(() => removeTree(outside))
  writeFileSync(join(outside, 'server.key'), 'not really a key\n')
  mkdirSync(join(outside, 'conf.d'))
  writeFileSync(join(outside, 'conf.d', 'extra.conf'), '# extra\n')
  const src = pair.source.dataDir
  const tgt = pair.target.dataDir
  symlinkSync(join(outside, 'server.key'), join(src, 'server.key'))
  symlinkSync(join(outside, 'conf.d'), join(src, 'conf.d'))
  symlinkSync(join(outside, 'conf.d', 'extra.conf'), join(src, 'global', 'x'))
  symlinkSync('../shared.conf', join(src, 'rel.conf'))
  for (const p of ['server.key', 'conf.d', 'global/x', 'rel.conf']) own(join(src, p))
  const outsideBefore = snapshotTree(outside)
  const before = snapshotTree(tgt)

  const refused = await pgrewind(['-D', tgt, '--source-pgdata', src])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /pgrewind: error: target symlink path is unsafe for symlink creation: "rel\.conf"\npgrewind: detail: The source's symbolic link "rel\.conf" points to "\.\.\/shared\.conf", a relative path\.\npgrewind: hint: .*create the link on the target yourself/)
  t.same(treeDiff(before, snapshotTree(tgt)), [], 'the target is untouched')

  // what the hint says: the same link on the target (a link on both sides is left alone)
  symlinkSync('../shared.conf', join(tgt, 'rel.conf'))
  own(join(tgt, 'rel.conf'))
  const r = await pgrewind(['-D', tgt, '--source-pgdata', src, '--debug'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /pgrewind: server\.key \(CREATE\)/)
  for (const p of ['server.key', 'conf.d', 'global/x']) {
    t.ok(lstatSync(join(tgt, p)).isSymbolicLink(), `${p} is a link on the target`)
    t.equal(readlinkSync(join(tgt, p)), readlinkSync(join(src, p)), `${p} points where the source's does`)
  }
  t.equal(readlinkSync(join(tgt, 'rel.conf')), '../shared.conf')
  t.same(treeDiff(outsideBefore, snapshotTree(outside)), [], 'nothing written through the links')
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('symbolic links with a source server: a linked file arrives as a file; a link on the target only is refused with what to do', async t => {
  const pair = await withPair(t, { major, tcp: true })
  const outside = makeTempRoot('pgrewind-linked-')
  t.teardown(() => removeTree(outside))
  await diverge(pair, { targetStop: 'clean', sourceStop: 'running' })
  const src = pair.source.dataDir
  const tgt = pair.target.dataDir
  writeFileSync(join(outside, 'linked.conf'), '# the source\'s linked file\n')
  chownToRunner(join(outside, 'linked.conf'))
  symlinkSync(join(outside, 'linked.conf'), join(src, 'linked.conf'))
  own(join(src, 'linked.conf'))
  // the operator's pg_ident.conf linked into the target's data directory
  renameSync(join(tgt, 'pg_ident.conf'), join(outside, 'pg_ident.conf'))
  symlinkSync(join(outside, 'pg_ident.conf'), join(tgt, 'pg_ident.conf'))
  own(join(tgt, 'pg_ident.conf'))
  const before = snapshotTree(tgt)
  const args = ['-D', tgt, `--source-server=${pair.source.connstr()}`, '-R']
  const refused = await pgrewind(args)
  t.equal(refused.code, 1)
  t.match(refused.stderr, new RegExp(`pgrewind: error: file "pg_ident\\.conf" is of different type in source and target\\npgrewind: detail: It is a regular file in the source and a symbolic link to "${outside}/pg_ident\\.conf" in the target\\.\\npgrewind: hint: A source server shows a symbolic link as the file or directory it points to\\.`))
  t.same(treeDiff(before, snapshotTree(tgt)), [], 'the target is untouched')

  // what the hint says: a copy of what the link points to
  unlinkSync(join(tgt, 'pg_ident.conf'))
  copyFileSync(join(outside, 'pg_ident.conf'), join(tgt, 'pg_ident.conf'))
  own(join(tgt, 'pg_ident.conf'))
  const r = await pgrewind(args)
  t.equal(r.code, 0, r.stderr)
  t.ok(lstatSync(join(tgt, 'linked.conf')).isFile(), 'the source\'s link arrives as a regular file (pg_stat_file follows links), as with pg_rewind')
  t.equal(readFileSync(join(tgt, 'linked.conf'), 'utf8'), '# the source\'s linked file\n')
  t.same(await rejoinAndCompare(pair.target, pair.source, { configured: true }), [])
})
