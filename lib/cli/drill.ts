import { spawn } from 'node:child_process'
import { PgRewindError } from '../errors'
import { isSupportedMajor, SUPPORTED_MAJORS } from '../format/versions'
import { childEnv, spawnIdentity, unprivilegedUser } from '../harness/runas'
import { openSource } from '../source/open'
import { rewind } from '../steps/rewind'
import { silentLogger } from '../steps/types'
import { destroyPair, diverge, rejoinAndCompare, setupPair } from '../harness/scenario'
import { findBinDir } from '../harness/bindir'
import { cliCommand, projectRoot, runtime } from '../harness/runtime'
import { noPositional, parseArgs, usageError } from './args'
import { PROG } from './output'

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
      { onStep: (name, ms) => o.log(`  ${('rewind: ' + name).padEnd(44)} ${String(Math.round(ms)).padStart(6)} ms`) })
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
    if (o.keep !== true) await destroyPair(pair)
  }
}

export const DRILL_HELP = `${PROG} drill: a complete failover drill on an embedded PostgreSQL.

Usage:
  ${PROG} drill [--pg-version=N | --all]

Options:
      --pg-version=N   the PostgreSQL major to drill (${SUPPORTED_MAJORS.join(', ')}; default ${SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1]})
      --all            every supported major in turn
  -?, --help           show this help, then exit
`

/**
 * PostgreSQL refuses to run as root, and so does the rewind: as root, run the whole
 * drill as the unprivileged user instead — from this checkout, or from a copy staged
 * for that user when it cannot read the checkout (lib/harness/runtime.ts).
 */
export async function drillCommand (argv: string[]): Promise<number> {
  const prog = `${PROG} drill`
  const { opts, positional } = parseArgs(argv, [{ long: 'pg-version', arg: true }, { long: 'all' }, { short: '?', long: 'help' }], prog)
  if (opts.has('help')) {
    process.stdout.write(DRILL_HELP)
    return 0
  }
  noPositional(positional, prog)
  const v = opts.get('pg-version')
  const major = v === undefined ? SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1] as number : Number(v)
  if (!isSupportedMajor(major)) throw usageError(`unsupported PostgreSQL version "${String(v)}" (use one of ${SUPPORTED_MAJORS.join(', ')})`, prog)
  const majors = opts.has('all') ? [...SUPPORTED_MAJORS] : [major]
  const runner = unprivilegedUser()
  if (runner !== null) {
    for (const m of majors) findBinDir(m, 'embedded') // staged for that user, if need be
    const rt = runtime()
    if (rt.staged) {
      process.stdout.write(`running as user "${runner.name}", from a copy staged for it in ${rt.root} ` +
        `("${runner.name}" cannot read ${projectRoot()}; the copy is removed at the end)\n`)
    }
    const c = cliCommand(['drill', ...argv])
    const child = spawn(c.cmd, c.args, { cwd: '/', env: childEnv(), stdio: 'inherit', ...spawnIdentity() })
    return await new Promise(resolve => child.on('close', code => resolve(code ?? 1)))
  }
  let ok = true
  for (const m of majors) {
    try {
      ok = (await runDrill({ major: m, log: l => process.stdout.write(l + '\n') })) && ok
    } catch (e) {
      // a query or server of the drill itself that failed is not a bug of the rewind
      if (e instanceof PgRewindError) throw e
      throw new PgRewindError('CLUSTER_SETUP', `the drill on PostgreSQL ${m} failed: ${(e as Error).message}`)
    }
  }
  return ok ? 0 : 1
}
