/**
 * pgrewind as a library: the steps of a rewind and the data they pass on, as the
 * CLI and the JSON-RPC server use them. Each step is `(input, ports) → result`;
 * results are plain JSON, so a step can run in another process than the one before
 * (scanWal's changed blocks are kept in the scan's columns, `ChangedBlocks`, and are
 * written as the record by path the schema describes: by JSON.stringify, or `scanJson`).
 */
export { findDivergence } from './steps/findDivergence'
export { scanWal } from './steps/scanWal'
export { buildPlan, buildPlanOrFile } from './steps/buildPlan'
export { applyPlan } from './steps/applyPlan'
export { writeBackupLabel } from './steps/writeBackupLabel'
export { writeRecoveryConf, type RecoveryConfResult } from './steps/writeRecoveryConf'
export { verify, type VerifyResult, type VerifyMismatch } from './steps/verify'
export { inspect, type InspectResult } from './steps/inspect'
export { planRewind, rewind, type PlannedRewind, type RewindHooks, type RewindResult } from './steps/rewind'
export * from './steps/types'
export { ChangedBlocks } from './rewind/relfiles'
export type { DiscardReport, DiscardedDatabase, DiscardedRelation, DiscardedFile, DiscardedTransactions, PreparedTransaction, RowCounts } from './rewind/discards'
export { openSource } from './source/open'
export type { RewindSource, FetchRequest, FileEntry } from './source/types'
// what a RewindSource's listFiles returns: an implementation outside pgrewind builds one
export { FileList } from './datadir/filelist'
export { PgRewindError, type ErrorCode } from './errors'
export { ERROR_CODES } from './errorcodes'
export { VERSION } from './version'
