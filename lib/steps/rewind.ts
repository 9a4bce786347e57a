import { applyPlan } from './applyPlan'
import { buildPlan, savePlan } from './buildPlan'
import { findDivergence } from './findDivergence'
import { scanWal } from './scanWal'
import { ApplyResult, Divergence, FindDivergenceInput, FinishResult, JsonPlan, Plan, PlanFileResult, planJson, Ports, RewindInput, RewindMethodInput, Scan, scanJson, ScanResult } from './types'
import { writeBackupLabel } from './writeBackupLabel'
import { RecoveryConfResult, writeRecoveryConf } from './writeRecoveryConf'
import { memMark } from '../memtrace'
import { settleHeap } from '../heap'
import { checkPlanFilePath } from '../rewind/planfile'
import { PgRewindError } from '../errors'
import { ChangedBlocks } from '../rewind/relfiles'

/**
 * The steps in a row, each fed the results of the ones before (exactly as a client
 * passes them on): the one place that sequences them, for the CLI, `pgrewind plan`,
 * the RPC `rewind` method and the drill.
 */

export interface RewindHooks {
  /** a step finished after `ms` milliseconds */
  onStep?: (name: string, ms: number) => void
  /** the plan, before it is applied (pg_rewind prints its totals and file map there) */
  onPlan?: (plan: Plan) => void
  /**
   * The caller has no use for the scan's changed blocks once the plan is built (the
   * plan's entries carry them): the result's scan has none, and the memory they take
   * (19 MB for the 90,000 files of a pair with 30,000 tables a side) is free for the apply.
   */
  dropChangedBlocks?: boolean
}

export interface PlannedRewind {
  divergence: Divergence
  scan: ScanResult
  plan: Plan
  /** milliseconds per step */
  timings: Record<string, number>
}

export interface RewindResult extends PlannedRewind {
  apply: ApplyResult
  finish: FinishResult
  /** -R's result; null when it was not asked for */
  recoveryConf: RecoveryConfResult | null
}

function timer (timings: Record<string, number>, hooks: RewindHooks) {
  return async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    memMark(name)
    const t0 = process.hrtime.bigint()
    const r = await f()
    timings[name] = Number(process.hrtime.bigint() - t0) / 1e6
    hooks.onStep?.(name, timings[name])
    memMark(`after ${name}`)
    // what the step left behind goes before the next one adds its own (lib/heap.ts)
    settleHeap()
    return r
  }
}

/** findDivergence, scanWal, buildPlan: the reviewable plan, nothing changed unless crash recovery had to run. */
export async function planRewind (input: FindDivergenceInput, ports: Ports, hooks: RewindHooks = {}): Promise<PlannedRewind> {
  const timings: Record<string, number> = {}
  const timed = timer(timings, hooks)
  const divergence = await timed('findDivergence', async () => await findDivergence(input, ports))
  const scan = await timed('scanWal', async () => await scanWal({ ...input, divergence }, ports))
  const plan = await timed('buildPlan', async () => await buildPlan({ ...input, divergence, scan }, ports))
  if (hooks.dropChangedBlocks === true) scan.changedBlocks = ChangedBlocks.none()
  hooks.onPlan?.(plan)
  return { divergence, scan, plan, timings }
}

/**
 * The whole rewind: the plan, applyPlan, with `writeRecoveryConf` pg_rewind's -R
 * (also after "no rewind required": the node must still follow the source), then
 * writeBackupLabel. -R comes before the control file and the removal of the marker
 * (unlike pg_rewind, which writes it last): the rewound node can never start
 * without its standby configuration and promote itself.
 */
export async function rewind (input: RewindInput, ports: Ports, hooks: RewindHooks = {}): Promise<RewindResult> {
  const { writeRecoveryConf: wantRecoveryConf, ...stepInput } = input
  const planned = await planRewind(stepInput, ports, hooks)
  const timed = timer(planned.timings, hooks)
  const { plan } = planned
  const apply = await timed('applyPlan', async () => await applyPlan({ ...stepInput, plan }, ports))
  const recoveryConf = wantRecoveryConf === true
    ? await timed('writeRecoveryConf', async () => await writeRecoveryConf(stepInput, ports))
    : null
  const finish = await timed('writeBackupLabel', async () => await writeBackupLabel({ ...stepInput, plan }, ports))
  return { ...planned, apply, finish, recoveryConf }
}

/** The RPC rewind method's result: with `planFile`, `plan` is what buildPlan returns with one. */
export interface RewindMethodResult extends Omit<RewindResult, 'plan' | 'scan'> { plan: JsonPlan | PlanFileResult, scan: Scan }

/**
 * The RPC rewind method. With `planFile` the plan is written to that file before it
 * is applied — there to review, and to verify the target with, whatever the apply
 * does — and the result names it with its digest and summary, as buildPlan's does:
 * a plan of 100,000 entries is tens of MB, too much for one JSON-RPC line. The scan's
 * changed blocks are left out of that result too (the plan's entries carry them).
 */
export async function rewindMethod ({ planFile, ...input }: RewindMethodInput, ports: Ports): Promise<RewindMethodResult> {
  // a path that cannot be used is refused before the work, not after
  if (planFile !== undefined) checkPlanFilePath(planFile, input.target)
  let saved: PlanFileResult | undefined
  const r = await rewind(input, ports, planFile === undefined
    ? {}
    : { dropChangedBlocks: true, onPlan: plan => { saved = savePlan(plan, planFile, input.target, ports) } })
  if (planFile !== undefined && saved === undefined) throw new PgRewindError('INTERNAL', 'rewind: the plan was never written')
  return { ...r, scan: scanJson(r.scan), plan: saved ?? planJson(r.plan) }
}
