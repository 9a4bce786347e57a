import t, { Test } from 'tap'
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { childEnv, spawnIdentity } from '../lib/harness/runas'
import { cliCommand } from '../lib/harness/runtime'
import {
  Cluster, diverge, Pair, pgrewind, rejoinAndCompare, snapshotTree, testMajors, treeDiff, withPair
} from './harness'
import { RpcChild } from './helpers/rpcclient'
import { replacedWhole } from '../lib/rewind/filemap'
import { parseControlFile } from '../lib/format/controlfile'
import { lsnToSegNo, walFileName } from '../lib/format/lsn'
import type { JsonPlan } from '../lib/steps/types'
import type { Intent } from '../lib/target/journal'

/**
 * What an operator meets when a rewind goes wrong, and the way out of each: a full
 * disk (refused up front, or hit halfway), a file it may not write, the source's
 * connection killed mid-fetch, SIGTERM, a failing crash recovery; resume through
 * `pgrewind apply` and the RPC with the same plan; rollback after a finished rewind
 * and its refusal once the node has started; --no-journal; verify catching a damaged
 * block.
 */

const [major] = testMajors([18]).slice(-1)

function local (pair: Pair): string[] {
  return ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir]
}

function server (pair: Pair): string[] {
  return ['-D', pair.target.dataDir, '--source-server', `host=127.0.0.1 port=${pair.source.port} user=postgres dbname=postgres`]
}

async function refusesToStart (t: Test, target: Cluster): Promise<void> {
  const err = await target.start().then(() => null, (e: Error) => e)
  t.ok(err !== null, 'pg_ctl start refuses the half-rewound target')
  if (err === null) await target.stop('immediate')
  else t.match(readFileSync(target.logFile, 'utf8'), /REWIND IN PROGRESS/)
}

/** A diverged pair, stopped (the source left running for a server source). */
async function diverged (t: Test, o: { tcp?: boolean, heavy?: boolean, checksums?: boolean } = {}): Promise<Pair> {
  const pair = await withPair(t, { major, tcp: o.tcp, checksums: o.checksums })
  await diverge(pair, { sourceStop: o.tcp === true ? 'running' : 'clean', heavy: o.heavy })
  return pair
}

