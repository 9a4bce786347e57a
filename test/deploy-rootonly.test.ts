import t from 'tap'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unprivilegedUser } from '../lib/harness/runas'
import { userCan } from '../lib/harness/runtime'
import { chownToRunner, diverge, rejoinAndCompare, removeTree, withPair } from './harness'
import { notOwnedBy, rootOnlyCopy, runSelf } from './helpers/deploy'

/**
 * Root, any directory (README, "Set up"): as root, from a copy of this project that
 * the servers' user cannot read (a clone in /root or under `mktemp -d`), the drill,
 * the CLI and the test harness work — the drill and the tests from a copy staged for
 * that user, the CLI by becoming the target's owner once it has loaded — and where it
 * cannot work, the failure names the path, the user and what to do.
 */
const major = 15
const user = unprivilegedUser()
const copy = rootOnlyCopy()
t.teardown(copy.remove)
const cli = join(copy.project, 'dist', 'lib', 'cli', 'main.js')

t.test('the copy is out of the servers\' user\'s reach', async t => {
  if (user === null) {
    t.equal(process.getuid?.() === 0, false, 'not root: everything runs as ourselves')
    return
  }
  t.equal(userCan(user, join(copy.project, 'package.json')), false, `user "${user.name}" cannot read ${copy.project}`)
  t.equal(userCan(user, cli), false)
})

t.test('the drill, run by root from the copy', async t => {
  const r = await runSelf(process.execPath, [cli, 'drill', '--pg-version', String(major)], { timeoutMs: 300_000 })
  t.equal(r.code, 0, r.code === 0 ? 'the drill passes' : r.stdout + r.stderr)
  t.notMatch(r.stdout + r.stderr, /Cannot find module/)
  t.match(r.stdout, /OK: the rewound node rejoined with identical contents/)
  if (user !== null) {
    const staged = /from a copy staged for it in (\S+) /.exec(r.stdout)
    t.ok(staged, 'says where it runs from, and why')
    t.match(r.stdout, new RegExp(`"${user.name}" cannot read ${copy.project}`))
    t.equal(existsSync(staged?.[1] ?? '/nonexistent-marker'), false, 'the staged copy is removed at the end')
  }
})

t.test('where it cannot work, it says so at once: a TMPDIR the servers\' user cannot reach', async t => {
  if (user === null) {
    t.pass('not root: no other user is involved')
    return
  }
  const r = await runSelf(process.execPath, [cli, 'drill', '--pg-version', String(major)], { env: { TMPDIR: copy.dir }, timeoutMs: 120_000 })
  t.equal(r.code, 1, r.stdout + r.stderr)
  t.match(r.stderr, new RegExp(`pgrewind: error: user "${user.name}" cannot run pgrewind from ${copy.dir}/pgrewind-runtime-\\w+`))
  t.match(r.stderr, new RegExp(`Set TMPDIR to a directory "${user.name}" can reach`))
  t.notMatch(r.stderr, /Cannot find module/)
  t.same(readdirSync(copy.dir), ['pgrewind'], 'the failed stage is removed')
})

t.test('the copy\'s CLI, run by root, rewinds a target owned by the servers\' user', async t => {
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'clean' })
  const r = await runSelf(process.execPath, [cli, '-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '-P', '--debug'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /pgrewind: Done!/)
  if (user !== null) {
    t.match(r.stderr, new RegExp(`pgrewind: debug: running as user "${user.name}", the owner of the target data directory`))
    t.same(notOwnedBy(pair.target.dataDir, user.uid), [], 'every file of the target still belongs to the servers\' user')
  }
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('plan and apply from a source server, run by root, with a plan file only root can read', async t => {
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'clean', sourceStop: 'running' })
  // plan writes its file as the target's owner: a directory that user may write to
  const scratch = mkdtempSync(join(tmpdir(), 'pgrewind-plan-'))
  chownToRunner(scratch)
  t.teardown(() => removeTree(scratch))
  const planFile = join(scratch, 'plan.json')
  const p = await runSelf(process.execPath, [cli, 'plan', '-D', pair.target.dataDir, `--source-server=${pair.source.connstr()}`, '--out', planFile])
  t.equal(p.code, 0, p.stderr)
  // apply reads it before it gives up root: from a directory only root can read
  const rootPlan = join(copy.dir, 'plan.json')
  writeFileSync(rootPlan, readFileSync(planFile), { mode: 0o600 })
  const a = await runSelf(process.execPath, [cli, 'apply', rootPlan, '-R', '--json'])
  t.equal(a.code, 0, a.stderr)
  t.notMatch(a.stderr, /Cannot find module/)
  if (user !== null) t.same(notOwnedBy(pair.target.dataDir, user.uid), [])
  removeTree(rootPlan)
  t.same(await rejoinAndCompare(pair.target, pair.source, { configured: true }), [])
})

t.test('the tests themselves, run by root from the copy (a copy staged for the servers\' user)', async t => {
  const r = await runSelf(join(copy.project, 'node_modules', '.bin', 'tap'), ['--disable-coverage', 'test/rpc-oneshot.test.ts'], {
    cwd: copy.project, env: { PGREWIND_RPC_ONESHOT_MAJOR: String(major) }, timeoutMs: 400_000
  })
  t.equal(r.code, 0, r.code === 0 ? 'tap passes' : r.stdout + r.stderr)
  t.match(r.stdout, /^ok 1 - test\/rpc-oneshot\.test\.ts/m)
  t.match(r.stdout, /# \{ total: \d+, pass: \d+ \}/)
  t.notMatch(r.stdout + r.stderr, /Cannot find module/)
})
