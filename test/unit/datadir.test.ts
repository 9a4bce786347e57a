import t, { Test } from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dataDirModes, localReader, lstatOrNull, RangeReader, readWholeFile, runningPostmasterPid } from '../../lib/datadir/files'
import { listDataDir, walkDataDir } from '../../lib/datadir/listing'

function fresh (t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'pgrewind-datadir-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}

t.test('every error names its side', async t => {
  const d = fresh(t)
  writeFileSync(join(d, 'not-a-dir'), 'x')
  t.throws(() => listDataDir(join(d, 'not-a-dir'), 'target'), { code: 'TARGET_IO' }, 'listing the target')
  t.throws(() => listDataDir(join(d, 'not-a-dir'), 'source'), { code: 'SOURCE_IO' }, 'listing the source')
  t.throws(() => readWholeFile(d, 'PG_VERSION', 'target'), { code: 'TARGET_IO', message: /could not open file ".*PG_VERSION" for reading/ })
  await t.rejects(localReader(d, 'source')('global/pg_control'), { code: 'SOURCE_IO' })
  t.throws(() => lstatOrNull(join(d, 'not-a-dir', 'x'), 'target'), { code: 'TARGET_IO' }, 'ENOTDIR is an error, not absence')
  t.equal(lstatOrNull(join(d, 'missing'), 'target'), null)
  t.throws(() => new RangeReader(d, 'source').read('missing', 0, 1), { code: 'SOURCE_IO' })
})

t.test('listing: files, directories, links as pg_rewind sees them', async t => {
  const d = fresh(t)
  const ts = fresh(t)
  mkdirSync(join(d, 'base'))
  writeFileSync(join(d, 'base', 'f'), 'abc')
  mkdirSync(join(d, 'pg_tblspc'))
  symlinkSync(ts, join(d, 'pg_tblspc', '16400'))
  writeFileSync(join(ts, 'inside'), 'xy')
  symlinkSync('/etc/hostname', join(d, 'linked.conf'))
  t.same([...listDataDir(d, 'target').entries()], [
    { path: 'base', type: 'dir', size: 0 },
    { path: 'base/f', type: 'file', size: 3 },
    { path: 'linked.conf', type: 'symlink', size: 0, linkTarget: '/etc/hostname' },
    { path: 'pg_tblspc', type: 'dir', size: 0 },
    { path: 'pg_tblspc/16400', type: 'symlink', size: 0, linkTarget: ts },
    { path: 'pg_tblspc/16400/inside', type: 'file', size: 2 }
  ], 'tablespace links are followed, other links are not')
})

t.test('the walk gives path order itself: a directory\'s contents after its siblings that extend its name with a character below "/"', async t => {
  const d = fresh(t)
  const ts = fresh(t)
  for (const sub of ['x', 'x/y', 'x-1', 'x0', 'base/5', 'pgrewind_journal', 'pg_tblspc']) mkdirSync(join(d, sub), { recursive: true })
  for (const f of ['x/a', 'x/y/b', 'x.b', 'x-1/c', 'x0/d', 'x/y.z', 'base/5/1', 'base/5/1.1', 'base/5/1_fsm', 'base/5/10', 'pgrewind_journal/state']) writeFileSync(join(d, f), f)
  symlinkSync(ts, join(d, 'pg_tblspc', '16400'))
  writeFileSync(join(ts, 'inside'), 'xy')
  mkdirSync(join(ts, 'PG_15'))
  writeFileSync(join(ts, 'PG_15.x'), 'z')
  const walked = [...walkDataDir(d, 'target')].map(e => e.path)
  const sorted = [...walked].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
  t.same(walked, sorted, 'in path order (JavaScript string order)')
  t.same(walked, [
    'base', 'base/5', 'base/5/1', 'base/5/1.1', 'base/5/10', 'base/5/1_fsm',
    'pg_tblspc', 'pg_tblspc/16400', 'pg_tblspc/16400/PG_15', 'pg_tblspc/16400/PG_15.x', 'pg_tblspc/16400/inside',
    'pgrewind_journal',
    'x', 'x-1', 'x-1/c', 'x.b', 'x/a', 'x/y', 'x/y.z', 'x/y/b', 'x0', 'x0/d'
  ], 'the journal listed, not walked into; a tablespace followed')
  t.same([...listDataDir(d, 'target').entries()], [...walkDataDir(d, 'target')], 'the listing is the walk, in columns')
  t.throws(() => [...walkDataDir(join(d, 'x.b'), 'target')], { code: 'TARGET_IO' }, 'a walk refuses what it cannot read as it goes')
})

t.test('names sorted as JavaScript strings, packed or not: Latin-1 beyond ASCII, and a directory with a name beyond Latin-1', async t => {
  const d = fresh(t)
  const latin = ['b', 'a', 'é', 'Z', 'ÿ', 'a b', 'a.b', '10', '9', '1_fsm', '1']
  mkdirSync(join(d, 'latin'))
  for (const n of latin) writeFileSync(join(d, 'latin', n), n)
  mkdirSync(join(d, 'wide'))
  for (const n of [...latin, '日本', '\u{1F600}', '\uFB01']) writeFileSync(join(d, 'wide', n), n)
  const order = (dir: string): string[] => [...walkDataDir(join(d, dir), 'target')].map(e => e.path)
  const jsOrder = (names: string[]): string[] => [...names].sort()
  t.same(order('latin'), jsOrder(latin), 'packed: byte order is UTF-16 order for Latin-1')
  t.same(order('wide'), jsOrder([...latin, '日本', '\u{1F600}', '\uFB01']), 'as strings once a name is beyond Latin-1 (a surrogate pair sorts before U+FB01, as in JavaScript)')
})

t.test('positional reads, modes, postmaster.pid', async t => {
  const d = fresh(t)
  writeFileSync(join(d, 'f'), Buffer.from('0123456789'))
  const r = new RangeReader(d, 'target')
  t.equal(r.read('f', 2, 3).toString(), '234')
  t.equal(r.read('f', 8, 5).toString(), '89', 'short at the end of the file')
  r.close()
  chmodSync(d, 0o750)
  t.same(dataDirModes(d), { dirMode: 0o750, fileMode: 0o640, groupAccess: true })
  chmodSync(d, 0o700)
  t.same(dataDirModes(d), { dirMode: 0o700, fileMode: 0o600, groupAccess: false })
  t.equal(runningPostmasterPid(d), null, 'no postmaster.pid')
  writeFileSync(join(d, 'postmaster.pid'), `${process.pid}\n${d}\n`)
  t.equal(runningPostmasterPid(d), process.pid, 'a live process')
  writeFileSync(join(d, 'postmaster.pid'), '99999999\n')
  t.equal(runningPostmasterPid(d), null, 'a stale file')
})
