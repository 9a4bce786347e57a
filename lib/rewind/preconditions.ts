import { realpathSync } from 'node:fs'
import { localReader, runningPostmasterPid, Side } from '../datadir/files'
import { PgRewindError } from '../errors'
import { RewindSource } from '../source/types'
import { JsonPlan, Plan, PlanRef, Ports, SourceSpec, StepOptions, TargetSpec } from '../steps/types'
import { checkTargetUnchanged, ClusterInfo, readClusterInfo } from './clusterinfo'
import { checkedDigest, checkedPlanOf } from './plandigest'
import { PlanEntries } from './planentries'
import { readPlanFile } from './planfile'

/**
 * What every step checks before it reads or changes anything: no server running on
 * a local data directory, a plan that is the one that was built and is still for
 * this target.
 */

export function checkNotRunning (pgdata: string, side: Side): void {
  const pid = runningPostmasterPid(pgdata)
  if (pid !== null) {
    throw new PgRewindError(side === 'target' ? 'TARGET_RUNNING' : 'SOURCE_RUNNING',
      side === 'target' ? 'target server must be shut down cleanly' : 'source data directory must be shut down cleanly', {
        detail: `A server (PID ${pid}) is running on "${pgdata}".`,
        hint: side === 'target' ? 'Stop the target server before rewinding it.' : 'Stop the source server, or use --source-server to read from it while it runs.'
      })
  }
}

/** The source, once a local one is known to be stopped. */
export async function openSourceChecked (source: SourceSpec, ports: Ports): Promise<RewindSource> {
  if (source.pgdata !== undefined) checkNotRunning(source.pgdata, 'source')
  return await ports.openSource(source)
}

/** The plan is the one that was built (its digest) for this target (its path). */
export function checkPlan<P extends Plan | JsonPlan> (plan: P, target: TargetSpec): P {
  const digest = checkedDigest(plan)
  if (digest !== plan.digest) {
    throw new PgRewindError('PLAN_DIGEST', 'the plan does not match its digest', {
      detail: `Its content hashes to ${digest}, but it says ${plan.digest}.`,
      hint: 'The plan was modified after it was built; build it again.'
    })
  }
  let same = false
  try { same = realpathSync(plan.target.pgdata) === realpathSync(target.pgdata) } catch { same = false }
  if (!same) {
    throw new PgRewindError('PLAN_STALE', `the plan was built for target "${plan.target.pgdata}", not "${target.pgdata}"`)
  }
  return plan
}

/** The plan a step was given, whole or as planFile + digest, checked (checkPlan). */
export function planOf (input: { target: TargetSpec } & PlanRef): Plan {
  const plan = checkPlan(input.plan ?? readPlanFile(input.planFile, input.digest, input.target), input.target)
  // a plan from JSON: its entries into columns, the digest just checked kept
  return plan.entries instanceof PlanEntries ? plan as Plan : checkedPlanOf(plan as JsonPlan)
}

/**
 * What applyPlan and writeBackupLabel start from: a checked plan (planOf), and its
 * target, stopped and still exactly as the plan saw it.
 */
export async function plannedTarget (input: { target: TargetSpec, options?: StepOptions }, plan: Plan): Promise<{ opts: StepOptions, dryRun: boolean, pgdata: string, target: ClusterInfo }> {
  const opts = input.options ?? {}
  const pgdata = input.target.pgdata
  checkNotRunning(pgdata, 'target')
  const target = await readClusterInfo(localReader(pgdata, 'target'), 'target')
  checkTargetUnchanged(target, plan.target.controlDigest, 'the plan')
  return { opts, dryRun: opts.dryRun === true, pgdata, target }
}
