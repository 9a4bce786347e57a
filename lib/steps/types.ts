import { RewindSource } from '../source/types'
import { ClusterIdentity } from '../rewind/clusterinfo'
import { BlockRanges } from '../rewind/blockranges'
import { PlanEntry } from '../rewind/filemap'
import type { CompareStats } from '../rewind/blockcompare'
import { DiscardReport } from '../rewind/discards'

/**
 * The data of the five steps. Everything here is plain JSON (LSNs as "X/X"
 * strings, sizes as numbers) so that a client can pass one step's result to the
 * next in a new process: no step relies on state kept in memory.
 */

export interface TargetSpec { pgdata: string }
export type SourceSpec = { pgdata: string, connstr?: undefined } | { connstr: string, pgdata?: undefined }

export interface StepOptions {
  dryRun?: boolean
  noSync?: boolean
  syncMethod?: 'fsync' | 'syncfs'
  restoreTargetWal?: boolean
  configFile?: string
  noEnsureShutdown?: boolean
  pgBindir?: string
  /** keep an undo journal of the apply (default true) */
  journal?: boolean
  /** where the journal lives (default: pgrewind_journal/ in the target) */
  journalDir?: string
  /** remove the journal once the rewind is complete */
  discardJournal?: boolean
  /** find the changed blocks by comparing every block with the source, whatever the WAL says */
  compareBlocks?: boolean
}

export interface HistoryEntryJson { tli: number, begin: string, end: string }

export interface Divergence {
  target: ClusterIdentity
  source: ClusterIdentity
  segSize: number
  /** false: "no rewind required" (the target never wrote past the divergence) */
  rewindNeeded: boolean
  sameTimeline: boolean
  /** the target was crash-recovered (single-user mode) before anything else */
  crashRecovered: boolean
  /** the target WAL-logs hint bits (data checksums or wal_log_hints, as pg_control says now) */
  hintsLogged: boolean
  divergeLsn: string
  divergeTli: number
  /** where the target's WAL ends: end of its last checkpoint record, or minRecoveryPoint */
  targetWalEnd: string
  lastCommonCheckpoint: { lsn: string, tli: number, redo: string } | null
  /** pg_wal files the target needs for recovery from the last common checkpoint */
  keepWal: string[]
  targetHistory: HistoryEntryJson[]
  sourceHistory: HistoryEntryJson[]
}

export interface Scan {
  from: string
  to: string
  records: number
  walBytes: number
  /** changed main-fork blocks per relation segment file, as ranges */
  changedBlocks: Record<string, BlockRanges>
  blocks: number
  /** what the target did after the divergence point, which the rewind throws away (names from its catalog files) */
  discards: DiscardReport
  /** a PARAMETER_CHANGE record after the divergence (a restart with other settings): hint logging may have changed there */
  parameterChangeAfterFork: string | null
}

/** How buildPlan knows which blocks changed. */
export interface BlockMethod {
  /** 'wal': from the target's WAL (pg_rewind's way); 'compare': every block of every relation file compared with the source */
  kind: 'wal' | 'compare'
  why: string
  /** blocks the comparison found that the WAL did not name */
  extraBlocks: number
  comparison: CompareStats | null
}

export interface BackupLabelInfo {
  redo: string
  tli: number
  checkpoint: string
}

export interface Plan {
  planVersion: 1
  createdAt: string
  target: ClusterIdentity & { pgdata: string }
  source: ClusterIdentity & { kind: 'local' | 'server', description: string }
  divergence: { lsn: string, tli: number, lastCommonCheckpoint: string | null }
  rewindNeeded: boolean
  backupLabel: BackupLabelInfo | null
  method: BlockMethod
  /** pg_wal files of the target that recovery after the rewind needs */
  requiredWal: string[]
  entries: PlanEntry[]
  totals: { sourceBytes: number, fetchBytes: number, blocks: number, entries: number, journalBytes: number }
  /** what the rewind throws away: scanWal's report, with names the source knows where the target did not */
  discards: DiscardReport
  /** sha256 of the canonical JSON of everything above */
  digest: string
}

export interface ApplyResult {
  dryRun: boolean
  bytesFetched: number
  filesCopied: number
  filesTruncated: number
  filesRemoved: number
  dirsCreated: number
  dirsRemoved: number
  symlinksCreated: number
  entriesApplied: number
  journal: JournalInfo | null
  /** an interrupted apply of this plan was rolled back first */
  resumed: boolean
}

/** The undo journal of an apply, as results and inspect show it. */
export interface JournalInfo {
  path: string
  state: 'applying' | 'applied' | 'finishing' | 'done'
  planDigest: string
  createdAt: string
  bytes: number
  files: number
  rollbackAvailable: boolean
  rollbackUnavailableBecause?: string
}

export interface FinishResult {
  backupLabel: string | null
  controlFileUpdated: boolean
  synced: boolean
  journalDiscarded: boolean
}

export interface Progress {
  phase: 'scanWal' | 'applyPlan' | 'sync' | 'rollback'
  done: number
  total: number
}

export interface Logger {
  /** what pg_rewind always prints ("servers diverged at …", "no rewind required") */
  info (msg: string): void
  /** what pg_rewind prints only with -P ("reading source file list", "syncing target data directory") */
  progress (msg: string): void
  debug (msg: string): void
  warn (msg: string): void
}

/** What a step needs from outside: logging, progress, cancellation, the source. */
export interface Ports {
  log: Logger
  progress?: (p: Progress) => void
  /** throws PgRewindError CANCELLED when the caller asked to stop */
  checkCancelled?: () => void
  openSource: (spec: SourceSpec) => Promise<RewindSource>
}

/**
 * Each step's input: the two sides, pg_rewind's options, and the results of the
 * earlier steps it builds on (lib/rpc/types.ts proves that what each method's
 * params schema lets through fits these).
 */
interface StepBase {
  target: TargetSpec
  options?: StepOptions
}

export interface FindDivergenceInput extends StepBase { source: SourceSpec }
/** scanWal reads only the target's WAL; a source, when given, is ignored */
export interface ScanWalInput extends StepBase { source?: SourceSpec, divergence: Divergence }
/** `scan` is required when divergence.rewindNeeded */
export interface BuildPlanInput extends StepBase { source: SourceSpec, divergence: Divergence, scan?: Scan }
/** applyPlan, writeBackupLabel and verify: a plan and the two sides it was built for */
export interface PlanInput extends StepBase { source: SourceSpec, plan: Plan }
export interface WriteRecoveryConfInput extends StepBase { source: SourceSpec }
export interface RewindInput extends StepBase { source: SourceSpec, writeRecoveryConf?: boolean }
export interface RollbackInput { target: TargetSpec, discard?: boolean }

export const silentLogger: Logger = { info () {}, progress () {}, debug () {}, warn () {} }
