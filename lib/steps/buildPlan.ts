import { PgRewindError } from '../errors'
import { formatLsn, lsnToSegNo, parseLsn } from '../format/lsn'
import { checkSourceUnchanged, checkTargetUnchanged, ClusterInfo, clusterIdentity, readClusterInfo } from '../rewind/clusterinfo'
import { addBlocks, buildFileMap, changedBlocksOf, mapTotals, sharedFiles } from '../rewind/filemap'
import { PlanEntries } from '../rewind/planentries'
import { CompareCandidate, compareBlocks, CompareStats } from '../rewind/blockcompare'
import { BlockRanges, rangesCount, unionRanges } from '../rewind/blockranges'
import { parseRelationPath, RelationFile, relationDataFile } from '../format/relpath'
import { BLCKSZ } from '../format/versions'
import { RewindSource } from '../source/types'
import type { FileList } from '../datadir/filelist'
import { sealPlan } from '../rewind/plandigest'
import { checkPlanFilePath, writePlanFile } from '../rewind/planfile'
import { planSummaryOf } from '../rewind/plansummary'
import { openSourceChecked } from '../rewind/preconditions'
import { localReader } from '../datadir/files'
import { listDataDir } from '../datadir/listing'
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

/**
 * Relation files both sides have that `want` selects, block by block up to the
 * shorter one (the rest is the tail copy or the truncation): the blocks that differ
 * join the map's. Returns the blocks added and the comparison's statistics.
 */
async function compareFiles (map: PlanEntries, sourceFiles: FileList, targetFiles: FileList, target: ClusterInfo, source: RewindSource,
  pgdata: string, what: string, want: (r: RelationFile) => boolean, ports: Ports): Promise<{ added: number, stats: CompareStats }> {
  const shared = sharedFiles(sourceFiles, targetFiles, path => {
    const r = relationDataFile(path, target.version)
    return r !== null && want(r)
  })
  const candidates: CompareCandidate[] = shared.map(f => ({ path: f.path, blocks: Math.floor(Math.min(f.sourceSize, f.targetSize) / BLCKSZ) }))
  ports.log.progress(`comparing ${candidates.length} relation files block by block with the source (${what})`)
  const { differing, stats } = await compareBlocks(pgdata, candidates, source, { checkCancelled: ports.checkCancelled })
  return { added: addBlocks(map, shared, differing), stats }
}

