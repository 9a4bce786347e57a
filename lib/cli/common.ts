import { isAbsolute } from 'node:path'
import { PgRewindError } from '../errors'
import { openSource } from '../source/open'
import { RewindSource } from '../source/types'
import { Logger, SourceSpec, StepOptions, TargetSpec } from '../steps/types'
import { becomeTargetOwner } from './privileges'
import { syncMethodOption, usageError } from './args'
import { PROG } from './output'

/** What the subcommands share: running as the target's owner, the source port, pg_rewind's options. */

/** Run as root: continue as the owner of the target data directory (privileges.ts), and say so with --debug. */
export function asTargetOwner (pgdata: string, log: Logger): void {
  const user = becomeTargetOwner(pgdata)
  if (user !== null) log.debug(`running as user "${user}", the owner of the target data directory`)
}

/** The steps' openSource port, with the libpq side's debug and warning messages in our log. */
export function sourceOpener (log: Logger, onOpen?: (s: RewindSource) => void): (spec: SourceSpec) => Promise<RewindSource> {
  return async spec => {
    const s = await openSource(spec, { debug: m => log.debug(m), warn: m => log.warn(m) })
    onOpen?.(s)
    return s
  }
}

export interface RewindOptions {
  target: TargetSpec
  source: SourceSpec
  options: StepOptions
  progress: boolean
  debug: boolean
  json: boolean
  writeRecoveryConf: boolean
}

/** --no-journal, --journal-dir, --discard-journal */
export function journalOptions (opts: Map<string, string | true>, prog: string): Pick<StepOptions, 'journal' | 'journalDir' | 'discardJournal'> {
  const dir = opts.get('journal-dir')
  if (opts.has('no-journal') && dir !== undefined) throw usageError('--journal-dir and --no-journal cannot be used together', prog)
  if (typeof dir === 'string' && !isAbsolute(dir)) throw usageError(`--journal-dir must be an absolute path: "${dir}"`, prog)
  const o: Pick<StepOptions, 'journal' | 'journalDir' | 'discardJournal'> = {}
  if (opts.has('no-journal')) o.journal = false
  if (typeof dir === 'string') o.journalDir = dir
  if (opts.has('discard-journal')) o.discardJournal = true
  return o
}

/**
 * SIGINT and SIGTERM stop the run at its next safe point (the steps then fail with
 * CANCELLED, and the target can be completed or rolled back); a second one stops it
 * at once. Returns the steps' checkCancelled port.
 */
export function stopOnSignals (log: Logger): () => void {
  let signal: string | null = null
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      signal = sig
      log.warn(`${sig} received: stopping at the next safe point (send it again to stop at once)`)
      process.once(sig, () => process.kill(process.pid, sig))
    })
  }
  return () => {
    if (signal !== null) {
      throw new PgRewindError('CANCELLED', `stopped by ${signal} at a safe point`, {
        detail: 'The target may be half-rewound; it will not start until the rewind is completed or rolled back.',
        hint: 'Run the same command again to complete the rewind, or undo it with pgrewind rollback -D DIR.'
      })
    }
  }
}

/** pg_rewind's options (REWIND_OPTIONS), checked as pg_rewind checks them. */
export function rewindOptions (opts: Map<string, string | true>, prog = PROG): RewindOptions {
  const target = opts.get('target-pgdata')
  const sp = opts.get('source-pgdata')
  const ss = opts.get('source-server')
  if (sp === undefined && ss === undefined) throw usageError('no source specified (--source-pgdata or --source-server)', prog)
  if (sp !== undefined && ss !== undefined) throw usageError('only one of --source-pgdata or --source-server can be specified', prog)
  if (target === undefined) throw usageError('no target data directory specified (--target-pgdata)', prog)
  if (opts.has('write-recovery-conf') && ss === undefined) throw usageError('no source server information (--source-server) specified for --write-recovery-conf', prog)
  const options: StepOptions = {
    dryRun: opts.has('dry-run'),
    noSync: opts.has('no-sync'),
    syncMethod: syncMethodOption(opts, prog),
    restoreTargetWal: opts.has('restore-target-wal'),
    configFile: opts.get('config-file') as string | undefined,
    noEnsureShutdown: opts.has('no-ensure-shutdown'),
    pgBindir: opts.get('pg-bindir') as string | undefined,
    ...(opts.has('compare-blocks') ? { compareBlocks: true } : {}),
    ...journalOptions(opts, prog)
  }
  return {
    target: { pgdata: target as string },
    source: sp !== undefined ? { pgdata: sp as string } : { connstr: ss as string },
    options,
    progress: opts.has('progress'),
    debug: opts.has('debug'),
    json: opts.has('json'),
    writeRecoveryConf: opts.has('write-recovery-conf')
  }
}
