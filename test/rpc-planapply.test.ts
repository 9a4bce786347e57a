import t from 'tap'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { METHODS } from '../lib/rpc/methods'
import { schemaErrors } from '../lib/contract/validate'
import { chownToRunner, diverge, pgrewind, rejoinAndCompare, snapshotTree, treeDiff, withPair } from './harness'

/**
 * Plan, review, apply without a JSON-RPC client: `pgrewind plan --out` writes a
 * plan file (the applyPlan params), `pgrewind apply --expect-digest` applies exactly
 * the reviewed plan and nothing else.
 */
const major = Number(process.env.PGREWIND_RPC_PLANAPPLY_MAJOR ?? 15)

t.test(`PostgreSQL ${major}: plan, review, apply with --expect-digest`, async t => {
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'clean' })
  const planFile = join(pair.root, 'plan.json')
  const before = snapshotTree(pair.target.dataDir)

  const p = await pgrewind(['plan', '-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '--out', planFile])
  t.equal(p.code, 0, p.stderr)
  t.match(p.stdout, /^servers diverged at WAL location [0-9A-F]+\/[0-9A-F]+ on timeline 1$/m)
  t.match(p.stdout, /^need to copy [\d.]+ MB \(total source directory size is [\d.]+ MB\)$/m)
  const digest = /^digest: ([0-9a-f]{64})$/m.exec(p.stdout)?.[1]
  t.ok(digest !== undefined, 'the summary shows the digest')
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'planning changed nothing')
  t.equal(statSync(planFile).mode & 0o777, 0o600, 'the plan file is private')
  const file = JSON.parse(readFileSync(planFile, 'utf8'))
  t.equal(schemaErrors(METHODS.applyPlan.params, file), null, 'the plan file is applyPlan params')
  t.equal(file.plan.digest, digest)

  const tamperedFile = join(pair.root, 'tampered.json')
  const tampered = structuredClone(file)
  tampered.plan.entries = tampered.plan.entries.filter((e: { action: string }) => e.action !== 'truncate')
  writeFileSync(tamperedFile, JSON.stringify(tampered))
  chownToRunner(tamperedFile)
  const r1 = await pgrewind(['apply', tamperedFile])
  t.equal(r1.code, 1)
  t.match(r1.stderr, /error: the plan does not match its digest\n.*detail: Its content hashes to [0-9a-f]{64}, but it says [0-9a-f]{64}\.\n.*hint: /)
  const r2 = await pgrewind(['apply', planFile, '--expect-digest', '0'.repeat(64)])
  t.equal(r2.code, 1)
  t.match(r2.stderr, new RegExp(`error: the plan's digest is ${digest ?? ''}, not the expected 0{64}`))
  const r3 = await pgrewind(['apply', join(pair.root, 'no-such-plan.json')])
  t.equal(r3.code, 1)
  t.match(r3.stderr, /could not read plan file/)
  writeFileSync(tamperedFile, '{"target": 1}')
  const r4 = await pgrewind(['apply', tamperedFile])
  t.equal(r4.code, 1)
  t.match(r4.stderr, /is not a plan\n.*detail: .*\/target: must be object/)
  t.match(r4.stderr, /detail: .*\(top\): must have required property 'plan'/, 'the schema\'s errors, in ajv\'s order')
  writeFileSync(tamperedFile, JSON.stringify({ target: file.target, source: file.source, planFile, digest }))
  const r5 = await pgrewind(['apply', tamperedFile])
  t.equal(r5.code, 1)
  t.match(r5.stderr, /does not hold a plan\n.*detail: It names a plan file \(planFile\) instead/)
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'refused applies changed nothing')

  const a = await pgrewind(['apply', planFile, '--expect-digest', digest ?? '', '--json'])
  t.equal(a.code, 0, a.stderr)
  const summary = JSON.parse(a.stdout)
  t.equal(summary.digest, digest)
  t.equal(summary.apply.entriesApplied, file.plan.entries.length)
  t.equal(summary.finish.controlFileUpdated, true)
  t.match(a.stderr, /Done!/)
  const again = await pgrewind(['apply', planFile, '--expect-digest', digest ?? ''])
  t.equal(again.code, 1, 'an applied plan is stale')
  t.match(again.stderr, /error: the target changed since the plan was computed/)

  t.same(await rejoinAndCompare(pair.target, pair.source), [], 'rejoins with identical contents')
})
