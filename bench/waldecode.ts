/**
 * WAL decoding speed: our reader (every page header validated, every CRC checked, every
 * record fully decoded) against pg_waldump on the same segments.
 *
 *   npx ts-node --transpile-only bench/waldecode.ts [--mb 300] [--scale 20] [--major 15] [--keep] [--wal DIR --tli N]
 *
 * Generates WAL with pgbench (Debian's /usr/lib/postgresql/15/bin/pgbench) on a fresh
 * PG15 cluster (Debian server when installed, else embedded) until at least --mb MiB of
 * WAL exist, or uses an existing pg_wal directory (--wal). Prints MB/s side by side:
 * ours; pg_waldump -q (decode, no output); pg_waldump > /dev/null (decode + describe);
 * pg_waldump --stats. Each is run 3 times after a warm-up read; the best time counts.
 * A script, not a timed test.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { formatLsn, parseWalFileName, segNoToLsn } from '../lib/format/lsn'
import { versionInfo } from '../lib/format/versions'
import { WalReader } from '../lib/wal/reader'
import { SegmentFiles } from '../lib/wal/segmentfiles'
import { Cluster } from '../lib/harness/cluster'
import { runOk } from '../lib/harness/proc'

const DEB = '/usr/lib/postgresql/15/bin'

function arg (name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : def
}

function walBytes (dir: string): number {
  return readdirSync(dir).filter(f => /^[0-9A-F]{24}$/.test(f)).reduce((a, f) => a + statSync(join(dir, f)).size, 0)
}

async function generate (major: number, mb: number, scale: number): Promise<Cluster> {
  const system = major === 15 && existsSync(join(DEB, 'postgres'))
  const c = await Cluster.init({
    major,
    name: 'bench',
    bin: system ? 'system' : 'embedded',
    conf: { wal_keep_size: `${mb * 4}MB`, max_wal_size: `${mb * 4}MB`, min_wal_size: '64MB', checkpoint_timeout: '1h', shared_buffers: '128MB' }
  })
  await c.start()
  const conn = ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres']
  const t0 = Date.now()
  await runOk(join(DEB, 'pgbench'), [...conn, '-i', '-q', '-s', String(scale), 'postgres'])
  while (walBytes(join(c.dataDir, 'pg_wal')) < mb * 1024 * 1024) {
    await runOk(join(DEB, 'pgbench'), [...conn, '-n', '-c', '2', '-t', '5000', 'postgres'])
    await c.query('CHECKPOINT') // new full-page images after each round
  }
  await c.stop()
  console.log(`generated ${(walBytes(join(c.dataDir, 'pg_wal')) / 1048576).toFixed(0)} MiB of WAL in ${((Date.now() - t0) / 1000).toFixed(1)} s (PG${major}, ${system ? 'Debian' : 'embedded'} server, pgbench -s ${scale})`)
  return c
}

function best (n: number, f: () => void): number {
  let b = Number.POSITIVE_INFINITY
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    f()
    const dt = Number(process.hrtime.bigint() - t0) / 1e9
    if (dt < b) b = dt
  }
  return b
}

async function main (): Promise<void> {
  const major = Number(arg('major', '15'))
  const mb = Number(arg('mb', '300'))
  const scale = Number(arg('scale', '20'))
  let walDir = arg('wal')
  const tli = Number(arg('tli', '1'))
  let cluster: Cluster | null = null
  if (walDir === undefined) {
    cluster = await generate(major, mb, scale)
    walDir = join(cluster.dataDir, 'pg_wal')
  }
  try {
    const control = cluster !== null ? readFileSync(join(cluster.dataDir, 'global', 'pg_control')) : null
    const segSize = control !== null ? control.readUInt32LE(228) : 16 * 1024 * 1024
    const sysid = control !== null ? control.readBigUInt64LE(0) : null
    const segs = readdirSync(walDir).filter(f => /^[0-9A-F]{24}$/.test(f) && f.startsWith(tli.toString(16).toUpperCase().padStart(8, '0'))).sort()
    const first = parseWalFileName(segs[0], segSize)
    if (first === null) throw new Error('no WAL segments')
    for (const s of segs) readFileSync(join(walDir, s)) // warm the page cache
    const vi = versionInfo(major)

    // ours: full scan to the end of WAL
    let start = 0n
    let end = 0n
    let records = 0
    const ours = best(3, () => {
      const files = new SegmentFiles(walDir as string, segSize)
      const r = new WalReader(files, { version: vi, segSize, sysid, tli })
      start = r.findNextRecord(segNoToLsn(first.segNo, segSize))
      let n = 0
      const res = r.scanToEnd(start, () => { n++ })
      if (!res.clean) throw new Error(`unexpected end of WAL: ${res.stop.message}`)
      end = res.end
      records = n
      files.close()
    })
    const mib = Number(end - start) / 1048576
    const dump = (extra: string[], out: 'ignore' | 'pipe'): number => best(3, () => {
      const r = spawnSync(join(DEB, 'pg_waldump'), ['-p', walDir as string, '-t', String(tli), '-s', formatLsn(start), '-e', formatLsn(end), ...extra],
        { stdio: ['ignore', out === 'ignore' ? 'ignore' : 'pipe', 'pipe'], maxBuffer: 1 << 30 })
      if (r.status !== 0) throw new Error(`pg_waldump failed: ${String(r.stderr)}`)
    })
    const rows: Array<[string, number]> = [['pgrewind WalReader (CRC + full decode)', ours]]
    if (existsSync(join(DEB, 'pg_waldump')) && major === 15) {
      rows.push(['pg_waldump -q (decode, no output)', dump(['-q'], 'ignore')])
      rows.push(['pg_waldump > /dev/null (decode + describe)', dump([], 'ignore')])
      rows.push(['pg_waldump --stats', dump(['--stats'], 'ignore')])
    } else {
      console.log('(pg_waldump comparison needs PG15 WAL and Debian\'s /usr/lib/postgresql/15/bin/pg_waldump)')
    }
    console.log(`\nWAL ${formatLsn(start)} .. ${formatLsn(end)}: ${mib.toFixed(1)} MiB, ${records} records, ${segs.length} segment files`)
    for (const [name, sec] of rows) {
      console.log(`${name.padEnd(44)} ${sec.toFixed(3).padStart(7)} s  ${(mib / sec).toFixed(0).padStart(6)} MiB/s  ${(records / sec / 1e6).toFixed(2)} M records/s`)
    }
  } finally {
    if (cluster !== null && !process.argv.includes('--keep')) await cluster.destroy()
    else if (cluster !== null) console.log(`kept ${cluster.dataDir}`)
  }
}

main().catch(e => { console.error(e); process.exit(1) })
