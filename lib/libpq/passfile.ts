import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_SOCKET_DIRS } from './conninfo'
import { HostSpec, homeDir, nonEmpty, Origin, ResolvedConnInfo } from './resolve'

/**
 * The password for one host: from the connection string or PGPASSWORD, else from
 * the password file (passfile, PGPASSFILE, ~/.pgpass) — libpq's order.
 */
export function passwordFor (ri: ResolvedConnInfo, h: HostSpec, warn?: (msg: string) => void): { value: string, origin: Origin | 'passfile' } | undefined {
  const pw = ri.values.get('password')
  if (pw !== undefined && pw !== '') return { value: pw, origin: ri.origin.get('password')! }
  const file = nonEmpty(ri.values.get('passfile')) ?? join(homeDir(ri.env), '.pgpass')
  const fromFile = passwordFromFile(file, h, ri.dbname, ri.user, warn)
  return fromFile === undefined ? undefined : { value: fromFile, origin: 'passfile' }
}

/** libpq's pwdfMatchesString: "*" matches anything, "\" escapes ':' and '\'. Returns the rest after ':' or null. */
function matchField (line: string, pos: number, token: string): number | null {
  if (line[pos] === '*' && line[pos + 1] === ':') return pos + 2
  let t = 0
  let i = pos
  while (i < line.length) {
    let c = line[i]
    let escaped = false
    if (c === '\\' && i + 1 < line.length) { i++; c = line[i]; escaped = true }
    if (c === ':' && !escaped) return t === token.length ? i + 1 : null
    if (t >= token.length || c !== token[t]) return null
    t++
    i++
  }
  return null
}

export function passwordFromFile (file: string, h: HostSpec, dbname: string, user: string, warn?: (msg: string) => void): string | undefined {
  if (dbname === '' || user === '') return undefined
  let st
  try { st = statSync(file) } catch { return undefined }
  if (!st.isFile()) return undefined
  if ((st.mode & 0o077) !== 0) {
    warn?.(`password file "${file}" has group or world access; permissions should be u=rw (0600) or less`)
    return undefined
  }
  let text: string
  try { text = readFileSync(file, 'utf8') } catch { return undefined }
  // the host name is the key (hostaddr when only that was given: then it is h.host);
  // a socket directory counts as "localhost" when it is the default one
  let hostname = h.host
  if (h.socket && DEFAULT_SOCKET_DIRS.includes(h.host)) hostname = 'localhost'
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '')
    if (line === '' || line.startsWith('#')) continue
    let p: number | null = 0
    for (const token of [hostname, String(h.port), dbname, user]) {
      p = matchField(line, p, token)
      if (p === null) break
    }
    if (p === null) continue
    let pw = ''
    for (let i = p; i < line.length && line[i] !== ':'; i++) {
      if (line[i] === '\\' && i + 1 < line.length) i++
      pw += line[i]
    }
    return pw
  }
  return undefined
}
