import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { formatLsn, lsnToSegNo, parseLsn } from '../format/lsn'
import { checkSourceUnchanged, checkTargetUnchanged, ClusterInfo, clusterIdentity, readClusterInfo } from '../rewind/clusterinfo'
import { addBlocks, buildFileMap, changedBlocksOf, mapTotals, SharedRelationFile } from '../rewind/filemap'
import { PlanEntries } from '../rewind/planentries'
import { ChangedBlocks } from '../rewind/relfiles'
import { CompareCandidate, compareBlocks, CompareStats } from '../rewind/blockcompare'
import { BlockRanges, rangesCount, unionRanges } from '../rewind/blockranges'
import { parseRelationPath, RelationFile, relationDataFile } from '../format/relpath'
import { BLCKSZ } from '../format/versions'
import { RewindSource } from '../source/types'
import { sealPlan } from '../rewind/plandigest'
import { checkPlanFilePath, writePlanFile } from '../rewind/planfile'
import { planSummaryOf } from '../rewind/plansummary'
import { openSourceChecked } from '../rewind/preconditions'
import { localReader, lstatOrNull } from '../datadir/files'
import { walkDataDir } from '../datadir/listing'
import { BackupLabelInfo, BlockMethod, BuildPlanInput, Divergence, HintScan, Plan, PlanFileResult, Ports, SourceSpec, TargetSpec } from './types'
import { hintRuleWhy } from '../rewind/hintrule'
import { DiscardReport, emptyDiscardReport } from '../rewind/discards'
import { completeDiscardNames } from '../rewind/discardreport'
import { FileNameLookup, NameLookup } from '../catalog/names'
import { SqlNameLookup } from '../catalog/sqlnames'
import type { VersionInfo } from '../format/versions'
import { plural } from '../words'

/** Where recovery of the rewound target starts (pg_rewind's backup_label values). */
function backupLabelInfo (d: Divergence, src: ClusterInfo): BackupLabelInfo {
  const c = d.lastCommonCheckpoint!
  // A standby source whose restartpoint lags behind the common checkpoint: its
  // files may be older than that checkpoint, so recovery must start at its redo.
  if (src.control.checkPointCopy.redo < parseLsn(c.redo)) {
    return { redo: formatLsn(src.control.checkPointCopy.redo), tli: src.control.checkPointCopy.thisTimeLineID, checkpoint: formatLsn(src.control.checkPoint) }
  }
  return { redo: c.redo, tli: c.tli, checkpoint: c.lsn }
}

/** A block comparison with the source: what it is for, and the relation files it looks at (collected as the file map is built). */
interface Comparison { what: string, want: (path: string) => boolean }

function relationFiles (vi: VersionInfo, want: (r: RelationFile) => boolean): (path: string) => boolean {
  return path => {
    const r = relationDataFile(path, vi)
    return r !== null && want(r)
  }
}

/**
 * The files `shared` (the comparison's, from the file map) compared block by block up
 * to the shorter copy (the rest is the tail copy or the truncation): the blocks that
 * differ join the map's. Returns the blocks added and the comparison's statistics.
 */
async function compareFiles (map: PlanEntries, shared: SharedRelationFile[], source: RewindSource, pgdata: string, what: string,
  ports: Ports): Promise<{ added: number, stats: CompareStats }> {
  const candidates: CompareCandidate[] = shared.map(f => ({ path: f.path, blocks: Math.floor(Math.min(f.sourceSize, f.targetSize) / BLCKSZ) }))
  ports.log.progress(`comparing ${candidates.length} relation files block by block with the source (${what})`)
  const { differing, stats } = await compareBlocks(pgdata, candidates, source, { checkCancelled: ports.checkCancelled })
  return { added: addBlocks(map, shared, differing), stats }
}

/** Compare mode: every relation file both sides have. */
async function compareAll (map: PlanEntries, shared: SharedRelationFile[], source: RewindSource, pgdata: string, why: string, ports: Ports): Promise<BlockMethod> {
  const { added, stats } = await compareFiles(map, shared, source, pgdata, why, ports)
  return { kind: 'compare', why, extraBlocks: added, comparison: stats }
}

/**
 * The hint rule's blocks joined to the WAL's (before the file map is built), kept
 * apart from the scan's (which is not copied): where a file's blocks are, and how
 * many were new.
 */
function withRuleBlocks (wal: (path: string) => BlockRanges | undefined, hints: HintScan | null): { blocksOf: (path: string) => BlockRanges | undefined, added: number } {
  if (hints === null) return { blocksOf: wal, added: 0 }
  const joined = new Map<string, BlockRanges>()
  let added = 0
  for (const [path, r] of Object.entries(hints.blocks)) {
    const before = wal(path) ?? []
    const u = unionRanges(before, r)
    added += rangesCount(u) - rangesCount(before)
    joined.set(path, u)
  }
  return { blocksOf: path => joined.get(path) ?? wal(path), added }
}

/** The hint rule's result, with the comparison of its second half (null: nothing to compare). */
interface HintComparison { hints: HintScan, indexes: number, comparison: Comparison | null }

