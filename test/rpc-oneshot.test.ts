import t from 'tap'
import { diverge, rejoinAndCompare, withPair } from './harness'
import { RpcChild } from './helpers/rpcclient'

/**
 * The one-shot style an Ansible task uses: every request written at once, stdin
 * closed, answers read until the server exits. The server must finish what is in
 * flight (a whole rewind), answer everything, and exit 0.
 */
const major = Number(process.env.PGREWIND_RPC_ONESHOT_MAJOR ?? 16)

t.test(`PostgreSQL ${major}: all requests written, stdin closed, every one answered`, async t => {
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'clean' })
  const target = { pgdata: pair.target.dataDir }
  const source = { pgdata: pair.source.dataDir }

  const c = new RpcChild()
  t.teardown(() => c.kill())
  const answers = [
    c.expect(1, 'inspect'),
    c.expect(2, 'rpc.discover'),
    c.expect(3, 'inspect'),
    c.expect(4, 'rewind'),
    c.expect(5, 'inspect')
  ]
  c.writeRaw([
    { jsonrpc: '2.0', id: 1, method: 'inspect', params: { pgdata: target.pgdata } },
    [
      { jsonrpc: '2.0', id: 2, method: 'rpc.discover' },
      { jsonrpc: '2.0', id: 3, method: 'inspect', params: { pgdata: source.pgdata } }
    ],
    { jsonrpc: '2.0', id: 4, method: 'rewind', params: { target, source, progressToken: 'rw' } },
    { jsonrpc: '2.0', id: 5, method: 'inspect', params: { pgdata: target.pgdata } }
  ].map(m => JSON.stringify(m)).join('\n') + '\n')
  const exit = c.close()
  const [inspected, discovered, inspectedSource, rewound, inspectedAfter] = await Promise.all(answers)
  t.equal((await exit).code, 0, 'exits 0 after answering everything')

  t.equal(inspected.result?.control.state, 'shut down')
  t.ok(discovered.result?.methods.length >= 10)
  t.equal(inspectedSource.result?.identity.timeline, 2)
  t.equal(rewound.error, undefined, JSON.stringify(rewound.error))
  const r = rewound.result
  t.equal(r.plan.rewindNeeded, true)
  t.equal(r.apply.entriesApplied, r.plan.entries.length)
  t.match(r.finish.backupLabel, /^START WAL LOCATION/)
  t.equal(r.recoveryConf, null)
  t.same(Object.keys(r.timings), ['findDivergence', 'scanWal', 'buildPlan', 'applyPlan', 'writeBackupLabel'])
  t.ok(c.notifications('$/progress').some(m => m.params.token === 'rw' && m.params.phase === 'applyPlan'))
  // id 5 arrived while the rewind ran: read-only calls do not wait for the target queue
  t.ok(['shut down', 'in archive recovery'].includes(inspectedAfter.result?.control.state))
  t.same(c.problems, [])
  t.same(c.badStderrLines(), [])

  t.same(await rejoinAndCompare(pair.target, pair.source), [], 'the rewound node rejoins with identical contents')
})
