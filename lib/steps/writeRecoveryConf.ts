import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { dataDirModes } from '../datadir/files'
import { confQuote, lastPrimaryConninfo } from '../format/conffile'
import { rollbackAvailable } from '../rewind/journaling'
import { Journal } from '../target/journal'
import { TargetWriter } from '../target/writer'
import { checkNotRunning, openSourceChecked } from '../rewind/preconditions'
import { Ports, WriteRecoveryConfInput } from './types'

export interface RecoveryConfResult {
  dryRun: boolean
  /** false: primary_conninfo was already the last setting and standby.signal existed */
  changed: boolean
  /** what was written (or would be) */
  files: string[]
  /** the file primary_conninfo is in (absolute) */
  path: string
  /** the primary_conninfo value, with any password masked */
  conninfo: string
}

/**
 * pg_rewind's -R: the rewound node follows the source server on its next start.
 * Like pg_rewind (PostgreSQL 12+) it appends primary_conninfo — the settings of the
 * connection actually made to the source (lib/libpq/resolve.ts standbyConnPairs: every
 * keyword with a value but replication, dbname and fallback_application_name, then
 * dbname as pg_rewind 18 adds it) — to postgresql.auto.conf and creates
 * standby.signal, both durably (fsynced, unless noSync). Unlike pg_rewind it does
 * not append the same setting twice, so running it again changes nothing. The value
 * holds a password only when the user put one in the connection string (as
 * pg_rewind writes it); one from PGPASSWORD or a password file is not copied into
 * the target. It is never logged or returned.
 */
export async function writeRecoveryConf (input: WriteRecoveryConfInput, ports: Ports): Promise<RecoveryConfResult> {
  if (input.source.connstr === undefined) {
    throw new PgRewindError('USAGE', 'no source server information (--source-server) specified for --write-recovery-conf', {
      hint: 'The recovery configuration names the source server to follow; give the source as a connection string.'
    })
  }
  const opts = input.options ?? {}
  const dryRun = opts.dryRun === true
  const pgdata = input.target.pgdata
  checkNotRunning(pgdata, 'target')
  // from the connection itself: it must work, and what it used is what the standby gets
  const source = await openSourceChecked(input.source, ports)
  let conninfo: { conninfo: string, redacted: string }
  try {
    if (source.standbyConninfo === undefined) throw new PgRewindError('INTERNAL', 'the source has no connection settings to write')
    conninfo = source.standbyConninfo()
  } finally {
    await source.close()
  }
  const quoted = confQuote(conninfo.conninfo)

  const autoConf = 'postgresql.auto.conf'
  let existing = ''
  try {
    existing = readFileSync(join(pgdata, autoConf), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new PgRewindError('TARGET_IO', `could not read file "${join(pgdata, autoConf)}": ${(e as Error).message}`)
    }
  }
  const files: string[] = []
  const writer = new TargetWriter(pgdata, { dryRun, ...dataDirModes(pgdata) })
  const needsConninfo = lastPrimaryConninfo(existing) !== quoted
  const needsSignal = !existsSync(join(pgdata, 'standby.signal'))
  // the last apply's journal, while it can still undo the rewind, undoes this too
  const journal = dryRun || (!needsConninfo && !needsSignal) ? null : Journal.open(pgdata, undefined, { statesOnly: true })
  try {
    if (journal !== null && rollbackAvailable(pgdata, journal)) {
      if (needsConninfo) journal.rewrite(autoConf)
      if (needsSignal) journal.rewrite('standby.signal')
      journal.commit()
    }
    if (needsConninfo) {
      ports.log.progress(`writing primary_conninfo to ${autoConf}`)
      const sep = existing === '' || existing.endsWith('\n') ? '' : '\n'
      writer.writeFileDurably(autoConf, `${existing}${sep}primary_conninfo = ${quoted}\n`, { sync: opts.noSync !== true })
      files.push(autoConf)
    }
    if (needsSignal) {
      writer.writeFileDurably('standby.signal', '', { sync: opts.noSync !== true })
      files.push('standby.signal')
    }
  } finally {
    writer.close()
    journal?.close()
  }
  return { dryRun, changed: files.length > 0, files, path: join(pgdata, autoConf), conninfo: conninfo.redacted }
}