t.test('a disk too small is refused before anything changes', async t => {
  const pair = await diverged(t)
  const before = snapshotTree(pair.target.dataDir)
  // what the rewind will need, from its plan: fill the disk so that less is left
  const planFile = join(pair.root, 'plan.json')
  const p = await pgrewind(['plan', ...local(pair), '--out', planFile])
  t.equal(p.code, 0, p.stderr)
  const plan = JSON.parse(readFileSync(planFile, 'utf8')).plan
  t.ok(plan.totals.journalBytes > 0, `the plan says what the journal will hold (${plan.totals.journalBytes} bytes)`)
  const mnt = join(pair.root, 'small')
  mkdirSync(mnt)
  // mounting needs root (the tests' own user; pgrewind runs as the data directory's owner)
  const du = Number(spawnSync('du', ['-sb', pair.target.dataDir], { encoding: 'utf8' }).stdout.split('\t')[0])
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${du + 64 * 1024 * 1024}`, 'tmpfs', mnt], { encoding: 'utf8' })
  if (m.status !== 0) {
    // no mount here: an injected full disk at the first change instead (below covers the rest)
    const r = await pgrewind(local(pair), { PGREWIND_FAILPOINT: 'enospc:1' })
    t.equal(r.code, 1)
    t.match(r.stderr, /ENOSPC|no space left/i)
    return
  }
  t.teardown(() => { spawnSync('umount', ['-l', mnt]) })
  // the target's data directory on the small file system, nearly full
  const small = join(mnt, 'data')
  const cp = spawnSync('cp', ['-a', pair.target.dataDir, small], { encoding: 'utf8' })
  t.equal(cp.status, 0, cp.stderr)
  chownSync(mnt, statSync(pair.target.dataDir).uid, statSync(pair.target.dataDir).gid)
  const ballast = join(mnt, 'ballast')
  const fd = openSync(ballast, 'w')
  const free = spawnSync('df', ['-B1', '--output=avail', mnt], { encoding: 'utf8' }).stdout.split('\n')[1].trim()
  const leave = Math.floor(plan.totals.fetchBytes / 2)
  const chunk = Buffer.alloc(1024 * 1024)
  for (let left = Number(free) - leave; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, left))
  closeSync(fd)
  const smallBefore = snapshotTree(small)
  const r = await pgrewind(['-D', small, '--source-pgdata', pair.source.dataDir])
  t.equal(r.code, 1)
  t.match(r.stderr, /error: the target is not ready for the rewind/)
  t.match(r.stderr, /file system of .* has [\d.]+ MiB free; the rewind needs [\d.]+ MiB there \(its journal included\)/)
  t.match(r.stderr, /hint: Nothing was changed/)
  t.same(treeDiff(smallBefore, snapshotTree(small)), [], 'nothing changed')
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'the original untouched too')
})

t.test('a full disk halfway: a clear error, a target that will not start, and a way back', async t => {
  const pair = await diverged(t)
  const before = snapshotTree(pair.target.dataDir)
  const r = await pgrewind(local(pair), { PGREWIND_FAILPOINT: 'enospc:40' })
  t.equal(r.code, 1)
  t.match(r.stderr, /pgrewind: error: .*ENOSPC: no space left on device/)
  await refusesToStart(t, pair.target)
  const rb = await pgrewind(['rollback', '-D', pair.target.dataDir, '--json'])
  t.equal(rb.code, 0, rb.stderr)
  t.equal(JSON.parse(rb.stdout).rolledBack, true)
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'rolled back byte for byte')
  const again = await pgrewind(local(pair))
  t.equal(again.code, 0, again.stderr)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('a file it may not write: refused before anything changes, naming it', async t => {
  const pair = await diverged(t)
  const planFile = join(pair.root, 'plan.json')
  t.equal((await pgrewind(['plan', ...local(pair), '--out', planFile])).code, 0)
  const plan = JSON.parse(readFileSync(planFile, 'utf8')).plan
  const victim = plan.entries.find((e: { blocks?: unknown, action: string }) => e.blocks !== undefined && e.action === 'none')
  t.ok(victim !== undefined, 'a relation file the rewind writes blocks into')
  chmodSync(join(pair.target.dataDir, victim.path), 0o400)
  const before = snapshotTree(pair.target.dataDir)
  const r = await pgrewind(['apply', planFile])
  t.equal(r.code, 1)
  t.match(r.stderr, new RegExp(`Not writable by this user: .*${victim.path.replace(/[/.]/g, '\\$&')}`))
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'nothing changed')
  chmodSync(join(pair.target.dataDir, victim.path), 0o600)
  const ok = await pgrewind(['apply', planFile])
  t.equal(ok.code, 0, ok.stderr)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('the source connection killed mid-fetch: an error, then the re-run completes', async t => {
  const pair = await diverged(t, { tcp: true, heavy: true })
  const running = pgrewind(server(pair), { PGREWIND_FAILPOINT: 'pause:5' })
  let killed = 0
  const run1 = { done: false }
  void running.then(() => { run1.done = true })
  while (!run1.done && killed === 0) {
    killed = await pair.source.scalar<number>(`SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
      WHERE application_name = 'pgrewind' AND query LIKE '%pg_read_binary_file(path, begin, len, true)%'`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const r = await running
  t.ok(killed > 0, `terminated ${killed} fetching backends`)
  t.equal(r.code, 1, 'the run fails')
  t.match(r.stderr, /pgrewind: error: .*(terminat|connection|server)/i)
  await refusesToStart(t, pair.target)
  const again = await pgrewind(server(pair))
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /rolling back an interrupted rewind/)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('SIGTERM during the copy stops at a safe point and says so', async t => {
  const pair = await diverged(t, { heavy: true })
  const c = cliCommand(local(pair))
  const child = spawn(c.cmd, c.args, { env: childEnv({ PGREWIND_FAILPOINT: 'pause:3' }), stdio: ['ignore', 'pipe', 'pipe'], ...spawnIdentity() })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  // once it is copying (the marker is there), ask it to stop
  const autoConf = join(pair.target.dataDir, 'postgresql.auto.conf')
  while (!readFileSync(autoConf, 'utf8').includes('REWIND IN PROGRESS')) await new Promise(resolve => setTimeout(resolve, 20))
  await new Promise(resolve => setTimeout(resolve, 300))
  child.kill('SIGTERM')
  const code = await new Promise<number | null>(resolve => child.on('close', c => resolve(c)))
  t.equal(code, 1, 'exit status 1')
  t.match(stderr, /warning: SIGTERM received: stopping at the next safe point/)
  t.match(stderr, /error: stopped by SIGTERM at a safe point/)
  t.match(stderr, /hint: Run the same command again to complete the rewind, or undo it with pgrewind rollback/)
  await refusesToStart(t, pair.target)
  const again = await pgrewind(local(pair))
  t.equal(again.code, 0, again.stderr)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('a crash of single-user recovery is reported and changes nothing of ours', async t => {
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'crash' })
  // the real postgres aborts its recovery: the WAL segment holding the checkpoint record is set aside
  const cf = parseControlFile(readFileSync(join(pair.target.dataDir, 'global', 'pg_control')))
  const segment = join(pair.target.dataDir, 'pg_wal', walFileName(cf.checkPointCopy.thisTimeLineID, lsnToSegNo(cf.checkPoint, cf.xlogSegSize), cf.xlogSegSize))
  renameSync(segment, `${segment}.aside`)
  const r = await pgrewind([...local(pair), '--pg-bindir', pair.target.binDir])
  renameSync(`${segment}.aside`, segment)
  t.equal(r.code, 1)
  t.match(r.stderr, /error: postgres single-user mode in target cluster failed/)
  t.notOk(existsSync(join(pair.target.dataDir, 'pgrewind_journal')), 'no journal: the apply never started')
  t.notOk(readFileSync(join(pair.target.dataDir, 'postgresql.auto.conf'), 'utf8').includes('REWIND IN PROGRESS'), 'no marker')
  const ok = await pgrewind([...local(pair), '--pg-bindir', pair.target.binDir])
  t.equal(ok.code, 0, ok.stderr)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('resume through pgrewind apply and through the RPC, with the same plan', async t => {
  const pair = await diverged(t)
  const planFile = join(pair.root, 'plan.json')
  t.equal((await pgrewind(['plan', ...local(pair), '--out', planFile])).code, 0)
  const killed = await pgrewind(['apply', planFile], { PGREWIND_FAILPOINT: 'kill:200' })
  t.ok(killed.signal === 'SIGKILL' || killed.code === 137, 'apply killed')
  // inspect shows the interrupted apply
  const rpc = new RpcChild()
  t.teardown(async () => { await rpc.close() })
  const i = await rpc.result('inspect', { pgdata: pair.target.dataDir }) as { journal: { state: string, planDigest: string }, rewindInProgress: boolean, prerequisites: { ok: boolean } }
  const plan = JSON.parse(readFileSync(planFile, 'utf8'))
  t.equal(i.journal.state, 'applying')
  t.equal(i.journal.planDigest, plan.plan.digest)
  t.equal(i.rewindInProgress, true)
  t.equal(i.prerequisites.ok, false)
  // a dry-run analysis refuses a half-rewound target
  const dry = await pgrewind([...local(pair), '-n'])
  t.equal(dry.code, 1)
  t.match(dry.stderr, /error: an interrupted rewind left .* half-rewound/)
  // the RPC's applyPlan with the same plan: rolled back and applied again
  const a = await rpc.result('applyPlan', plan) as { resumed: boolean, journal: { state: string } }
  t.equal(a.resumed, true, 'the interrupted apply was rolled back first')
  t.equal(a.journal.state, 'applied')
  const f = await rpc.result('writeBackupLabel', plan) as { controlFileUpdated: boolean, journalDiscarded: boolean }
  t.equal(f.controlFileUpdated, true)
  const done = await rpc.result('inspect', { pgdata: pair.target.dataDir }) as { journal: { state: string, rollbackAvailable: boolean }, rewindInProgress: boolean }
  t.equal(done.journal.state, 'done')
  t.equal(done.journal.rollbackAvailable, true)
  t.equal(done.rewindInProgress, false, 'the marker is gone')
  // verify reads the plan from the journal
  const v = await pgrewind(['verify', ...local(pair)])
  t.equal(v.code, 0, v.stderr + v.stdout)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('rollback of a finished rewind; refused once the node has started; discard', async t => {
  const pair = await diverged(t)
  const before = snapshotTree(pair.target.dataDir)
  const r = await pgrewind([...local(pair), '--json'])
  t.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.equal(out.apply.journal.state, 'applied')
  // relation files whose changed blocks cover them went into the journal whole, by rename
  const jdir = join(pair.target.dataDir, 'pgrewind_journal')
  const plan = JSON.parse(readFileSync(join(jdir, 'plan.json'), 'utf8')) as JsonPlan
  const intents = readFileSync(join(jdir, 'intents.jsonl'), 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Intent)
  const ops = (path: string): string[] => intents.filter(i => i.op !== 'state' && i.path === path).map(i => i.op)
  const whole = plan.entries.filter(replacedWhole)
  const patched = plan.entries.filter(e => e.blocks !== undefined && e.action === 'none' && !replacedWhole(e))
  t.ok(whole.length > 0 && patched.length > 0, `files replaced whole (${whole.length}) and files patched block by block (${patched.length})`)
  t.same(whole.filter(e => ops(e.path).join() !== 'aside').map(e => e.path), [], 'each replaced whole is moved aside, none of its blocks copied')
  t.same(patched.filter(e => ops(e.path).join() !== 'ranges').map(e => e.path), [], 'the others keep their old blocks')
  const extra = out.apply.journal.bytes - plan.totals.journalBytes
  t.ok(extra >= 0 && extra < 64 * 1024, `the plan's journal size is what the journal holds, but for the small files rewritten whole (${extra} bytes)`)
  t.ok(intents.some(i => i.op === 'state' && i.state === 'applied' && i.filesDurable === true), 'the apply made every file it wrote durable itself')
  const rpc = new RpcChild()
  t.teardown(async () => { await rpc.close() })
  const rb = await rpc.result('rollback', { target: { pgdata: pair.target.dataDir } }) as { rolledBack: boolean, filesRestored: number }
  t.equal(rb.rolledBack, true)
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'the finished rewind undone byte for byte')
  const again = await rpc.result('rollback', { target: { pgdata: pair.target.dataDir } }) as { rolledBack: boolean, message: string }
  t.equal(again.rolledBack, false, 'a second rollback has nothing to do')
  // the old primary is back: it starts on its own timeline with its own rows
  await pair.target.start()
  t.equal(await pair.target.scalar<string>("SELECT count(*)::text FROM t_common WHERE v = 'after ckpt'"), '501', 'the old primary\'s own transactions are back')
  await pair.target.stop()
  t.equal((await pgrewind(local(pair))).code, 0, 'rewound again')
  await pair.target.start()
  await pair.target.stop()
  const late = await pgrewind(['rollback', '-D', pair.target.dataDir])
  t.equal(late.code, 1)
  t.match(late.stderr, /error: the rewind of .* cannot be rolled back/)
  t.match(late.stderr, /the node has started since the rewind/)
  const discard = await pgrewind(['rollback', '--discard', '-D', pair.target.dataDir])
  t.equal(discard.code, 0, discard.stderr)
  t.notOk(existsSync(join(pair.target.dataDir, 'pgrewind_journal')), 'the journal is gone')
})

