import * as S from '../contract/schemas'
import { StepMethod } from './handlers'

/**
 * The methods `pgrewind rpc` serves: their schemas (schemas/<name>.params.json and
 * .result.json) and their policy. A step method runs in a worker thread (it can be
 * cancelled while busy, and the server keeps answering meanwhile); one that changes
 * a target is refused to root and queued behind the others that do. `inspect` and
 * `rpc.discover` are quick reads answered on the spot.
 */

interface StepPolicy {
  params: { readonly $id: string }
  result: { readonly $id: string }
  /** changes the target (or may) with these params */
  changesTarget: (params: { options?: { dryRun?: boolean, noEnsureShutdown?: boolean } }) => boolean
}

const always = (): boolean => true
const never = (): boolean => false

export const STEP_METHODS: Record<StepMethod, StepPolicy> = {
  // crash recovery of an unclean target, unless told not to
  findDivergence: { params: S.findDivergenceParams, result: S.findDivergenceResult, changesTarget: p => p.options?.dryRun !== true && p.options?.noEnsureShutdown !== true },
  scanWal: { params: S.scanWalParams, result: S.scanWalResult, changesTarget: never },
  buildPlan: { params: S.buildPlanParams, result: S.buildPlanResult, changesTarget: never },
  applyPlan: { params: S.applyPlanParams, result: S.applyPlanResult, changesTarget: always },
  writeBackupLabel: { params: S.writeBackupLabelParams, result: S.writeBackupLabelResult, changesTarget: always },
  writeRecoveryConf: { params: S.writeRecoveryConfParams, result: S.writeRecoveryConfResult, changesTarget: always },
  verify: { params: S.verifyParams, result: S.verifyResult, changesTarget: never },
  rewind: { params: S.rewindParams, result: S.rewindResult, changesTarget: always },
  rollback: { params: S.rollbackParams, result: S.rollbackResult, changesTarget: always }
}

export const INLINE_METHODS = {
  inspect: { params: S.inspectParams, result: S.inspectResult },
  'rpc.discover': { params: S.rpcDiscoverParams, result: S.rpcDiscoverResult }
} as const

export type InlineMethod = keyof typeof INLINE_METHODS
export type MethodName = StepMethod | InlineMethod

export const METHODS: Record<MethodName, { params: { readonly $id: string }, result: { readonly $id: string } }> = { ...STEP_METHODS, ...INLINE_METHODS }

/** Notifications the client sends. */
export const CLIENT_NOTIFICATIONS = { '$/cancelRequest': S.cancelRequestNotification } as const
/** Notifications the server sends. */
export const SERVER_NOTIFICATIONS = { '$/progress': S.progressNotification } as const

export function isMethod (name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(METHODS, name)
}
