import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { ConnectionOptions } from 'node:tls'
import type { Client, ClientConfig } from 'pg'
import { newClient } from './pgmodule'
import { PgRewindError } from '../errors'
import { passwordFor } from './passfile'
import { HostSpec, homeDir, Origin, ResolvedConnInfo } from './resolve'

/**
 * Open a `pg` connection the way libpq would for a resolved connection string:
 * hosts tried in order (or shuffled with load_balance_hosts=random), sslmode with
 * libpq's meaning (prefer tries TLS then plain, allow the reverse, require and the
 * verify modes insist; sockets never use TLS), root/client certificates from the
 * usual places, the password file per host, target_session_attrs checked after
 * connecting. Error messages follow libpq's ("connection to server at … failed:").
 */

export interface Connected {
  client: Client
  host: HostSpec
  /** the exact configuration that worked: further sessions connect the same way */
  config: ClientConfig
  /** where the password came from; undefined: there was none */
  passwordOrigin?: Origin | 'passfile'
}

const NO_PASSWORD = 'fe_sendauth: no password supplied'

type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

function connErr (message: string, detail?: string, hint?: string): PgRewindError {
  return new PgRewindError('SOURCE_CONNECTION', message, { detail, hint })
}

function where (h: HostSpec): string {
  if (h.socket) return `connection to server on socket "${h.host}/.s.PGSQL.${h.port}"`
  const addr = h.hostaddr !== undefined && h.hostaddr !== h.host ? ` (${h.hostaddr})` : ''
  return `connection to server at "${h.host}"${addr}, port ${h.port}`
}

/** pg's and Node's wording → libpq's, for the messages HA tools already know. */
function reason (e: unknown, h: HostSpec, hadPassword: boolean): string {
  const err = e as NodeJS.ErrnoException & { code?: string }
  if (err.code === 'ECONNREFUSED') {
    return h.socket
      ? 'No such file or directory\n\tIs the server running locally and accepting connections on that socket?'
      : 'Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?'
  }
  if (err.code === 'ENOENT' && h.socket) return 'No such file or directory\n\tIs the server running locally and accepting connections on that socket?'
  if (!hadPassword && /password must be a string|password authentication|no password/i.test(err.message ?? '')) {
    return NO_PASSWORD
  }
  return String(err.message ?? e)
}

function tlsOptions (ri: ResolvedConnInfo, h: HostSpec, mode: SslMode): ConnectionOptions {
  const v = ri.values
  const home = homeDir(ri.env)
  const opts: ConnectionOptions = { rejectUnauthorized: false }
  const minV = v.get('ssl_min_protocol_version') ?? 'TLSv1.2'
  opts.minVersion = minV as ConnectionOptions['minVersion']
  if (v.has('ssl_max_protocol_version')) opts.maxVersion = v.get('ssl_max_protocol_version') as ConnectionOptions['maxVersion']
  const rootcert = v.get('sslrootcert') ?? join(home, '.postgresql', 'root.crt')
  if (rootcert === 'system') {
    if (mode !== 'verify-full') {
      throw connErr(`weak sslmode "${mode}" may not be used with sslrootcert=system (use "verify-full")`)
    }
    opts.rejectUnauthorized = true
  } else {
    // libpq: with a root certificate file present, require behaves like verify-ca
    const verify = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && existsSync(rootcert))
    if (verify) {
      if (!existsSync(rootcert)) {
        throw connErr(`root certificate file "${rootcert}" does not exist`, undefined,
          'Either provide the file, use the system\'s trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.')
      }
      opts.ca = readFileSync(rootcert)
      opts.rejectUnauthorized = true
      if (mode !== 'verify-full') opts.checkServerIdentity = () => undefined
    }
  }
  const crl = v.get('sslcrl')
  if (crl !== undefined && crl !== '') opts.crl = readFileSync(crl)
  const cert = v.get('sslcert') ?? join(home, '.postgresql', 'postgresql.crt')
  const key = v.get('sslkey') ?? join(home, '.postgresql', 'postgresql.key')
  if (existsSync(cert) && existsSync(key)) {
    opts.cert = readFileSync(cert)
    opts.key = readFileSync(key)
    const pass = v.get('sslpassword')
    if (pass !== undefined && pass !== '') opts.passphrase = pass
  }
  // connecting to hostaddr: the certificate is still checked against the host name
  if (h.hostaddr !== undefined && h.host !== h.hostaddr && isIP(h.host) === 0) opts.servername = h.host
  return opts
}

