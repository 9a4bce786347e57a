import { connStringHasSecret } from '../libpq/secrets'
import { formatDebugMap } from '../rewind/filemap'
import { rewind } from '../steps/rewind'
import { Plan, Ports, Progress } from '../steps/types'
import { noPositional, parseArgs, REWIND_OPTIONS } from './args'
import { asTargetOwner, rewindOptions, sourceOpener, stopOnSignals } from './common'
import { PROG, ProgressMeter, stderrLogger, writeStdout } from './output'
import { discardSummaryLines } from '../rewind/discardsummary'
import { writeJson } from '../jsonstream'

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
      --no-journal               do not keep an undo journal (faster; the rewind
                                 can then not be rolled back)
      --journal-dir=DIRECTORY    keep the undo journal there (default:
                                 pgrewind_journal/ in the target)
      --discard-journal          remove the journal once the rewind is complete
      --compare-blocks           find changed blocks by comparing every block of
                                 every relation file with the source (automatic
                                 without data checksums and wal_log_hints)
  -V, --version                  output version information, then exit
  -?, --help                     show this help, then exit

Subcommands: plan, apply, verify, rollback, rpc, drill (see README).
`

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
  noPositional(positional, PROG)
  const o = rewindOptions(opts)
  const log = stderrLogger(o)
  asTargetOwner(o.target.pgdata, log)
  const meter = new ProgressMeter()
  let connected = false
  let copied: Progress | null = null
  const ports: Ports = {
    log,
    checkCancelled: stopOnSignals(log),
    progress: o.progress
      ? p => {
        if (p.phase === 'applyPlan') copied = p
        meter.update(p)
      }
      : undefined,
    openSource: sourceOpener(log, s => {
      // each step opens the source anew; pg_rewind says this once
      if (s.kind === 'server' && !connected) {
        connected = true
        log.progress('connected to server')
      }
    })
  }
  const mb = (n: number): number => Math.floor(n / (1024 * 1024))
  let rewinding = false
  const onPlan = (plan: Plan): void => {
    rewinding = plan.rewindNeeded
    if (!plan.rewindNeeded) return
    if (plan.method.kind === 'compare') log.info(`changed blocks found by comparing with the source: ${plan.method.why}; ${plan.method.extraBlocks} blocks more than the WAL names`)
    if (plan.method.kind === 'wal+hints') log.info(`changed blocks found from the WAL and the hint rule: ${plan.method.why}; ${plan.method.extraBlocks} blocks more than the WAL since the last common checkpoint names`)
    // what the rewind throws away: always before a dry run's end, with -P before a real one
    for (const line of discardSummaryLines(plan.discards)) {
      if (o.options.dryRun === true) log.info(line)
      else log.progress(line)
    }
    log.progress(`need to copy ${mb(plan.totals.fetchBytes)} MB (total source directory size is ${mb(plan.totals.sourceBytes)} MB)`)
    // the map without a "debug:" tag, exactly as pg_rewind prints it, so the two diff cleanly
    if (o.debug) for (const line of formatDebugMap(plan.entries)) process.stderr.write(`${PROG}: ${line}\n`)
  }
  // the meter's last line right after the copy, as pg_rewind prints it
  const onStep = (name: string): void => { if (name === 'applyPlan' && rewinding && copied !== null) meter.update(copied, true) }
  // -R also after "no rewind required" (the node must still follow the source), never in a dry run
  const res = await rewind({ target: o.target, source: o.source, options: o.options, writeRecoveryConf: o.writeRecoveryConf && o.options.dryRun !== true },
    ports, { onStep, onPlan, dropChangedBlocks: true })
  if (res.plan.rewindNeeded) log.info('Done!')
  if (o.json) {
    // written in pieces, each before the next is made (writeStdout): the report of a
    // big divergence is tens of MB of JSON, never built as one string nor queued whole
    writeJson({
      rewindNeeded: res.plan.rewindNeeded,
      divergence: res.divergence,
      scan: { ...res.scan, changedBlocks: undefined, discards: undefined },
      plan: { digest: res.plan.digest, totals: res.plan.totals, backupLabel: res.plan.backupLabel, source: res.plan.source.description },
      // the plan's report (names from the source filled in), complete
      discards: res.plan.discards,
      apply: res.apply,
      finish: res.finish,
      recoveryConf: res.recoveryConf,
      timings: res.timings
    }, writeStdout)
    writeStdout('\n')
  }
  return 0
}
