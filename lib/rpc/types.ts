import type { FromSchema, JSONSchema } from 'json-schema-to-ts'
import type * as S from '../contract/schemas'
import type { InspectResult } from '../steps/inspect'
import type { RewindMethodResult } from '../steps/rewind'
import type { ApplyResult, Divergence, FinishResult, JsonPlan, PlanFileResult, Progress, Scan } from '../steps/types'
import type { STEP_HANDLERS } from './handlers'
import type { VerifyResult } from '../steps/verify'
import type { RecoveryConfResult } from '../steps/writeRecoveryConf'
import type { RollbackResult } from '../steps/rollback'

/**
 * TypeScript types of the JSON-RPC contract, computed from schemas/ (through the
 * generated `as const` module), and compile-time proof that the steps' own types
 * say the same: `npx tsc` fails when a field is added, removed, renamed, made
 * optional or changes its JSON type on one side only. The comparison widens
 * string/number literals and tuples (a schema enum vs a TS `string`, minItems/maxItems
 * vs `[number, number]`): those finer points are checked at run time, by ajv on
 * real results (test/rpc-*.test.ts).
 */
type Refs = { references: [typeof S.defs], keepDefaultedPropertiesOptional: true }
type From<T extends JSONSchema> = FromSchema<T, Refs>

export type FindDivergenceParams = From<typeof S.findDivergenceParams>
export type ScanWalParams = From<typeof S.scanWalParams>
export type BuildPlanParams = From<typeof S.buildPlanParams>
export type ApplyPlanParams = From<typeof S.applyPlanParams>
export type WriteBackupLabelParams = From<typeof S.writeBackupLabelParams>
export type WriteRecoveryConfParams = From<typeof S.writeRecoveryConfParams>
export type VerifyParams = From<typeof S.verifyParams>
export type RewindParams = From<typeof S.rewindParams>
export type InspectParams = From<typeof S.inspectParams>
export type RollbackParams = From<typeof S.rollbackParams>
export type CancelRequestParams = From<typeof S.cancelRequestNotification>

export type DivergenceJson = From<typeof S.findDivergenceResult>
export type ScanJson = From<typeof S.scanWalResult>
export type PlanJson = From<typeof S.buildPlanResult>
export type ApplyResultJson = From<typeof S.applyPlanResult>
export type FinishResultJson = From<typeof S.writeBackupLabelResult>
export type RecoveryConfJson = From<typeof S.writeRecoveryConfResult>
export type VerifyResultJson = From<typeof S.verifyResult>
export type RewindResultJson = From<typeof S.rewindResult>
export type InspectResultJson = From<typeof S.inspectResult>
export type ProgressJson = From<typeof S.progressNotification>
export type RollbackResultJson = From<typeof S.rollbackResult>

type Widen<T> =
  T extends string ? string :
    T extends number ? number :
      T extends boolean ? boolean :
        T extends null | undefined ? T :
          T extends ReadonlyArray<infer U> ? Array<Widen<U>> :
            T extends object ? { [K in keyof T]: Widen<T[K]> } : T
type Same<A, B> = [Widen<A>] extends [Widen<B>] ? ([Widen<B>] extends [Widen<A>] ? true : false) : false
type Fits<A, B> = [Widen<A>] extends [Widen<B>] ? true : false
type Assert<T extends true> = T

// results: the schema and the step's type are the same shape
export type ResultsAgree = [
  Assert<Same<DivergenceJson, Divergence>>,
  Assert<Same<ScanJson, Scan>>,
  Assert<Same<PlanJson, JsonPlan | PlanFileResult>>,
  Assert<Same<ApplyResultJson, ApplyResult>>,
  Assert<Same<FinishResultJson, FinishResult>>,
  Assert<Same<RecoveryConfJson, RecoveryConfResult>>,
  Assert<Same<VerifyResultJson, VerifyResult>>,
  Assert<Same<InspectResultJson, InspectResult>>,
  Assert<Same<RewindResultJson, RewindMethodResult>>,
  Assert<Same<ProgressJson, Progress & { token?: string | number }>>,
  Assert<Same<RollbackResultJson, RollbackResult>>
]

// params: whatever the schema lets through is a valid input of the method's handler
type InputOf<K extends keyof typeof STEP_HANDLERS> = Parameters<(typeof STEP_HANDLERS)[K]>[0] & { progressToken?: string | number }
export type ParamsFit = [
  Assert<Fits<FindDivergenceParams, InputOf<'findDivergence'>>>,
  Assert<Fits<ScanWalParams, InputOf<'scanWal'>>>,
  Assert<Fits<BuildPlanParams, InputOf<'buildPlan'>>>,
  Assert<Fits<ApplyPlanParams, InputOf<'applyPlan'>>>,
  Assert<Fits<WriteBackupLabelParams, InputOf<'writeBackupLabel'>>>,
  Assert<Fits<WriteRecoveryConfParams, InputOf<'writeRecoveryConf'>>>,
  Assert<Fits<VerifyParams, InputOf<'verify'>>>,
  Assert<Fits<RewindParams, InputOf<'rewind'>>>,
  Assert<Fits<RollbackParams, InputOf<'rollback'>>>
]
