import { spawn } from 'node:child_process'
import { SUPPORTED_MAJORS } from '../format/versions'
import { childEnv, spawnIdentity, unprivilegedUser } from '../pg/runas'
import { openSource } from '../source/open'
import { rewind } from '../steps/rewind'
import { silentLogger } from '../steps/types'
import { diverge, rejoinAndCompare, setupPair } from './scenario'

/**
 * `pgrewind drill`: a complete failover drill on the embedded PostgreSQL — primary
 * and standby, promotion, writes on both sides, the old primary rewound through the
 * five steps, rejoined as a standby of the new primary, contents compared table by
 * table. Exit 0 only when they match.
 */
export interface DrillOptions {
  major: number
  log: (line: string) => void
  keep?: boolean
}

export async function runDrill (o: DrillOptions): Promise<boolean> {
  const t0 = Date.now()
  const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const s = Date.now()
    const r = await f()
    o.log(`  ${what.padEnd(44)} ${String(Date.now() - s).padStart(6)} ms`)
    return r
  }
  o.log(`failover drill on PostgreSQL ${o.major}`)
  const pair = await step('primary + streaming standby', async () => await setupPair({ major: o.major, tablespace: true }))
  try {
    await step('promote standby, write on both sides, stop', async () => await diverge(pair, { targetStop: 'clean', sourceStop: 'clean' }))
    const res = await rewind({ target: { pgdata: pair.target.dataDir }, source: { pgdata: pair.source.dataDir }, options: {} },
      { log: silentLogger, openSource },
      (name, ms) => o.log(`  ${('rewind: ' + name).padEnd(44)} ${String(Math.round(ms)).padStart(6)} ms`))
    o.log(`    diverged at ${res.divergence.divergeLsn} on timeline ${res.divergence.divergeTli}; ` +
      `${res.scan.records} WAL records, ${res.scan.blocks} changed blocks; ${res.plan.totals.entries} file actions, ` +
      `${Math.round(res.apply.bytesFetched / 1024)} kB copied`)
    const diffs = await step('rejoin as standby, compare every table', async () => await rejoinAndCompare(pair.target, pair.source))
    if (diffs.length > 0) {
      o.log('FAILED: contents differ after the rewind:')
      for (const d of diffs) o.log(`    ${d}`)
      return false
    }
    o.log(`OK: the rewound node rejoined with identical contents (${Date.now() - t0} ms)`)
    return true
  } finally {
    if (o.keep !== true) {
      await pair.target.destroy()
      await pair.source.destroy()
    }
  }
}

/**
 * PostgreSQL refuses to run as root, and so does the rewind: as root, run the whole
 * drill as the unprivileged user instead.
 */
export async function drillCommand (argv: string[], script: string): Promise<number> {
  let major = SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1] as number
  let all = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--pg-version') major = Number(argv[++i])
    else if (a.startsWith('--pg-version=')) major = Number(a.slice('--pg-version='.length))
    else if (a === '--all') all = true
    else throw new Error(`unrecognized drill option "${a}" (use --pg-version N or --all)`)
  }
  if (unprivilegedUser() !== null) {
    const child = spawn(process.execPath, [script, 'drill', ...argv], { cwd: '/', env: childEnv(), stdio: 'inherit', ...spawnIdentity() })
    return await new Promise(resolve => child.on('close', code => resolve(code ?? 1)))
  }
  const majors = all ? [...SUPPORTED_MAJORS] : [major]
  let ok = true
  for (const m of majors) ok = (await runDrill({ major: m, log: l => process.stdout.write(l + '\n') })) && ok
  return ok ? 0 : 1
}
