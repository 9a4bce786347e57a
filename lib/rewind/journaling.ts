import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { JournalInfo, Logger } from '../steps/types'
import { Journal, journalLocation } from '../target/journal'
import { rewindInProgress } from '../target/marker'

/**
 * The journal's place in the steps: what an interrupted rewind left behind, and what
 * the next step does about it. A re-run of the rewind (or of the same plan) rolls the
 * interrupted apply back and does it again — the same result as an uninterrupted
 * run, from any point of interruption; a step that must not change anything (a dry
 * run, a plan) refuses and says so.
 */

function controlDigest (pgdata: string): string | null {
  try { return createHash('sha256').update(readFileSync(join(pgdata, 'global', 'pg_control'))).digest('hex') } catch { return null }
}

/** Why a journal can no longer undo the rewind, or null when it can. */
function whyNoRollback (pgdata: string, j: Journal): string | null {
  if (j.state !== 'done') return null
  const now = controlDigest(pgdata)
  if (now !== null && now !== j.controlDigestAfter) return 'the node has started since the rewind (its pg_control changed), so its files are no longer the rewind\'s'
  return null
}

/** Whether the apply the journal holds can still be undone (a handle opened for its state only will do). */
export function rollbackAvailable (pgdata: string, j: Journal): boolean {
  return whyNoRollback(pgdata, j) === null
}

export function describeJournal (pgdata: string, j: Journal): JournalInfo {
  const why = whyNoRollback(pgdata, j)
  const info: JournalInfo = {
    path: journalLocation(pgdata),
    state: j.state,
    planDigest: j.header.planDigest,
    createdAt: j.header.createdAt,
    bytes: j.bytes,
    files: j.files,
    rollbackAvailable: why === null
  }
  if (why !== null) info.rollbackUnavailableBecause = why
  return info
}

export function journalInfo (pgdata: string): JournalInfo | null {
  const j = Journal.open(pgdata)
  return j === null ? null : describeJournal(pgdata, j)
}

function interruptedError (pgdata: string, j: Journal | null): PgRewindError {
  return new PgRewindError('REWIND_INTERRUPTED', `an interrupted rewind left "${pgdata}" half-rewound`, {
    detail: j !== null
      ? `Its journal (${journalLocation(pgdata)}) holds an apply of plan ${j.header.planDigest} started at ${j.header.createdAt} and stopped in state "${j.state}".`
      : 'It ran without a journal (--no-journal); the target carries the marker that keeps it from starting.',
    hint: j !== null
      ? `Run the rewind again (it rolls the interrupted one back and redoes it), or undo it with: pgrewind rollback -D ${pgdata}`
      : 'Run the rewind again without --dry-run to complete it.'
  })
}

/**
 * Before a step that may change the target: an unfinished journal is rolled back
 * (when `planDigest` is given, only one of that plan: another plan's is refused);
 * in a dry run, anything unfinished is refused. A finished journal stays, unless a
 * new apply is about to start (`replaceDone`). Returns true when it rolled back.
 */
export function settleInterrupted (pgdata: string, o: { dryRun: boolean, log: Logger, planDigest?: string, replaceDone?: boolean }): boolean {
  // its state first (a finished rewind's journal is only removed); read whole only to roll back
  const j = Journal.open(pgdata, undefined, { statesOnly: true })
  if (j === null) {
    if (o.dryRun && rewindInProgress(pgdata)) throw interruptedError(pgdata, null)
    if (!o.dryRun && Journal.discardIncomplete(pgdata)) o.log.info('removed the journal of a rewind interrupted before it changed anything')
    return false
  }
  if (j.state === 'done') {
    if (o.replaceDone === true && !o.dryRun) {
      o.log.progress(`removing the journal of an earlier rewind (plan ${j.header.planDigest})`)
      j.discard()
    }
    return false
  }
  if (o.dryRun) throw interruptedError(pgdata, j)
  if (o.planDigest !== undefined && j.header.planDigest !== o.planDigest) {
    throw new PgRewindError('REWIND_INTERRUPTED', `an interrupted apply of another plan left "${pgdata}" half-rewound`, {
      detail: `Its journal holds plan ${j.header.planDigest} (started at ${j.header.createdAt}), not ${o.planDigest}.`,
      hint: `Undo it with: pgrewind rollback -D ${pgdata}, then plan again.`
    })
  }
  o.log.info(`rolling back an interrupted rewind (plan ${j.header.planDigest}, started at ${j.header.createdAt}) before running it again`)
  j.close()
  Journal.open(pgdata)?.rollback()
  return true
}

export interface RollbackResult {
  rolledBack: boolean
  discarded: boolean
  journal: JournalInfo | null
  intents: number
  bytesRestored: number
  filesRestored: number
  removed: number
  message: string
}

/** `pgrewind rollback`: undo the apply recorded in the journal, or (discard) drop the journal of a finished one. */
export function rollbackTarget (pgdata: string, o: { discard?: boolean, log: Logger, progress?: (done: number, total: number) => void }): RollbackResult {
  const none = { intents: 0, bytesRestored: 0, filesRestored: 0, removed: 0 }
  const j = Journal.open(pgdata)
  if (j === null) {
    if (rewindInProgress(pgdata)) {
      throw new PgRewindError('ROLLBACK_UNAVAILABLE', `"${pgdata}" is half-rewound, but the rewind ran without a journal (--no-journal)`, {
        hint: 'Run the rewind again to complete it; without a journal it cannot be undone.'
      })
    }
    if (!existsSync(pgdata)) throw new PgRewindError('TARGET_IO', `"${pgdata}" does not exist`)
    const message = Journal.discardIncomplete(pgdata)
      ? 'removed the journal of a rewind interrupted before it changed anything: nothing else to roll back'
      : 'no journal: nothing to roll back'
    return { rolledBack: false, discarded: false, journal: null, ...none, message }
  }
  const info = describeJournal(pgdata, j)
  if (o.discard === true) {
    if (j.state !== 'done') {
      throw new PgRewindError('ROLLBACK_UNAVAILABLE', `the journal of an unfinished rewind cannot be discarded: "${pgdata}" would be left half-rewound`, {
        hint: `Roll it back (pgrewind rollback -D ${pgdata}) or run the rewind again to complete it.`
      })
    }
    j.discard()
    return { rolledBack: false, discarded: true, journal: info, ...none, message: `discarded the journal of plan ${j.header.planDigest}` }
  }
  if (!info.rollbackAvailable) {
    throw new PgRewindError('ROLLBACK_UNAVAILABLE', `the rewind of "${pgdata}" cannot be rolled back`, {
      detail: `Because ${info.rollbackUnavailableBecause ?? 'of its state'}.`,
      hint: `Rewind the node again from the current primary instead; pgrewind rollback --discard -D ${pgdata} removes the journal.`
    })
  }
  o.log.info(`rolling back the ${j.state === 'done' ? 'finished' : 'interrupted'} rewind of plan ${j.header.planDigest} (started at ${j.header.createdAt})`)
  const stats = j.rollback(o.progress)
  return {
    rolledBack: true,
    discarded: false,
    journal: info,
    ...stats,
    message: `restored the target as it was before the rewind: ${stats.bytesRestored} bytes written back, ${stats.filesRestored} files restored, ${stats.removed} created paths removed`
  }
}
