import t, { Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chownToRunner, diverge, Pair, rejoinAndCompare, snapshotTree, testMajors, treeDiff, withPair } from './harness'
import { RpcChild } from './helpers/rpcclient'

/**
 * A plan too big for one JSON-RPC line, passed as a file: buildPlan with planFile
 * writes it and answers with its digest and summary; applyPlan, writeBackupLabel
 * and verify read it back by planFile + digest — through `pgrewind rpc
 * --max-line-bytes 262144`, which refuses the same plan inline. The rewound node
 * rejoins with identical contents. A changed byte, a missing file, a file inside
 * the target and malformed params are refused with the target byte-identical. The
 * rewind method with planFile writes the plan there and its result names it.
 */
const majors = testMajors()
const LIMIT = 262144
const EXTRA = 2000

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** `n` small files in a new directory of a data directory, owned by the servers' user: one plan entry each. */
function extraFiles (pgdata: string, dir: string, n: number): void {
  const d = join(pgdata, dir)
  mkdirSync(d, { mode: 0o700 })
  chownToRunner(d)
  for (let i = 0; i < n; i++) {
    const f = join(d, `extra-file-${String(i).padStart(6, '0')}`)
    writeFileSync(f, `${dir} ${i}\n`, { mode: 0o600 })
    chownToRunner(f)
  }
}

/**
 * Files on one side only — thousands of plan entries (copies and removals) that no WAL
 * mentions — and a server whose line limit the plan inline does not fit in.
 */
function withExtraFiles (t: Test, pair: Pair): { target: { pgdata: string }, source: { pgdata: string }, c: RpcChild } {
  extraFiles(pair.target.dataDir, 'extra_on_target', EXTRA)
  extraFiles(pair.source.dataDir, 'extra_on_source', EXTRA)
  const c = new RpcChild(['--check-results', '--max-line-bytes', String(LIMIT)])
  t.teardown(() => c.kill())
  return { target: { pgdata: pair.target.dataDir }, source: { pgdata: pair.source.dataDir }, c }
}

