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
