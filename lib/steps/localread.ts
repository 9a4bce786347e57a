import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { ReadFile } from './clusterinfo'

/** Whole-file reads from a local data directory, with typed errors. */
export function localReader (pgdata: string, who: 'target' | 'source'): ReadFile {
  return async (path: string) => {
    try {
      return readFileSync(join(pgdata, path))
    } catch (e) {
      throw new PgRewindError(who === 'target' ? 'TARGET_IO' : 'SOURCE_IO',
        `could not open file "${join(pgdata, path)}" for reading: ${(e as Error).message}`, { data: { path, errno: (e as NodeJS.ErrnoException).code } })
    }
  }
}
