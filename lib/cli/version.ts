import { execFileSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, dirname, join, resolve } from 'node:path'
import { isSupportedMajor, SUPPORTED_MAJORS } from '../format/versions'
import { VERSION } from '../version'
import { invokedAs, PROG } from './output'

const RANGE = `${SUPPORTED_MAJORS[0]}-${SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1]}`

/** The directory we were started from: the one holding the name we were run as (PATH searched for a bare name). */
function invokedDir (): string | null {
  const p = invokedAs()
  if (p.includes('/')) return dirname(resolve(p))
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d === '') continue
    try {
      accessSync(join(d, p), constants.X_OK)
      return d
    } catch { /* not here */ }
  }
  return null
}

/** `postgres --version` of the server next to us, when it is one pgrewind supports: "15.20". */
function siblingServerVersion (): string | null {
  const dir = invokedDir()
  if (dir === null) return null
  try {
    const out = execFileSync(join(dir, 'postgres'), ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] })
    const m = /\(PostgreSQL\) ((\d+)(?:\.\d+)?)/.exec(out)
    return m !== null && isSupportedMajor(Number(m[2])) ? m[1] : null
  } catch {
    return null
  }
}

/**
 * What -V/--version prints. As `pgrewind`: "pgrewind (PostgreSQL 13-18) 0.1.0".
 * Under the name pg_rewind (linked into a bin_dir), what scripts that parse
 * pg_rewind's version expect: "pg_rewind (PostgreSQL) V (pgrewind 0.1.0, PostgreSQL
 * 13-18)", V being the version of the postgres beside it (pg_rewind and postgres of
 * one installation have the same), or the newest major pgrewind supports when there
 * is none beside it.
 */
export function versionLine (): string {
  if (PROG !== 'pg_rewind') return `pgrewind (PostgreSQL ${RANGE}) ${VERSION}\n`
  const v = siblingServerVersion() ?? String(SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1])
  return `pg_rewind (PostgreSQL) ${v} (pgrewind ${VERSION}, PostgreSQL ${RANGE})\n`
}
