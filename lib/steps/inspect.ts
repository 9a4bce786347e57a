import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { dbStateName, isCleanShutdown, walLevelName } from '../format/controlfile'
import { formatLsn } from '../format/lsn'
import { ClusterIdentity, clusterIdentity, readClusterInfo } from '../rewind/clusterinfo'
import { localReader, runningPostmasterPid } from '../datadir/files'
import { journalInfo } from '../rewind/journaling'
import { rewindInProgress } from '../target/marker'
import { JournalInfo } from './types'

/** What matters to a rewind about one data directory (pg_controldata's view plus pg_rewind's checks). */
export interface InspectResult {
  pgdata: string
  identity: ClusterIdentity
  control: {
    pgControlVersion: number
    state: string
    checkpoint: string
    redo: string
    checkpointTimeline: number
    prevTimeline: number
    minRecoveryPoint: string
    minRecoveryPointTimeline: number
    walLevel: string
    walLogHints: boolean
    dataChecksumVersion: number
    blockSize: number
    walSegmentSize: number
    walBlockSize: number
    relationSegmentSize: number
  }
  running: boolean
  pid: number | null
  files: { backupLabel: boolean, standbySignal: boolean, recoverySignal: boolean }
  /** the undo journal of the last apply, if it is still there */
  journal: JournalInfo | null
  /** an unfinished rewind's marker keeps the target from starting */
  rewindInProgress: boolean
  prerequisites: { checksumsOrWalLogHints: boolean, cleanShutdown: boolean, notRunning: boolean, noInterruptedRewind: boolean, ok: boolean }
}

/**
 * Read-only look at one local data directory: never fails because the cluster is
 * unsuitable (that is what `prerequisites` reports), only when it cannot be read.
 */
export async function inspect (pgdata: string): Promise<InspectResult> {
  let info
  try {
    info = await readClusterInfo(localReader(pgdata, 'target'), 'target')
  } catch (e) {
    // readClusterInfo speaks of "the target"; here the directory may be either side
    if (e instanceof PgRewindError && e.code === 'TARGET_IO') {
      throw new PgRewindError('TARGET_IO', `"${pgdata}" is not a PostgreSQL data directory`, { detail: e.message, data: e.data })
    }
    throw e
  }
  const c = info.control
  const pid = runningPostmasterPid(pgdata)
  const checksumsOrWalLogHints = c.dataChecksumVersion !== 0 || c.walLogHints
  const cleanShutdown = isCleanShutdown(c.state)
  const journal = journalInfo(pgdata)
  const inProgress = rewindInProgress(pgdata)
  const noInterruptedRewind = !inProgress && (journal === null || journal.state === 'done')
  return {
    pgdata,
    identity: clusterIdentity(info),
    control: {
      pgControlVersion: c.pgControlVersion,
      state: dbStateName(c.state),
      checkpoint: formatLsn(c.checkPoint),
      redo: formatLsn(c.checkPointCopy.redo),
      checkpointTimeline: c.checkPointCopy.thisTimeLineID,
      prevTimeline: c.checkPointCopy.prevTimeLineID,
      minRecoveryPoint: formatLsn(c.minRecoveryPoint),
      minRecoveryPointTimeline: c.minRecoveryPointTLI,
      walLevel: walLevelName(c.walLevel),
      walLogHints: c.walLogHints,
      dataChecksumVersion: c.dataChecksumVersion,
      blockSize: c.blcksz,
      walSegmentSize: c.xlogSegSize,
      walBlockSize: c.xlogBlcksz,
      relationSegmentSize: c.relsegSize
    },
    running: pid !== null,
    pid,
    files: {
      backupLabel: existsSync(join(pgdata, 'backup_label')),
      standbySignal: existsSync(join(pgdata, 'standby.signal')),
      recoverySignal: existsSync(join(pgdata, 'recovery.signal'))
    },
    journal,
    rewindInProgress: inProgress,
    prerequisites: {
      checksumsOrWalLogHints,
      cleanShutdown,
      notRunning: pid === null,
      noInterruptedRewind,
      // without checksums or wal_log_hints the rewind compares blocks: slower, not refused
      ok: cleanShutdown && pid === null && noInterruptedRewind
    }
  }
}
