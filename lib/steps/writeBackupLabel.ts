import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { dataDirModes } from '../datadir/files'
import { PgRewindError } from '../errors'
import { DBState, serializeControlFile } from '../format/controlfile'
import { Lsn, lsnToSegNo, parseLsn, walFileName } from '../format/lsn'
import { clusterIdentity, ClusterInfo, readClusterInfo } from '../rewind/clusterinfo'
import { checkNotRunning, openSourceChecked, plannedTarget, planOf } from '../rewind/preconditions'
import { reached } from '../target/failpoint'
import { Journal } from '../target/journal'
import { hasMarker, MARKER_FILE, readAutoConf, rewindInProgress, withoutMarker } from '../target/marker'
import { syncChanges } from '../target/sync'
import { syncSetOf } from '../rewind/announce'
import { TargetWriter } from '../target/writer'
import { BackupLabelInfo, FinishResult, Plan, PlanInput, Ports, StepOptions } from './types'

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
 * pg_control, each written durably, and last the marker that kept the half-rewound
 * target from starting is removed. Until pg_control is replaced the target still
 * identifies as the old cluster; the journal records the old backup_label and
 * pg_control before they are replaced, so the whole rewind can still be rolled back
 * (until the node starts).
 */
export async function writeBackupLabel (input: PlanInput, ports: Ports): Promise<FinishResult> {
  const plan = planOf(input)
  const opts = input.options ?? {}
  const dryRun = opts.dryRun === true
  const pgdata = input.target.pgdata
  checkNotRunning(pgdata, 'target')
  const journal = dryRun ? null : Journal.open(pgdata, undefined, { statesOnly: true })
  const ours = journal?.header.planDigest === plan.digest ? journal : null
  try {
    // interrupted after pg_control was written: only the marker is left to remove
    if (ours?.state === 'finishing' && ours.controlDigestAfter !== undefined && ours.controlDigestAfter === controlDigestOf(pgdata)) {
      ports.log.info('completing an interrupted rewind whose control file was already written')
      return finish(pgdata, ours, opts, { backupLabel: readLabel(pgdata), controlFileUpdated: true, synced: opts.noSync !== true })
    }
    const { target } = await plannedTarget(input, plan)
    if (!dryRun) requireApplied(pgdata, plan, journal, ours)
    reached('finish')
    const writer = new TargetWriter(pgdata, { dryRun, ...dataDirModes(pgdata) })
    const sync = opts.noSync !== true

    // The data the plan wrote is made durable first: a crash after this point leaves
    // a target whose pg_control still says it is the old cluster (and can be rewound
    // again), never one that claims to be rewound over data that was lost.
    const synced = !dryRun && sync && plan.entries.length > 0
    if (synced) {
      ports.log.progress('syncing target data directory')
      // the apply fdatasynced every file it changed (its journal says so): their directories are left
      const set = syncSetOf(plan.entries, ours?.filesDurable !== true)
      await syncChanges(pgdata, set, opts.syncMethod ?? 'fsync', (done, total) => ports.progress?.({ phase: 'sync', done, total }))
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
      const control = rewoundControlFile(src, end)
      if (ours !== null) {
        ours.rewrite('backup_label')
        ours.rewrite('global/pg_control')
        ours.setState('finishing')
      }
      // backup_label before pg_control: until pg_control is replaced, the target is
      // still the old cluster, and a stale backup_label is excluded by a re-run.
      reached('backup_label')
      writer.writeFileDurably('backup_label', label, { sync })
      reached('pg_control')
      writer.writeFileDurably('global/pg_control', control, { sync })
      ours?.setState('finishing', { controlDigest: sha256(control) })
    }
    writer.close()
    const done = { backupLabel: label, controlFileUpdated: label !== null && !dryRun, synced }
    // "no rewind required" only added history files: nothing worth keeping a journal for
    return dryRun ? { ...done, journalDiscarded: false } : finish(pgdata, ours, plan.rewindNeeded ? opts : { ...opts, discardJournal: true }, done)
  } finally {
    journal?.close()
  }
}

function sha256 (b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

function controlDigestOf (pgdata: string): string | null {
  try { return sha256(readFileSync(join(pgdata, 'global', 'pg_control'))) } catch { return null }
}

function readLabel (pgdata: string): string | null {
  try { return readFileSync(join(pgdata, 'backup_label'), 'utf8') } catch { return null }
}

/** applyPlan must have completed for this plan (its journal says so, or, without one, its marker is there). */
function requireApplied (pgdata: string, plan: Plan, journal: Journal | null, ours: Journal | null): void {
  if (journal !== null && ours === null && journal.state !== 'done') {
    throw new PgRewindError('REWIND_INTERRUPTED', `an interrupted apply of another plan left "${pgdata}" half-rewound`, {
      detail: `Its journal holds plan ${journal.header.planDigest}, not ${plan.digest}.`,
      hint: `Undo it with: pgrewind rollback -D ${pgdata}`
    })
  }
  const applied = ours !== null ? ours.state !== 'applying' : rewindInProgress(pgdata) || plan.entries.length === 0
  if (!applied) {
    throw new PgRewindError('APPLY_INCOMPLETE', `plan ${plan.digest} has not been applied completely to "${pgdata}"`, {
      hint: 'Run applyPlan (pgrewind apply) with this plan first; an interrupted one completes when run again.'
    })
  }
}

/** The last steps: the marker goes (the target may start now), the journal says done (or goes too). */
function finish (pgdata: string, journal: Journal | null, opts: StepOptions, r: Omit<FinishResult, 'journalDiscarded'>): FinishResult {
  const conf = readAutoConf(pgdata)
  reached('marker')
  if (hasMarker(conf)) {
    new TargetWriter(pgdata, { dryRun: false, ...dataDirModes(pgdata) }).writeFileDurably(MARKER_FILE, withoutMarker(conf), { sync: opts.noSync !== true })
  }
  let journalDiscarded = false
  if (journal !== null) {
    journal.setState('done', { controlDigest: controlDigestOf(pgdata) ?? undefined })
    if (opts.discardJournal === true) {
      journal.discard()
      journalDiscarded = true
    }
  }
  return { ...r, journalDiscarded }
}