/** Compare mode: every relation file both sides have. */
async function compareAll (map: PlanEntries, sourceFiles: FileList, targetFiles: FileList, target: ClusterInfo, source: RewindSource,
  pgdata: string, why: string, ports: Ports): Promise<BlockMethod> {
  const { added, stats } = await compareFiles(map, sourceFiles, targetFiles, target, source, pgdata, why, () => true, ports)
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

/** The rule's second half: the indexes it named (and whole databases whose catalog it could not read) compared with the source. */
async function hintMethod (hints: HintScan, ruleBlocks: number, map: PlanEntries, sourceFiles: FileList, targetFiles: FileList, target: ClusterInfo,
  source: RewindSource, pgdata: string, ports: Ports): Promise<BlockMethod> {
  const vi = target.version
  const key = (r: { spcOid: number, dbOid: number, relNumber: number }): string => `${r.spcOid}/${r.dbOid}/${r.relNumber}`
  const indexes = new Set<string>()
  for (const p of hints.indexFiles) {
    const r = parseRelationPath(p, vi)
    if (r !== null) indexes.add(key(r))
  }
  const whole = new Set(hints.wholeDatabases.map(w => w.dbOid))
  const parts: string[] = []
  const stop = hints.searchStop === 'running-xacts'
    ? 'where a RUNNING_XACTS record shows none of them had begun'
    : hints.searchStop === 'checkpoint' ? 'to the redo point of a checkpoint before all of them' : hints.searchStop === 'start-of-wal' ? 'to the start of the WAL' : ''
  parts.push(hints.transactions === 0
    ? 'no transaction ended after the divergence'
    : `${plural(hints.transactions, 'transaction')} ended after the divergence (${plural(hints.xids, 'xid')}, the oldest ${hints.oldestXid ?? '-'}); the WAL searched back from the last common checkpoint to ${hints.searchedBackTo}, ${stop} (${plural(hints.searchRecords, 'record')}): ${plural(ruleBlocks, 'block')} more`)
  let comparison: CompareStats | null = null
  let added = 0
  if (indexes.size > 0 || whole.size > 0) {
    const what = `indexes of tables with rows deleted or updated after the divergence${whole.size > 0 ? ', and every relation of databases whose catalog could not be read' : ''}`
    const r = await compareFiles(map, sourceFiles, targetFiles, target, source, pgdata, what, f => whole.has(f.dbOid) || indexes.has(key(f)), ports)
    comparison = r.stats
    added = r.added
    parts.push(`${plural(indexes.size, 'index', 'indexes')} of ${plural(hints.heaps, 'table')} with rows deleted or updated after the divergence compared with the source (LP_DEAD hints): ${plural(r.stats.files, 'file')}, ${plural(r.stats.blocksDiffering, 'block')} ${r.stats.blocksDiffering === 1 ? 'differs' : 'differ'}`)
  } else {
    parts.push(`${plural(hints.heaps, 'table')} with rows deleted or updated after the divergence, no index to compare`)
  }
  for (const w of hints.wholeDatabases) parts.push(`database ${w.dbOid} compared whole: ${w.reason}`)
  return { kind: 'wal+hints', why: `${hints.why}; ${parts.join('; ')}`, extraBlocks: ruleBlocks + added, comparison }
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
  const pgdata = input.target.pgdata
  const target = await readClusterInfo(localReader(pgdata, 'target'), 'target')
  checkTargetUnchanged(target, d.target.controlDigest, 'the divergence')

  const source = await openSourceChecked(input.source, ports)
  try {
    const src = await readClusterInfo(p => source.readFile(p), 'source')
    checkSourceUnchanged(source.kind, clusterIdentity(src), d.source, 'the divergence')
    ports.log.progress('reading source file list')
    const sourceFiles = await source.listFiles()
    ports.log.progress('reading target file list')
    const targetFiles = listDataDir(pgdata, 'target', sourceFiles)

    let entries: PlanEntries
    let method: BlockMethod = { kind: 'wal', why: 'every block the target changed since the divergence is in its WAL (pg_rewind\'s way)', extraBlocks: 0, comparison: null }
    if (d.rewindNeeded) {
      const scan = input.scan!
      const asked = input.options?.compareBlocks === true
      const ruleWhy = hintRuleWhy(d.hintsLogged, scan.parameterChangeAfterFork === null ? null : parseLsn(scan.parameterChangeAfterFork))
      const hints = !asked && ruleWhy !== null ? scan.hints : null
      const { blocksOf, added: ruleBlocks } = withRuleBlocks(changedBlocksOf(scan.changedBlocks), hints)
      entries = buildFileMap({
        source: sourceFiles,
        target: targetFiles,
        version: target.version,
        segSize: d.segSize,
        keepWal: new Set(d.keepWal),
        divergenceSegNo: lsnToSegNo(parseLsn(d.divergeLsn), d.segSize),
        changedBlocks: blocksOf
      })
      if (asked) method = await compareAll(entries, sourceFiles, targetFiles, target, source, pgdata, 'asked for (compareBlocks)', ports)
      else if (hints !== null) method = await hintMethod(hints, ruleBlocks, entries, sourceFiles, targetFiles, target, source, pgdata, ports)
      else if (ruleWhy !== null) {
        // the scan was made without the rule (scanWal with compareBlocks): compare everything
        method = await compareAll(entries, sourceFiles, targetFiles, target, source, pgdata, `${ruleWhy}, and the scan has no hint-rule result (scanWal ran with compareBlocks)`, ports)
      }
    } else {
      // No rewind: but a node left without the new timeline's history files may not
      // follow the source onto it, so copy the ones it lacks.
      entries = new PlanEntries()
      for (let i = 0; !d.sameTimeline && i < sourceFiles.length; i++) {
        const path = sourceFiles.path(i)
        if (sourceFiles.type(i) === 'file' && /^pg_wal\/[0-9A-F]{8}\.history$/.test(path) && targetFiles.indexOf(path) < 0) {
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
