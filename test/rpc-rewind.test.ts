import t from 'tap'
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { planDigest } from '../lib/rewind/plandigest'
import { diverge, rejoinAndCompare, snapshotTree, testMajors, treeDiff, withPair } from './harness'
import { RpcChild, RpcMessage } from './helpers/rpcclient'

/**
 * A client in a child process drives a complete rewind through `pgrewind rpc`, one
 * step per call, passing each result on as the next call's params — on real
 * clusters; the rewound node rejoins with identical contents. Every result is
 * checked against its schema twice: by the server (--check-results) and by the
 * client (test/helpers/rpcclient.ts). Tampered, unsafe and stale plans are refused
 * with the target byte-identical.
 */
const majors = testMajors()

function flipByte (path: string, offset: number): void {
  const fd = openSync(path, 'r+')
  try {
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, offset)
    b[0] ^= 0xFF
    writeSync(fd, b, 0, 1, offset)
  } finally { closeSync(fd) }
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: the five steps over JSON-RPC, then rejoin`, async t => {
    const pair = await withPair(t, { major, tablespace: true })
    await diverge(pair, { targetStop: 'clean' })
    const target = { pgdata: pair.target.dataDir }
    const source = { pgdata: pair.source.dataDir }
    const c = new RpcChild()
    t.teardown(() => c.kill())
    const srcBefore = snapshotTree(source.pgdata)

    const ti = await c.result('inspect', { pgdata: target.pgdata })
    t.equal(ti.identity.major, major)
    t.equal(ti.control.state, 'shut down')
    t.same(ti.prerequisites, { checksumsOrWalLogHints: true, cleanShutdown: true, notRunning: true, noInterruptedRewind: true, ok: true })
    const si = await c.result('inspect', { pgdata: source.pgdata })
    t.equal(si.identity.systemIdentifier, ti.identity.systemIdentifier, 'same system')
    t.equal(si.identity.timeline, 2, 'the source is on the new timeline')

    // a source server that is not there: a typed error, and its password nowhere
    const noServer = await c.call('findDivergence', { target, source: { connstr: `host=${pair.root}/no-such-socket-dir port=1 user=postgres password=Sup3rS3cret` } })
    t.equal(noServer.error?.data?.kind, 'SOURCE_CONNECTION', JSON.stringify(noServer.error))

    let divergence = await c.result('findDivergence', { target, source })
    t.equal(divergence.rewindNeeded, true)
    t.equal(divergence.divergeTli, 1)
    let scan = await c.result('scanWal', { target, source, divergence, progressToken: 'scan' })
    t.ok(scan.blocks > 0, 'changed blocks found')
    let plan = await c.result('buildPlan', { target, source, divergence, scan })
    t.match(plan.digest, /^[0-9a-f]{64}$/)
    t.equal(plan.target.pgdata, target.pgdata)

    const before = snapshotTree(target.pgdata)
    const tampered = structuredClone(plan)
    tampered.entries = tampered.entries.filter((e: { action: string }) => e.action !== 'remove')
    const r1 = await c.call('applyPlan', { target, source, plan: tampered })
    t.equal(r1.error?.code, -32034)
    t.equal(r1.error?.data?.kind, 'PLAN_DIGEST')
    const unsafe = structuredClone(plan)
    unsafe.entries.push({ path: '../escaped', action: 'copy', type: 'file', sourceSize: 1 })
    unsafe.digest = planDigest(unsafe)
    const r2 = await c.call('applyPlan', { target, source, plan: unsafe })
    t.equal(r2.error?.data?.kind, 'UNSAFE_PATH', 'a re-digested plan with an unsafe path')
    t.same(treeDiff(before, snapshotTree(target.pgdata)), [], 'refused plans left the target byte-identical')

    // the target moves on after the plan: the plan is stale
    await pair.target.start()
    await pair.target.query('CREATE TABLE after_plan AS SELECT 1 AS x')
    await pair.target.stop()
    const before2 = snapshotTree(target.pgdata)
    const r3 = await c.call('applyPlan', { target, source, plan })
    t.equal(r3.error?.code, -32033)
    t.equal(r3.error?.data?.kind, 'PLAN_STALE')
    const r4 = await c.call('scanWal', { target, source, divergence })
    t.equal(r4.error?.data?.kind, 'PLAN_STALE', 'an earlier step\'s result is stale too')
    t.same(treeDiff(before2, snapshotTree(target.pgdata)), [], 'the stale plan changed nothing')

    // again, from the start; this time every step in a new server process, as
    // separate Ansible tasks would run them: nothing may depend on server memory
    const progress: RpcMessage[] = []
    const fresh = async (method: string, params: object): Promise<any> => {
      const one = new RpcChild()
      t.teardown(() => one.kill())
      const r = await one.result(method, params)
      t.equal((await one.close()).code, 0)
      t.same(one.problems, [], `${method}: result matches its schema`)
      progress.push(...one.notifications('$/progress'))
      return r
    }
    divergence = await fresh('findDivergence', { target, source })
    scan = await fresh('scanWal', { target, source, divergence, progressToken: 'scan' })
    plan = await fresh('buildPlan', { target, source, divergence, scan })
    const apply = await fresh('applyPlan', { target, source, plan, progressToken: 'apply' })
    t.equal(apply.entriesApplied, plan.entries.length)
    t.equal(apply.dryRun, false)
    const finish = await fresh('writeBackupLabel', { target, source, plan, progressToken: 'finish' })
    t.match(finish.backupLabel, /^START WAL LOCATION: /)
    t.equal(finish.controlFileUpdated, true)
    t.equal(finish.synced, true)
    const phases = new Set(progress.map(m => `${m.params.token}:${m.params.phase}`))
    for (const p of ['scan:scanWal', 'apply:applyPlan', 'finish:sync']) t.ok(phases.has(p), `$/progress ${p}`)

    const ok = await c.result('verify', { target, source, plan })
    t.equal(ok.ok, true, `verify: ${JSON.stringify(ok.mismatches)}`)
    t.ok(ok.checked > 0 && ok.bytesCompared > 0)
    // verify must be able to fail: one byte of a copied relation block
    const entry = plan.entries.find((e: { blocks?: unknown, action: string }) => e.blocks !== undefined && e.action !== 'remove')
    t.ok(entry !== undefined, 'a plan entry with changed blocks')
    const offset = entry.blocks[0][0] * 8192 + 100
    flipByte(join(target.pgdata, entry.path), offset)
    const bad = await c.result('verify', { target, source, plan })
    flipByte(join(target.pgdata, entry.path), offset)
    t.equal(bad.ok, false)
    t.same(bad.mismatches, [{ path: entry.path, problem: `differs from the source at byte ${offset} (block ${Math.floor(offset / 8192)})` }])

    const before3 = snapshotTree(target.pgdata)
    const again = await c.call('applyPlan', { target, source, plan })
    t.equal(again.error?.data?.kind, 'PLAN_STALE', 'a finished plan cannot be applied again')
    t.same(treeDiff(before3, snapshotTree(target.pgdata)), [], '…and changes nothing')
    t.same(treeDiff(srcBefore, snapshotTree(source.pgdata)), [], 'the source was never changed')

    // -R, from the running source server
    await pair.source.start()
    const src = { connstr: pair.source.connstr() }
    const rc = await c.result('writeRecoveryConf', { target, source: src })
    t.same([...rc.files].sort(), ['postgresql.auto.conf', 'standby.signal'])
    t.match(readFileSync(join(target.pgdata, 'postgresql.auto.conf'), 'utf8'), /primary_conninfo = '.*port=\d+.*'\n$/)
    const rc2 = await c.result('writeRecoveryConf', { target, source: src })
    t.equal(rc2.changed, false, 'a second run changes nothing')
    t.equal((await c.close()).code, 0)
    t.same(c.problems, [], 'every result matched its schema; stdout held only protocol')
    t.same(c.badStderrLines(), [])
    t.notMatch(JSON.stringify(c.messages) + c.stderr, /Sup3rS3cret/, 'no password in any answer or log')

    t.same(await rejoinAndCompare(pair.target, pair.source, { configured: true }), [], 'the rewound node follows the source with identical contents')
    t.equal(Number(await pair.target.scalar('SELECT received_tli FROM pg_stat_wal_receiver')), 2)
  })
}
