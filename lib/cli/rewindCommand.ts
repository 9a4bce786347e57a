import { PgRewindError } from '../errors'
import { formatDebugMap } from '../steps/filemap'
import { connStringHasSecret } from '../pg/conninfo'
import { openSource } from '../source/open'
import { rewind } from '../steps/rewind'
import { Plan, Ports, Progress, StepInput, StepOptions } from '../steps/types'
import { RecoveryConfResult, writeRecoveryConf } from '../steps/writeRecoveryConf'
import { parseArgs, REWIND_OPTIONS } from './args'
import { PROG, ProgressMeter, stderrLogger } from './output'

export const REWIND_HELP = `${PROG} resynchronizes a PostgreSQL cluster with another copy of the cluster.

Usage:
  ${PROG} [OPTION]...

Options:
  -c, --restore-target-wal       use restore_command in target configuration to
                                 retrieve WAL files from archives
  -D, --target-pgdata=DIRECTORY  existing data directory to modify
      --source-pgdata=DIRECTORY  source data directory to synchronize with
      --source-server=CONNSTR    source server to synchronize with
  -n, --dry-run                  stop before modifying anything
  -N, --no-sync                  do not wait for changes to be written
                                 safely to disk
  -P, --progress                 write progress messages
  -R, --write-recovery-conf      write configuration for replication
                                 (requires --source-server)
      --config-file=FILENAME     use specified main server configuration
                                 file when running target cluster
      --debug                    write a lot of debug messages
      --no-ensure-shutdown       do not automatically fix unclean shutdown
      --sync-method=METHOD       set method for syncing files to disk
      --json                     print a machine-readable summary on stdout
      --pg-bindir=DIRECTORY      where the target's postgres binary is
  -V, --version                  output version information, then exit
  -?, --help                     show this help, then exit

Subcommands: rpc, plan, apply, drill (see README).
`

export function optionsFrom (opts: Map<string, string | true>): { input: StepInput, progress: boolean, debug: boolean, json: boolean, writeRecoveryConf: boolean } {
  const target = opts.get('target-pgdata')
  const sp = opts.get('source-pgdata')
  const ss = opts.get('source-server')
  const usage = (m: string): PgRewindError => new PgRewindError('USAGE', m, { hint: `Try "${PROG} --help" for more information.` })
  if (sp === undefined && ss === undefined) throw usage('no source specified (--source-pgdata or --source-server)')
  if (sp !== undefined && ss !== undefined) throw usage('only one of --source-pgdata or --source-server can be specified')
  if (target === undefined) throw usage('no target data directory specified (--target-pgdata)')
  if (opts.has('write-recovery-conf') && ss === undefined) throw usage('no source server information (--source-server) specified for --write-recovery-conf')
  const sm = opts.get('sync-method')
  if (sm !== undefined && sm !== 'fsync' && sm !== 'syncfs') throw usage(`unrecognized sync method: ${String(sm)}`)
  const options: StepOptions = {
    dryRun: opts.has('dry-run'),
    noSync: opts.has('no-sync'),
    syncMethod: sm as StepOptions['syncMethod'],
    restoreTargetWal: opts.has('restore-target-wal'),
    configFile: opts.get('config-file') as string | undefined,
    noEnsureShutdown: opts.has('no-ensure-shutdown'),
    pgBindir: opts.get('pg-bindir') as string | undefined
  }
  const source = sp !== undefined ? { pgdata: sp as string } : { connstr: ss as string }
  return {
    input: { target: { pgdata: target as string }, source, options },
    progress: opts.has('progress'),
    debug: opts.has('debug'),
    json: opts.has('json'),
    writeRecoveryConf: opts.has('write-recovery-conf')
  }
}

/**
 * A password in --source-server stays readable in our own command line (ps,
 * /proc/<pid>/cmdline) for as long as we run: replace the visible command line
 * with one where the connection string is masked. (Better still: PGPASSWORD or a
 * password file, which never appear in any argv.)
 */