t.test('--no-journal: no rollback, the re-run completes; a journal elsewhere', async t => {
  const pair = await diverged(t)
  const killed = await pgrewind([...local(pair), '--no-journal'], { PGREWIND_FAILPOINT: 'kill:300' })
  t.ok(killed.signal === 'SIGKILL' || killed.code === 137)
  await refusesToStart(t, pair.target)
  const rb = await pgrewind(['rollback', '-D', pair.target.dataDir])
  t.equal(rb.code, 1)
  t.match(rb.stderr, /ran without a journal/)
  const again = await pgrewind([...local(pair), '--no-journal'])
  t.equal(again.code, 0, again.stderr)
  t.notOk(existsSync(join(pair.target.dataDir, 'pgrewind_journal')))
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('--journal-dir: the journal elsewhere, linked from the data directory', async t => {
  const pair = await diverged(t)
  const before = snapshotTree(pair.target.dataDir)
  const elsewhere = join(pair.root, 'journals', 'primary')
  const r = await pgrewind([...local(pair), '--journal-dir', elsewhere, '--json'])
  t.equal(r.code, 0, r.stderr)
  t.equal(JSON.parse(r.stdout).apply.journal.path, elsewhere, 'the result names where it is')
  t.ok(existsSync(join(elsewhere, 'plan.json')), 'the journal is there')
  const rb = await pgrewind(['rollback', '-D', pair.target.dataDir])
  t.equal(rb.code, 0, rb.stderr)
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'rolled back byte for byte, the link gone too')
  t.notOk(existsSync(elsewhere))

  // on another file system, files removed or replaced are copied into the journal, not moved
  const mnt = join(pair.root, 'other-fs')
  mkdirSync(mnt)
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'tmpfs', mnt], { encoding: 'utf8' })
  const other = m.status === 0 ? join(mnt, 'journal') : join(pair.root, 'journal-2')
  if (m.status === 0) {
    t.teardown(() => { spawnSync('umount', ['-l', mnt]) })
    chownSync(mnt, statSync(pair.target.dataDir).uid, statSync(pair.target.dataDir).gid)
  }
  const r2 = await pgrewind([...local(pair), '--journal-dir', other, '--json'])
  t.equal(r2.code, 0, r2.stderr)
  const j2 = JSON.parse(r2.stdout).apply.journal
  if (m.status === 0) t.ok(j2.bytes > JSON.parse(r.stdout).apply.journal.bytes, `copied files count in its size (${j2.bytes} bytes)`)
  const rb2 = await pgrewind(['rollback', '-D', pair.target.dataDir])
  t.equal(rb2.code, 0, rb2.stderr)
  t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'rolled back byte for byte from the other file system')
})

