import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { diverge, rejoinAndCompare, withPair } from './harness'
import { RpcChild } from './helpers/rpcclient'

/**
 * The five steps over JSON-RPC with a running source server ({connstr}), each in a
 * new server process as separate Ansible tasks would run them, then -R and a rejoin.
 */
for (const major of [13, 18]) {
  t.test(`PostgreSQL ${major}: the five steps over JSON-RPC from a source server`, async t => {
    const pair = await withPair(t, { major, tablespace: true })
    await diverge(pair, { targetStop: 'crash', sourceStop: 'running' })
    const target = { pgdata: pair.target.dataDir }
    const source = { connstr: pair.source.connstr() }
    const step = async (method: string, params: Record<string, unknown>): Promise<any> => {
      const c = new RpcChild()
      try {
        const r = await c.result(method, params)
        t.equal((await c.close()).code, 0, `${method}: the server exits cleanly`)
        t.same(c.problems, [], `${method}: the result matched its schema`)
        return r
      } finally { c.kill() }
    }
    const divergence = await step('findDivergence', { target, source, options: { pgBindir: pair.target.binDir } })
    t.equal(divergence.crashRecovered, true, 'the crashed target was recovered first')
    t.equal(divergence.rewindNeeded, true)
    const scan = await step('scanWal', { target, source, divergence })
    t.ok(scan.blocks > 0)
    const plan = await step('buildPlan', { target, source, divergence, scan })
    t.equal(plan.source.kind, 'server')
    t.notMatch(JSON.stringify(plan), /password/i)
    const applied = await step('applyPlan', { target, source, plan })
    t.ok(applied.bytesFetched > 0)
    const fin = await step('writeBackupLabel', { target, source, plan })
    t.equal(fin.controlFileUpdated, true)
    // the live source may have moved on (hint bits, new WAL): the call and its schema are checked here, the contents by the rejoin
    const verified = await step('verify', { target, source, plan })
    t.equal(typeof verified.ok, 'boolean')
    const rc = await step('writeRecoveryConf', { target, source })
    t.ok(rc.files.includes('standby.signal'))
    t.match(readFileSync(join(target.pgdata, 'postgresql.auto.conf'), 'utf8'), /primary_conninfo = '/)
    t.same(await rejoinAndCompare(pair.target, pair.source, { configured: true }), [], 'the rewound node follows the source with identical contents')
  })
}
