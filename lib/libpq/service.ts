import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { CONNINFO_KEYWORDS } from './conninfo'
import { PgRewindError } from '../errors'

/**
 * libpq's connection service file (fe-connect.c parseServiceInfo / parseServiceFile):
 * `service=NAME` in the connection string, else PGSERVICE, names a `[NAME]` group of
 * `keyword=value` lines. The group is looked up in the user's file first —
 * `servicefile=` (libpq 18), else PGSERVICEFILE, else ~/.pg_service.conf when it
 * exists — and, only when the user's file has no such group, in the system-wide
 * `pg_service.conf` of PGSYSCONFDIR (else the platform libpq's configuration
 * directory). Its values fill in what the connection string left unset, before the
 * environment variables do (so a service's host beats PGHOST). Messages are libpq's.
 */

/** Where the platform's libpq looks without PGSYSCONFDIR: Debian/Ubuntu, PGDG RPMs, a source build. */
export const SYSCONFDIRS: readonly string[] = ['/etc/postgresql-common', '/etc/sysconfig/pgsql', '/usr/local/pgsql/etc']

const KEYWORDS = new Set(CONNINFO_KEYWORDS.map(k => k.keyword))
// libpq reads a service file line into a 1024-byte buffer
const MAX_LINE = 1023

function serviceError (message: string): PgRewindError {
  return new PgRewindError('CONNSTR_INVALID', message, {
    hint: 'See "The Connection Service File" in the PostgreSQL documentation (libpq).'
  })
}

export function defaultSysconfDir (): string {
  return SYSCONFDIRS.find(d => existsSync(d)) ?? SYSCONFDIRS[SYSCONFDIRS.length - 1]
}

/**
 * The `[service]` group of one file: its keyword → value pairs, or null when the file
 * has no such group. A missing or unreadable file is libpq's "service file not found".
 */
export function parseServiceFile (file: string, service: string): Map<string, string> | null {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw serviceError(`service file "${file}" not found`)
  }
  let found = false
  const out = new Map<string, string>()
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1
    if (lines[i].length + 1 > MAX_LINE) throw serviceError(`line ${n} too long in service file "${file}"`)
    const line = lines[i].trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('[')) {
      if (found) break // the end of the group
      // as libpq: "[name]" followed by anything is the group too
      found = line.startsWith(`[${service}]`)
      continue
    }
    if (!found) continue
    if (line.startsWith('ldap')) {
      throw serviceError(`LDAP lookup of connection options is not supported (service file "${file}", line ${n})`)
    }
    const eq = line.indexOf('=')
    if (eq < 0) throw serviceError(`syntax error in service file "${file}", line ${n}`)
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    if (key === 'service') throw serviceError(`nested service specifications not supported in service file "${file}", line ${n}`)
    if (!KEYWORDS.has(key)) throw serviceError(`syntax error in service file "${file}", line ${n}`)
    // the first value wins, as libpq fills in only unset options
    if (!out.has(key)) out.set(key, value)
  }
  return found ? out : null
}

export interface ServiceResult {
  service: string
  /** the file the group came from */
  file: string
  values: Map<string, string>
}

/**
 * Look a service up as libpq does. `servicefile`: the connection string's
 * servicefile= (libpq 18), else PGSERVICEFILE. Null when no service is named.
 */
export function lookupService (service: string | undefined, servicefile: string | undefined, env: NodeJS.ProcessEnv, home: string): ServiceResult | null {
  if (service === undefined) return null
  const explicit = servicefile
  const userFile = explicit ?? join(home, '.pg_service.conf')
  if (explicit !== undefined || isFile(userFile)) {
    const values = parseServiceFile(userFile, service)
    if (values !== null) return { service, file: userFile, values }
  }
  const sysconf = env.PGSYSCONFDIR !== undefined && env.PGSYSCONFDIR !== '' ? env.PGSYSCONFDIR : defaultSysconfDir()
  const sysFile = join(sysconf, 'pg_service.conf')
  if (isFile(sysFile)) {
    const values = parseServiceFile(sysFile, service)
    if (values !== null) return { service, file: sysFile, values }
  }
  throw serviceError(`definition of service "${service}" not found`)
}

function isFile (p: string): boolean {
  try { return statSync(p).isFile() } catch { return false }
}
