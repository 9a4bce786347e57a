import t from 'tap'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalJson, planDigest } from '../../lib/rewind/plandigest'
import { checkPlan } from '../../lib/rewind/preconditions'
import { JsonPlan } from '../../lib/steps/types'
import { PlanEntries } from '../../lib/rewind/planentries'
import { emptyDiscardReport } from '../../lib/rewind/discards'

const ident = { systemIdentifier: '7', major: 18, catalogVersion: 202506291, state: 'shut down', checkpoint: '0/3000028', timeline: 1, controlDigest: 'aa' }

function plan (pgdata: string): JsonPlan {
  const p: Omit<JsonPlan, 'digest'> = {
    planVersion: 1,
    createdAt: '2026-12-02T00:00:00.000Z',
    target: { ...ident, pgdata },
    source: { ...ident, timeline: 2, kind: 'local', description: 'source data directory "/s"' },
    divergence: { lsn: '0/3000000', tli: 1, lastCommonCheckpoint: '0/2000060' },
    rewindNeeded: true,
    backupLabel: { redo: '0/2000028', tli: 1, checkpoint: '0/2000060' },
    method: { kind: 'wal', why: 'test', extraBlocks: 0, comparison: null },
    requiredWal: [],
    entries: [{ path: 'base/5/16384', action: 'none', type: 'file', sourceSize: 8192, targetSize: 8192, blocks: [[0, 1]] }],
    totals: { sourceBytes: 8192, fetchBytes: 8192, blocks: 1, entries: 1, journalBytes: 8192 },
    discards: emptyDiscardReport('0/3000000', '0/3000100')
  }
  return { ...p, digest: planDigest(p) }
}

t.test('canonical JSON: key order does not matter, undefined keys vanish', async t => {
  t.equal(canonicalJson({ b: 1, a: [{ d: 2, c: null }], e: undefined }), '{"a":[{"c":null,"d":2}],"b":1}')
  t.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }))
  t.equal(canonicalJson('x"y'), '"x\\"y"')
})

t.test('the digest covers everything but itself', async t => {
  const p = plan('/t')
  t.match(p.digest, /^[0-9a-f]{64}$/)
  t.equal(planDigest(p), p.digest, 'recomputed over a plan that carries it')
  t.not(planDigest({ ...p, entries: [{ ...p.entries[0], blocks: [[0, 2]] }] }), p.digest, 'one more block')
  t.not(planDigest({ ...p, target: { ...p.target, pgdata: '/u' } }), p.digest, 'another target')
  t.not(planDigest({ ...p, discards: { ...p.discards, transactions: { ...p.discards.transactions, committed: 1 } } }), p.digest, 'one more discarded commit')
  t.equal(planDigest(JSON.parse(JSON.stringify(p)) as JsonPlan), p.digest, 'the same after a JSON round trip')
  const inColumns = { ...p, entries: PlanEntries.from(p.entries) }
  t.equal(planDigest(inColumns), p.digest, 'the same with the entries in columns')
  t.same(JSON.parse(JSON.stringify(inColumns)), p, 'which write the same JSON')
})

t.test('checkPlan: a tampered plan or another target is refused', async t => {
  const root = mkdtempSync(join(tmpdir(), 'pgrewind-digest-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const p = plan(root)
  t.equal(checkPlan(p, { pgdata: root }), p)
  symlinkSync(root, join(root, 'alias'))
  t.equal(checkPlan(p, { pgdata: join(root, 'alias') }), p, 'the same directory by another path')
  const tampered = { ...p, totals: { ...p.totals, fetchBytes: 1 } }
  t.throws(() => checkPlan(tampered, { pgdata: root }), { code: 'PLAN_DIGEST' })
  t.throws(() => checkPlan(p, { pgdata: tmpdir() }), { code: 'PLAN_STALE' })
  t.throws(() => checkPlan(p, { pgdata: join(root, 'missing') }), { code: 'PLAN_STALE' })
})
