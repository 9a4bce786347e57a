import { PgRewindError } from '../errors'
import { formatLsn, lsnToSegNo, parseLsn } from '../format/lsn'
import { checkSourceUnchanged, checkTargetUnchanged, ClusterInfo, clusterIdentity, readClusterInfo } from '../rewind/clusterinfo'
import { activeEntries, buildFileMap, mapTotals, PlanEntry } from '../rewind/filemap'
import { CompareCandidate, compareBlocks } from '../rewind/blockcompare'
import { rangesCount, unionRanges } from '../rewind/blockranges'
import { isRelationDataFile } from '../format/relpath'
import { BLCKSZ } from '../format/versions'
import { FileEntry, RewindSource } from '../source/types'
import { sealPlan } from '../rewind/plandigest'
import { openSourceChecked } from '../rewind/preconditions'
import { localReader } from '../datadir/files'
import { listDataDir } from '../datadir/listing'
import { BackupLabelInfo, BlockMethod, BuildPlanInput, Divergence, Plan, Ports, Scan, SourceSpec } from './types'
import { DiscardReport, emptyDiscardReport } from '../rewind/discards'
import { completeDiscardNames } from '../rewind/discardreport'
import { FileNameLookup, NameLookup } from '../catalog/names'
import { SqlNameLookup } from '../catalog/sqlnames'
import type { VersionInfo } from '../format/versions'

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
 * When the WAL cannot be trusted to name every changed block: hint bits set after
 * the fork without data checksums or wal_log_hints are not WAL-logged (pg_rewind
 * refuses such a target; a block it would keep can still differ from the source's,
 * e.g. rows of a transaction the source never committed, marked committed by a
 * hint on the target). Null: the WAL names them all.
 */
function whyCompare (d: Divergence, scan: Scan, asked: boolean): string | null {
  if (asked) return 'asked for (compareBlocks)'
  if (!d.hintsLogged) return 'the target has neither data checksums nor wal_log_hints, so hint bits it set after the divergence are not in its WAL'
  if (scan.parameterChangeAfterFork !== null) {
    return `the target restarted with other settings after the divergence (PARAMETER_CHANGE at ${scan.parameterChangeAfterFork}) and has no data checksums: wal_log_hints may have been off before that`
  }
  return null
}

/**
 * Every relation file both sides have, block by block up to the shorter one (the
 * rest is the tail copy or the truncation): the blocks that differ join the WAL's.
 */
async function compareAll (map: PlanEntry[], sourceFiles: FileEntry[], targetFiles: FileEntry[], target: ClusterInfo, source: RewindSource,
  pgdata: string, why: string, ports: Ports): Promise<BlockMethod> {
  const sizes = new Map(sourceFiles.map(f => [f.path, f.size]))
  const tsizes = new Map(targetFiles.map(f => [f.path, f.size]))
  const candidates: CompareCandidate[] = []
  for (const e of map) {
    if (e.type !== 'file' || (e.action !== 'none' && e.action !== 'copy_tail' && e.action !== 'truncate')) continue
    if (!isRelationDataFile(e.path, target.version)) continue
    const s = sizes.get(e.path)
    const t = tsizes.get(e.path)
    if (s === undefined || t === undefined) continue
    candidates.push({ path: e.path, blocks: Math.floor(Math.min(s, t) / BLCKSZ) })
  }
  ports.log.progress(`comparing ${candidates.length} relation files block by block with the source (${why})`)
  const { differing, stats } = await compareBlocks(pgdata, candidates, source, { checkCancelled: ports.checkCancelled })
  const byPath = new Map(map.map(e => [e.path, e]))
  let extraBlocks = 0
  for (const [path, ranges] of differing) {
    const e = byPath.get(path)
    if (e === undefined) continue
    const before = rangesCount(e.blocks ?? [])
    e.blocks = unionRanges(e.blocks ?? [], ranges)
    extraBlocks += rangesCount(e.blocks) - before
  }
  return { kind: 'compare', why, extraBlocks, comparison: stats }
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
    const targetFiles = listDataDir(pgdata, 'target')

    let entries: PlanEntry[]
    let method: BlockMethod = { kind: 'wal', why: 'every block the target changed since the divergence is in its WAL (pg_rewind\'s way)', extraBlocks: 0, comparison: null }
    if (d.rewindNeeded) {
      const changed = new Map(Object.entries(input.scan!.changedBlocks))
      const map = buildFileMap({
        source: sourceFiles,
        target: targetFiles,
        version: target.version,
        segSize: d.segSize,
        keepWal: new Set(d.keepWal),
        divergenceSegNo: lsnToSegNo(parseLsn(d.divergeLsn), d.segSize),
        changedBlocks: changed
      })
      const why = whyCompare(d, input.scan!, input.options?.compareBlocks === true)
      if (why !== null) method = await compareAll(map, sourceFiles, targetFiles, target, source, pgdata, why, ports)
      entries = activeEntries(map)
    } else {
      // No rewind: but a node left without the new timeline's history files may not
      // follow the source onto it, so copy the ones it lacks.
      const have = new Set(targetFiles.map(f => f.path))
      entries = d.sameTimeline
        ? []
        : sourceFiles
          .filter(f => f.type === 'file' && /^pg_wal\/[0-9A-F]{8}\.history$/.test(f.path) && !have.has(f.path))
          .map(f => ({ path: f.path, action: 'copy' as const, type: 'file' as const, sourceSize: f.size }))
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
