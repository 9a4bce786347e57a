/**
 * The rewind benchmark: pgrewind side by side with PostgreSQL's C pg_rewind (Debian's
 * 15, the oracle installed by .ci/run) on the same diverged PostgreSQL 15 pair.
 *
 *   npm run bench -- [--scale 30] [--tx 20000] [--runs 1] [--verify]
 *
 * A pgbench database of --scale is built on a primary with a streaming standby; the
 * standby is promoted, the old primary runs --tx more pgbench transactions (the
 * divergence), both stop cleanly. Each run rewinds a fresh copy of the pair, alternating
 * the tools, timed by /usr/bin/time (wall clock and peak RSS of the whole process).
 * Figures are ratios measured in one run: the machine is shared and noisy.
 * Targets (DESIGN): wall time at most 0.6x C pg_rewind's, peak RSS under 128 MB.
 */
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { CLI } from '../lib/harness/cli'
import { Cluster } from '../lib/harness/cluster'
import { run } from '../lib/harness/proc'
import { compareContents, rejoinAndCompare } from '../lib/harness/scenario'
import { loadWorkload } from '../lib/harness/workload'

const DEB = '/usr/lib/postgresql/15/bin'

function arg (name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : def
}

interface Measure { wall: number, rssMb: number, stdout: string }

async function timed (cmd: string, args: string[]): Promise<Measure> {
  const r = await run('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], { timeoutMs: 3600_000 })
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr)
  if (r.code !== 0 || m === null) throw new Error(`${cmd} failed (${r.code}): ${r.stderr.slice(-2000)}`)
  return { wall: Number(m[1]), rssMb: Number(m[2]) / 1024, stdout: r.stdout }
}

async function main (): Promise<void> {
  if (!existsSync(join(DEB, 'pg_rewind')) || !existsSync(join(DEB, 'pgbench'))) throw new Error(`Debian's PostgreSQL 15 is needed (${DEB})`)
  const scale = Number(arg('scale', '30'))
  const tx = Number(arg('tx', '20000'))
  const runs = Number(arg('runs', '1'))
  const verify = process.argv.includes('--verify')

  const t0 = Date.now()
  const primary = await Cluster.init({ major: 15, name: 'primary', bin: 'system', conf: { max_wal_size: '4GB', checkpoint_timeout: '30min' } })
  try {
    await primary.start()
    await loadWorkload(primary, scale)
    await primary.checkpoint()
    const standby = await primary.createStandby('standby')
    await primary.waitForReplay(standby)
    await standby.promote()
    await standby.query('CREATE TABLE on_new_primary AS SELECT generate_series(1, 10000) AS x')
    await loadWorkload(primary, 0, { transactions: tx })
    await standby.stop()
    await primary.stop()
    console.log(`pair ready: pgbench scale ${scale}, ${tx} diverging transactions per client (${((Date.now() - t0) / 1000).toFixed(0)} s)`)

    const results: Record<string, Measure[]> = { 'C pg_rewind 15': [], pgrewind: [] }
    for (let i = 0; i < runs; i++) {
      for (const tool of i % 2 === 0 ? ['C pg_rewind 15', 'pgrewind'] : ['pgrewind', 'C pg_rewind 15']) {
        const tgt = primary.clone(`t${i}`)
        const src = standby.clone(`s${i}`)
        // the copies' dirty pages must not be flushed on either tool's clock
        spawnSync('sync')
        try {
          const args = ['-D', tgt.dataDir, '--source-pgdata', src.dataDir]
          const m = tool === 'pgrewind' ? await timed(process.execPath, [CLI, ...args, '--json']) : await timed(join(DEB, 'pg_rewind'), args)
          results[tool].push(m)
          let detail = ''
          if (tool === 'pgrewind') {
            const j = JSON.parse(m.stdout)
            detail = '  (' + Object.entries(j.timings as Record<string, number>).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ') +
              ` ms; ${Math.round(j.plan.totals.fetchBytes / 1048576)} MB fetched, ${j.scan.records} WAL records)`
          }
          console.log(`  run ${i + 1} ${tool.padEnd(16)} ${m.wall.toFixed(2).padStart(7)} s  ${m.rssMb.toFixed(1).padStart(7)} MB peak RSS${detail}`)
          if (verify) {
            const d = await rejoinAndCompare(tgt, src)
            if (d.length > 0) throw new Error(`${tool}: contents differ after the rewind: ${d.join('; ')}`)
            void compareContents
          }
        } finally {
          await tgt.destroy()
          await src.destroy()
        }
      }
    }
    const best = (k: string): Measure => results[k].reduce((a, b) => (b.wall < a.wall ? b : a))
    const c = best('C pg_rewind 15')
    const o = best('pgrewind')
    console.log(`\nwall time ratio pgrewind / C pg_rewind: ${(o.wall / c.wall).toFixed(2)} (target <= 0.60)`)
    console.log(`peak RSS: pgrewind ${o.rssMb.toFixed(1)} MB (target < 128 MB), C pg_rewind ${c.rssMb.toFixed(1)} MB`)
  } finally {
    await primary.destroy()
  }
}

main().catch(e => { console.error(e); process.exitCode = 1 })
