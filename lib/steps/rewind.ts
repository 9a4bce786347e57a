import { applyPlan } from './applyPlan'
import { buildPlan } from './buildPlan'
import { findDivergence } from './findDivergence'
import { scanWal } from './scanWal'
import { ApplyResult, Divergence, FinishResult, Plan, Ports, Scan, StepInput } from './types'
import { writeBackupLabel } from './writeBackupLabel'

export interface RewindResult {
  divergence: Divergence
  scan: Scan
  plan: Plan
  apply: ApplyResult
  finish: FinishResult
  timings: Record<string, number>
}

/** The five steps in a row, each fed the results of the ones before (as a client would). */
export async function rewind (input: StepInput, ports: Ports, onStep?: (name: string, ms: number) => void,
  /** called with the plan before it is applied (pg_rewind prints its totals and file map there) */
  onPlan?: (plan: Plan) => void): Promise<RewindResult> {
  const timings: Record<string, number> = {}
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint()
    const r = await f()
    timings[name] = Number(process.hrtime.bigint() - t0) / 1e6
    onStep?.(name, timings[name])
    return r
  }
  const divergence = await timed('findDivergence', async () => await findDivergence(input, ports))
  const scan = await timed('scanWal', async () => await scanWal({ ...input, divergence }, ports))
  const plan = await timed('buildPlan', async () => await buildPlan({ ...input, divergence, scan }, ports))
  onPlan?.(plan)
  const apply = await timed('applyPlan', async () => await applyPlan({ ...input, plan }, ports))
  const finish = await timed('writeBackupLabel', async () => await writeBackupLabel({ ...input, plan }, ports))
  return { divergence, scan, plan, apply, finish, timings }
}
