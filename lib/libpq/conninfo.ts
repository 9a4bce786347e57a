import { PgRewindError } from '../errors'

/**
 * libpq connection strings, the way libpq reads them (fe-connect.c), so that a
 * `--source-server` that works for pg_rewind works here: `key=value` strings with
 * libpq's quoting ('…', backslash escapes), `postgresql://` / `postgres://` URIs with
 * percent-decoding, the PG* environment variables, and the password file. `pg`'s own
 * parser covers neither the keyword/value form nor .pgpass the libpq way.
 *
 * This file is the syntax: keywords, parsing and quoting. resolve.ts applies the
 * environment and defaults, passfile.ts finds the password, connect.ts turns the
 * result into pg connections, secrets.ts keeps passwords out of text.
 */

/** libpq's keywords, in libpq's order (PQconninfo order, so -R output is libpq's), with their environment variables. */
export const CONNINFO_KEYWORDS: ReadonlyArray<{ keyword: string, env?: string }> = [
  { keyword: 'service', env: 'PGSERVICE' },
  { keyword: 'servicefile', env: 'PGSERVICEFILE' },
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

export function invalid (message: string, detail?: string): PgRewindError {
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