/** verify by the plan file checks every entry; the server closes cleanly, every result matched its schema; the node rejoins. */
async function verifiedAndRejoined (t: Test, c: RpcChild, pair: Pair, ref: { planFile: string, digest: string }, entries: number): Promise<void> {
  const v = await c.result('verify', { target: { pgdata: pair.target.dataDir }, source: { pgdata: pair.source.dataDir }, ...ref })
  t.equal(v.ok, true, `verify: ${JSON.stringify(v.mismatches)}`)
  t.equal(v.checked, entries)
  t.equal((await c.close()).code, 0)
  t.same(c.problems, [], 'every result matched its schema')
  t.same(c.badStderrLines(), [])
  t.same(await rejoinAndCompare(pair.target, pair.source), [], 'rejoins with identical contents')
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: a plan longer than a line, passed as planFile + digest`, async t => {
    const pair = await withPair(t, { major, tablespace: true })
    await diverge(pair, { targetStop: 'running' })
    // tables the old primary created after the fork: removals, and discarded changes
    await pair.target.query(`DO $$ BEGIN FOR i IN 1..200 LOOP
      EXECUTE format('CREATE TABLE after_fork_%s (id int)', i); EXECUTE format('INSERT INTO after_fork_%s VALUES (1)', i); END LOOP; END $$`)
    await pair.target.stop()
    const { target, source, c } = withExtraFiles(t, pair)

    const divergence = await c.result('findDivergence', { target, source })
    t.equal(divergence.rewindNeeded, true)
    const scan = await c.result('scanWal', { target, source, divergence })
    const before = snapshotTree(target.pgdata)

    // where a plan file may not go: everything the rewind rewrites, or nowhere
    const unsafe: Array<[string, string]> = [
      [join(target.pgdata, 'plan.json'), 'in the target data directory'],
      [join(target.pgdata, 'pg_wal', 'plan.json'), 'in its pg_wal'],
      [join(pair.tablespaceDir ?? '/nonexistent', 'plan.json'), 'in its tablespace'],
      [join(pair.root, 'no-such-dir', 'plan.json'), 'in a directory that does not exist']
    ]
    for (const [planFile, where] of unsafe) {
      const r = await c.call('buildPlan', { target, source, divergence, scan, planFile })
      t.equal(r.error?.data?.kind, 'PLAN_FILE', `buildPlan refuses a plan file ${where}: ${JSON.stringify(r.error)}`)
      t.equal(r.error?.code, -32051)
    }

    const planFile = join(pair.root, 'plan.json')
    const built = await c.result('buildPlan', { target, source, divergence, scan, planFile })
    t.same(Object.keys(built).sort(), ['digest', 'planFile', 'summary'], 'the plan itself is not in the result')
    t.equal(built.planFile, planFile)
    t.ok(JSON.stringify(built).length < 16 * 1024, `the result is small (${JSON.stringify(built).length} characters)`)
    const bytes = readFileSync(planFile)
    t.equal(sha256(bytes), built.digest, 'the file\'s sha256 is the plan\'s digest')
    t.equal(statSync(planFile).mode & 0o777, 0o600, 'the plan file is private')
    const plan = { ...JSON.parse(bytes.toString('utf8')), digest: built.digest }
    const count = (action: string): number => plan.entries.filter((e: { action: string }) => e.action === action).length
    t.ok(plan.entries.length > 2 * EXTRA, `${plan.entries.length} entries`)
    t.equal(built.summary.totals.entries, plan.entries.length)
    t.equal(built.summary.actions.copy.entries, count('copy'))
    t.equal(built.summary.actions.remove.entries, count('remove'))
    t.ok(built.summary.actions.remove.entries >= EXTRA + 200, 'the extra files and the tables created after the fork are removed')
    t.match(built.summary.discards[0], /^discards \d+ committed transactions?/, 'the discards, as pgrewind plan prints them')

    // the earlier steps fit in a line; the plan does not
    t.ok(Buffer.byteLength(JSON.stringify({ target, source, divergence, scan })) < LIMIT, 'buildPlan\'s params fit in a line')
    const inline = JSON.stringify({ jsonrpc: '2.0', id: 'inline', method: 'applyPlan', params: { target, source, plan } })
    t.ok(Buffer.byteLength(inline) > LIMIT, `the plan inline is longer than a line may be (${Buffer.byteLength(inline)} bytes)`)
    const tooLarge = c.expect(null)
    c.writeRaw(inline + '\n')
    t.equal((await tooLarge).error?.data?.kind, 'REQUEST_TOO_LARGE', 'refused inline')

    // malformed params: a file without its digest, both forms at once, a relative path
    for (const [params, what] of [
      [{ target, source, planFile }, 'no digest'],
      [{ target, source, planFile, digest: built.digest, plan: { digest: built.digest } }, 'plan and planFile'],
      [{ target, source, planFile: 'plan.json', digest: built.digest }, 'a relative path'],
      [{ target, source, planFile, digest: 'not a digest' }, 'not a digest']
    ] as Array<[object, string]>) {
      const r = await c.call('applyPlan', params)
      t.equal(r.error?.code, -32602, `invalid params: ${what}`)
      t.equal(r.error?.data?.kind, 'INVALID_PARAMS')
    }

    // one byte changed: refused by its digest
    const tampered = join(pair.root, 'tampered.json')
    const changed = Buffer.from(bytes)
    const at = changed.indexOf('extra-file-000001')
    changed[at + 'extra-file-00000'.length] = '2'.charCodeAt(0)
    writeFileSync(tampered, changed, { mode: 0o600 })
    chownToRunner(tampered)
    const r1 = await c.call('applyPlan', { target, source, planFile: tampered, digest: built.digest })
    t.equal(r1.error?.code, -32034)
    t.equal(r1.error?.data?.kind, 'PLAN_DIGEST')
    t.match(r1.error?.data?.detail, /hashes to [0-9a-f]{64}, but its digest was given as/)
    // missing, a directory, and inside the target
    const r2 = await c.call('applyPlan', { target, source, planFile: join(pair.root, 'missing.json'), digest: built.digest })
    t.equal(r2.error?.data?.kind, 'PLAN_FILE', 'a missing plan file')
    const r3 = await c.call('writeBackupLabel', { target, source, planFile: pair.root, digest: built.digest })
    t.equal(r3.error?.data?.kind, 'PLAN_FILE', 'a directory')
    const inside = join(target.pgdata, 'plan.json')
    writeFileSync(inside, bytes, { mode: 0o600 })
    chownToRunner(inside)
    const r4 = await c.call('applyPlan', { target, source, planFile: inside, digest: built.digest })
    t.equal(r4.error?.data?.kind, 'PLAN_FILE', 'a plan file inside the target')
    rmSync(inside)
    t.same(treeDiff(before, snapshotTree(target.pgdata)), [], 'refused requests left the target byte-identical')

    const ref = { planFile, digest: built.digest }
    const apply = await c.result('applyPlan', { target, source, ...ref })
    t.equal(apply.entriesApplied, plan.entries.length)
    t.equal(apply.filesCopied, count('copy'))
    const finish = await c.result('writeBackupLabel', { target, source, ...ref })
    t.equal(finish.controlFileUpdated, true)
    await verifiedAndRejoined(t, c, pair, ref, plan.entries.length)
  })
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: the rewind method with planFile names the plan, not holds it`, async t => {
    const pair = await withPair(t, { major })
    await diverge(pair, { targetStop: 'clean' })
    const { target, source, c } = withExtraFiles(t, pair)

    // refused before any work: the target byte-identical, no file written
    const before = snapshotTree(target.pgdata)
    const refused = await c.call('rewind', { target, source, planFile: join(target.pgdata, 'plan.json') })
    t.equal(refused.error?.data?.kind, 'PLAN_FILE', JSON.stringify(refused.error))
    t.same(treeDiff(before, snapshotTree(target.pgdata)), [], 'a refused plan file left the target byte-identical')

    const planFile = join(pair.root, 'rewind-plan.json')
    const r = await c.result('rewind', { target, source, planFile })
    t.same(Object.keys(r.plan).sort(), ['digest', 'planFile', 'summary'], 'the result names the plan file')
    t.equal(r.plan.planFile, planFile)
    // what grows with the plan stays in the file: only the discard report (at most
    // MAX_LISTED_RELATIONS relations) is of any size, and it is the scan's
    t.notOk(JSON.stringify(r).includes('extra-file-'), 'no entry of the plan is in the result')
    const rest = JSON.stringify({ ...r, scan: { ...r.scan, discards: null } }).length
    t.ok(rest < 16 * 1024, `the result without the discard report is small (${rest} characters)`)
    t.same(r.scan.changedBlocks, {}, 'the scan\'s changed blocks are left to the plan\'s entries')
    t.ok(r.scan.blocks > 0, 'though the scan found changed blocks')
    const bytes = readFileSync(planFile)
    t.equal(sha256(bytes), r.plan.digest, 'the file\'s sha256 is the digest')
    t.equal(statSync(planFile).mode & 0o777, 0o600, 'the plan file is private')
    const plan = JSON.parse(bytes.toString('utf8'))
    t.ok(plan.entries.length > 2 * EXTRA, `${plan.entries.length} entries`)
    t.equal(r.plan.summary.totals.entries, plan.entries.length)
    t.equal(r.apply.entriesApplied, plan.entries.length, 'the plan in the file is the one applied')
    t.equal(r.finish.controlFileUpdated, true)

    // the file serves what comes after: verify reads it back by planFile + digest
    await verifiedAndRejoined(t, c, pair, { planFile, digest: r.plan.digest }, plan.entries.length)
  })
}
