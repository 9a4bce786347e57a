import { opendirSync, readlinkSync, Stats, statSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { ioCode, lstatOrNull, Side } from './files'
import { FileList } from './filelist'

/** pgrewind's undo journal in a data directory (lib/target/journal.ts): listed, never walked into. */
export const JOURNAL_DIR = 'pgrewind_journal'

/**
 * pgrewind's own temporary files in a data directory: a durable write in progress,
 * or a whole-file copy not yet complete. The file map excludes them (a leftover is
 * removed by the next run) and a rollback removes them.
 */
export const TEMP_SUFFIX = '.pgrewind.tmp'

export type FileType = 'file' | 'dir' | 'symlink'

export interface FileEntry {
  /** relative to the data directory, '/'-separated */
  path: string
  type: FileType
  /** bytes; 0 for directories and symlinks */
  size: number
  /** for symlinks: where the link points (tablespaces: an absolute path) */
  linkTarget?: string
}

/**
 * List a local data directory the way pg_rewind does: regular files, directories
 * and symlinks (not followed, except the tablespace links directly under pg_tblspc/
 * and pg_wal, whose contents are part of the cluster). Sockets, FIFOs and devices
 * are skipped (a unix socket in PGDATA is not data). Entries that vanish while we
 * look are ignored: a cleanly stopped cluster has no such churn, and a running one
 * is refused before its listing matters.
 *
 * `sameAs`: the other side's listing, whose path strings this one takes for the paths
 * both have — one string per path in memory instead of two (13 MB for the 400,000
 * files a side of a pair with 100,000 tables a side).
 */
export function listDataDir (root: string, side: Side, sameAs?: FileList): FileList {
  const out = new FileList()
  walk(root, '', out, side, sameAs)
  return out.finish(side)
}

/**
 * A directory's names, read a buffer of entries at a time: readdirSync reads them all
 * into memory malloc'd per entry before any becomes a string, which for the 400,000
 * files of one database's directory (100,000 tables) left some 20 MB that glibc kept.
 */
function dirNames (dir: string): string[] {
  const d = opendirSync(dir, { bufferSize: 1024 })
  const names: string[] = []
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) names.push(e.name)
  } finally {
    d.closeSync()
  }
  return names
}

function walk (root: string, rel: string, out: FileList, side: Side, sameAs: FileList | undefined): void {
  let names: string[]
  try {
    names = dirNames(rel === '' ? root : join(root, rel))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new PgRewindError(ioCode(side), `could not open directory "${join(root, rel)}": ${(e as Error).message}`)
  }
  names.sort()
  for (const name of names) {
    let path = rel === '' ? name : `${rel}/${name}`
    if (sameAs !== undefined) {
      const i = sameAs.indexOf(path)
      if (i >= 0) path = sameAs.path(i)
    }
    const full = join(root, path)
    const st = lstatOrNull(full, side)
    if (st === null) continue
    if (st.isFile()) {
      out.add(path, 'file', st.size)
    } else if (st.isDirectory()) {
      out.add(path, 'dir', 0)
      if (path !== JOURNAL_DIR) walk(root, path, out, side, sameAs)
    } else if (st.isSymbolicLink()) {
      let target: string
      try { target = readlinkSync(full) } catch { continue }
      const followed = rel === 'pg_tblspc' || path === 'pg_wal'
      if (path === 'pg_wal') {
        // pg_wal may live elsewhere; to the rewind it is just the WAL directory
        out.add(path, 'dir', 0)
      } else {
        out.add(path, 'symlink', 0, target)
      }
      if (followed) {
        let tst: Stats
        try { tst = statSync(full) } catch { continue }
        if (tst.isDirectory()) walk(root, path, out, side, sameAs)
      }
    }
  }
}
