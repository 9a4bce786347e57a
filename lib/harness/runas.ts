import { readFileSync } from 'node:fs'
import { PgRewindError } from '../errors'

/**
 * PostgreSQL servers (and pg_rewind) refuse to run as root. When this process is
 * root we run them as an unprivileged OS user (`postgres` by default, overridable
 * with PGREWIND_RUN_AS) and make the files they touch belong to it.
 */
export interface RunAs {
  name: string
  uid: number
  gid: number
  home: string
}

let cached: RunAs | null | undefined

function lookupUser (name: string): RunAs | null {
  let passwd: string
  try { passwd = readFileSync('/etc/passwd', 'utf8') } catch { return null }
  for (const line of passwd.split('\n')) {
    const f = line.split(':')
    if (f[0] === name && f.length >= 7) return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] }
  }
  return null
}

/** The user servers must run as, or null when we are not root (run as ourselves). */
export function unprivilegedUser (): RunAs | null {
  if (cached !== undefined) return cached
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    cached = null
    return cached
  }
  const name = process.env.PGREWIND_RUN_AS ?? 'postgres'
  const user = lookupUser(name)
  if (user === null || user.uid === 0) {
    throw clusterError(`running as root: PostgreSQL must run as an unprivileged user, and user "${name}" was not found (set PGREWIND_RUN_AS)`)
  }
  cached = user
  return cached
}

/** spawn() options that drop privileges when we are root. */
export function spawnIdentity (): { uid?: number, gid?: number } {
  const u = unprivilegedUser()
  return u === null ? {} : { uid: u.uid, gid: u.gid }
}

/**
 * Environment for a child process: never leaks this process's NODE_OPTIONS
 * (test-coverage loaders cannot write as another user) and sets HOME/USER for
 * the unprivileged user.
 */
export function childEnv (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.NODE_OPTIONS
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAPJS')) delete env[k]
  const u = unprivilegedUser()
  if (u !== null) {
    env.HOME = u.home
    env.USER = u.name
    env.LOGNAME = u.name
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

/** A failure of the harness (test clusters, the drill), never a bug report to the user. */
export function clusterError (message: string): PgRewindError {
  return new PgRewindError('CLUSTER_SETUP', message)
}
