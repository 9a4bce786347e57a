import { lstatSync, readdirSync, readlinkSync, Stats, statSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { FileEntry } from './types'

/**
 * List a local data directory the way pg_rewind does: regular files, directories
 * and symlinks (not followed, except the tablespace links directly under pg_tblspc/
 * and pg_wal, whose contents are part of the cluster). Sockets, FIFOs and devices
 * are skipped (a unix socket in PGDATA is not data). Entries that vanish while we
 * look are ignored: a cleanly stopped cluster has no such churn, and a running one
 * is refused before its listing matters.
 */
export function listDataDir (root: string): FileEntry[] {
  const out: FileEntry[] = []
  walk(root, '', out)
  return out
}

function lstatOrNull (p: string): Stats | null {
  try {
    return lstatSync(p)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new PgRewindError('SOURCE_IO', `could not stat file "${p}": ${(e as Error).message}`)
  }
}

function walk (root: string, rel: string, out: FileEntry[]): void {
  let names: string[]
  try {
    names = readdirSync(rel === '' ? root : join(root, rel))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new PgRewindError('SOURCE_IO', `could not open directory "${join(root, rel)}": ${(e as Error).message}`)
  }
  names.sort()
  for (const name of names) {
    const path = rel === '' ? name : `${rel}/${name}`
    const full = join(root, path)
    const st = lstatOrNull(full)
    if (st === null) continue
    if (st.isFile()) {
      out.push({ path, type: 'file', size: st.size })
    } else if (st.isDirectory()) {
      out.push({ path, type: 'dir', size: 0 })
      walk(root, path, out)
    } else if (st.isSymbolicLink()) {
      let target: string
      try { target = readlinkSync(full) } catch { continue }
      const followed = rel === 'pg_tblspc' || path === 'pg_wal'
      if (path === 'pg_wal') {
        // pg_wal may live elsewhere; to the rewind it is just the WAL directory
        out.push({ path, type: 'dir', size: 0 })
      } else {
        out.push({ path, type: 'symlink', size: 0, linkTarget: target })
      }
      if (followed) {
        let tst: Stats
        try { tst = statSync(full) } catch { continue }
        if (tst.isDirectory()) walk(root, path, out)
      }
    }
  }
}

/** Permission bits of the data directory decide the modes of what we create. */
export function dataDirModes (root: string): { dirMode: number, fileMode: number, groupAccess: boolean } {
  const mode = statSync(root).mode & 0o777
  const groupAccess = (mode & 0o050) === 0o050
  return groupAccess ? { dirMode: 0o750, fileMode: 0o640, groupAccess } : { dirMode: 0o700, fileMode: 0o600, groupAccess }
}
