import { readFileSync } from 'node:fs'
import { applyPlanParams } from '../contract/schemas'
import { schemaErrors } from '../contract/validate'
import { PgRewindError } from '../errors'
import { applyPlan } from '../steps/applyPlan'
import { PlanInput, Ports } from '../steps/types'
import { writeBackupLabel } from '../steps/writeBackupLabel'
import { writeRecoveryConf } from '../steps/writeRecoveryConf'
import { OptionSpec, parseArgs, syncMethodOption, usageError } from './args'
import { asTargetOwner, journalOptions, sourceOpener, stopOnSignals } from './common'
import { PROG, ProgressMeter, stderrLogger } from './output'
import { PlanFile } from './plan'

export const APPLY_HELP = `${PROG} apply: apply a plan made by "${PROG} plan".

Usage:
  ${PROG} apply FILE [OPTION]...

Options:
      --expect-digest=D          refuse unless the plan's digest is D
  -n, --dry-run                  check everything, change nothing
  -N, --no-sync                  do not wait for changes to be written safely to disk
  -P, --progress                 write progress messages
  -R, --write-recovery-conf      write configuration for replication (source server)
      --sync-method=METHOD       fsync (default) or syncfs
      --source-server=CONNSTR    the source server, when the plan's needs a password
                                 or other settings (must be the same server)
      --debug                    write a lot of debug messages
      --json                     print a machine-readable summary on stdout
      --no-journal               do not keep an undo journal (no rollback)
      --journal-dir=DIRECTORY    keep the undo journal there
      --discard-journal          remove the journal once the rewind is complete
`

const APPLY_OPTIONS: OptionSpec[] = [
  { long: 'expect-digest', arg: true },
  { short: 'n', long: 'dry-run' },
  { short: 'N', long: 'no-sync' },
  { short: 'P', long: 'progress' },
  { short: 'R', long: 'write-recovery-conf' },
  { long: 'sync-method', arg: true },
  { long: 'source-server', arg: true },
  { long: 'debug' },
  { long: 'json' },
  { long: 'no-journal' },
  { long: 'journal-dir', arg: true },
  { long: 'discard-journal' }
]

export function readPlanFile (path: string): PlanFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new PgRewindError('USAGE', `could not read plan file "${path}": ${(e as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new PgRewindError('INVALID_PARAMS', `plan file "${path}" is not JSON: ${(e as Error).message.split('\n')[0].slice(0, 120)}`)
  }
  // what is wrong with the file first, then the alternatives of the oneOf (plan, or planFile + digest)
  const errors = schemaErrors(applyPlanParams, value)?.sort((a, b) => Number(a.schemaPath.startsWith('#/oneOf')) - Number(b.schemaPath.startsWith('#/oneOf'))) ?? null
  if (errors !== null) {
    throw new PgRewindError('INVALID_PARAMS', `plan file "${path}" is not a plan`, {
      detail: errors.slice(0, 5).map(e => `${e.instancePath === '' ? '(top)' : e.instancePath}: ${e.message ?? e.keyword}`).join('; '),
      hint: `Make it with "${PROG} plan --out ${path}".`,
      data: { errors }
    })
  }
  // the params of applyPlan may also name a plan file (planFile + digest): not what pgrewind plan writes
  if ((value as { plan?: unknown }).plan === undefined) {
    throw new PgRewindError('INVALID_PARAMS', `plan file "${path}" does not hold a plan`, {
      detail: 'It names a plan file (planFile) instead; apply that with the applyPlan JSON-RPC method.',
      hint: `Make a plan file with "${PROG} plan --out ${path}".`
    })
  }
  return value as PlanFile
}

/** `pgrewind apply FILE`: applyPlan and writeBackupLabel (and -R) for the plan's target and source. */
export async function applyCommand (argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-?') { process.stdout.write(APPLY_HELP); return 0 }
  const prog = `${PROG} apply`
  const { opts, positional } = parseArgs(argv, APPLY_OPTIONS, prog)
  if (positional.length !== 1) throw usageError(positional.length === 0 ? 'no plan file specified' : `too many command-line arguments (first is "${positional[1]}")`, prog)
  const syncMethod = syncMethodOption(opts, prog)
  // read as the caller (a plan kept where only root can read it), then as the target's owner
  const file = readPlanFile(positional[0])
  asTargetOwner(file.target.pgdata, stderrLogger({ debug: opts.has('debug') }))
  const expect = opts.get('expect-digest')
  if (typeof expect === 'string' && expect !== file.plan.digest) {
    throw new PgRewindError('PLAN_DIGEST', `the plan's digest is ${file.plan.digest}, not the expected ${expect}`, {
      hint: 'This is not the plan that was reviewed; review this one, or apply the reviewed one.'
    })
  }
  let source = file.source
  const ss = opts.get('source-server')
  if (typeof ss === 'string') {
    if (file.source.connstr === undefined) throw usageError('the plan\'s source is a data directory, not a server (--source-server)', prog)
    source = { connstr: ss }
  }
  if (opts.has('write-recovery-conf') && source.connstr === undefined) {
    throw usageError('no source server information (--source-server) specified for --write-recovery-conf', prog)
  }
  const input: PlanInput = {
    target: file.target,
    source,
    plan: file.plan,
    options: { dryRun: opts.has('dry-run'), noSync: opts.has('no-sync'), syncMethod, ...journalOptions(opts, prog) }
  }
  const debug = opts.has('debug')
  const progress = opts.has('progress')
  const log = stderrLogger({ debug, progress, quiet: true })
  const meter = new ProgressMeter()
  const ports: Ports = { log, checkCancelled: stopOnSignals(log), progress: progress ? p => meter.update(p) : undefined, openSource: sourceOpener(log) }
  const apply = await applyPlan(input, ports)
  // -R before the control file and the marker's removal, as in a one-shot rewind
  const recoveryConf = opts.has('write-recovery-conf') ? await writeRecoveryConf(input, ports) : null
  const finish = await writeBackupLabel(input, ports)
  if (progress) meter.update({ phase: 'applyPlan', done: apply.bytesFetched, total: file.plan.totals.fetchBytes }, true)
  if (file.plan.rewindNeeded) stderrLogger({}).info('Done!')
  if (opts.has('json')) {
    process.stdout.write(JSON.stringify({ digest: file.plan.digest, apply, finish, recoveryConf }) + '\n')
  } else {
    process.stdout.write(`applied plan ${file.plan.digest}${apply.dryRun ? ' (dry run: nothing changed)' : ''}: ` +
      `${apply.entriesApplied} entries, ${Math.round(apply.bytesFetched / 1024)} kB copied` +
      `${finish.backupLabel !== null ? '; backup_label and pg_control written' : ''}${finish.synced ? '; synced to disk' : ''}` +
      `${recoveryConf?.changed === true ? '; recovery configuration written' : ''}\n`)
  }
  return 0
}