function baseConfig (ri: ResolvedConnInfo, h: HostSpec, password: string | undefined): ClientConfig {
  const v = ri.values
  const cfg: ClientConfig = {
    host: h.hostaddr ?? h.host,
    port: h.port,
    user: ri.user,
    database: ri.dbname,
    // Always a function: with a plain undefined, pg would run a password lookup of its
    // own (process.env.PGPASSWORD, its bundled pgpass) with other rules than libpq's.
    // Ours (passwordFor: the connection string, the resolved environment, the password
    // file) is the only one; asked for a password we do not have, fail as libpq does.
    password: async () => {
      if (password === undefined) throw new Error(NO_PASSWORD)
      return password
    },
    application_name: v.get('application_name'),
    fallback_application_name: v.get('fallback_application_name') ?? 'pgrewind',
    options: v.get('options'),
    keepAlive: v.get('keepalives') !== '0'
  }
  const idle = Number(v.get('keepalives_idle') ?? '')
  if (idle > 0) cfg.keepAliveInitialDelayMillis = idle * 1000
  const timeout = Number(v.get('connect_timeout') ?? '0')
  // libpq: 0 or absent waits forever, and anything below 2 seconds means 2
  if (Number.isFinite(timeout) && timeout > 0) cfg.connectionTimeoutMillis = Math.max(2, Math.floor(timeout)) * 1000
  return cfg
}

/** TLS attempts in libpq's order for an sslmode (true = TLS). */
function attempts (mode: SslMode, h: HostSpec): boolean[] {
  if (h.socket) return [false]
  switch (mode) {
    case 'disable': return [false]
    case 'allow': return [false, true]
    case 'prefer': return [true, false]
    default: return [true]
  }
}

async function tryConnect (cfg: ClientConfig): Promise<Client> {
  const client = newClient(cfg)
  // an idle client whose server goes away reports it as an 'error' event: without a
  // listener that would be an uncaught exception; the next query reports it instead
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (e) {
    try { await client.end() } catch { /* never connected */ }
    throw e
  }
  return client
}

async function sessionMatches (client: Client, want: string): Promise<string | null> {
  if (want === 'any') return null
  const r = await client.query("SELECT pg_catalog.pg_is_in_recovery() AS rec, pg_catalog.current_setting('default_transaction_read_only') AS ro")
  const rec = r.rows[0].rec === true
  const ro = r.rows[0].ro === 'on' || rec
  switch (want) {
    case 'read-write': return ro ? 'session is read-only' : null
    case 'read-only': return ro ? null : 'session is not read-only'
    case 'primary': return rec ? 'server is in hot standby mode' : null
    case 'standby': case 'prefer-standby': return rec ? null : 'server is not in hot standby mode'
    default: return null
  }
}

export async function connectPg (ri: ResolvedConnInfo, opts: { warn?: (m: string) => void } = {}): Promise<Connected> {
  const mode = (ri.values.get('sslmode') ?? 'prefer') as SslMode
  const tsa = ri.values.get('target_session_attrs') ?? 'any'
  let hosts = [...ri.hosts]
  if (ri.values.get('load_balance_hosts') === 'random') hosts = hosts.map(h => [Math.random(), h] as const).sort((a, b) => a[0] - b[0]).map(x => x[1])
  const failures: string[] = []
  // prefer-standby: a standby if there is one, else anything
  const passes = tsa === 'prefer-standby' ? ['standby', 'any'] : [tsa]
  for (const want of passes) {
    for (const h of hosts) {
      const pw = passwordFor(ri, h, opts.warn)
      for (const tls of attempts(mode, h)) {
        const cfg = baseConfig(ri, h, pw?.value)
        let client: Client
        try {
          cfg.ssl = tls ? tlsOptions(ri, h, mode) : false
          client = await tryConnect(cfg)
        } catch (e) {
          const msg = (e as Error).message ?? ''
          const next = tls ? msg === 'The server does not support SSL connections' && mode === 'prefer' : mode === 'allow' && (e as { code?: string }).code !== undefined
          if (e instanceof PgRewindError) throw e
          if (next) continue
          failures.push(`${where(h)} failed: ${reason(e, h, pw !== undefined)}`)
          break
        }
        const mismatch = await sessionMatches(client, want).catch((e: Error) => e.message)
        if (mismatch === null) return { client, host: h, config: cfg, passwordOrigin: pw?.origin }
        failures.push(`${where(h)} failed: ${mismatch}`)
        await client.end().catch(() => {})
        break
      }
    }
  }
  const [first, ...more] = failures
  throw connErr(first ?? 'could not connect to the source server', more.length > 0 ? more.join('\n') : undefined,
    /no password supplied/.test(first ?? '') ? 'Give the password in PGPASSWORD or a password file (~/.pgpass or PGPASSFILE), not on the command line.' : undefined)
}

/**
 * Another session exactly like an established one (same host, TLS and password),
 * optionally to another database of the same server (the password is the one that
 * worked; a password file entry for that other database is not looked up), and
 * optionally over a socket of the caller's making when the session is not TLS.
 */
export async function connectAgain (c: Connected, overrides: { database?: string, plainSocket?: () => Duplex } = {}): Promise<Client> {
  const { plainSocket, ...rest } = overrides
  try {
    return await tryConnect({ ...c.config, ...rest, ...(plainSocket !== undefined && c.config.ssl === false ? { stream: plainSocket } : {}) })
  } catch (e) {
    throw connErr(`${where(c.host)} failed: ${reason(e, c.host, c.passwordOrigin !== undefined)}`)
  }
}
