import { resolve } from 'node:path'
import { PgRewindError } from '../errors'
import { Journal } from '../target/journal'
import { Plan, Ports } from '../steps/types'
import { verify } from '../steps/verify'
import { readPlanFile } from './apply'
import { noPositional, parseArgs, usageError } from './args'
import { asTargetOwner, sourceOpener } from './common'
import { PROG, stderrLogger } from './output'

export const VERIFY_HELP = `${PROG} verify: check a finished rewind against the source.

Usage:
  ${PROG} verify -D DIR (--source-pgdata=DIR | --source-server=CONNSTR) [--plan FILE] [--json]

Compares every range the rewind copied (whole files, tails, changed blocks) with
the source, checks that removed paths are gone and created ones are there, that
pg_control and backup_label are the rewind's, and, where the cluster has data
checksums, the checksum of every relation page read. The plan is the journal's
(pgrewind_journal/ in the target) unless --plan names a plan file. A stopped local
source must match exactly; a running source server keeps writing, so relation
files it changed since the rewind may differ (WAL replay after the rewind makes
them equal) and are reported as such. Exit status 0: everything matches.

Options:
  -D, --target-pgdata=DIRECTORY  the rewound data directory (not started since)
      --source-pgdata=DIRECTORY  the source data directory
      --source-server=CONNSTR    the source server
      --plan=FILE                the plan file of "${PROG} plan" (default: the journal's)
      --json                     print the result as JSON on stdout
      --debug                    write a lot of debug messages
  -?, --help                     show this help, then exit
`

export async function verifyCommand (argv: string[]): Promise<number> {
  const prog = `${PROG} verify`
  const { opts, positional } = parseArgs(argv, [
    { short: 'D', long: 'target-pgdata', arg: true }, { long: 'source-pgdata', arg: true }, { long: 'source-server', arg: true },
    { long: 'plan', arg: true }, { long: 'json' }, { long: 'debug' }, { short: '?', long: 'help' }
  ], prog)
  if (opts.has('help')) { process.stdout.write(VERIFY_HELP); return 0 }
  noPositional(positional, prog)
  const target = opts.get('target-pgdata')
  const sp = opts.get('source-pgdata')
  const ss = opts.get('source-server')
  if (typeof target !== 'string') throw usageError('no target data directory specified (--target-pgdata)', prog)
  if (sp === undefined && ss === undefined) throw usageError('no source specified (--source-pgdata or --source-server)', prog)
  if (sp !== undefined && ss !== undefined) throw usageError('only one of --source-pgdata or --source-server can be specified', prog)
  const pgdata = resolve(target)
  asTargetOwner(pgdata, stderrLogger({ debug: opts.has('debug') }))
  let plan: Plan | null
  const planFile = opts.get('plan')
  if (typeof planFile === 'string') plan = readPlanFile(planFile).plan
  else plan = Journal.open(pgdata, undefined, { statesOnly: true })?.readPlan<Plan>() ?? null
  if (plan === null) {
    throw new PgRewindError('USAGE', `no plan to verify "${pgdata}" against`, {
      hint: 'The rewind\'s journal is gone (discarded, or the rewind ran with --no-journal): give the plan file with --plan.'
    })
  }
  const log = stderrLogger({ debug: opts.has('debug'), progress: true })
  const ports: Ports = { log, openSource: sourceOpener(log) }
  const source = typeof sp === 'string' ? { pgdata: resolve(sp) } : { connstr: ss as string }
  if (source.connstr !== undefined) log.info('the source is a running server: what it changed since the rewind may differ (WAL replay after the rewind makes it equal)')
  const r = await verify({ target: { pgdata }, source, plan }, ports)
  if (opts.has('json')) process.stdout.write(JSON.stringify(r) + '\n')
  else for (const m of r.mismatches) process.stdout.write(`${m.path}: ${m.problem}\n`)
  if (r.mismatchesOmitted > 0 && !opts.has('json')) process.stdout.write(`… and ${r.mismatchesOmitted} more\n`)
  return r.ok ? 0 : 1
}
