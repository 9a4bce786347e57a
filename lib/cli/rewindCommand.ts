import { PgRewindError } from '../errors'
import { formatDebugMap } from '../steps/filemap'
import { localSourceOpener } from '../steps/findDivergence'
import { rewind } from '../steps/rewind'
import { Ports, StepInput, StepOptions } from '../steps/types'
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

Subcommands: rpc, plan, apply, drill, verify, rollback (see README).
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

/** `pgrewind [pg_rewind options]`: the one-shot rewind, pg_rewind's messages and exit codes. */
export async function rewindCommand (argv: string[]): Promise<number> {
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
  const ports: Ports = {
    log: o.progress || o.debug ? log : { ...log, info: m => { if (ALWAYS_INFO.some(p => m.startsWith(p))) log.info(m) } },
    progress: o.progress ? p => meter.update(p) : undefined,
    openSource: localSourceOpener
  }
  const res = await rewind(o.input, ports, undefined)
  if (res.plan.rewindNeeded) {
    if (o.progress) {
      const mb = (n: number): number => Math.floor(n / (1024 * 1024))
      log.info(`need to copy ${mb(res.plan.totals.fetchBytes)} MB (total source directory size is ${mb(res.plan.totals.sourceBytes)} MB)`)
    }
    // the map without a "debug:" tag, exactly as pg_rewind prints it, so the two diff cleanly
    if (o.debug) for (const line of formatDebugMap(res.plan.entries)) process.stderr.write(`${PROG}: ${line}\n`)
    if (o.progress) meter.update({ phase: 'applyPlan', done: res.apply.bytesFetched, total: res.plan.totals.fetchBytes }, true)
  }
  if (res.plan.rewindNeeded) log.info("Done!")
  if (o.json) {
    process.stdout.write(JSON.stringify({
      rewindNeeded: res.plan.rewindNeeded,
      divergence: res.divergence,
      scan: { ...res.scan, changedBlocks: undefined },
      plan: { digest: res.plan.digest, totals: res.plan.totals, backupLabel: res.plan.backupLabel },
      apply: res.apply,
      finish: res.finish,
      timings: res.timings
    }) + '\n')
  }
  return 0
}

/** Info messages pg_rewind prints even without -P. */
const ALWAYS_INFO = ['servers diverged at', 'rewinding from last common checkpoint', 'source and target cluster are on the same timeline',
  'no rewind required', 'executing "', 'Done!']
