import t from 'tap'
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { Cluster, compareContents, diverge, Pair, run, setupPair } from './harness'
import { majors, PLAYBOOKS, playbook, removeTree, ROOT, runAsSelf, scratchDir, writeInventory } from './helpers/ansible'

/**
 * The role pgrewind.rewind.install (npm tarball: installed, idempotent, version
 * checked; the single-executable path with a stand-in) and the example playbooks
 * end to end: rejoin-old-primary.yml over an inventory of several hosts (one
 * diverged pair each, PostgreSQL 13 and 18, one host that must fail) in one play
 * with forks, using the pgrewind the role installed; failover-drill.yml on 13 and 18.
 */

const version: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version

let pgrewindBin = ''
// the role installs here, and the playbooks below use what it installed
const installDir = scratchDir('pgrewind-ansible-role-')
t.teardown(() => removeTree(installDir))

t.test('the install role (install-pgrewind.yml): npm tarball, idempotent, version checked; the single executable', async t => {
  const dir = installDir
  const inventory = writeInventory(dir, { localhost: {} })
  // --ignore-scripts: npm pack runs `prepare` (the build) otherwise, and tsc rewriting
  // dist/ in place under the tests running beside this one (a root-only clone's staged
  // runtime hard-links those very files) let one of them load a half-written module
  // ("crc32c is not a function", once in a full CI run); npm test has built dist/ already
  const pack = await runAsSelf('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT })
  t.equal(pack.code, 0, pack.stderr)
  const tarball = join(dir, `pgrewind-${version}.tgz`)
  t.ok(existsSync(tarball), 'npm pack made the tarball')
  const prefix = join(dir, 'prefix')
  const vars = { pgrewind_npm_tarball: tarball, pgrewind_prefix: prefix }
  const play = join(PLAYBOOKS, 'install-pgrewind.yml')

  const first = await playbook(play, { inventory, extraVars: vars })
  t.equal(first.code, 0, first.stdout.slice(-3000))
  t.ok(first.stats.localhost.changed >= 3, 'installed (copy, npm install, command)')
  pgrewindBin = join(prefix, 'bin', 'pgrewind')
  const v = await runAsSelf(pgrewindBin, ['-V'])
  t.equal(v.stdout.trim(), `pgrewind (PostgreSQL 13-18) ${version}`, 'the installed command runs')
  t.equal(first.result('Publish the command\'s path').ansible_facts.pgrewind_bin, pgrewindBin)

  const second = await playbook(play, { inventory, extraVars: vars })
  t.equal(second.code, 0)
  t.equal(second.stats.localhost.changed, 0, 'a second run changes nothing')

  const wrong = await playbook(play, { inventory, extraVars: { ...vars, pgrewind_version: '9.9.9' } })
  t.not(wrong.code, 0, 'a tarball that does not hold the wanted version fails the role')
  t.equal(wrong.result('Assert the installed version is the wanted one').failed, true)

  // the single executable (issue 14 will build it): a stand-in that reports its version
  const exe = join(dir, 'pgrewind-linux-x64')
  writeFileSync(exe, '#!/bin/sh\necho "pgrewind (PostgreSQL 13-18) 0.2.0"\n')
  chmodSync(exe, 0o755)
  const evars = { pgrewind_install_method: 'executable', pgrewind_executable: exe, pgrewind_version: '0.2.0', pgrewind_prefix: join(dir, 'exe') }
  const e1 = await playbook(play, { inventory, extraVars: evars })
  t.equal(e1.code, 0, e1.stdout.slice(-3000))
  t.equal(e1.result('Install the single executable').changed, true)
  t.throws(() => e1.task('Find Node.js'), 'no Node.js needed')
  const e2 = await playbook(play, { inventory, extraVars: evars })
  t.equal(e2.stats.localhost.changed, 0, 'idempotent')
  const e3 = await playbook(play, { inventory, extraVars: { ...evars, pgrewind_version: '0.3.0' } })
  t.not(e3.code, 0, 'the executable of another version fails the role')
})

t.test('rejoin-old-primary.yml: several hosts in one play with forks, one failing', async t => {
  t.ok(pgrewindBin !== '', 'the role installed pgrewind')
  const pairs: Pair[] = []
  const extra: Cluster[] = []
  t.teardown(async () => {
    for (const p of pairs) { await p.source.destroy(); await p.target.destroy() }
    for (const c of extra) await c.destroy()
  })
  const dir = scratchDir('pgrewind-ansible-fleet-', true)
  t.teardown(() => removeTree(dir))
  const hosts: Record<string, Record<string, unknown>> = {}
  const hostVars = (target: Cluster, source: Cluster): Record<string, unknown> => ({
    pgdata: target.dataDir,
    pg_bindir: target.binDir,
    source_server: source.connstr(),
    pgrewind_bin: pgrewindBin,
    pg_start_options: `-p ${target.port} -k ${target.socketDir}`,
    pg_socket_dir: target.socketDir,
    pg_port: target.port,
    pgrewind_plan_dir: join(dir, 'plans'),
    max_fetch_bytes: 1024 * 1024 * 1024
  })
  for (const major of majors) {
    const pair = await setupPair({ major })
    pairs.push(pair)
    // the oldest major crashes: the playbook completes its crash recovery first
    await diverge(pair, { targetStop: major === Math.min(...majors) ? 'crash' : 'clean', sourceStop: 'running' })
    hosts[`pg${major}`] = hostVars(pair.target, pair.source)
  }
  // a host whose "old primary" is another cluster than the source's: it must fail alone
  const stranger = await Cluster.init({ major: pairs[pairs.length - 1].source.major, name: 'stranger' })
  extra.push(stranger)
  hosts.stranger = hostVars(stranger, pairs[pairs.length - 1].source)
  const inventory = writeInventory(dir, hosts)
  const rejoin = join(PLAYBOOKS, 'rejoin-old-primary.yml')

  const r = await playbook(rejoin, { inventory, args: ['--forks', '3'], extraVars: { old_primary: 'all' } })
  for (const p of pairs) p.target.running = existsSync(join(p.target.dataDir, 'postmaster.pid'))
  t.not(r.code, 0, 'the run fails (one host failed)')
  t.same(r.failures().filter(f => !f.startsWith('stranger:')), [], 'only the stranger failed')
  t.equal(r.stats.stranger.failures, 1, 'the stranger failed')
  t.equal(r.result('Plan the rewind', 'stranger').rpc_error.kind, 'DIFFERENT_SYSTEMS')
  for (const p of pairs) {
    const host = `pg${p.target.major}`
    t.equal(r.stats[host].failures, 0, `${host} did not fail`)
    const info = r.result('Plan the rewind', host)
    const applied = r.result('Apply exactly the reviewed plan, and configure the node as a standby', host)
    t.equal(applied.changed, true, `${host} was rewound`)
    t.equal(applied.plan_digest, info.plan_digest, `${host}: exactly its reviewed plan`)
    t.ok(applied.bytes_copied > 0)
    t.equal(applied.recovery_conf.changed, true, `${host}: configured as a standby`)
    t.match(r.result('Report', host).msg, /streams from the new primary \(rewound: \d+ bytes copied\)/)
    t.equal(p.target.running, true, `${host} runs`)
    await p.source.waitForReplay(p.target)
    t.same(await compareContents(p.target, p.source), [], `${host}: the rejoined node has the source's contents`)
  }
  const crashed = r.result('Complete the crash recovery of the old primary (single-user mode, no client can connect)', `pg${Math.min(...majors)}`)
  t.equal(crashed.changed, true, 'the crashed old primary was recovered first')

  const again = await playbook(rejoin, { inventory, args: ['--forks', '3'], extraVars: { old_primary: 'all' } })
  for (const p of pairs) {
    const host = `pg${p.target.major}`
    t.equal(again.stats[host].changed, 0, `${host}: running the playbook again changes nothing`)
    t.equal(again.stats[host].failures, 0)
    t.match(again.result('Report', host).msg, /it already did/)
  }
  t.equal(again.stats.stranger.failures, 1)
})

for (const major of majors) {
  const stop = major === Math.min(...majors) ? 'immediate' : 'fast'
  t.test(`failover-drill.yml on PostgreSQL ${major} (old primary stopped ${stop})`, async t => {
    t.ok(pgrewindBin !== '', 'the role installed pgrewind')
    const probe = await Cluster.init({ major, name: 'probe' })
    const binDir = probe.binDir
    await probe.destroy()
    const dir = scratchDir('pgrewind-drill-', true)
    t.teardown(async () => {
      for (const d of ['old-primary', 'new-primary']) {
        if (existsSync(join(dir, d, 'postmaster.pid'))) await run(join(binDir, 'pg_ctl'), ['-D', join(dir, d), 'stop', '-m', 'immediate', '-w'])
      }
      removeTree(dir)
    })
    const inventory = writeInventory(dir, { localhost: {} })
    const r = await playbook(join(PLAYBOOKS, 'failover-drill.yml'), {
      inventory,
      extraVars: { drill_dir: dir, pg_bindir: binDir, pgrewind_bin: pgrewindBin, drill_target_stop: stop, pgrewind_plan_dir: join(dir, 'plans') }
    })
    t.same(r.failures(), [], 'no task failed')
    t.equal(r.code, 0, 'the drill passed')
    const rewind = r.result('Rewind (exactly the reviewed plan; a crashed node is recovered first, with no plan to review)')
    t.equal(rewind.changed, true)
    t.ok(rewind.bytes_copied > 0)
    if (stop === 'immediate') t.equal(rewind.divergence.crashRecovered, true, 'crash recovery ran first')
    else t.equal(rewind.plan_digest, r.result('Plan the rewind').plan_digest, 'the reviewed plan was applied')
    t.equal(r.result('Running the rewind again changes nothing').changed, false)
    t.match(r.result('Verify').msg, /rejoined and verified/)
    t.notOk(existsSync(join(dir, 'old-primary')) || existsSync(join(dir, 'new-primary')), 'the drill cleaned up')
  })
}
