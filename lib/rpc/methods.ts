import * as S from './generated/schemas'

/**
 * The methods `pgrewind rpc` serves, with their schemas (schemas/<name>.params.json
 * and .result.json). `worker`: runs in a worker thread, so it can be cancelled while
 * busy and the server keeps answering meanwhile; the others are quick reads.
 */
export const METHODS = {
  findDivergence: { params: S.findDivergenceParams, result: S.findDivergenceResult, worker: true },
  scanWal: { params: S.scanWalParams, result: S.scanWalResult, worker: true },
  buildPlan: { params: S.buildPlanParams, result: S.buildPlanResult, worker: true },
  applyPlan: { params: S.applyPlanParams, result: S.applyPlanResult, worker: true },
  writeBackupLabel: { params: S.writeBackupLabelParams, result: S.writeBackupLabelResult, worker: true },
  writeRecoveryConf: { params: S.writeRecoveryConfParams, result: S.writeRecoveryConfResult, worker: true },
  verify: { params: S.verifyParams, result: S.verifyResult, worker: true },
  rewind: { params: S.rewindParams, result: S.rewindResult, worker: true },
  inspect: { params: S.inspectParams, result: S.inspectResult, worker: false },
  'rpc.discover': { params: S.rpcDiscoverParams, result: S.rpcDiscoverResult, worker: false }
} as const

export type MethodName = keyof typeof METHODS
export type WorkerMethod = { [K in MethodName]: (typeof METHODS)[K]['worker'] extends true ? K : never }[MethodName]

/** Notifications the client sends. */
export const CLIENT_NOTIFICATIONS = { '$/cancelRequest': S.cancelRequestNotification } as const
/** Notifications the server sends. */
export const SERVER_NOTIFICATIONS = { '$/progress': S.progressNotification } as const

export function isMethod (name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(METHODS, name)
}

const CHANGES_TARGET: ReadonlySet<MethodName> = new Set(['applyPlan', 'writeBackupLabel', 'writeRecoveryConf', 'rewind'])

/** Changes the target (or may: findDivergence runs crash recovery on an unclean one unless told not to). */
export function changesTarget (method: MethodName, params: { options?: { dryRun?: boolean, noEnsureShutdown?: boolean } }): boolean {
  if (CHANGES_TARGET.has(method)) return true
  return method === 'findDivergence' && params.options?.dryRun !== true && params.options?.noEnsureShutdown !== true
}
