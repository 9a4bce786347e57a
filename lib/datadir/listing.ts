import { opendirSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { ioCode, lstatOrNull, Side } from './files'
import { FileList } from './filelist'
import { grown } from '../columns'

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
 * A data directory's entries in path order, one at a time, the way pg_rewind lists
 * it: regular files, directories and symlinks (not followed, except the tablespace
 * links directly under pg_tblspc/ and pg_wal, whose contents are part of the cluster).
 * Sockets, FIFOs and devices are skipped (a unix socket in PGDATA is not data).
 * Entries that vanish while we look are ignored: a cleanly stopped cluster has no
 * such churn, and a running one is refused before its listing matters.
 *
 * Path order (JavaScript string order, as FileList's) straight from the walk, so that
 * the file map can merge the target's directory as it is read instead of holding its
 * listing (issue 13: 400,000 paths, 20 MB, with 100,000 tables a side): a directory's
 * entry comes at its name, its contents at its name + "/" — after "x.b" and "x-1",
 * whose "." and "-" sort before "/".
 */
export function * walkDataDir (root: string, side: Side): Generator<FileEntry> {
  yield * walk(root, '', side)
}

/** The whole listing, in columns (the source's: the file map and the totals read it more than once). */
export function listDataDir (root: string, side: Side): FileList {
  return FileList.of(walkDataDir(root, side), side)
}

function isLatin1 (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xFF) return false
  return true
}

/** A directory's names in order: the k-th made as a string when asked. */
interface SortedNames { count: number, name: (k: number) => string }

/**
 * A directory's names, sorted, read a buffer of entries at a time: readdirSync reads
 * them all into memory malloc'd per entry before any becomes a string, which for the
 * 400,000 files of one database's directory (100,000 tables) left some 20 MB that
 * glibc kept. They are kept packed, a byte a character, while the directory is
 * walked: as strings they were 13 MB at buildPlan's peak, and garbage in V8's old
 * generation after. Latin-1 bytes sort as the strings do (by UTF-16 code unit); a
 * directory with a name beyond Latin-1 keeps its names as strings.
 */
function sortedNames (dir: string): SortedNames {
  const d = opendirSync(dir, { bufferSize: 1024 })
  let bytes = new Uint8Array(4096)
  let starts = new Uint32Array(256)
  let n = 0
  let end = 0
  let wide: string[] | null = null
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) {
      const name = e.name
      if (wide === null && isLatin1(name)) {
        bytes = grown(bytes, end + name.length)
        starts = grown(starts, n + 2)
        starts[n++] = end
        for (let i = 0; i < name.length; i++) bytes[end++] = name.charCodeAt(i)
        continue
      }
      if (wide === null) {
        starts[n] = end
        const packed = Buffer.from(bytes.buffer, 0, end)
        wide = []
        for (let k = 0; k < n; k++) wide.push(packed.toString('latin1', starts[k], starts[k + 1]))
      }
      wide.push(name)
    }
  } finally {
    d.closeSync()
  }
  if (wide !== null) {
    const names = wide.sort()
    return { count: names.length, name: k => names[k] }
  }
  starts[n] = end
  const order = new Uint32Array(n)
  for (let k = 0; k < n; k++) order[k] = k
  order.sort((a, b) => {
    const ea = starts[a + 1]
    const eb = starts[b + 1]
    for (let i = starts[a], j = starts[b]; i < ea && j < eb; i++, j++) {
      if (bytes[i] !== bytes[j]) return bytes[i] - bytes[j]
    }
    return (ea - starts[a]) - (eb - starts[b])
  })
  const packed = Buffer.from(bytes.buffer, 0, end)
  return { count: n, name: k => packed.toString('latin1', starts[order[k]], starts[order[k] + 1]) }
}

function * walk (root: string, rel: string, side: Side): Generator<FileEntry> {
  let names: SortedNames
  try {
    names = sortedNames(rel === '' ? root : join(root, rel))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new PgRewindError(ioCode(side), `could not open directory "${join(root, rel)}": ${(e as Error).message}`)
  }
  // directories met, waiting for their contents' place (name + "/"), in that order
  const subtrees: Array<{ key: string, path: string }> = []
  for (let k = 0; k < names.count; k++) {
    const name = names.name(k)
    while (subtrees.length > 0 && subtrees[0].key < name) yield * walk(root, subtrees.shift()!.path, side)
    const path = rel === '' ? name : `${rel}/${name}`
    const full = join(root, path)
    const st = lstatOrNull(full, side)
    if (st === null) continue
    let walkInto = false
    if (st.isFile()) {
      yield { path, type: 'file', size: st.size }
    } else if (st.isDirectory()) {
      yield { path, type: 'dir', size: 0 }
      walkInto = path !== JOURNAL_DIR
    } else if (st.isSymbolicLink()) {
      let target: string
      try { target = readlinkSync(full) } catch { continue }
      // pg_wal may live elsewhere; to the rewind it is just the WAL directory
      yield path === 'pg_wal' ? { path, type: 'dir', size: 0 } : { path, type: 'symlink', size: 0, linkTarget: target }
      if (rel === 'pg_tblspc' || path === 'pg_wal') {
        try { walkInto = statSync(full).isDirectory() } catch { walkInto = false }
      }
    }
    if (walkInto) {
      const key = `${name}/`
      let at = subtrees.length
      while (at > 0 && subtrees[at - 1].key > key) at--
      subtrees.splice(at, 0, { key, path })
    }
  }
  for (const s of subtrees) yield * walk(root, s.path, side)
}
