import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { PgRewindError } from '../errors'
import { withoutSecrets } from '../libpq/secrets'
import { formatDebugMap } from '../rewind/filemap'
import { planRewind } from '../steps/rewind'
import { Plan, Ports, SourceSpec, StepOptions } from '../steps/types'
import { noPositional, OptionSpec, parseArgs, REWIND_OPTIONS, usageError } from './args'
import { asTargetOwner, rewindOptions, sourceOpener } from './common'
import { PROG, stderrLogger } from './output'
import { planSummaryOf } from '../rewind/plansummary'

/**
 * A plan file is exactly the params of the applyPlan JSON-RPC method —
 * {target, source, plan} — so `pgrewind apply` and an RPC client read the same file
 * (schemas/applyPlan.params.json). A password in a source connection string is not
 * written to it: apply takes the password from PGPASSWORD or a password file.
 */
export interface PlanFile { target: { pgdata: string }, source: SourceSpec, plan: Plan }

const mb = (n: number): string => (n / (1024 * 1024)).toFixed(1)

/** What a reviewer needs to see before applying. */
export function planSummary (plan: Plan, file: string): string {
  const s = planSummaryOf(plan)
  const lines: string[] = []
  lines.push(`plan for target "${plan.target.pgdata}" (PostgreSQL ${plan.target.major}, system ${plan.target.systemIdentifier}, timeline ${plan.target.timeline})`)
  lines.push(`source: ${plan.source.description} (timeline ${plan.source.timeline})`)
  if (!plan.rewindNeeded) {
    lines.push('no rewind required')
  } else {
    lines.push(`servers diverged at WAL location ${plan.divergence.lsn} on timeline ${plan.divergence.tli}`)
    lines.push(`rewinding from last common checkpoint at ${plan.divergence.lastCommonCheckpoint ?? '-'}`)
    // what is lost: the full report is the plan file's plan.discards
    lines.push(...s.discards)
  }
  const actions = Object.entries(s.actions).filter(([, n]) => n.entries > 0).map(([a, n]) => `${n.entries} ${a === 'none' ? 'block-only' : a}`)
  lines.push(`${plan.totals.entries} entries: ${actions.length > 0 ? actions.join(', ') : 'nothing to do'}; ${plan.totals.blocks} changed blocks`)
  if (plan.method.kind === 'compare') lines.push(`changed blocks by comparison with the source (${plan.method.why}): ${plan.method.extraBlocks} blocks more than the WAL names`)
  if (plan.method.kind === 'wal+hints') lines.push(`changed blocks from the WAL and the hint rule (${plan.method.why}): ${plan.method.extraBlocks} blocks more than the WAL since the last common checkpoint names`)
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
  const prog = `${PROG} plan`
  const specs: OptionSpec[] = [...REWIND_OPTIONS, { long: 'out', arg: true }]
  const { opts, positional } = parseArgs(argv, specs, prog)
  noPositional(positional, prog)
  const out = opts.get('out')
  if (typeof out !== 'string') throw usageError('no plan file specified (--out)', prog)
  if (opts.has('write-recovery-conf')) throw usageError('--write-recovery-conf is an option of apply', prog)
  const o = rewindOptions(opts, prog)
  // planning never changes the target: no crash recovery (that is a dry run's rule)
  const options: StepOptions = { ...o.options, dryRun: true }
  const source: SourceSpec = o.source.pgdata !== undefined ? { pgdata: resolve(o.source.pgdata) } : o.source
  const target = { pgdata: resolve(o.target.pgdata) }
  // the summary on stdout says what the steps' messages would
  const log = stderrLogger({ ...o, quiet: true })
  asTargetOwner(target.pgdata, log)
  const ports: Ports = { log, openSource: sourceOpener(log) }

  const { plan } = await planRewind({ target, source, options }, ports)
  if (o.debug) for (const line of formatDebugMap(plan.entries)) process.stderr.write(`${PROG}: ${line}\n`)
  const file: PlanFile = {
    target,
    source: source.connstr !== undefined ? { connstr: withoutSecrets(source.connstr) } : source,
    plan
  }
  try {
    writeFileSync(out, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 })
  } catch (e) {
    throw new PgRewindError('USAGE', `could not write plan file "${out}": ${(e as Error).message}`, { hint: 'Give --out a file this user can write.' })
  }
  process.stdout.write(planSummary(plan, out))
  return 0
}
