import { readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { PgRewindError } from '../errors'
import { preloadServerSource } from '../source/open'
import { preloadPlanValidation } from '../rewind/planfile'
import { PROG } from './output'

/**
 * pg_rewind refuses to run as root: files it created would belong to root and the
 * server could not open them. pgrewind started by root instead becomes the owner of
 * the target data directory — the user the server runs as — before it reads or
 * changes anything, the way `su postgres` or `sudo -u postgres` would: supplementary
 * groups, group, then user (for good: there is no way back to root), and HOME, USER
 * and LOGNAME of that user (libpq's ~/.pgpass, ~/.pg_service.conf and
 * ~/.postgresql/ are that user's).
 *
 * It happens in this process, after everything the command runs has been loaded:
 * a copy of pgrewind that only root can read (a clone in /root, an install under a
 * private prefix) works all the same. A target owned by root, or one whose owner
 * cannot be read, is refused as pg_rewind refuses root.
 */

interface PasswdEntry { name: string, uid: number, gid: number, home: string }

function passwdByUid (uid: number): PasswdEntry | null {
  let text: string
  try { text = readFileSync('/etc/passwd', 'utf8') } catch { return null }
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f.length >= 7 && Number(f[2]) === uid) return { name: f[0], uid, gid: Number(f[3]), home: f[5] }
  }
  return null
}

export function isRoot (): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0
}

function refusal (detail: string): PgRewindError {
  return new PgRewindError('RUN_AS_ROOT', 'cannot be executed by "root"', {
    detail,
    hint: `You must run ${PROG} as the PostgreSQL superuser (the owner of the data directory).`
  })
}

/** The modules a command may load after the switch, loaded now while root can still read them. */
function preload (): void {
  preloadServerSource()
  preloadPlanValidation()
}

/**
 * As root, become the owner of `pgdata` (see above); otherwise do nothing.
 * Returns the user switched to, for a debug line.
 */
export function becomeTargetOwner (pgdata: string): string | null {
  if (!isRoot()) return null
  const dir = resolve(pgdata)
  let uid: number
  let gid: number
  try {
    const st = statSync(dir)
    uid = st.uid
    gid = st.gid
  } catch (e) {
    throw refusal(`Run as root, ${PROG} works as the owner of the target data directory, and "${dir}" cannot be read: ${(e as Error).message}.`)
  }
  if (uid === 0) throw refusal(`The target data directory "${dir}" belongs to root; a PostgreSQL data directory belongs to the user the server runs as.`)
  preload()
  const pw = passwdByUid(uid)
  try {
    if (pw !== null) {
      // initgroups(3): the user's supplementary groups from /etc/group (not in @types/node)
      ;(process as unknown as { initgroups: (user: string, extraGroup: number) => void }).initgroups(pw.name, pw.gid)
      process.setgid!(pw.gid)
    } else {
      process.setgroups!([gid])
      process.setgid!(gid)
    }
    process.setuid!(uid)
  } catch (e) {
    throw refusal(`Could not switch to the owner of "${dir}" (uid ${uid}): ${(e as Error).message}.`)
  }
  if (process.getuid!() === 0 || process.geteuid!() === 0) throw refusal(`Could not give up root for the owner of "${dir}" (uid ${uid}).`)
  if (pw !== null) {
    process.env.HOME = pw.home
    process.env.USER = pw.name
    process.env.LOGNAME = pw.name
  }
  return pw?.name ?? String(uid)
}
