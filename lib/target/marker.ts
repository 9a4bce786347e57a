import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { confQuote } from '../format/conffile'
import { JOURNAL_DIR } from '../datadir/listing'
import { replaceFile } from './durable'

/**
 * A half-rewound target must not start: from the first change until the rewind is
 * complete its postgresql.auto.conf (which PostgreSQL always reads from the data
 * directory, whatever config_file says) ends with an `include` of a file that does
 * not exist and whose name says what to do. The postmaster, single-user mode and
 * `postgres -C` all refuse to start then, and the server log says, for example:
 *
 *   LOG:  could not open configuration file "/pgdata/pgrewind_journal/REWIND IN
 *         PROGRESS - run the same pgrewind command again to complete it, or
 *         pgrewind rollback -D /pgdata": No such file or directory
 *   FATAL:  configuration file "postgresql.auto.conf" contains errors
 *
 * pg_control is left alone until the very end, so pgrewind itself can still read
 * the old cluster's identity to resume or roll back. The marker is the last thing a
 * finished rewind removes, and a rollback restores the file as it was.
 */

export const MARKER_FILE = 'postgresql.auto.conf'
const MARKER_NAME = 'REWIND IN PROGRESS - run the same pgrewind command again to complete it, or'

export function markerLine (pgdata: string): string {
  return `include ${confQuote(`${join(pgdata, JOURNAL_DIR)}/${MARKER_NAME} pgrewind rollback -D ${pgdata}`)}\n`
}

function isMarker (line: string): boolean {
  return /^include '/.test(line) && line.includes(`${JOURNAL_DIR}/${MARKER_NAME}`)
}

export function hasMarker (text: string): boolean {
  return text.split('\n').some(isMarker)
}

/** The text with the marker as its last line (once). */
export function withMarker (text: string, pgdata: string): string {
  const base = withoutMarker(text)
  return `${base}${base === '' || base.endsWith('\n') ? '' : '\n'}${markerLine(pgdata)}`
}

export function withoutMarker (text: string): string {
  return text.split('\n').filter(l => !isMarker(l)).join('\n')
}

/** The target's postgresql.auto.conf, '' when it has none. */
export function readAutoConf (pgdata: string): string {
  try {
    return readFileSync(join(pgdata, MARKER_FILE), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw new PgRewindError('TARGET_IO', `could not read file "${join(pgdata, MARKER_FILE)}": ${(e as Error).message}`)
  }
}

/** True when an unfinished rewind left its marker in the target. */
export function rewindInProgress (pgdata: string): boolean {
  return hasMarker(readAutoConf(pgdata))
}

function replaceDurably (pgdata: string, text: string): void {
  const path = join(pgdata, MARKER_FILE)
  replaceFile(path, text, { tmp: `${path}.pgrewind-lift`, mode: statSync(path).mode & 0o777 })
}

/**
 * Run `f` (the target's own `postgres -C`, which the marker would stop too) with the
 * marker lifted, and put it back whatever happens. Only a run resuming a rewind made
 * without a journal needs this; with a journal, the interrupted apply is rolled
 * back (marker and all) before anything runs postgres.
 */
export function withMarkerLifted<T> (pgdata: string, f: () => T): T {
  const text = readAutoConf(pgdata)
  if (!hasMarker(text)) return f()
  replaceDurably(pgdata, withoutMarker(text))
  try {
    return f()
  } finally {
    replaceDurably(pgdata, text)
  }
}
