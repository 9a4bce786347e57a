import { readFileSync, statSync } from 'node:fs'
import { homedir, userInfo } from 'node:os'
import { join } from 'node:path'
import { PgRewindError } from '../errors'

/**
 * libpq connection strings, the way libpq reads them (fe-connect.c), so that a
 * `--source-server` that works for pg_rewind works here: `key=value` strings with
 * libpq's quoting ('…', backslash escapes), `postgresql://` / `postgres://` URIs with
 * percent-decoding, the PG* environment variables, and the password file. `pg`'s own
 * parser covers neither the keyword/value form nor .pgpass the libpq way.
 *
 * Values stay strings here; lib/pg/connect.ts turns them into pg ClientConfigs.
 */

/** libpq's keywords, in libpq's order (PQconninfo order, so -R output is libpq's), with their environment variables. */
export const CONNINFO_KEYWORDS: ReadonlyArray<{ keyword: string, env?: string }> = [
  { keyword: 'service', env: 'PGSERVICE' },
  { keyword: 'user', env: 'PGUSER' },
  { keyword: 'password', env: 'PGPASSWORD' },
  { keyword: 'passfile', env: 'PGPASSFILE' },
  { keyword: 'channel_binding', env: 'PGCHANNELBINDING' },
  { keyword: 'connect_timeout', env: 'PGCONNECT_TIMEOUT' },
  { keyword: 'dbname', env: 'PGDATABASE' },
  { keyword: 'host', env: 'PGHOST' },
  { keyword: 'hostaddr', env: 'PGHOSTADDR' },
  { keyword: 'port', env: 'PGPORT' },
  { keyword: 'client_encoding', env: 'PGCLIENTENCODING' },
  { keyword: 'options', env: 'PGOPTIONS' },
  { keyword: 'application_name', env: 'PGAPPNAME' },
  { keyword: 'fallback_application_name' },
  { keyword: 'keepalives' },
  { keyword: 'keepalives_idle' },
  { keyword: 'keepalives_interval' },
  { keyword: 'keepalives_count' },
  { keyword: 'tcp_user_timeout' },
  { keyword: 'sslmode', env: 'PGSSLMODE' },
  { keyword: 'sslnegotiation', env: 'PGSSLNEGOTIATION' },
  { keyword: 'sslcompression', env: 'PGSSLCOMPRESSION' },
  { keyword: 'sslcert', env: 'PGSSLCERT' },
  { keyword: 'sslkey', env: 'PGSSLKEY' },
  { keyword: 'sslcertmode', env: 'PGSSLCERTMODE' },
  { keyword: 'sslpassword' },
  { keyword: 'sslrootcert', env: 'PGSSLROOTCERT' },
  { keyword: 'sslcrl', env: 'PGSSLCRL' },
  { keyword: 'sslcrldir', env: 'PGSSLCRLDIR' },
  { keyword: 'sslsni', env: 'PGSSLSNI' },
  { keyword: 'requirepeer', env: 'PGREQUIREPEER' },
  { keyword: 'require_auth', env: 'PGREQUIREAUTH' },
  { keyword: 'ssl_min_protocol_version', env: 'PGSSLMINPROTOCOLVERSION' },
  { keyword: 'ssl_max_protocol_version', env: 'PGSSLMAXPROTOCOLVERSION' },
  { keyword: 'gssencmode', env: 'PGGSSENCMODE' },
  { keyword: 'krbsrvname', env: 'PGKRBSRVNAME' },
  { keyword: 'gsslib', env: 'PGGSSLIB' },
  { keyword: 'gssdelegation', env: 'PGGSSDELEGATION' },
  { keyword: 'replication' },
  { keyword: 'target_session_attrs', env: 'PGTARGETSESSIONATTRS' },
  { keyword: 'load_balance_hosts', env: 'PGLOADBALANCEHOSTS' }
]

