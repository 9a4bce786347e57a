import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'

/** restore_command with %f, %p and %% replaced (pg_rewind refuses %r and unknown escapes). */
export function expandRestoreCommand (cmd: string, fileName: string, destPath: string): string {
  return cmd.replace(/%(.?)/g, (all, c: string) => {
    if (c === 'f') return fileName
    if (c === 'p') return destPath
    if (c === '%') return '%'
    throw new PgRewindError('RESTORE_COMMAND', `invalid restore_command "${cmd}"`, {
      detail: c === 'r' ? '%r is not supported when restoring WAL for a rewind.' : `"${all}" is not a known placeholder (use %f, %p or %%).`
    })
  })
}

/**
 * Fetch one WAL segment with restore_command into `destDir` (never into the target's
 * pg_wal: a dry run must not change the target, and a real run only needs it to
 * read). Returns the restored file's path, or null when the archive does not have it.
 */
export function restoreWalSegment (cmd: string, fileName: string, destDir: string, segSize: number): string | null {
  const dest = join(destDir, fileName)
  const shellCmd = expandRestoreCommand(cmd, fileName, dest)
  const r = spawnSync('/bin/sh', ['-c', shellCmd], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 600_000 })
  if (r.signal !== null || r.status === 126 || r.status === 127) {
    throw new PgRewindError('RESTORE_COMMAND', `"restore_command" failed: ${r.signal !== null ? `killed by signal ${r.signal}` : `exit code ${r.status ?? '?'}`}`, {
      detail: `The failed command was: ${shellCmd}\n${(r.stderr ?? '').trim()}`
    })
  }
  if (r.status !== 0 || !existsSync(dest)) return null
  const size = statSync(dest).size
  if (size !== segSize) {
    throw new PgRewindError('RESTORE_COMMAND', `unexpected file size for "${fileName}": ${size} instead of ${segSize}`)
  }
  return dest
}
