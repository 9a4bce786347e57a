import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { PgRewindError } from '../errors'
import { formatConnString, parseConnString, SECRET_KEYWORDS } from '../pg/conninfo'
import { schemaErrors } from '../rpc/validate'
import { applyPlanParams } from '../rpc/generated/schemas'
import { applyPlan } from '../steps/applyPlan'
import { buildPlan } from '../steps/buildPlan'
import { formatDebugMap } from '../steps/filemap'
import { findDivergence } from '../steps/findDivergence'
import { openSource } from '../source/open'
import { scanWal } from '../steps/scanWal'
import { Plan, Ports, SourceSpec, StepInput, StepOptions } from '../steps/types'
import { writeBackupLabel } from '../steps/writeBackupLabel'
import { writeRecoveryConf } from '../steps/writeRecoveryConf'
import { OptionSpec, parseArgs, REWIND_OPTIONS } from './args'
import { PROG, ProgressMeter, stderrLogger } from './output'
import { optionsFrom } from './rewindCommand'

/**
 * A plan file is exactly the params of the applyPlan JSON-RPC method —
 * {target, source, plan} — so `pgrewind apply` and an RPC client read the same file
 * (schemas/applyPlan.params.json). A password in a source connection string is not
 * written to it: apply takes the password from PGPASSWORD or a password file.
 */
export interface PlanFile { target: { pgdata: string }, source: SourceSpec, plan: Plan }

function usage (msg: string, sub: string): PgRewindError {
  return new PgRewindError('USAGE', msg, { hint: `Try "${PROG} ${sub} --help" for more information.` })
}

function refuseRoot (): void {
  if (typeof process.geteuid === 'function' && process.geteuid() === 0) {
    throw new PgRewindError('RUN_AS_ROOT', 'cannot be executed by "root"', { hint: `You must run ${PROG} as the PostgreSQL superuser.` })
  }
}

function withoutSecrets (connstr: string): string {
  return formatConnString([...parseConnString(connstr)].filter(([k]) => !SECRET_KEYWORDS.has(k)))
}

const mb = (n: number): string => (n / (1024 * 1024)).toFixed(1)

/** What a reviewer needs to see before applying. */
export function planSummary (plan: Plan, file: string): string {
  const lines: string[] = []
  lines.push(`plan for target "${plan.target.pgdata}" (PostgreSQL ${plan.target.major}, system ${plan.target.systemIdentifier}, timeline ${plan.target.timeline})`)
  lines.push(`source: ${plan.source.description} (timeline ${plan.source.timeline})`)
  if (!plan.rewindNeeded) {
    lines.push('no rewind required')
  } else {
    lines.push(`servers diverged at WAL location ${plan.divergence.lsn} on timeline ${plan.divergence.tli}`)
    lines.push(`rewinding from last common checkpoint at ${plan.divergence.lastCommonCheckpoint ?? '-'}`)
  }
  const counts = new Map<string, number>()
  for (const e of plan.entries) counts.set(e.action, (counts.get(e.action) ?? 0) + 1)
  const actions = ['create', 'copy', 'copy_tail', 'truncate', 'remove', 'none'].filter(a => counts.has(a)).map(a => `${counts.get(a)!} ${a === 'none' ? 'block-only' : a}`)
  lines.push(`${plan.totals.entries} entries: ${actions.length > 0 ? actions.join(', ') : 'nothing to do'}; ${plan.totals.blocks} changed blocks`)
  lines.push(`need to copy ${mb(plan.totals.fetchBytes)} MB (total source directory size is ${mb(plan.totals.sourceBytes)} MB)`)
  lines.push(`digest: ${plan.digest}`)
  lines.push(`plan written to ${file}; apply it with: ${PROG} apply ${file} --expect-digest ${plan.digest}`)
  return lines.join('\n') + '\n'
}

export const PLAN_HELP = `${PROG} plan: compute a rewind plan without changing anything.

Usage:
  ${PROG} plan -D DIR (--source-pgdata=DIR | --source-server=CONNSTR) --out FILE [OPTION]...

pg_rewind's options apply (-c, --config-file, --debug, --no-ensure-shutdown,
--pg-bindir); the target is never changed, so an uncleanly stopped target is refused.
The plan file is the params of the applyPlan JSON-RPC method.
`

