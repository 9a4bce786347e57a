import { PgRewindError } from '../errors'
import { formatLsn, lsnToSegNo, parseLsn } from '../format/lsn'
import { checkSourceUnchanged, checkTargetUnchanged, ClusterInfo, clusterIdentity, readClusterInfo } from '../rewind/clusterinfo'
import { activeEntries, buildFileMap, mapTotals, PlanEntry } from '../rewind/filemap'
import { planDigest } from '../rewind/plandigest'
import { openSourceChecked } from '../rewind/preconditions'
import { localReader } from '../datadir/files'
import { listDataDir } from '../datadir/listing'
import { BackupLabelInfo, BuildPlanInput, Divergence, Plan, Ports, SourceSpec } from './types'
import { DiscardReport, emptyDiscardReport } from '../rewind/discards'
import { completeDiscardNames } from '../rewind/discardreport'
import { FileNameLookup, NameLookup } from '../catalog/names'
import { SqlNameLookup } from '../catalog/sqlnames'
import { RewindSource } from '../source/types'
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
    if (d.rewindNeeded) {
      const changed = new Map(Object.entries(input.scan!.changedBlocks))
      entries = activeEntries(buildFileMap({
        source: sourceFiles,
        target: targetFiles,
        version: target.version,
        segSize: d.segSize,
        keepWal: new Set(d.keepWal),
        divergenceSegNo: lsnToSegNo(parseLsn(d.divergeLsn), d.segSize),
        changedBlocks: changed
      }))
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
      entries,
      totals: { ...totals, entries: entries.length },
      discards
    }
    return { ...plan, digest: planDigest(plan) }
  } finally {
    await source.close()
  }
}
