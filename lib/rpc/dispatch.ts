import { applyPlan } from '../steps/applyPlan'
import { buildPlan } from '../steps/buildPlan'
import { findDivergence } from '../steps/findDivergence'
import { inspect } from '../steps/inspect'
import { rewind } from '../steps/rewind'
import { scanWal } from '../steps/scanWal'
import { Ports, StepInput } from '../steps/types'
import { verify } from '../steps/verify'
import { writeBackupLabel } from '../steps/writeBackupLabel'
import { writeRecoveryConf } from '../steps/writeRecoveryConf'
import { MethodName } from './methods'

/** Params as the schemas allow them (validated before they get here). */
export interface MethodParams extends Partial<StepInput> {
  pgdata?: string
  progressToken?: string | number
  writeRecoveryConf?: boolean
}

/** The step's own input: the adapter's extras removed. */
function stepInput (p: MethodParams): StepInput {
  const { progressToken: _t, writeRecoveryConf: _w, pgdata: _d, ...rest } = p
  return rest as StepInput
}

/**
 * Run one method's step. No rewind logic here: every method is a step function of
 * lib/steps, or (rewind) the steps in a row.
 */
export async function runMethod (method: Exclude<MethodName, 'rpc.discover'>, params: MethodParams, ports: Ports): Promise<unknown> {
  const input = stepInput(params)
  switch (method) {
    case 'findDivergence': return await findDivergence(input, ports)
    case 'scanWal': return await scanWal(input, ports)
    case 'buildPlan': return await buildPlan(input, ports)
    case 'applyPlan': return await applyPlan(input, ports)
    case 'writeBackupLabel': return await writeBackupLabel(input, ports)
    case 'writeRecoveryConf': return await writeRecoveryConf(input, ports)
    case 'verify': return await verify(input, ports)
    case 'inspect': return await inspect(params.pgdata ?? '')
    case 'rewind': {
      const r = await rewind(input, ports)
      let recoveryConf = null
      if (params.writeRecoveryConf === true) {
        const t0 = process.hrtime.bigint()
        recoveryConf = await writeRecoveryConf(input, ports)
        r.timings.writeRecoveryConf = Number(process.hrtime.bigint() - t0) / 1e6
      }
      return { ...r, recoveryConf }
    }
  }
}
