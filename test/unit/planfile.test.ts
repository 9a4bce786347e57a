import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { planDigest } from '../../lib/rewind/plandigest'
import { checkPlanFilePath, readPlanFile, writePlanFile } from '../../lib/rewind/planfile'
import { planOf } from '../../lib/rewind/preconditions'
import { emptyDiscardReport } from '../../lib/rewind/discards'
import { JsonPlan, planJson } from '../../lib/steps/types'

/**
 * Where a plan file may be (outside everything the rewind rewrites, resolved
 * through links), and what reading one back refuses: a digest that does not match
 * its bytes, a file that is not there, not a regular file, or not a plan.
 */

const ident = { systemIdentifier: '7', major: 18, catalogVersion: 202506291, state: 'shut down', checkpoint: '0/3000028', timeline: 1, controlDigest: 'a'.repeat(64) }

function samplePlan (pgdata: string): JsonPlan {
  const p: Omit<JsonPlan, 'digest'> = {
    planVersion: 1,
    createdAt: '2026-12-02T00:00:00.000Z',
    target: { ...ident, pgdata },
    source: { ...ident, timeline: 2, kind: 'local', description: 'source data directory "/s" — ünïcode' },
    divergence: { lsn: '0/3000000', tli: 1, lastCommonCheckpoint: '0/2000060' },
    rewindNeeded: true,
    backupLabel: { redo: '0/2000028', tli: 1, checkpoint: '0/2000060' },
    method: { kind: 'wal', why: 'test', extraBlocks: 0, comparison: null },
    requiredWal: [],
    entries: [
      { path: 'base/5/16384', action: 'none', type: 'file', sourceSize: 8192, targetSize: 8192, blocks: [[0, 1]] },
      { path: 'base/5/16390', action: 'remove', type: 'file', targetSize: 16384 }
    ],
    totals: { sourceBytes: 8192, fetchBytes: 8192, blocks: 1, entries: 2, journalBytes: 8192 },
    discards: emptyDiscardReport('0/3000000', '0/3000100')
  }
  return { ...p, digest: planDigest(p) }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

function layout (t: { teardown: (f: () => void) => void }): { root: string, pgdata: string, wal: string, space: string } {
  const root = mkdtempSync(join(tmpdir(), 'pgrewind-planfile-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const pgdata = join(root, 'data')
  const wal = join(root, 'wal')
  const space = join(root, 'space')
  for (const d of [pgdata, wal, space, join(pgdata, 'pg_tblspc')]) mkdirSync(d, { recursive: true })
  // pg_wal and a tablespace outside the data directory, as initdb -X and CREATE TABLESPACE make them
  symlinkSync(wal, join(pgdata, 'pg_wal'))
  symlinkSync(space, join(pgdata, 'pg_tblspc', '16385'))
  symlinkSync(pgdata, join(root, 'alias'))
  return { root, pgdata, wal, space }
}

t.test('the path: absolute, its directory there, outside the data directory, pg_wal and tablespaces', async t => {
  const { root, pgdata, wal, space } = layout(t)
  const target = { pgdata }
  const code = (path: string): string | undefined => {
    try { checkPlanFilePath(path, target); return undefined } catch (e) { return (e as { code: string }).code }
  }
  t.equal(code('plan.json'), 'PLAN_FILE', 'relative')
  t.equal(code(join(root, 'no-such-dir', 'plan.json')), 'PLAN_FILE', 'its directory does not exist')
  t.equal(code(join(pgdata, 'plan.json')), 'PLAN_FILE', 'in the data directory')
  t.equal(code(join(pgdata, 'base', 'plan.json')), 'PLAN_FILE', 'below it, in a directory that does not exist')
  t.equal(code(pgdata), 'PLAN_FILE', 'the data directory itself')
  t.equal(code(join(root, 'alias', 'plan.json')), 'PLAN_FILE', 'in the data directory by another name')
  t.equal(code(join(wal, 'plan.json')), 'PLAN_FILE', 'in pg_wal, a link to outside the data directory')
  t.equal(code(join(space, 'plan.json')), 'PLAN_FILE', 'in a tablespace')
  mkdirSync(join(root, 'dir.json'))
  t.equal(code(join(root, 'dir.json')), 'PLAN_FILE', 'a directory')
  symlinkSync(join(root, 'elsewhere.json'), join(root, 'link.json'))
  t.equal(code(join(root, 'link.json')), 'PLAN_FILE', 'a symbolic link')
  mkdirSync(`${pgdata}2`)
  t.equal(checkPlanFilePath(join(`${pgdata}2`, 'plan.json'), target), join(`${pgdata}2`, 'plan.json'), 'a sibling whose name starts like the data directory\'s is fine')
  t.equal(checkPlanFilePath(join(root, 'plan.json'), target), join(root, 'plan.json'))
})

t.test('written and read back: the canonical JSON, private, its sha256 the digest', async t => {
  const { root, pgdata } = layout(t)
  const target = { pgdata }
  const plan = samplePlan(pgdata)
  const path = join(root, 'plan.json')
  writePlanFile(plan, path, target)
  const bytes = readFileSync(path)
  t.equal(sha256(bytes), plan.digest, 'sha256 of the file is the plan digest')
  t.equal(statSync(path).mode & 0o777, 0o600, 'readable by its owner only')
  t.notMatch(bytes.toString(), /"digest"/, 'the digest is not in the file')
  t.same(readdirSync(root).filter(f => f.includes('.tmp')), [], 'no temporary file left')
  t.same(planJson(readPlanFile(path, plan.digest, target)), plan, 'the same plan')
  t.same(planJson(planOf({ target, planFile: path, digest: plan.digest })), plan, 'planOf reads it')
  // written again over the old one (the same plan, built again)
  writePlanFile(plan, path, target)
  t.equal(sha256(readFileSync(path)), plan.digest)
  t.throws(() => writePlanFile(plan, join(pgdata, 'plan.json'), target), { code: 'PLAN_FILE' }, 'not written into the data directory')
  t.same(readdirSync(pgdata).sort(), ['pg_tblspc', 'pg_wal'], 'nothing was written there')
})

t.test('read back: a changed byte, another digest, a missing file, a file that is not a plan', async t => {
  const { root, pgdata } = layout(t)
  const target = { pgdata }
  const plan = samplePlan(pgdata)
  const path = join(root, 'plan.json')
  writePlanFile(plan, path, target)
  const good = readFileSync(path)

  const tampered = Buffer.from(good)
  const at = tampered.indexOf('16390')
  tampered[at] = '2'.charCodeAt(0)
  writeFileSync(path, tampered)
  t.throws(() => readPlanFile(path, plan.digest, target), { code: 'PLAN_DIGEST', message: 'the plan does not match its digest' }, 'one byte changed')
  writeFileSync(path, good)
  t.throws(() => readPlanFile(path, '0'.repeat(64), target), { code: 'PLAN_DIGEST' }, 'another digest')
  t.throws(() => readPlanFile(join(root, 'missing.json'), plan.digest, target), { code: 'PLAN_FILE' }, 'missing')
  t.throws(() => readPlanFile(join(root, 'plan.json', 'x'), plan.digest, target), { code: 'PLAN_FILE' }, 'below a file')

  // bytes that hash to the digest they come with, but are not a plan
  const notJson = Buffer.from('{"entries": [')
  writeFileSync(path, notJson)
  t.throws(() => readPlanFile(path, sha256(notJson), target), { code: 'PLAN_FILE', message: /is not JSON/ })
  const notPlan = Buffer.from('{"entries":[]}')
  writeFileSync(path, notPlan)
  t.throws(() => readPlanFile(path, sha256(notPlan), target), { code: 'PLAN_FILE', message: /is not a plan/ })
  // a plan for another target: read fine, refused by planOf as any plan would be
  const other = samplePlan(join(root, 'other'))
  writePlanFile(other, path, target)
  t.throws(() => planOf({ target, planFile: path, digest: other.digest }), { code: 'PLAN_STALE' })
})
