import { createHash } from 'node:crypto'
import { PgRewindError } from '../errors'
import { ControlFile, dbStateName, parseControlFile } from '../format/controlfile'
import { formatLsn, historyFileName } from '../format/lsn'
import { historyForTli, TimelineHistoryEntry } from '../format/timeline'
import { ioCode, ReadFile, Side } from '../datadir/files'
import { RewindSource } from '../source/types'
import { parsePgVersionFile, VersionInfo, versionInfo } from '../format/versions'

export interface ClusterInfo {
  control: ControlFile
  controlRaw: Buffer
  version: VersionInfo
  /**
   * The timeline the cluster is on: the later of its last checkpoint's and its
   * minRecoveryPoint's (PostgreSQL 16+ pg_rewind; we use it for every major, so a
   * just-promoted source whose end-of-recovery checkpoint has not finished is
   * still seen on its new timeline).
   */
  tli: number
}

/** What a plan pins of each side: if any of it changes, the plan is stale. */
export interface ClusterIdentity {
  systemIdentifier: string
  major: number
  catalogVersion: number
  state: string
  checkpoint: string
  timeline: number
  /** sha256 of the whole pg_control file */
  controlDigest: string
}

export async function readClusterInfo (read: ReadFile, side: Side): Promise<ClusterInfo> {
  let pgVersion: number
  try {
    pgVersion = parsePgVersionFile((await read('PG_VERSION')).toString('utf8'))
  } catch (e) {
    if (e instanceof PgRewindError && e.code !== 'SOURCE_IO' && e.code !== 'TARGET_IO') throw e
    throw new PgRewindError(ioCode(side),
      `${side} is not a PostgreSQL data directory: could not read PG_VERSION`, { detail: (e as Error).message })
  }
  const version = versionInfo(pgVersion)
  const controlRaw = await read('global/pg_control')
  const control = parseControlFile(controlRaw, { expectedMajor: pgVersion })
  const tli = Math.max(control.checkPointCopy.thisTimeLineID, control.minRecoveryPointTLI)
  return { control, controlRaw, version, tli }
}

export function clusterIdentity (info: ClusterInfo): ClusterIdentity {
  return {
    systemIdentifier: info.control.systemIdentifier.toString(),
    major: info.version.major,
    catalogVersion: info.control.catalogVersionNo,
    state: dbStateName(info.control.state),
    checkpoint: formatLsn(info.control.checkPoint),
    timeline: info.tli,
    controlDigest: createHash('sha256').update(info.controlRaw).digest('hex')
  }
}

/** The timeline history of `tli`, from `<pg_wal>/<tli>.history` (timeline 1 has none). */
export async function readHistory (read: ReadFile, tli: number): Promise<TimelineHistoryEntry[]> {
  if (tli === 1) return historyForTli(1)
  const content = await read(`pg_wal/${historyFileName(tli)}`)
  return historyForTli(tli, content)
}

/** The target must still be what the earlier step saw, or its results no longer apply. */
export function checkTargetUnchanged (info: ClusterInfo, expectedDigest: string, what: string): void {
  const now = clusterIdentity(info)
  if (now.controlDigest !== expectedDigest) {
    throw new PgRewindError('PLAN_STALE', `the target changed since ${what} was computed`, {
      detail: `Its control file is no longer the one ${what} was computed from (now: state "${now.state}", checkpoint ${now.checkpoint}, timeline ${now.timeline}).`,
      hint: 'Run the earlier steps again.'
    })
  }
}

/**
 * A local source must be exactly as seen before (it is stopped); a running server
 * moves on by itself, so only what makes the plan meaningless may not change.
 */
export function checkSourceUnchanged (kind: RewindSource['kind'], now: ClusterIdentity, then: ClusterIdentity, what: string): void {
  const same = kind === 'local'
    ? now.controlDigest === then.controlDigest
    : now.systemIdentifier === then.systemIdentifier && now.timeline === then.timeline
  if (!same) {
    throw new PgRewindError('PLAN_STALE', `the source changed since ${what} was computed`, {
      detail: `Now: state "${now.state}", checkpoint ${now.checkpoint}, timeline ${now.timeline}; then: state "${then.state}", checkpoint ${then.checkpoint}, timeline ${then.timeline}.`,
      hint: 'Run the earlier steps again.'
    })
  }
}