function hideSecretsFromCommandLine (argv: string[]): void {
  const masked = argv.map((a, i) => {
    if (a.startsWith('--source-server=')) return connStringHasSecret(a.slice(16)) ? '--source-server=<hidden>' : a
    if (i > 0 && argv[i - 1] === '--source-server') return connStringHasSecret(a) ? '<hidden>' : a
    return a
  })
  if (masked.some((a, i) => a !== argv[i])) process.title = [PROG, ...masked].join(' ')
}

/** `pgrewind [pg_rewind options]`: the one-shot rewind, pg_rewind's messages and exit codes. */
export async function rewindCommand (argv: string[]): Promise<number> {
  hideSecretsFromCommandLine(argv)
  const { opts, positional } = parseArgs(argv, REWIND_OPTIONS, PROG)
  if (positional.length > 0) {
    throw new PgRewindError('USAGE', `too many command-line arguments (first is "${positional[0]}")`, { hint: `Try "${PROG} --help" for more information.` })
  }
  const o = optionsFrom(opts)
  if (typeof process.geteuid === 'function' && process.geteuid() === 0) {
    throw new PgRewindError('RUN_AS_ROOT', 'cannot be executed by "root"', { hint: `You must run ${PROG} as the PostgreSQL superuser.` })
  }
  const log = stderrLogger(o.debug)
  const meter = new ProgressMeter()
  let connected = false
  let copied: Progress | null = null
  const ports: Ports = {
    log: o.progress || o.debug ? log : { ...log, info: m => { if (ALWAYS_INFO.some(p => m.startsWith(p))) log.info(m) } },
    progress: o.progress
      ? p => {
        if (p.phase === 'applyPlan') copied = p
        meter.update(p)
      }
      : undefined,
    openSource: async spec => {
      const s = await openSource(spec, { debug: m => log.debug(m), warn: m => log.warn(m) })
      // each step opens the source anew; pg_rewind says this once
      if (s.kind === 'server' && !connected) {
        connected = true
        ports.log.info('connected to server')
      }
      return s
    }
  }
  const mb = (n: number): number => Math.floor(n / (1024 * 1024))
  let rewinding = false
  const onPlan = (plan: Plan): void => {
    rewinding = plan.rewindNeeded
    if (!plan.rewindNeeded) return
    if (o.progress) log.info(`need to copy ${mb(plan.totals.fetchBytes)} MB (total source directory size is ${mb(plan.totals.sourceBytes)} MB)`)
    // the map without a "debug:" tag, exactly as pg_rewind prints it, so the two diff cleanly
    if (o.debug) for (const line of formatDebugMap(plan.entries)) process.stderr.write(`${PROG}: ${line}\n`)
  }
  // the meter's last line right after the copy, as pg_rewind prints it
  const onStep = (name: string): void => { if (name === 'applyPlan' && rewinding && copied !== null) meter.update(copied, true) }
  const res = await rewind(o.input, ports, onStep, onPlan)
  // -R also after "no rewind required" (the node must still follow the source), never in a dry run
  let recoveryConf: RecoveryConfResult | null = null
  if (o.writeRecoveryConf && o.input.options?.dryRun !== true) recoveryConf = await writeRecoveryConf(o.input, ports)
  if (res.plan.rewindNeeded) log.info('Done!')
  if (o.json) {
    process.stdout.write(JSON.stringify({
      rewindNeeded: res.plan.rewindNeeded,
      divergence: res.divergence,
      scan: { ...res.scan, changedBlocks: undefined },
      plan: { digest: res.plan.digest, totals: res.plan.totals, backupLabel: res.plan.backupLabel, source: res.plan.source.description },
      apply: res.apply,
      finish: res.finish,
      recoveryConf,
      timings: res.timings
    }) + '\n')
  }
  return 0
}

/** Info messages pg_rewind prints even without -P. */
const ALWAYS_INFO = ['servers diverged at', 'rewinding from last common checkpoint', 'source and target cluster are on the same timeline',
  'no rewind required', 'executing "', 'Done!']
