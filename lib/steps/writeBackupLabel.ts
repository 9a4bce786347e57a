import { PgRewindError } from '../errors'
import { DBState, serializeControlFile } from '../format/controlfile'
import { Lsn, lsnToSegNo, parseLsn, walFileName } from '../format/lsn'
import { dataDirModes } from '../datadir/files'
import { syncChanges, syncSetOf } from '../target/sync'
import { TargetWriter } from '../target/writer'
import { clusterIdentity, ClusterInfo, readClusterInfo } from '../rewind/clusterinfo'
import { openSourceChecked, plannedTarget } from '../rewind/preconditions'
import { BackupLabelInfo, FinishResult, PlanInput, Ports } from './types'

function pad2 (n: number): string { return String(n).padStart(2, '0') }

export function backupLabelText (b: BackupLabelInfo, segSize: number, now: Date): string {
  const redo = parseLsn(b.redo)
  const t = `${now.getUTCFullYear()}-${pad2(now.getUTCMonth() + 1)}-${pad2(now.getUTCDate())} ${pad2(now.getUTCHours())}:${pad2(now.getUTCMinutes())}:${pad2(now.getUTCSeconds())} UTC`
  return `START WAL LOCATION: ${b.redo} (file ${walFileName(b.tli, lsnToSegNo(redo, segSize), segSize)})\n` +
    `CHECKPOINT LOCATION: ${b.checkpoint}\n` +
    'BACKUP METHOD: pg_rewind\n' +
    'BACKUP FROM: standby\n' +
    `START TIME: ${t}\n`
}

/**
 * The target's new pg_control: the source's, in archive recovery, which must replay
 * at least to where the source's WAL was when its files were copied. A stopped
 * (local) source: its last checkpoint. A running server (`end`, from its
 * currentEndLsn): a primary's WAL insert location after the copy, a standby's
 * minRecoveryPoint.
 */
export function rewoundControlFile (src: ClusterInfo, end?: { lsn: Lsn, tli: number }): Buffer {
  const cf = { ...src.control }
  cf.state = DBState.IN_ARCHIVE_RECOVERY
  cf.minRecoveryPoint = end?.lsn ?? src.control.checkPoint
  cf.minRecoveryPointTLI = end?.tli ?? src.control.checkPointCopy.thisTimeLineID
  cf.time = BigInt(Math.floor(Date.now() / 1000))
  return serializeControlFile(cf)
}

/**
 * Step 5: make the target start as a recovering copy of the source: first the sync
 * of everything the plan changed, then backup_label (where recovery starts), then
 * pg_control, each written durably. Until pg_control is replaced the target still
 * identifies as the old cluster.
 */
export async function writeBackupLabel (input: PlanInput, ports: Ports): Promise<FinishResult> {
  const { plan, opts, dryRun, pgdata, target } = await plannedTarget(input)
  const writer = new TargetWriter(pgdata, { dryRun, ...dataDirModes(pgdata) })
  const sync = opts.noSync !== true

  // The data the plan wrote is made durable first: a crash after this point leaves
  // a target whose pg_control still says it is the old cluster (and can be rewound
  // again), never one that claims to be rewound over data that was lost.
  const synced = !dryRun && sync && plan.entries.length > 0
  if (synced) {
    ports.log.progress('syncing target data directory')
    await syncChanges(pgdata, syncSetOf(plan.entries), opts.syncMethod ?? 'fsync', (done, total) => ports.progress?.({ phase: 'sync', done, total }))
  }

  let label: string | null = null
  if (plan.rewindNeeded && plan.backupLabel !== null) {
    const source = await openSourceChecked(input.source, ports)
    let src: ClusterInfo
    let end: { lsn: Lsn, tli: number } | undefined
    try {
      // read after the copy: the target must replay at least to where the source is now
      src = await readClusterInfo(p => source.readFile(p), 'source')
      end = source.currentEndLsn !== undefined ? await source.currentEndLsn(src.control) : undefined
    } finally {
      await source.close()
    }
    if (source.kind === 'local' && clusterIdentity(src).controlDigest !== plan.source.controlDigest) {
      throw new PgRewindError('SOURCE_CHANGED', 'source system was modified while pgrewind was running', {
        hint: 'The source must stay shut down during the rewind; run it again.'
      })
    }
    ports.log.progress('creating backup label and updating control file')
    label = backupLabelText(plan.backupLabel, target.control.xlogSegSize, new Date())
    // backup_label before pg_control: until pg_control is replaced, the target is
    // still the old cluster, and a stale backup_label is excluded by a re-run.
    writer.writeFileDurably('backup_label', label, { sync })
    writer.writeFileDurably('global/pg_control', rewoundControlFile(src, end), { sync })
  }
  writer.close()
  return { backupLabel: label, controlFileUpdated: label !== null && !dryRun, synced }
}
