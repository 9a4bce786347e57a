import t, { Test } from 'tap'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PgRewindError } from '../lib/errors'
import { TargetWriter } from '../lib/target/writer'
import { planDigest } from '../lib/rewind/plandigest'
import { applyPlan } from '../lib/steps/applyPlan'
import { buildPlan } from '../lib/steps/buildPlan'
import { findDivergence } from '../lib/steps/findDivergence'
import { openSource } from '../lib/source/open'
import { scanWal } from '../lib/steps/scanWal'
import { JsonPlan, Plan, Ports, silentLogger } from '../lib/steps/types'
import { diverge, snapshotTree, treeDiff, withPair } from './harness'

function fresh (t: Test): { root: string, pgdata: string, outside: string } {
  const root = mkdtempSync(join(tmpdir(), 'pgrewind-writer-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const pgdata = join(root, 'data')
  const outside = join(root, 'outside')
  mkdirSync(pgdata, { mode: 0o700 })
  mkdirSync(outside)
  writeFileSync(join(outside, 'victim'), 'precious\n')
  return { root, pgdata, outside }
}

function code (f: () => void): string {
  try { f() } catch (e) { return e instanceof PgRewindError ? e.code : `other: ${(e as Error).message}` }
  return 'no error'
}

t.test('hostile paths are refused before anything is written', async t => {
  const { pgdata, outside } = fresh(t)
  const w = new TargetWriter(pgdata, { dryRun: false, dirMode: 0o700, fileMode: 0o600 })
  for (const p of ['/etc/passwd', '../outside/victim', 'base/../../outside/victim', 'a\u0000b', 'new\nline', 'a//b', './x', 'a\\..\\b', '']) {
    t.equal(code(() => w.writeAt(p, 0, Buffer.from('x'))), 'UNSAFE_PATH', `write ${JSON.stringify(p)}`)
    t.equal(code(() => w.removeFile(p)), 'UNSAFE_PATH', `remove ${JSON.stringify(p)}`)
    t.equal(code(() => w.truncate(p, 0)), 'UNSAFE_PATH', `truncate ${JSON.stringify(p)}`)
  }
  t.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'precious\n')
})

t.test('a planted symlink cannot redirect writes', async t => {
  const { pgdata, outside } = fresh(t)
  symlinkSync(outside, join(pgdata, 'base'))
  symlinkSync(join(outside, 'victim'), join(pgdata, 'link_file'))
  const w = new TargetWriter(pgdata, { dryRun: false, dirMode: 0o700, fileMode: 0o600 })
  t.equal(code(() => w.writeAt('base/victim', 0, Buffer.from('owned'))), 'UNSAFE_PATH', 'no write through a directory symlink')
  t.equal(code(() => w.removeFile('base/victim')), 'UNSAFE_PATH', 'no removal through a directory symlink')
  t.equal(code(() => w.writeAt('link_file', 0, Buffer.from('owned'))), 'TARGET_IO', 'no write through a symlink at the file name (O_NOFOLLOW)')
  t.equal(code(() => w.symlink('base/evil', '/etc')), 'UNSAFE_PATH', 'no link created below a planted directory link')
  t.equal(code(() => w.symlink('pg_tblspc/123', 'relative/target')), 'UNSAFE_PATH', 'a tablespace link target must be absolute')
  t.equal(code(() => w.symlink('pg_tblspc/123', '/srv/../etc')), 'UNSAFE_PATH', 'no .. in a link target')
  t.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'precious\n')
})

t.test('a link of the source outside pg_tblspc and pg_wal is recreated, never written through', async t => {
  const { pgdata, outside } = fresh(t)
  mkdirSync(join(pgdata, 'global'))
  const w = new TargetWriter(pgdata, { dryRun: false, dirMode: 0o700, fileMode: 0o600 })
  t.equal(code(() => w.symlink('server.key', join(outside, 'victim'))), 'no error', 'a linked configuration file, as pg_rewind recreates it')
  t.equal(lstatSync(join(pgdata, 'server.key')).isSymbolicLink(), true)
  t.equal(code(() => w.symlink('conf.d', outside)), 'no error', 'a linked directory')
  t.equal(code(() => w.writeAt('server.key', 0, Buffer.from('owned'))), 'TARGET_IO', 'no write through it (O_NOFOLLOW)')
  t.equal(code(() => w.writeAt('conf.d/victim', 0, Buffer.from('owned'))), 'UNSAFE_PATH', 'no write below it')
  t.equal(code(() => w.truncate('conf.d/victim', 0)), 'UNSAFE_PATH', 'no truncation below it')
  t.equal(code(() => w.symlink('conf.d/x', '/etc')), 'UNSAFE_PATH', 'no link below it')
  let err: PgRewindError | null = null
  try { w.symlink('global/x', '../outside/victim') } catch (e) { err = e as PgRewindError }
  t.equal(err?.code, 'UNSAFE_PATH', 'a relative link target is refused')
  t.equal(err?.message, 'target symlink path is unsafe for symlink creation: "global/x"')
  t.equal(err?.detail, 'The source\'s symbolic link "global/x" points to "../outside/victim", a relative path.', 'what was found')
  t.match(err?.hint, /Make "global\/x" on the source an absolute link, or create the link on the target yourself/, 'what to do')
  t.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'precious\n')
})

