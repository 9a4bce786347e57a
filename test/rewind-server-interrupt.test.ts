import t from 'tap'
import { existsSync, lstatSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { createConnection, createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { openSource } from '../lib/source/open'
import { applyPlan } from '../lib/steps/applyPlan'
import { buildPlan } from '../lib/steps/buildPlan'
import { findDivergence } from '../lib/steps/findDivergence'
import { scanWal } from '../lib/steps/scanWal'
import { Ports, silentLogger } from '../lib/steps/types'
import { writeBackupLabel } from '../lib/steps/writeBackupLabel'
import { chownToRunner, diverge, pgrewind, rejoinAndCompare, testMajors, withPair } from './harness'

/**
 * The source server goes away in the middle of the copy: the run fails with a clear
 * error, the target is not marked as rewound (its pg_control is untouched), and a
 * new run once the source is back completes.
 */

const majors = testMajors()

/** This process may be root: give the files the steps wrote to the server's user. */
function ownTree (p: string): void {
  chownToRunner(p)
  if (lstatSync(p).isDirectory()) for (const n of readdirSync(p)) ownTree(join(p, n))
}

/**
 * A TCP relay in front of the source that counts the bytes the server sends; past
 * `threshold` it holds every connection still, runs `trip` (stopping the server),
 * and lets go — so the server is down while the copy is provably unfinished.
 */
async function relay (upstreamPort: number, threshold: number, trip: () => Promise<void>): Promise<{ port: number, tripped: () => boolean, close: () => void }> {
  const ups = new Set<Socket>()
  const downs = new Set<Socket>()
  let bytes = 0
  let tripped = false
  const server = createServer(down => {
    downs.add(down)
    const up = createConnection(upstreamPort, '127.0.0.1')
    ups.add(up)
    down.pipe(up)
    up.on('data', (d: Buffer) => {
      down.write(d)
      bytes += d.length
      if (!tripped && bytes > threshold) {
        tripped = true
        for (const u of ups) u.pause()
        void trip().finally(() => { for (const u of ups) u.resume() })
      }
    })
    up.on('end', () => down.end())
    up.on('close', () => { ups.delete(up); down.destroy() })
    up.on('error', () => down.destroy())
    down.on('error', () => up.destroy())
    down.on('close', () => { downs.delete(down); up.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    tripped: () => tripped,
    close: () => { for (const s of [...ups, ...downs]) s.destroy(); server.close() }
  }
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: the source server stops in the middle of the copy, a re-run completes`, async t => {
    const pair = await withPair(t, { major, tcp: true })
    const { target, source } = pair
    await diverge(pair, { sourceStop: 'running' })
    const controlBefore = readFileSync(join(target.dataDir, 'global', 'pg_control'))
    // the file list is well below 4 MB; the copy is ~50 MB
    const proxy = await relay(source.port, 4 * 1024 * 1024, async () => await source.stop('fast'))
    t.teardown(() => proxy.close())

    const r = await pgrewind(['-D', target.dataDir, '--source-server', `host=127.0.0.1 port=${proxy.port} user=postgres dbname=postgres`, '-P'])
    t.ok(proxy.tripped(), 'the source was stopped while data was flowing')
    t.equal(r.code, 1, 'the run fails')
    t.match(r.stderr, /need to copy \d+ MB/, 'it was copying')
    t.match(r.stderr, /error: connection to the source server was lost while fetching files: .+\n.*hint: The target's pg_control has not been replaced, so it is not marked as rewound: once the source server is reachable again, run the rewind again from the start\./)
    t.notMatch(r.stderr, /Done!/)
    t.same(readFileSync(join(target.dataDir, 'global', 'pg_control')), controlBefore, 'the target is not marked as rewound')

    await source.start()
    const again = await pgrewind(['-D', target.dataDir, '--source-server', source.connstr(), '-R'])
    t.equal(again.code, 0, again.stderr.slice(-1500))
    t.match(again.stderr, /Done!/)
    t.same(await rejoinAndCompare(target, source, { configured: true }), [], 'the re-run rewound node rejoins with identical contents')
  })
}

t.test('PostgreSQL 18: files removed on the running source after the plan are removed on the target too', async t => {
  const pair = await withPair(t, { major: 18, tcp: true })
  const { target, source } = pair
  await diverge(pair, { sourceStop: 'running' })
  // one copied in place, one into pg_wal (through a temporary name), both also on the target
  const files = ['vanishing.conf', 'pg_wal/vanishing.partial']
  for (const f of files) {
    for (const dir of [source.dataDir, target.dataDir]) {
      writeFileSync(join(dir, f), `${dir}\n`, { mode: 0o600 })
      chownToRunner(join(dir, f))
    }
  }
  // the steps in this process, so that the files can go between plan and apply
  const ports: Ports = { log: silentLogger, openSource: async spec => await openSource(spec) }
  const input = { target: { pgdata: target.dataDir }, source: { connstr: source.connstr() }, options: { noSync: true } }
  const divergence = await findDivergence(input, ports)
  const scan = await scanWal({ ...input, divergence }, ports)
  const plan = await buildPlan({ ...input, divergence, scan }, ports)
  for (const f of files) t.equal(plan.entries.toArray().find(e => e.path === f)?.action, 'copy', `${f} is to be copied`)
  for (const f of files) unlinkSync(join(source.dataDir, f))
  const applied = await applyPlan({ ...input, plan }, ports)
  await writeBackupLabel({ ...input, plan }, ports)
  for (const f of files) t.notOk(existsSync(join(target.dataDir, f)), `${f} is gone from the target`)
  t.notOk(readdirSync(join(target.dataDir, 'pg_wal')).some(f => f.endsWith('.pgrewind.tmp')), 'no temporary file is left')
  t.ok(applied.filesRemoved >= 2)
  ownTree(target.dataDir)
  t.same(await rejoinAndCompare(target, source), [], 'the rewound node rejoins with identical contents')
})

t.test('PostgreSQL 18: a table dropped on the running source after the plan, with changed blocks on the target, is removed on the target', async t => {
  const pair = await withPair(t, { major: 18, tcp: true })
  const { target, source } = pair
  await diverge(pair, { sourceStop: 'running' })
  // c1 in db_common: rows deleted on the target after the fork (its changed blocks)
  const path = String((await source.query("SELECT pg_relation_filepath('c1') AS p", 'db_common'))[0].p)
  const ports: Ports = { log: silentLogger, openSource: async spec => await openSource(spec) }
  const input = { target: { pgdata: target.dataDir }, source: { connstr: source.connstr() }, options: { noSync: true } }
  const divergence = await findDivergence(input, ports)
  const scan = await scanWal({ ...input, divergence }, ports)
  const plan = await buildPlan({ ...input, divergence, scan }, ports)
  const entry = plan.entries.toArray().find(e => e.path === path)
  t.ok(entry?.blocks !== undefined, `${path} has changed blocks to write (${entry?.action ?? 'no entry'})`)
  // gone from the source's disk before the apply reads it (the drop unlinks at the checkpoint)
  await source.query('DROP TABLE c1', 'db_common')
  await source.checkpoint()
  t.notOk(existsSync(join(source.dataDir, path)), 'the file is gone on the source')
  const applied = await applyPlan({ ...input, plan }, ports)
  await writeBackupLabel({ ...input, plan }, ports)
  t.notOk(existsSync(join(target.dataDir, path)), `${path} is gone from the target`)
  t.ok(applied.filesRemoved >= 1)
  ownTree(target.dataDir)
  t.same(await rejoinAndCompare(target, source), [], 'the rewound node rejoins with identical contents')
})
