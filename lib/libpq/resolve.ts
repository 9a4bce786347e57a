import { statSync } from 'node:fs'
import { homedir, userInfo } from 'node:os'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { lookupService } from './service'
import { CONNINFO_KEYWORDS, DEFAULT_PORT, DEFAULT_SOCKET_DIRS, formatConnString, invalid, parseConnString, SECRET_KEYWORDS } from './conninfo'

/**
 * A connection string with libpq's environment variables and defaults applied
 * (fe-connect.c conninfo_add_defaults): what is actually connected to, as whom.
 */

export type Origin = 'connstr' | 'service' | 'env' | 'default'

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
  /** the service file the connection's service (service=, PGSERVICE) came from */
  serviceFile?: string
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
  const fromEnv = (ev: string | undefined): string | undefined => ev !== undefined && env[ev] !== undefined && env[ev] !== '' ? env[ev] : undefined
  // the service file fills in what the connection string left unset, before the environment (libpq)
  const svc = lookupService(given.get('service') ?? fromEnv('PGSERVICE'), given.get('servicefile') ?? fromEnv('PGSERVICEFILE'), env, homeDir(env))
  const values = new Map<string, string>()
  const origin = new Map<string, Origin>()
  for (const { keyword, env: ev } of CONNINFO_KEYWORDS) {
    const v = given.get(keyword)
    const s = svc?.values.get(keyword)
    const e = fromEnv(ev)
    if (v !== undefined) {
      values.set(keyword, v)
      origin.set(keyword, 'connstr')
    } else if (s !== undefined) {
      values.set(keyword, s)
      origin.set(keyword, 'service')
    } else if (e !== undefined) {
      values.set(keyword, e)
      origin.set(keyword, 'env')
    }
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
  return { values, origin, serviceFile: svc?.file, user, dbname, dbnameGiven, hosts, env }
}

export function nonEmpty (v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v
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
    // the service's values are written, not the service: the standby's host may not have the file
    if (keyword === 'replication' || keyword === 'dbname' || keyword === 'fallback_application_name' || keyword === 'service' || keyword === 'servicefile') continue
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
