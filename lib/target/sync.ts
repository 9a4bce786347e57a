import { spawnSync } from 'node:child_process'
import { promises as fsp, realpathSync, readdirSync, lstatSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'

/**
 * Make what the rewind changed durable. pg_rewind fsyncs the whole data directory
 * because it ran single-user crash recovery with fsync off; we run it with fsync on,
 * so only the files and directories the plan touched need it (only the directories
 * when the apply made its files durable itself). `fsync` issues those
 * fsyncs concurrently (the kernel and the disk merge them far better than one at a
 * time); `syncfs` syncs each file system involved once (Linux), via coreutils'
 * `sync --file-system`.
 */
export type SyncMethod = 'fsync' | 'syncfs'

export interface SyncSet {
  /** relative paths of files written or truncated */
  files: string[]
  /** relative paths of directories whose entries changed ('' = the data directory) */
  dirs: string[]
}

/** The data directory, pg_wal and every tablespace: the file systems a rewind touches. */
function fileSystemRoots (pgdata: string): string[] {
  const roots = [pgdata]
  const wal = join(pgdata, 'pg_wal')
  if (lstatSync(wal).isSymbolicLink()) roots.push(realpathSync(wal))
  const tbl = join(pgdata, 'pg_tblspc')
  try {
    for (const n of readdirSync(tbl)) roots.push(realpathSync(join(tbl, n)))
  } catch { /* no tablespaces */ }
  return roots
}

async function fsyncPath (path: string, isDir: boolean): Promise<void> {
  let fh: fsp.FileHandle | null = null
  try {
    fh = await fsp.open(path, 'r')
    await fh.sync()
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return // removed by the plan after it was written
    // some file systems refuse fsync on a directory opened read-only
    if (isDir && (code === 'EBADF' || code === 'EINVAL')) return
    throw new PgRewindError('TARGET_IO', `could not fsync ${isDir ? 'directory' : 'file'} "${path}": ${(e as Error).message}`)
  } finally {
    await fh?.close()
  }
}

export async function syncChanges (pgdata: string, set: SyncSet, method: SyncMethod = 'fsync', onProgress?: (done: number, total: number) => void): Promise<void> {
  if (method === 'syncfs') {
    for (const r of fileSystemRoots(pgdata)) {
      const res = spawnSync('sync', ['--file-system', r], { encoding: 'utf8' })
      if (res.status !== 0) throw new PgRewindError('TARGET_IO', `could not synchronize file system for "${r}": ${res.stderr}`)
    }
    return
  }
  // files first, then the directories holding their names
  const work: Array<[string, boolean]> = [
    ...set.files.map(f => [join(pgdata, f), false] as [string, boolean]),
    ...[...set.dirs].sort((a, b) => b.length - a.length).map(d => [d === '' ? pgdata : join(pgdata, d), true] as [string, boolean])
  ]
  let next = 0
  let done = 0
  const worker = async (): Promise<void> => {
    while (next < work.length) {
      const [p, isDir] = work[next++]
      await fsyncPath(p, isDir)
      done++
      if ((done & 255) === 0) onProgress?.(done, work.length)
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  onProgress?.(work.length, work.length)
}
