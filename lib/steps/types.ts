import { RewindSource } from '../source/types'
import { ClusterIdentity } from '../rewind/clusterinfo'
import { BlockRanges } from '../rewind/blockranges'
import type { Action, PlanEntry } from '../rewind/filemap'
import type { PlanEntries } from '../rewind/planentries'
import type { CompareStats } from '../rewind/blockcompare'
import { DiscardReport } from '../rewind/discards'
import type { ChangedBlocks } from '../rewind/relfiles'

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
  /** the hint rule's findings, when the target's hint bits were not WAL-logged for the whole range (null: not needed, or compareBlocks asked for) */
  hints: HintScan | null
}

/**
 * scanWal's result as one step hands it to the next in the same process: the changed
 * blocks kept in the scan's columns (lib/rewind/relfiles.ts), made a record by path only
 * for a JSON result (`scanJson`).
 */
export type ScanResult = Omit<Scan, 'changedBlocks'> & { changedBlocks: ChangedBlocks }

/** The JSON form of a scan. */
export function scanJson (s: ScanResult): Scan {
  return { ...s, changedBlocks: s.changedBlocks.toRecord() }
}

/**
 * What scanWal found for the hint rule (lib/rewind/hintrule.ts): the blocks that
 * hints set without WAL may have changed, from the WAL, and the indexes whose
 * LP_DEAD hints buildPlan must compare with the source.
 */
export interface HintScan {
  /** why the rule applies */
  why: string
  /** top-level transactions that ended (committed or aborted) after the divergence */
  transactions: number
  /** their xids and their subtransactions' */
  xids: number
  /** the oldest of them (null: none) */
  oldestXid: number | null
  /** where the walk back through the WAL before the last common checkpoint stopped (the checkpoint itself when there was nothing to find) */
  searchedBackTo: string
  /** what stopped it: a RUNNING_XACTS record or checkpoint before every such xid, the start of the WAL, or nothing to look for */
  searchStop: 'running-xacts' | 'checkpoint' | 'start-of-wal' | 'nothing-to-find'
  searchRecords: number
  searchWalBytes: number
  /** main-fork blocks their records before the last common checkpoint changed, per relation segment file */
  blocks: Record<string, BlockRanges>
  blockCount: number
  /** heap relation files with tuples deleted or updated after the divergence (or before it by those transactions) */
  heaps: number
  /** heaps whose indexes pg_index named */
  heapsResolved: number
  /** the main-fork files of their indexes: compared with the source block by block */
  indexFiles: string[]
  /** databases (OIDs) whose catalog could not be read: every relation file of theirs is compared */
  wholeDatabases: Array<{ dbOid: number, reason: string }>
}

/** How buildPlan knows which blocks changed. */
export interface BlockMethod {
  /**
   * 'wal': from the target's WAL (pg_rewind's way); 'wal+hints': the WAL plus the hint
   * rule (blocks of transactions that ended after the divergence, found in older WAL, and
   * the indexes of heaps with rows deleted after it compared with the source), when hint
   * bits were not WAL-logged; 'compare': every block of every relation file compared
   * with the source (asked for, or the rule's inputs are missing)
   */
  kind: 'wal' | 'wal+hints' | 'compare'
  why: string
  /** blocks the rule or the comparison added to those the WAL after the last common checkpoint names */
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
  /** in columns (lib/rewind/planentries.ts); an array in JSON (PlanJson) */
  entries: PlanEntries
  totals: { sourceBytes: number, fetchBytes: number, blocks: number, entries: number, journalBytes: number }
  /** what the rewind throws away: scanWal's report, with names the source knows where the target did not */
  discards: DiscardReport
  /** sha256 of the canonical JSON of everything above */
  digest: string
}

/** A plan as JSON carries it (a result, a plan file, a client's params): its entries an array. */
export type JsonPlan = Omit<Plan, 'entries'> & { entries: PlanEntry[] }

/** The JSON form of a plan (the entries made objects). */
export function planJson (p: Plan): JsonPlan {
  return { ...p, entries: p.entries.toArray() }
}

/** A plan in a few lines of JSON, whatever its size (lib/rewind/plansummary.ts). */
export interface PlanSummary extends Pick<Plan, 'createdAt' | 'target' | 'source' | 'divergence' | 'rewindNeeded' | 'backupLabel' | 'method' | 'totals'> {
  /** entries per action, and the bytes their actions copy, append, cut off or remove ('none': changed blocks only) */
  actions: Record<Action, { entries: number, bytes: number }>
  /** relation files with changed blocks to fetch */
  changedBlocks: { files: number, blocks: number, bytes: number }
  /** what the rewind throws away, in the lines `pgrewind plan` prints (the whole report is the plan's discards) */
  discards: string[]
}

/** buildPlan with planFile: where the plan was written, its digest, and its summary. */
export interface PlanFileResult {
  planFile: string
  digest: string
  summary: PlanSummary
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
/** `scan` is required when divergence.rewindNeeded; with `planFile` the plan is written there, not returned */
export interface BuildPlanInput extends StepBase { source: SourceSpec, divergence: Divergence, scan?: Scan | ScanResult, planFile?: string }
/** A plan passed whole, or the file buildPlan wrote it to and its digest (lib/rewind/planfile.ts). */
export type PlanRef = { plan: Plan | JsonPlan, planFile?: undefined, digest?: undefined } | { plan?: undefined, planFile: string, digest: string }
/** applyPlan, writeBackupLabel and verify: a plan and the two sides it was built for */
export type PlanInput = StepBase & { source: SourceSpec } & PlanRef
export interface WriteRecoveryConfInput extends StepBase { source: SourceSpec }
export interface RewindInput extends StepBase { source: SourceSpec, writeRecoveryConf?: boolean }
/** the RPC rewind method: with `planFile` the plan is written there before it is applied, and the result names it */
export interface RewindMethodInput extends RewindInput { planFile?: string }
export interface RollbackInput { target: TargetSpec, discard?: boolean }

export const silentLogger: Logger = { info () {}, progress () {}, debug () {}, warn () {} }