t.test('verify catches a damaged block and a wrong page checksum', async t => {
  const pair = await diverged(t, { checksums: true })
  const r = await pgrewind(local(pair))
  t.equal(r.code, 0, r.stderr)
  const plan = JSON.parse(readFileSync(join(pair.target.dataDir, 'pgrewind_journal', 'plan.json'), 'utf8'))
  const ok = await pgrewind(['verify', ...local(pair), '--json'])
  t.equal(ok.code, 0, ok.stderr)
  const good = JSON.parse(ok.stdout)
  t.ok(good.pagesChecksummed > 0, `page checksums checked (${good.pagesChecksummed})`)
  const e = plan.entries.find((x: { blocks?: Array<[number, number]> }) => x.blocks !== undefined)
  const blk = e.blocks[0][0]
  const fd = openSync(join(pair.target.dataDir, e.path), 'r+')
  writeSync(fd, Buffer.from([0xAB]), 0, 1, blk * 8192 + 4000)
  closeSync(fd)
  const bad = await pgrewind(['verify', ...local(pair)])
  t.equal(bad.code, 1, 'exit status 1')
  t.match(bad.stdout, new RegExp(`${e.path.replace(/[/.]/g, '\\$&')}: (differs from the source at byte ${blk * 8192 + 4000} \\(block ${blk}\\)|page checksum mismatch in block ${blk})`))
})
