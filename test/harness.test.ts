import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { compareContents, diverge, rejoinAndCompare, testMajors, withPair } from './harness'
import { Cluster } from './harness'

/** DBState at offset 16 of pg_control (same in 13–18). */
function controlState (dataDir: string): number {
  return readFileSync(join(dataDir, 'global', 'pg_control')).readInt32LE(16)
}

const majors = testMajors()

for (const major of majors) {
  t.test(`harness on PostgreSQL ${major}`, async t => {
    const pair = await withPair(t, { major, tablespace: true })

    t.equal(await pair.target.scalar('SHOW server_version_num').then(v => Math.floor(Number(v) / 10000)), major, 'server is the requested major')
    t.same(await compareContents(pair.target, pair.source), [], 'standby has the same contents before the failover')

    await diverge(pair, { targetStop: 'crash', sourceStop: 'running' })
    t.equal(controlState(pair.target.dataDir), 6, 'a crash stop leaves the target "in production"')

    const tt = await (async () => { await pair.target.start(); return await pair.target.timeline() })()
    const st = await pair.source.timeline()
    t.equal(tt, 1, 'old primary stays on timeline 1')
    t.equal(st, 2, 'promoted standby is on timeline 2')
    const diffs = await compareContents(pair.target, pair.source)
    t.ok(diffs.length > 0, 'the verification detects the divergence (negative test)')
    t.ok(diffs.some(d => d.startsWith('postgres:public.t_common')), 'row differences are reported per table')
    t.ok(diffs.some(d => d.startsWith('databases')), 'database list differences are reported')

    await pair.target.stop()
    t.equal(controlState(pair.target.dataDir), 1, 'a clean stop leaves the target "shut down"')
    await pair.source.stop()
    t.equal(controlState(pair.source.dataDir), 1, 'the promoted source shuts down cleanly')
  })
}

t.test('a standby rejoins and verifies equal, a cascading standby follows', async t => {
  const major = majors[majors.length - 1]
  const p = await Cluster.init({ major, checksums: false })
  t.teardown(async () => { await p.destroy() })
  await p.start()
  await p.query('CREATE TABLE a (id int); INSERT INTO a SELECT generate_series(1, 1000)')
  const s = await p.createStandby('s1')
  const c = await s.createStandby('s2')
  await p.query('INSERT INTO a SELECT generate_series(1, 10)')
  await p.waitForReplay(s)
  await p.waitForReplay(c)
  t.same(await compareContents(p, c), [], 'cascading standby has the same contents')
  t.equal(await c.isInRecovery(), true)
  await c.stop()
  t.same(await rejoinAndCompare(c, p), [], 'rejoin as a standby of the primary verifies equal')
  await c.destroy()
  await s.destroy()
})
