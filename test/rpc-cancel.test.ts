import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { diverge, rejoinAndCompare, withPair } from './harness'
import { RpcChild, RpcMessage } from './helpers/rpcclient'

/**
 * $/cancelRequest on real work: an applyPlan that is copying (the source got a
 * ~100 MB table after the failover, so the copy takes a while) stops at its next
 * safe point and answers -32800; a writeBackupLabel waiting behind it in the target
 * queue is cancelled without ever running; the server answers other requests
 * meanwhile. The same plan then applies and the node rejoins: a cancelled apply
 * leaves a target that can still be finished.
 */
const major = Number(process.env.PGREWIND_RPC_CANCEL_MAJOR ?? 17)

async function until (c: RpcChild, pred: (m: RpcMessage) => boolean, ms = 120000): Promise<RpcMessage> {
  const deadline = Date.now() + ms
  for (;;) {
    const m = c.messages.find(pred)
    if (m !== undefined) return m
    if (Date.now() > deadline) throw new Error('timed out waiting for a message')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

t.test(`PostgreSQL ${major}: cancel a running applyPlan and a queued writeBackupLabel`, async t => {
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'clean', sourceStop: 'running' })
  await pair.source.query('CREATE TABLE big AS SELECT g, md5(g::text) AS v FROM generate_series(1, 1500000) g')
  await pair.source.checkpoint()
  await pair.source.stop()
  const target = { pgdata: pair.target.dataDir }
  const source = { pgdata: pair.source.dataDir }

  const c = new RpcChild()
  t.teardown(() => c.kill())
  const divergence = await c.result('findDivergence', { target, source })
  const scan = await c.result('scanWal', { target, source, divergence })
  const plan = await c.result('buildPlan', { target, source, divergence, scan })
  t.ok(plan.totals.fetchBytes > 80 * 1024 * 1024, `a copy worth cancelling: ${plan.totals.fetchBytes} bytes`)

  const apply = c.send('applyPlan', { target, source, plan, progressToken: 'a' }, 'apply')
  const finish = c.send('writeBackupLabel', { target, source, plan }, 'finish')
  const p = await until(c, m => m.method === '$/progress' && m.params.token === 'a')
  t.ok(p.params.done < p.params.total, 'applyPlan is copying')
  const look = c.send('inspect', { pgdata: source.pgdata })
  c.notify('$/cancelRequest', { id: 'finish' })
  c.notify('$/cancelRequest', { id: 'apply' })
  const [a, f, i] = await Promise.all([apply.answer, finish.answer, look.answer])
  t.equal(i.result?.identity.timeline, 2, 'inspect answered while the copy ran')
  t.equal(a.error?.code, -32800, `applyPlan cancelled: ${JSON.stringify(a.error ?? a.result)}`)
  t.equal(a.error?.data?.kind, 'CANCELLED')
  t.equal(f.error?.code, -32800, 'the queued writeBackupLabel cancelled')
  t.notOk(existsSync(join(target.pgdata, 'backup_label')), 'writeBackupLabel never ran')
  const lastProgress = c.notifications('$/progress').filter(m => m.params.token === 'a').pop()!
  t.ok(lastProgress.params.done < plan.totals.fetchBytes, 'stopped before the copy was complete')
  const finishLogs = c.stderr.split('\n').filter(l => l.includes('"id":"finish"')).map(l => JSON.parse(l).msg as string)
  t.same(finishLogs.filter(m => m !== 'request' && !m.startsWith('failed:')), [], 'no step output for the cancelled writeBackupLabel')

  // the cancelled apply stopped at a safe point: the same plan applies and finishes
  const apply2 = await c.result('applyPlan', { target, source, plan })
  t.equal(apply2.entriesApplied, plan.entries.length)
  await c.result('writeBackupLabel', { target, source, plan })
  const v = await c.result('verify', { target, source, plan })
  t.equal(v.ok, true, JSON.stringify(v.mismatches))
  t.equal((await c.close()).code, 0)
  t.same(c.problems, [])
  t.same(await rejoinAndCompare(pair.target, pair.source), [], 'rejoins with identical contents')
})