/** The rule's second half, to compare: the indexes it named, and every relation of the databases whose catalog it could not read. */
function hintComparison (hints: HintScan, vi: VersionInfo): HintComparison {
  const key = (r: { spcOid: number, dbOid: number, relNumber: number }): string => `${r.spcOid}/${r.dbOid}/${r.relNumber}`
  const indexes = new Set<string>()
  for (const p of hints.indexFiles) {
    const r = parseRelationPath(p, vi)
    if (r !== null) indexes.add(key(r))
  }
  const whole = new Set(hints.wholeDatabases.map(w => w.dbOid))
  if (indexes.size === 0 && whole.size === 0) return { hints, indexes: 0, comparison: null }
  const what = `indexes of tables with rows deleted or updated after the divergence${whole.size > 0 ? ', and every relation of databases whose catalog could not be read' : ''}`
  return { hints, indexes: indexes.size, comparison: { what, want: relationFiles(vi, f => whole.has(f.dbOid) || indexes.has(key(f))) } }
}

/**
 * The comparison the file map collects files for, decided before it is built: the one
 * asked for (compareBlocks), the hint rule's, or every relation file when the rule is
 * needed but the scan has no result of it (scanWal ran with compareBlocks).
 */
function comparisonOf (asked: boolean, ruleWhy: string | null, hinted: HintComparison | null, vi: VersionInfo): Comparison | null {
  const all = relationFiles(vi, () => true)
  if (asked) return { what: 'asked for (compareBlocks)', want: all }
  if (hinted !== null) return hinted.comparison
  if (ruleWhy !== null) return { what: `${ruleWhy}, and the scan has no hint-rule result (scanWal ran with compareBlocks)`, want: all }
  return null
}

/** The rule's second half compared with the source (with the files the map collected for it). */
async function hintMethod ({ hints, indexes, comparison }: HintComparison, ruleBlocks: number, map: PlanEntries, shared: SharedRelationFile[],
  source: RewindSource, pgdata: string, ports: Ports): Promise<BlockMethod> {
  const parts: string[] = []
  const stop = hints.searchStop === 'running-xacts'
    ? 'where a RUNNING_XACTS record shows none of them had begun'
    : hints.searchStop === 'checkpoint' ? 'to the redo point of a checkpoint before all of them' : hints.searchStop === 'start-of-wal' ? 'to the start of the WAL' : ''
  parts.push(hints.transactions === 0
    ? 'no transaction ended after the divergence'
    : `${plural(hints.transactions, 'transaction')} ended after the divergence (${plural(hints.xids, 'xid')}, the oldest ${hints.oldestXid ?? '-'}); the WAL searched back from the last common checkpoint to ${hints.searchedBackTo}, ${stop} (${plural(hints.searchRecords, 'record')}): ${plural(ruleBlocks, 'block')} more`)
  let stats: CompareStats | null = null
  let added = 0
  if (comparison !== null) {
    const r = await compareFiles(map, shared, source, pgdata, comparison.what, ports)
    stats = r.stats
    added = r.added
    parts.push(`${plural(indexes, 'index', 'indexes')} of ${plural(hints.heaps, 'table')} with rows deleted or updated after the divergence compared with the source (LP_DEAD hints): ${plural(r.stats.files, 'file')}, ${plural(r.stats.blocksDiffering, 'block')} ${r.stats.blocksDiffering === 1 ? 'differs' : 'differ'}`)
  } else {
    parts.push(`${plural(hints.heaps, 'table')} with rows deleted or updated after the divergence, no index to compare`)
  }
  for (const w of hints.wholeDatabases) parts.push(`database ${w.dbOid} compared whole: ${w.reason}`)
  return { kind: 'wal+hints', why: `${hints.why}; ${parts.join('; ')}`, extraBlocks: ruleBlocks + added, comparison: stats }
}

/**
 * The source's names for what the target's catalog could not name (a relation of a
 * database the target dropped, a row VACUUM removed): a local source's catalog
 * files, or SQL on a source server. Nothing else in the report comes from the source.
 */
function sourceNames (spec: SourceSpec, source: RewindSource, vi: VersionInfo): NameLookup | null {
  if (spec.pgdata !== undefined) return new FileNameLookup(spec.pgdata, 'source', vi)
  const q = source.catalogQuery?.bind(source)
  return q !== undefined ? new SqlNameLookup(q, source.description) : null
}

async function discardReport (input: BuildPlanInput, d: Divergence, source: RewindSource, vi: VersionInfo): Promise<DiscardReport> {
  if (!d.rewindNeeded || input.scan === undefined) return emptyDiscardReport(d.targetWalEnd, d.targetWalEnd)
  const lookup = sourceNames(input.source, source, vi)
  return lookup === null ? input.scan.discards : await completeDiscardNames(input.scan.discards, lookup, vi)
}

