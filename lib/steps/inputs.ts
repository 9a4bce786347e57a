import { realpathSync } from 'node:fs'
import { PgRewindError } from '../errors'
import { planDigest } from './buildPlan'
import { checkTargetUnchanged, ClusterInfo, readClusterInfo } from './clusterinfo'
import { checkNotRunning } from './findDivergence'
import { localReader } from './localread'
import { Divergence, Plan, StepInput, StepOptions } from './types'

/**
 * What a step needs from its params: the results of the earlier steps, checked
 * (a plan against its digest and its target), with clear errors when missing.
 */

export function requireDivergence (input: StepInput): Divergence {
  if (input.divergence === undefined) throw new PgRewindError('INVALID_PARAMS', 'the result of findDivergence is required (divergence)')
  return input.divergence
}

// Plans already checked in this process (the one-shot CLI passes the same object on):
// hashing a big plan's canonical JSON again would cost more than the check is worth.
const verified = new WeakMap<Plan, string>()

/**
 * What applyPlan and writeBackupLabel start from: a verified plan, and its target,
 * stopped and still exactly as the plan saw it.
 */
export async function plannedTarget (input: StepInput): Promise<{ plan: Plan, opts: StepOptions, dryRun: boolean, pgdata: string, target: ClusterInfo }> {
  const plan = requirePlan(input)
  const opts = input.options ?? {}
  const pgdata = input.target.pgdata
  checkNotRunning(pgdata, 'target')
  const target = await readClusterInfo(localReader(pgdata, 'target'), 'target')
  checkTargetUnchanged(target, plan.target.controlDigest, 'the plan')
  return { plan, opts, dryRun: opts.dryRun === true, pgdata, target }
}

export function requirePlan (input: StepInput): Plan {
  const plan = input.plan
  if (plan === undefined) throw new PgRewindError('INVALID_PARAMS', 'a plan is required (the result of buildPlan)')
  const digest = verified.get(plan) === plan.digest ? plan.digest : planDigest(plan)
  if (digest !== plan.digest) {
    throw new PgRewindError('PLAN_DIGEST', 'the plan does not match its digest', {
      detail: `Its content hashes to ${digest}, but it says ${plan.digest}.`,
      hint: 'The plan was modified after it was built; build it again.'
    })
  }
  verified.set(plan, digest)
  let same = false
  try { same = realpathSync(plan.target.pgdata) === realpathSync(input.target.pgdata) } catch { same = false }
  if (!same) {
    throw new PgRewindError('PLAN_STALE', `the plan was built for target "${plan.target.pgdata}", not "${input.target.pgdata}"`)
  }
  return plan
}
