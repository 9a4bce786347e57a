import { closeSync, constants, fsyncSync, openSync } from 'node:fs'

/** fsync a directory, so that the names created, renamed or removed in it are durable. */
export function fsyncDir (dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY)
  try { fsyncSync(fd) } finally { closeSync(fd) }
}