const KEYWORDS = new Set(CONNINFO_KEYWORDS.map(k => k.keyword))
/** values that are secrets: never logged, described or returned */
export const SECRET_KEYWORDS: ReadonlySet<string> = new Set(['password', 'sslpassword'])

export const DEFAULT_PORT = 5432
/** Where libpq builds look for the server's socket when no host is given (Debian's, then upstream's). */
export const DEFAULT_SOCKET_DIRS: readonly string[] = ['/var/run/postgresql', '/run/postgresql', '/tmp']

function invalid (message: string, detail?: string): PgRewindError {
  return new PgRewindError('CONNSTR_INVALID', message, { detail, hint: 'See "Connection Strings" in the PostgreSQL documentation (libpq).' })
}

export function isUri (s: string): boolean {
  return s.startsWith('postgresql://') || s.startsWith('postgres://')
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v'

/** Parse a connection string (keyword/value or URI) into keyword → value, in the order given. */
export function parseConnString (s: string): Map<string, string> {
  return isUri(s) ? parseUri(s) : parseKeywordValue(s)
}

/**
 * A piece of the user's string to quote in a message: not when it may be (part of)
 * a secret — right after a password keyword (an unquoted password with a space in
 * it reads as "password=first" then a bogus keyword "second").
 */
function quoted (token: string, afterSecret: boolean): string {
  return afterSecret ? 'the text after a password value' : `"${token}"`
}

function store (out: Map<string, string>, keyword: string, value: string, uri = false, afterSecret = false): void {
  // libpq's old spelling of sslmode=require
  if (keyword === 'requiressl') {
    if (value === '1') out.set('sslmode', 'require')
    return
  }
  if (!KEYWORDS.has(keyword)) {
    throw invalid(uri ? `invalid URI query parameter: "${keyword}"` : `invalid connection option ${quoted(keyword, afterSecret)}`,
      afterSecret ? 'Quote a password that contains spaces: password=\'…\'.' : undefined)
  }
  out.set(keyword, value)
}

function parseKeywordValue (s: string): Map<string, string> {
  const out = new Map<string, string>()
  let i = 0
  const n = s.length
  let afterSecret = false
  while (i < n) {
    while (i < n && isSpace(s[i])) i++
    if (i >= n) break
    // keyword: up to '=' or whitespace (whitespace may precede the '=')
    const start = i
    while (i < n && s[i] !== '=' && !isSpace(s[i])) i++
    const keyword = s.slice(start, i)
    while (i < n && isSpace(s[i])) i++
    if (s[i] !== '=') {
      throw invalid(`missing "=" after ${quoted(keyword, afterSecret)} in connection info string`,
        afterSecret ? 'Quote a password that contains spaces: password=\'…\'.' : undefined)
    }
    i++
    while (i < n && isSpace(s[i])) i++
    let value = ''
    if (s[i] === "'") {
      i++
      for (;;) {
        if (i >= n) throw invalid('unterminated quoted string in connection info string')
        if (s[i] === '\\') {
          i++
          if (i < n) value += s[i++]
          continue
        }
        if (s[i] === "'") { i++; break }
        value += s[i++]
      }
    } else {
      while (i < n && !isSpace(s[i])) {
        if (s[i] === '\\') {
          i++
          if (i < n) value += s[i++]
        } else {
          value += s[i++]
        }
      }
    }
    store(out, keyword, value, false, afterSecret)
    afterSecret = SECRET_KEYWORDS.has(keyword)
  }
  return out
}

/** `secret`: the value is a password, which an error message must not show */
function percentDecode (s: string, secret = false): string {
  const shown = secret ? 'in the password' : `"${s}"`
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      const hex = s.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw invalid(`invalid percent-encoded token: ${shown}`)
      const b = parseInt(hex, 16)
      if (b === 0) throw invalid(`forbidden value %00 in percent-encoded value: ${shown}`)
      bytes.push(b)
      i += 2
    } else {
      for (const b of Buffer.from(s[i], 'utf8')) bytes.push(b)
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

/** postgresql://[user[:password]@][host[:port][,host[:port]…]][/dbname][?key=value&…] */
function parseUri (uri: string): Map<string, string> {
  const out = new Map<string, string>()
  let rest = uri.slice(uri.indexOf('://') + 3)
  // credentials: up to an '@' before the first '/' or '?'
  const at = rest.search(/[@/?]/)
  if (at >= 0 && rest[at] === '@') {
    const cred = rest.slice(0, at)
    const colon = cred.indexOf(':')
    const user = colon >= 0 ? cred.slice(0, colon) : cred
    if (user !== '') out.set('user', percentDecode(user))
    if (colon >= 0) out.set('password', percentDecode(cred.slice(colon + 1), true))
    rest = rest.slice(at + 1)
  }
  const hosts: string[] = []
  const ports: string[] = []
  let i = 0
  for (;;) {
    let host = ''
    if (rest[i] === '[') {
      const close = rest.indexOf(']', i)
      // (libpq quotes the whole URI here; it may hold a password)
      if (close < 0) throw invalid('end of string reached when looking for matching "]" in IPv6 host address in URI')
      host = rest.slice(i + 1, close)
      if (host === '') throw invalid('IPv6 host address may not be empty in URI')
      i = close + 1
      if (i < rest.length && !':/?,'.includes(rest[i])) {
        throw invalid(`unexpected character "${rest[i]}" at position ${i + 1} in URI (expected ":" or "/")`)
      }
    } else {
      const start = i
      while (i < rest.length && !':/?,'.includes(rest[i])) i++
      host = percentDecode(rest.slice(start, i))
    }
    let port = ''
    if (rest[i] === ':') {
      const start = ++i
      while (i < rest.length && !'/?,'.includes(rest[i])) i++
      port = percentDecode(rest.slice(start, i))
    }
    hosts.push(host)
    ports.push(port)
    if (rest[i] !== ',') break
    i++
  }
  if (hosts.some(h => h !== '')) out.set('host', hosts.join(','))
  if (ports.some(p => p !== '')) out.set('port', ports.join(','))
  if (rest[i] === '/') {
    const start = ++i
    while (i < rest.length && rest[i] !== '?') i++
    const db = rest.slice(start, i)
    if (db !== '') out.set('dbname', percentDecode(db))
  }
  if (rest[i] === '?') {
    for (const param of rest.slice(i + 1).split('&')) {
      if (param === '') continue
      const eq = param.indexOf('=')
      if (eq < 0) throw invalid(`missing key/value separator "=" in URI query parameter: "${param}"`)
      const key = percentDecode(param.slice(0, eq))
      const secret = SECRET_KEYWORDS.has(key)
      if (param.indexOf('=', eq + 1) >= 0) throw invalid(`extra key/value separator "=" in URI query parameter: ${secret ? `"${key}"` : `"${param}"`}`)
      const value = percentDecode(param.slice(eq + 1), secret)
      // JDBC-style ssl=true means sslmode=require (libpq accepts it too)
      if (key === 'ssl' && value === 'true') out.set('sslmode', 'require')
      else store(out, key, value, true)
    }
  }
  return out
}

/** A value as libpq's appendConnStrVal writes it: bare when plain, else '…' with \ and ' escaped. */
export function quoteConnValue (v: string): string {
  if (/^[A-Za-z0-9_.]+$/.test(v)) return v
  return `'${v.replace(/[\\']/g, c => `\\${c}`)}'`
}

/** keyword=value pairs joined by spaces, libpq-quoted. */
export function formatConnString (pairs: Iterable<[string, string]>): string {
  const parts: string[] = []
  for (const [k, v] of pairs) parts.push(`${k}=${quoteConnValue(v)}`)
  return parts.join(' ')
}

export type Origin = 'connstr' | 'env' | 'default'

export interface HostSpec {
  /** host name, IP address or socket directory (as given or defaulted) */
  host: string
  /** hostaddr: the address actually connected to, when given */
  hostaddr?: string
  port: number
  /** true when the host is a Unix-socket directory */
  socket: boolean
}

/** A connection string with the environment and defaults applied, the way libpq fills them in. */
export interface ResolvedConnInfo {
  /** every keyword set by the connection string or an environment variable */
  values: Map<string, string>
  origin: Map<string, Origin>
  user: string
  /** the database connected to (libpq: dbname, else PGDATABASE, else the user name) */
  dbname: string
  /** dbname only when given (connection string or PGDATABASE): what -R writes (pg_rewind 18) */
  dbnameGiven?: string
  hosts: HostSpec[]
  env: NodeJS.ProcessEnv
}

function osUser (env: NodeJS.ProcessEnv): string {
  try { return userInfo().username } catch { return env.USER ?? env.LOGNAME ?? 'postgres' }
}

export function homeDir (env: NodeJS.ProcessEnv): string {
  return env.HOME ?? homedir()
}

function defaultSocketDir (port: number): string {
  for (const d of DEFAULT_SOCKET_DIRS) {
    try {
      statSync(join(d, `.s.PGSQL.${port}`))
      return d
    } catch { /* not there */ }
  }
  return '/tmp'
}

function parsePort (p: string): number {
  const n = Number(p)
  if (!/^\d+$/.test(p.trim()) || n < 1 || n > 65535) throw invalid(`invalid port number: "${p}"`)
  return n
}

const ENUMS: Record<string, readonly string[]> = {
  sslmode: ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'],
  target_session_attrs: ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'],
  load_balance_hosts: ['disable', 'random'],
  channel_binding: ['disable', 'prefer', 'require'],
  gssencmode: ['disable', 'prefer', 'require'],
  sslnegotiation: ['postgres', 'direct']
}

/**
 * Merge a connection string with the PG* environment variables (a keyword in the
 * string wins) and fill in libpq's defaults: user = OS user, dbname = user, port
 * 5432, host = the default socket directory.
 */
export function resolveConnInfo (connstr: string, env: NodeJS.ProcessEnv = process.env): ResolvedConnInfo {
  const given = parseConnString(connstr)
  const values = new Map<string, string>()
  const origin = new Map<string, Origin>()
  for (const { keyword, env: ev } of CONNINFO_KEYWORDS) {
    const v = given.get(keyword)
    if (v !== undefined) {
      values.set(keyword, v)
      origin.set(keyword, 'connstr')
    } else if (ev !== undefined && env[ev] !== undefined && env[ev] !== '') {
      values.set(keyword, env[ev]!)
      origin.set(keyword, 'env')
    }
  }
  if (values.has('service')) {
    throw new PgRewindError('CONNSTR_INVALID', 'connection services (service=, PGSERVICE) are not supported', {
      hint: 'Give host, port, user and dbname in the connection string instead.'
    })
  }
  // security demands we cannot honour must fail, never be silently ignored
  for (const [k, v] of [['channel_binding', 'require'], ['gssencmode', 'require'], ['require_auth', undefined], ['requirepeer', undefined]] as const) {
    const got = values.get(k)
    if (got !== undefined && got !== '' && (v === undefined || got === v)) {
      throw new PgRewindError('CONNSTR_INVALID', `connection option ${k}=${got} is not supported`, {
        hint: 'pgrewind connects with TLS (sslmode) and password or SCRAM authentication; remove the option, or check the server with sslmode=verify-full.'
      })
    }
  }
  for (const [k, allowed] of Object.entries(ENUMS)) {
    const v = values.get(k)
    if (v !== undefined && !allowed.includes(v)) throw invalid(`invalid ${k} value: "${v}"`)
  }
  if (values.get('replication') !== undefined && !['0', 'off', 'false', 'no'].includes(values.get('replication')!)) {
    throw invalid('a replication connection cannot read files', 'The source must be an ordinary (replication=0) connection.')
  }
  const user = nonEmpty(values.get('user')) ?? osUser(env)
  const dbnameGiven = nonEmpty(values.get('dbname'))
  const dbname = dbnameGiven ?? user

  const hostList = values.get('host')?.split(',')
  const addrList = values.get('hostaddr')?.split(',')
  const portList = values.get('port')?.split(',')
  const count = hostList?.length ?? addrList?.length ?? 1
  if (addrList !== undefined && addrList.length !== count) throw invalid(`could not match ${count} host names to ${addrList.length} hostaddr values`)
  if (portList !== undefined && portList.length !== 1 && portList.length !== count) throw invalid(`could not match ${portList.length} port numbers to ${count} hosts`)
  const hosts: HostSpec[] = []
  for (let i = 0; i < count; i++) {
    const p = portList === undefined ? '' : portList.length === 1 ? portList[0] : portList[i]
    const port = p.trim() === '' ? DEFAULT_PORT : parsePort(p)
    const addr = nonEmpty(addrList?.[i])
    let host = nonEmpty(hostList?.[i]) ?? addr
    if (host === undefined) host = defaultSocketDir(port)
    hosts.push({ host, hostaddr: addr, port, socket: addr === undefined && host.startsWith('/') })
  }
  return { values, origin, user, dbname, dbnameGiven, hosts, env }
}

function nonEmpty (v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v
}

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

/** For messages and plans: where we connect, never a password. */
export function describeConnInfo (ri: ResolvedConnInfo): string {
  const pairs: Array<[string, string]> = [
    ['host', ri.hosts.map(h => h.host).join(',')],
    ['port', [...new Set(ri.hosts.map(h => String(h.port)))].join(',')]
  ]
  if (ri.values.has('hostaddr')) pairs.push(['hostaddr', ri.values.get('hostaddr')!])
  pairs.push(['user', ri.user], ['dbname', ri.dbname])
  return formatConnString(pairs)
}

/**
 * The primary_conninfo that -R writes (libpq's PQconninfo of the live connection,
 * as fe_utils/recovery_gen.c uses it): every keyword with a value except
 * replication, dbname and fallback_application_name, plus the user and port libpq
 * fills in; then dbname, when one was given (pg_rewind 18). A password is included
 * only when the user put it in the connection string: one from PGPASSWORD or a
 * password file stays where it came from.
 */
export function standbyConnPairs (ri: ResolvedConnInfo): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (const { keyword } of CONNINFO_KEYWORDS) {
    if (keyword === 'replication' || keyword === 'dbname' || keyword === 'fallback_application_name') continue
    let v = ri.values.get(keyword)
    if (keyword === 'user') v = ri.user
    if (keyword === 'port') v = ri.values.get('port') ?? String(DEFAULT_PORT)
    if (v === undefined || v === '') continue
    if (SECRET_KEYWORDS.has(keyword) && ri.origin.get(keyword) !== 'connstr') continue
    pairs.push([keyword, v])
  }
  if (ri.dbnameGiven !== undefined) pairs.push(['dbname', ri.dbnameGiven])
  return pairs
}

/** pairs with every secret value replaced, for display. */
export function redactPairs (pairs: Array<[string, string]>): Array<[string, string]> {
  return pairs.map(([k, v]) => [k, SECRET_KEYWORDS.has(k) ? '********' : v])
}

/** True when the string itself carries a secret (then it must not stay visible in our argv). */
export function connStringHasSecret (connstr: string): boolean {
  try {
    const m = parseConnString(connstr)
    return [...SECRET_KEYWORDS].some(k => (m.get(k) ?? '') !== '')
  } catch {
    // unparsable: assume the worst
    return /pass/i.test(connstr)
  }
}
