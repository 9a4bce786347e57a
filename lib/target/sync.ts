import { spawnSync } from 'node:child_process'
import { promises as fsp, realpathSync, readdirSync, lstatSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'

/**
 * Make the rewound data directory durable, as pg_rewind's final sync does: every
 * file and directory, following pg_wal and the tablespace links. `fsync` issues the
 * fsyncs concurrently (the kernel and the disk merge them far better than one at a
 * time); `syncfs` syncs each file system involved once (Linux), via coreutils'
 * `sync --file-system`.
 */
export type SyncMethod = 'fsync' | 'syncfs'

function collect (root: string): { files: string[], dirs: string[], roots: string[] } {
  const files: string[] = []
  const dirs: string[] = []
  const roots = [root]
  const walk = (dir: string, depth: number, rel: string): void => {
    dirs.push(dir)
    for (const name of readdirSync(dir)) {
      const full = join(dir, name)
      const relPath = rel === '' ? name : `${rel}/${name}`
      let st = lstatSync(full)
      if (st.isSymbolicLink() && (relPath === 'pg_wal' || /^pg_tblspc\/[^/]+$/.test(relPath))) {
        roots.push(realpathSync(full))
        st = statSync(full)
      }
      if (st.isDirectory()) walk(full, depth + 1, relPath)
      else if (st.isFile()) files.push(full)
    }
  }
  walk(root, 0, '')
  return { files, dirs, roots }
}

async function fsyncPath (path: string, isDir: boolean): Promise<void> {
  let fh: fsp.FileHandle | null = null
  try {
    fh = await fsp.open(path, 'r')
    await fh.sync()
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return
    // some file systems refuse fsync on a directory opened read-only
    if (isDir && (code === 'EBADF' || code === 'EINVAL')) return
    throw new PgRewindError('TARGET_IO', `could not fsync ${isDir ? 'directory' : 'file'} "${path}": ${(e as Error).message}`)
  } finally {
    await fh?.close()
  }
}

export async function syncDataDir (pgdata: string, method: SyncMethod = 'fsync', onProgress?: (done: number, total: number) => void): Promise<void> {
  const { files, dirs, roots } = collect(pgdata)
  if (method === 'syncfs') {
    for (const r of roots) {
      const res = spawnSync('sync', ['--file-system', r], { encoding: 'utf8' })
      if (res.status !== 0) throw new PgRewindError('TARGET_IO', `could not synchronize file system for "${r}": ${res.stderr}`)
    }
    return
  }
  const work: Array<[string, boolean]> = [...files.map(f => [f, false] as [string, boolean]), ...dirs.reverse().map(d => [d, true] as [string, boolean])]
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
