import { applyPlan } from '../steps/applyPlan'
import { buildPlanOrFile } from '../steps/buildPlan'
import { findDivergence } from '../steps/findDivergence'
import { rewindMethod } from '../steps/rewind'
import { rollback } from '../steps/rollback'
import { scanWal } from '../steps/scanWal'
import {
  BuildPlanInput, FindDivergenceInput, PlanInput, planJson, Ports, RewindMethodInput, RollbackInput, scanJson, ScanWalInput, WriteRecoveryConfInput
} from '../steps/types'
import { verify } from '../steps/verify'
import { writeBackupLabel } from '../steps/writeBackupLabel'
import { writeRecoveryConf } from '../steps/writeRecoveryConf'

/**
 * What each step method runs (in a worker thread), typed by the step's own input:
 * no rewind logic here. lib/rpc/types.ts proves that what each params schema lets
 * through fits the input of its handler.
 */
export const STEP_HANDLERS = {
  findDivergence: async (p: FindDivergenceInput, ports: Ports) => await findDivergence(p, ports),
  scanWal: async (p: ScanWalInput, ports: Ports) => scanJson(await scanWal(p, ports)),
  buildPlan: async (p: BuildPlanInput, ports: Ports) => {
    const r = await buildPlanOrFile(p, ports)
    return 'entries' in r ? planJson(r) : r
  },
  applyPlan: async (p: PlanInput, ports: Ports) => await applyPlan(p, ports),
  writeBackupLabel: async (p: PlanInput, ports: Ports) => await writeBackupLabel(p, ports),
  writeRecoveryConf: async (p: WriteRecoveryConfInput, ports: Ports) => await writeRecoveryConf(p, ports),
  verify: async (p: PlanInput, ports: Ports) => await verify(p, ports),
  rewind: async (p: RewindMethodInput, ports: Ports) => await rewindMethod(p, ports),
  rollback: async (p: RollbackInput, ports: Ports) => await rollback(p, ports)
} as const

export type StepMethod = keyof typeof STEP_HANDLERS

export function isStepMethod (name: string): name is StepMethod {
  return Object.prototype.hasOwnProperty.call(STEP_HANDLERS, name)
}

/** Run a step method on params already validated against its schema. */
export async function runStep (method: StepMethod, params: Record<string, unknown>, ports: Ports): Promise<unknown> {
  // progressToken belongs to the protocol, not to the step
  const { progressToken: _token, ...input } = params
  const handler = STEP_HANDLERS[method] as (p: unknown, ports: Ports) => Promise<unknown>
  return await handler(input, ports)
}