t.test('allowed links, modes, dry run, durable writes', async t => {
  const { root, pgdata } = fresh(t)
  const ts = join(root, 'ts')
  mkdirSync(ts)
  mkdirSync(join(pgdata, 'pg_tblspc'))
  const dry = new TargetWriter(pgdata, { dryRun: true, dirMode: 0o700, fileMode: 0o600 })
  dry.symlink('pg_tblspc/16384', ts)
  dry.mkdir('base')
  dry.writeAt('base/1', 0, Buffer.from('x'))
  dry.writeFileDurably('backup_label', 'x')
  dry.close()
  t.notOk(existsSync(join(pgdata, 'pg_tblspc', '16384')), 'dry run creates no link')
  t.notOk(existsSync(join(pgdata, 'base')), 'dry run creates no directory')
  t.equal(dry.stats.bytesWritten, 2, 'dry run still counts')

  const w = new TargetWriter(pgdata, { dryRun: false, dirMode: 0o750, fileMode: 0o640 })
  w.symlink('pg_tblspc/16384', ts)
  w.mkdir('pg_tblspc/16384/PG_18_202506291')
  w.writeAt('pg_tblspc/16384/PG_18_202506291/f', 0, Buffer.from('through the tablespace link'))
  w.mkdir('base')
  w.open('base/2', true)
  w.writeFileDurably('backup_label', 'label\n')
  w.close()
  t.equal(readFileSync(join(ts, 'PG_18_202506291', 'f'), 'utf8'), 'through the tablespace link')
  t.equal(lstatSync(join(pgdata, 'base')).mode & 0o777, 0o750, 'group-access directory mode')
  t.equal(lstatSync(join(pgdata, 'base', '2')).mode & 0o777, 0o640, 'group-access file mode')
  t.equal(readFileSync(join(pgdata, 'backup_label'), 'utf8'), 'label\n')
  t.notOk(existsSync(join(pgdata, 'backup_label.pgrewind.tmp')), 'no temp file left')
})

t.test('tampered, hostile and stale plans change nothing', async t => {
  const pair = await withPair(t, { major: 18 })
  await diverge(pair)
  const ports: Ports = { log: silentLogger, openSource: async spec => await openSource(spec) }
  const input = { target: { pgdata: pair.target.dataDir }, source: { pgdata: pair.source.dataDir } }
  const divergence = await findDivergence(input, ports)
  const scan = await scanWal({ ...input, divergence }, ports)
  const plan = await buildPlan({ ...input, divergence, scan }, ports)
  t.equal(plan.digest, planDigest(plan), 'a built plan matches its digest')
  const before = snapshotTree(pair.target.dataDir)
  const outsideFile = join(pair.root, 'escape')

  const errCode = async (p: Plan | JsonPlan): Promise<string> => {
    try { await applyPlan({ ...input, plan: p }, ports) } catch (e) { return e instanceof PgRewindError ? e.code : String(e) }
    return 'no error'
  }
  const tampered: JsonPlan = { ...plan, entries: plan.entries.toArray().slice(1) }
  t.equal(await errCode(tampered), 'PLAN_DIGEST', 'a plan edited after it was built is refused')
  const hostileEntries = [...plan.entries.toArray(), { path: '../escape', action: 'copy' as const, type: 'file' as const, sourceSize: 10 }]
  const hostile = { ...plan, entries: hostileEntries, digest: '' }
  hostile.digest = planDigest(hostile)
  t.equal(await errCode(hostile), 'UNSAFE_PATH', 'a plan with a path outside the data directory is refused')
  t.notOk(existsSync(outsideFile))
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'the target is byte-identical after the refusals')

  await pair.target.start()
  await pair.target.stop()
  t.equal(await errCode(plan), 'PLAN_STALE', 'a plan for a target that changed since is refused')
})

t.test('re-applying a symlink creation is a no-op; a different link is an error', async t => {
  const { root, pgdata } = fresh(t)
  mkdirSync(join(pgdata, 'pg_tblspc'))
  mkdirSync(join(root, 'ts'))
  mkdirSync(join(root, 'other'))
  const w = new TargetWriter(pgdata, { dryRun: false, dirMode: 0o700, fileMode: 0o600 })
  w.symlink('pg_tblspc/1', join(root, 'ts'))
  t.equal(code(() => w.symlink('pg_tblspc/1', join(root, 'ts'))), 'no error', 'same link again (an interrupted run re-applied)')
  t.equal(code(() => w.symlink('pg_tblspc/1', join(root, 'other'))), 'TARGET_IO', 'a link to somewhere else is not silently kept')
})