/** Step 3: decide, for every file, what to do, and pin both sides' identities. */
export async function buildPlan (input: BuildPlanInput, ports: Ports): Promise<Plan> {
  const d = input.divergence
  if (d.rewindNeeded && input.scan === undefined) throw new PgRewindError('INVALID_PARAMS', 'the result of scanWal is required (scan)')
  if (input.scan?.changedBlocks instanceof ChangedBlocks) input.scan.changedBlocks.trim()
  const pgdata = input.target.pgdata
  const target = await readClusterInfo(localReader(pgdata, 'target'), 'target')
  checkTargetUnchanged(target, d.target.controlDigest, 'the divergence')

  const source = await openSourceChecked(input.source, ports)
  try {
    const src = await readClusterInfo(p => source.readFile(p), 'source')
    checkSourceUnchanged(source.kind, clusterIdentity(src), d.source, 'the divergence')
    ports.log.progress('reading source file list')
    const sourceFiles = await source.listFiles()

    let entries: PlanEntries
    let method: BlockMethod = { kind: 'wal', why: 'every block the target changed since the divergence is in its WAL (pg_rewind\'s way)', extraBlocks: 0, comparison: null }
    if (d.rewindNeeded) {
      const scan = input.scan!
      const vi = target.version
      const asked = input.options?.compareBlocks === true
      const ruleWhy = hintRuleWhy(d.hintsLogged, scan.parameterChangeAfterFork === null ? null : parseLsn(scan.parameterChangeAfterFork))
      const hints = !asked && ruleWhy !== null ? scan.hints : null
      const { blocksOf, added: ruleBlocks } = withRuleBlocks(changedBlocksOf(scan.changedBlocks), hints)
      // what will be compared is known now, so the map collects its files as it goes
      const hinted = hints !== null ? hintComparison(hints, vi) : null
      const comparison = comparisonOf(asked, ruleWhy, hinted, vi)
      ports.log.progress('reading target file list')
      const map = buildFileMap({
        source: sourceFiles,
        target: walkDataDir(pgdata, 'target'),
        version: vi,
        segSize: d.segSize,
        keepWal: new Set(d.keepWal),
        divergenceSegNo: lsnToSegNo(parseLsn(d.divergeLsn), d.segSize),
        changedBlocks: blocksOf,
        share: comparison?.want
      })
      entries = map.entries
      if (hinted !== null) method = await hintMethod(hinted, ruleBlocks, entries, map.shared, source, pgdata, ports)
      else if (comparison !== null) method = await compareAll(entries, map.shared, source, pgdata, comparison.what, ports)
    } else {
      // No rewind: but a node left without the new timeline's history files may not
      // follow the source onto it, so copy the ones it lacks.
      entries = new PlanEntries()
      for (let i = 0; !d.sameTimeline && i < sourceFiles.length; i++) {
        const path = sourceFiles.path(i)
        if (sourceFiles.type(i) === 'file' && /^pg_wal\/[0-9A-F]{8}\.history$/.test(path) && lstatOrNull(join(pgdata, path), 'target') === null) {
          entries.push({ path, action: 'copy', type: 'file', sourceSize: sourceFiles.size(i) })
        }
      }
    }
    const totals = mapTotals(entries, sourceFiles)
    const discards = await discardReport(input, d, source, src.version)
    const plan: Omit<Plan, 'digest'> = {
      planVersion: 1,
      createdAt: new Date().toISOString(),
      target: { ...clusterIdentity(target), pgdata },
      source: { ...clusterIdentity(src), kind: source.kind, description: source.description },
      divergence: { lsn: d.divergeLsn, tli: d.divergeTli, lastCommonCheckpoint: d.lastCommonCheckpoint?.lsn ?? null },
      rewindNeeded: d.rewindNeeded,
      backupLabel: d.rewindNeeded ? backupLabelInfo(d, src) : null,
      method,
      requiredWal: d.keepWal,
      entries,
      totals: { ...totals, entries: entries.length },
      discards
    }
    return sealPlan(plan)
  } finally {
    await source.close()
  }
}

/**
 * The buildPlan method: the plan, or with `planFile` the plan written to that file
 * and only its digest and summary returned — a plan of 100,000 entries is tens of
 * MB, too much for one JSON-RPC line and to hold whole several times over.
 */
export async function buildPlanOrFile (input: BuildPlanInput, ports: Ports): Promise<Plan | PlanFileResult> {
  // a path that cannot be used is refused before the work, not after
  if (input.planFile !== undefined) checkPlanFilePath(input.planFile, input.target)
  const plan = await buildPlan(input, ports)
  if (input.planFile === undefined) return plan
  return savePlan(plan, input.planFile, input.target, ports)
}

/** The plan written to `planFile` (durably, 0600), and what names it in a result: the file, its digest, its summary. */
export function savePlan (plan: Plan, planFile: string, target: TargetSpec, ports: Ports): PlanFileResult {
  writePlanFile(plan, planFile, target)
  ports.log.progress(`plan ${plan.digest} written to "${planFile}" (${plan.entries.length} entries)`)
  return { planFile, digest: plan.digest, summary: planSummaryOf(plan) }
}
