import t, { Test } from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dataDirModes, localReader, lstatOrNull, RangeReader, readWholeFile, runningPostmasterPid } from '../../lib/datadir/files'
import { listDataDir } from '../../lib/datadir/listing'

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

t.test('a listing made with the other side\'s: the same rows (the paths both have are the other\'s strings)', async t => {
  const a = fresh(t)
  const b = fresh(t)
  for (const [d, names] of [[a, ['1', '2', '3', 'a.b', 'only_a']], [b, ['2', '3', '4', 'a.b', 'only_b']]] as const) {
    mkdirSync(join(d, 'base', '5'), { recursive: true })
    for (const n of names) writeFileSync(join(d, 'base', '5', n), n)
    mkdirSync(join(d, 'a'))
    writeFileSync(join(d, 'a', 'b'), 'ab')
  }
  const other = listDataDir(a, 'source')
  t.same([...listDataDir(b, 'target', other).entries()], [...listDataDir(b, 'target').entries()])
  t.same([...listDataDir(b, 'target', other).entries()].map(e => e.path), ['a', 'a/b', 'base', 'base/5', 'base/5/2', 'base/5/3', 'base/5/4', 'base/5/a.b', 'base/5/only_b'])
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