/** `pgrewind plan … --out FILE`: findDivergence, scanWal, buildPlan; prints a summary. */
export async function planCommand (argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-?') { process.stdout.write(PLAN_HELP); return 0 }
  const specs: OptionSpec[] = [...REWIND_OPTIONS, { long: 'out', arg: true }]
  const { opts, positional } = parseArgs(argv, specs, `${PROG} plan`)
  if (positional.length > 0) throw usage(`too many command-line arguments (first is "${positional[0]}")`, 'plan')
  const out = opts.get('out')
  if (typeof out !== 'string') throw usage('no plan file specified (--out)', 'plan')
  if (opts.has('write-recovery-conf')) throw usage('--write-recovery-conf is an option of apply', 'plan')
  const o = optionsFrom(opts)
  refuseRoot()
  // planning never changes the target: no crash recovery (that is a dry run's rule)
  const options: StepOptions = { ...o.input.options, dryRun: true }
  const source: SourceSpec = o.input.source.pgdata !== undefined ? { pgdata: resolve(o.input.source.pgdata) } : o.input.source
  const input: StepInput = { target: { pgdata: resolve(o.input.target.pgdata) }, source, options }
  const log = stderrLogger(o.debug)
  // the summary on stdout says what the steps' progress messages would
  const ports: Ports = { log: o.debug || o.progress ? log : { ...log, info: () => {} }, openSource: async spec => await openSource(spec, { debug: m => log.debug(m), warn: m => log.warn(m) }) }

  const divergence = await findDivergence(input, ports)
  const scan = await scanWal({ ...input, divergence }, ports)
  const plan = await buildPlan({ ...input, divergence, scan }, ports)
  if (o.debug) for (const line of formatDebugMap(plan.entries)) process.stderr.write(`${PROG}: ${line}\n`)
  const file: PlanFile = {
    target: input.target,
    source: source.connstr !== undefined ? { connstr: withoutSecrets(source.connstr) } : source,
    plan
  }
  writeFileSync(out, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 })
  process.stdout.write(planSummary(plan, out))
  return 0
}

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
  { long: 'json' }
]

function readPlanFile (path: string): PlanFile {
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
  const errors = schemaErrors(applyPlanParams, value)
  if (errors !== null) {
    throw new PgRewindError('INVALID_PARAMS', `plan file "${path}" is not a plan`, {
      detail: errors.slice(0, 5).map(e => `${e.instancePath === '' ? '(top)' : e.instancePath}: ${e.message ?? e.keyword}`).join('; '),
      hint: `Make it with "${PROG} plan --out ${path}".`,
      data: { errors }
    })
  }
  return value as PlanFile
}

/** `pgrewind apply FILE`: applyPlan and writeBackupLabel (and -R) for the plan's target and source. */
export async function applyCommand (argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-?') { process.stdout.write(APPLY_HELP); return 0 }
  const { opts, positional } = parseArgs(argv, APPLY_OPTIONS, `${PROG} apply`)
  if (positional.length !== 1) throw usage(positional.length === 0 ? 'no plan file specified' : `too many command-line arguments (first is "${positional[1]}")`, 'apply')
  const sm = opts.get('sync-method')
  if (sm !== undefined && sm !== 'fsync' && sm !== 'syncfs') throw usage(`unrecognized sync method: ${String(sm)}`, 'apply')
  refuseRoot()
  const file = readPlanFile(positional[0])
  const expect = opts.get('expect-digest')
  if (typeof expect === 'string' && expect !== file.plan.digest) {
    throw new PgRewindError('PLAN_DIGEST', `the plan's digest is ${file.plan.digest}, not the expected ${expect}`, {
      hint: 'This is not the plan that was reviewed; review this one, or apply the reviewed one.'
    })
  }
  let source = file.source
  const ss = opts.get('source-server')
  if (typeof ss === 'string') {
    if (file.source.connstr === undefined) throw usage('the plan\'s source is a data directory, not a server (--source-server)', 'apply')
    source = { connstr: ss }
  }
  if (opts.has('write-recovery-conf') && source.connstr === undefined) {
    throw usage('no source server information (--source-server) specified for --write-recovery-conf', 'apply')
  }
  const input: StepInput = {
    target: file.target,
    source,
    plan: file.plan,
    options: { dryRun: opts.has('dry-run'), noSync: opts.has('no-sync'), syncMethod: sm as StepOptions['syncMethod'] }
  }
  const debug = opts.has('debug')
  const log = stderrLogger(debug)
  const meter = new ProgressMeter()
  const ports: Ports = {
    log: opts.has('progress') || debug ? log : { ...log, info: () => {} },
    progress: opts.has('progress') ? p => meter.update(p) : undefined,
    openSource: async spec => await openSource(spec, { debug: m => log.debug(m), warn: m => log.warn(m) })
  }
  const apply = await applyPlan(input, ports)
  const finish = await writeBackupLabel(input, ports)
  const recoveryConf = opts.has('write-recovery-conf') ? await writeRecoveryConf(input, ports) : null
  if (opts.has('progress')) meter.update({ phase: 'applyPlan', done: apply.bytesFetched, total: file.plan.totals.fetchBytes }, true)
  if (file.plan.rewindNeeded) log.info('Done!')
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
