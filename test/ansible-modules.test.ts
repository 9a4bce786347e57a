import t from 'tap'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chownToRunner, diverge, rejoinAndCompare, setupPair, snapshotTree, treeDiff } from './harness'
import { filesContaining, majors, pgrewindWrapper, playbook, removeTree, scratchDir, watchCmdlines, writeInventory } from './helpers/ansible'

/**
 * The modules pgrewind.rewind.rewind_info and pgrewind.rewind.rewind, run by
 * ansible-playbook (become_user postgres) against real diverged clusters, from a
 * stopped local source and from a running source server with a password:
 * check mode changes nothing and reports changed; a wrong plan_digest fails with
 * no change; the reviewed plan is applied (under async/poll) and the node rejoins
 * with identical contents; running again reports changed=false; the password
 * shows up in no output, -vvv log, file or process command line.
 */

const ZERO_DIGEST = '0'.repeat(64)

function play (defaults: Record<string, unknown>, tasks: unknown[]): unknown[] {
  return [{
    hosts: 'all',
    gather_facts: false,
    become: true,
    become_user: 'postgres',
    become_method: 'su',
    module_defaults: { 'group/pgrewind.rewind.rewind': defaults },
    tasks
  }]
}

function writePlay (dir: string, name: string, content: unknown): string {
  const p = join(dir, name)
  writeFileSync(p, JSON.stringify(content, null, 2))
  return p
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: local source - plan, review, apply exactly the reviewed plan, rejoin`, async t => {
    const pair = await setupPair({ major, tablespace: true })
    t.teardown(async () => { await pair.source.destroy(); await pair.target.destroy() })
    const dir = scratchDir('pgrewind-ansible-', true)
    t.teardown(() => removeTree(dir))
    const plans = join(dir, 'plans')
    const inventory = writeInventory(dir, { localhost: {} })
    await diverge(pair, { targetStop: 'clean' })
    const defaults = { target_pgdata: pair.target.dataDir, source_pgdata: pair.source.dataDir, pgrewind_bin: pgrewindWrapper(dir), plan_dir: plans }
    const targetBefore = snapshotTree(pair.target.dataDir)
    const sourceBefore = snapshotTree(pair.source.dataDir)

    const review = await playbook(writePlay(dir, 'review.yml', play(defaults, [
      { name: 'info', 'pgrewind.rewind.rewind_info': {} },
      { name: 'check', 'pgrewind.rewind.rewind': {}, check_mode: true, diff: true },
      { name: 'wrong digest', 'pgrewind.rewind.rewind': { plan_digest: ZERO_DIGEST }, ignore_errors: true }
    ])), { inventory })
    t.equal(review.code, 0, review.stderr)
    const info = review.result('info')
    t.equal(info.changed, false, 'rewind_info never reports changed')
    t.equal(info.rewind_needed, true)
    t.equal(info.in_sync, false)
    t.equal(info.target.identity.timeline, 1)
    t.equal(info.source.identity.timeline, 2)
    t.equal(info.divergence.divergeTli, 1)
    t.ok(info.plan.fetch_bytes > 0, 'the plan fetches something')
    t.ok(info.plan.changed_blocks.blocks > 0, 'changed blocks found')
    t.ok(info.plan.discards.transactions.committed > 0, `the plan says what it discards: ${info.plan.discards.transactions.committed} committed transactions`)
    t.equal(info.plan.method.kind, 'wal')
    t.match(info.plan_digest, /^[0-9a-f]{64}$/)
    const check = review.result('check')
    t.equal(check.changed, true, 'check mode reports the rewind as a change')
    t.equal(check.rewind_needed, true)
    t.equal(check.bytes_copied, 0)
    t.not(check.plan_digest, info.plan_digest, 'each plan has its own digest (it records when it was built)')
    t.ok(existsSync(join(plans, `${check.plan_digest}.json`)), 'the plan is kept for the apply run')
    t.match(check.diff.before, new RegExp(`timeline: 1\\ncheckpoint: ${info.target.identity.checkpoint}`))
    t.match(check.diff.after, /timeline: 2\n/)
    t.match(check.diff.after, new RegExp(`plan digest: ${check.plan_digest}`))
    t.match(check.diff.after, /files \(first \d+ of \d+\):/)
    t.match(check.diff.after, /discards \d+ committed transactions \(\d{4}-.*\), \d+ aborted, \d+ prepared\n/, '--diff says what the rewind throws away')
    const wrong = review.result('wrong digest')
    t.equal(wrong.failed, true, 'a plan_digest that was never reviewed fails')
    t.equal(wrong.changed, false)
    t.match(wrong.msg, /no reviewed plan with digest 0{64}/)
    t.equal(review.stats.localhost.changed, 1, 'only the check-mode task reports changed')
    t.same(treeDiff(targetBefore, snapshotTree(pair.target.dataDir)), [], 'the target is byte-identical after the review')
    t.same(treeDiff(sourceBefore, snapshotTree(pair.source.dataDir)), [], 'the source is byte-identical')

    const apply = await playbook(writePlay(dir, 'apply.yml', play(defaults, [
      { name: 'apply', 'pgrewind.rewind.rewind': { plan_digest: '{{ digest }}' }, async: 600, poll: 1 },
      { name: 'again', 'pgrewind.rewind.rewind': { plan_digest: '{{ digest }}' } },
      { name: 'again, no digest', 'pgrewind.rewind.rewind': {} },
      { name: 'info after', 'pgrewind.rewind.rewind_info': {} }
    ])), { inventory, extraVars: { digest: check.plan_digest }, env: { ANSIBLE_ASYNC_DIR: join(dir, 'async') } })
    t.equal(apply.code, 0, apply.stderr)
    const applied = apply.result('apply')
    t.equal(applied.changed, true)
    t.equal(applied.finished, 1, 'ran as an async job')
    t.equal(applied.plan_digest, check.plan_digest, 'exactly the reviewed plan was applied')
    t.equal(applied.apply.entriesApplied, check.plan.entries)
    t.ok(applied.bytes_copied > 0)
    t.equal(applied.bytes_copied, applied.apply.bytesFetched)
    t.equal(applied.finish.controlFileUpdated, true)
    t.same(Object.keys(applied.durations).sort(), ['applyPlan', 'inspect', 'rpc.discover', 'writeBackupLabel'])
    t.same(readdirSync(plans), [], 'the stored plans of the rewound target are gone')
    for (const name of ['again', 'again, no digest']) {
      const again = apply.result(name)
      t.equal(again.changed, false, `${name}: a rewound target is left alone`)
      t.equal(again.rewound, true)
      t.equal(again.apply, undefined, `${name}: nothing applied`)
    }
    t.equal(apply.result('info after').rewound, true)
    t.equal(apply.stats.localhost.changed, 1)
    t.same(await rejoinAndCompare(pair.target, pair.source), [], 'the rewound node follows the source with identical contents')
  })

  t.test(`PostgreSQL ${major}: source server with a password - crashed target, apply, secrets kept out`, async t => {
    const pair = await setupPair({ major, tcp: true, conf: { password_encryption: 'scram-sha-256' } })
    // the source first: the target owns the root directory both live in
    t.teardown(async () => { await pair.source.destroy(); await pair.target.destroy() })
    const dir = scratchDir('pgrewind-ansible-', true)
    t.teardown(() => removeTree(dir))
    const plans = join(dir, 'plans')
    const inventory = writeInventory(dir, { localhost: {} })
    await diverge(pair, { targetStop: 'crash', sourceStop: 'running' })
    const { source, target } = pair
    const password = `Ans1ble-${randomBytes(9).toString('hex')}`
    // only rewinder needs the password; postgres (the test's own connections, replication) is trusted
    const hba = join(source.dataDir, 'pg_hba.conf')
    writeFileSync(hba, ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host replication postgres 127.0.0.1/32 trust',
      'host all rewinder 127.0.0.1/32 scram-sha-256', ''].join('\n'))
    chownToRunner(hba)
    await source.query('SELECT pg_reload_conf()')
    await source.query(`CREATE ROLE rewinder LOGIN PASSWORD '${password}';
      GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean), pg_stat_file(text, boolean),
        pg_read_binary_file(text), pg_read_binary_file(text, bigint, bigint, boolean) TO rewinder`)
    // the password comes from the environment of ansible-playbook (as a CI secret would), not from a file or argv
    const env = { REWINDER_PASSWORD: password }
    const defaults = {
      target_pgdata: target.dataDir,
      source_server: `host=127.0.0.1 port=${source.port} user=rewinder dbname=postgres`,
      source_password: "{{ lookup('env', 'REWINDER_PASSWORD') }}",
      pg_bindir: target.binDir,
      pgrewind_bin: pgrewindWrapper(dir),
      plan_dir: plans
    }
    const targetBefore = snapshotTree(target.dataDir)

    const review = await playbook(writePlay(dir, 'review.yml', play(defaults, [
      { name: 'info', 'pgrewind.rewind.rewind_info': {} },
      { name: 'check', 'pgrewind.rewind.rewind': {}, check_mode: true, diff: true },
      { name: 'wrong digest', 'pgrewind.rewind.rewind': { plan_digest: ZERO_DIGEST }, ignore_errors: true },
      { name: 'wrong password', 'pgrewind.rewind.rewind_info': { source_password: 'not-the-password' }, ignore_errors: true }
    ])), { inventory, env })
    t.equal(review.code, 0, review.stderr)
    const info = review.result('info')
    t.equal(info.changed, false)
    t.equal(info.crash_recovery_needed, true, 'the crashed target is reported, not failed')
    t.equal(info.plan, undefined, 'no plan without crash recovery')
    const check = review.result('check')
    t.equal(check.changed, true, 'check mode: the crashed target would be recovered and rewound')
    t.equal(check.crash_recovery_needed, true)
    t.match(check.diff.after, /crash recovery/)
    const wrong = review.result('wrong digest')
    t.equal(wrong.failed, true)
    t.match(wrong.msg, /not shut down cleanly/)
    const badpw = review.result('wrong password')
    t.equal(badpw.failed, true, 'the source really needs the password')
    t.equal(badpw.rpc_error.kind, 'SOURCE_CONNECTION')
    t.ok(Array.isArray(badpw.rpc_log) && badpw.rpc_log.length > 0, 'the server\'s log comes with the error')
    t.same(treeDiff(targetBefore, snapshotTree(target.dataDir)), [], 'the target is byte-identical after the review')
    t.notOk(review.stdout.includes(password), 'the password is not in the JSON output')

    // the apply with -vvv and the human callback, every process's command line sampled meanwhile
    const applyPlay = writePlay(dir, 'apply.yml', play(defaults, [
      { name: 'apply', 'pgrewind.rewind.rewind': {} },
      { name: 'again', 'pgrewind.rewind.rewind': {} }
    ]))
    const watched = await watchCmdlines(password, /main\.js rpc/, async () => await playbook(applyPlay, { inventory, env, args: ['-vvv'], human: true }))
    const run = watched.value
    t.equal(run.code, 0, 'the apply playbook succeeded')
    if (run.code !== 0) t.comment(run.stdout.slice(-5000))
    t.match(run.stdout, /localhost\s+: ok=2\s+changed=1\s+unreachable=0\s+failed=0/, 'applied once, then left alone')
    t.match(run.stdout, /"crashRecovered": true/, 'crash recovery ran first')
    t.match(run.stdout, /"source_password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"/, 'the -vvv log shows the option, masked')
    t.notOk(run.stdout.includes(password) || run.stderr.includes(password), 'the password is not in the -vvv output')
    t.ok(watched.witnessed > 0, `the sampling saw pgrewind rpc running (${watched.samples} samples)`)
    t.same(watched.leaks, [], 'no process had the password on its command line')
    t.same(filesContaining(dir, password), [], 'nor is it in any plan or file of the run')
    t.same(filesContaining(target.dataDir, password), [], 'nor in the target')

    t.same(await rejoinAndCompare(target, source), [], 'the rewound node follows the source with identical contents')
    await target.stop()
    const after = await playbook(writePlay(dir, 'after.yml', play(defaults, [
      { name: 'rewind', 'pgrewind.rewind.rewind': {} },
      { name: 'info', 'pgrewind.rewind.rewind_info': {} }
    ])), { inventory, env })
    t.equal(after.code, 0, after.stderr)
    t.equal(after.result('rewind').changed, false, 'a node that followed the source needs nothing')
    t.match(after.result('rewind').msg, /no rewind required/)
    t.equal(after.result('info').in_sync, true)
  })
}
