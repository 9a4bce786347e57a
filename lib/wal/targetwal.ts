import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TimelineHistoryEntry } from '../format/timeline'
import { WalReader } from './reader'
import { findPostgres, readRestoreCommand } from '../pg/postgres'
import { withMarkerLifted } from '../target/marker'
import { restoreWalSegment } from '../pg/restore'
import { SegmentFiles } from './segmentfiles'
import { ClusterInfo } from '../rewind/clusterinfo'
import { StepOptions } from '../steps/types'

export interface TargetWal {
  reader: WalReader
  /** names of the pg_wal files the reader opened since the last clearOpened() */
  opened: () => string[]
  clearOpened: () => void
  close: () => void
}

/**
 * A WAL reader over the target's pg_wal along the target's timeline history. With a
 * restore_command, segments missing from pg_wal are restored into a private temp
 * directory (never into the target: a dry run must change nothing, and the segments
 * are only needed for reading). The command is the target's own, as its postgres
 * reports it (-c/--restore-target-wal, honouring --config-file).
 */
export function openTargetWal (pgdata: string, info: ClusterInfo, history: TimelineHistoryEntry[], opts: StepOptions): TargetWal {
  const restoreCommand = opts.restoreTargetWal === true
    ? withMarkerLifted(pgdata, () => readRestoreCommand(findPostgres(pgdata, info.version.major, opts.pgBindir), pgdata, opts.configFile))
    : undefined
  const segSize = info.control.xlogSegSize
  let restoreDir: string | null = null
  const onMissing = restoreCommand === undefined
    ? undefined
    : (fileName: string): string | null => {
        if (restoreDir === null) restoreDir = mkdtempSync(join(tmpdir(), 'pgrewind-restore-'))
        return restoreWalSegment(restoreCommand, fileName, restoreDir, segSize)
      }
  const files = new SegmentFiles(join(pgdata, 'pg_wal'), segSize, { onMissing, readAhead: true })
  const reader = new WalReader(files, { version: info.version, segSize, sysid: info.control.systemIdentifier, timelines: history })
  return {
    reader,
    opened: () => files.openedFiles,
    clearOpened: () => files.clearOpened(),
    close: () => {
      files.close()
      if (restoreDir !== null) rmSync(restoreDir, { recursive: true, force: true })
    }
  }
}
