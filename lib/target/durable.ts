import { closeSync, constants, fsyncSync, openSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

/** Durable writes to the target: what every writer of pgrewind's own files relies on. */

/** fsync a directory, so that the names created, renamed or removed in it are durable. */
export function fsyncDir (dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY)
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

/** Write all of `b`, at `position` (else at the file's offset), looping over short writes. */
export function writeAll (fd: number, b: Buffer, position?: number): void {
  let done = 0
  while (done < b.length) done += writeSync(fd, b, done, b.length - done, position === undefined ? null : position + done)
}

/** Content written in pieces (a big plan's JSON, never held whole: lib/jsonstream.ts). */
export type ContentWriter = (write: (chunk: string) => void) => void

/**
 * Replace a file atomically and durably: written under `tmp`, fsynced, renamed over
 * `full`, the directory fsynced — a crash leaves the old file or the new one, never
 * half of one. `step` runs before the file is created and before the rename (the
 * fault-injection count); errors are thrown as they come, for the caller to type.
 */
export function replaceFile (full: string, data: Buffer | string | ContentWriter, o: { tmp: string, mode: number, sync?: boolean, step?: () => void }): void {
  o.step?.()
  const fd = openSync(o.tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, o.mode)
  try {
    if (typeof data === 'function') data(chunk => writeAll(fd, Buffer.from(chunk)))
    else writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data)
    if (o.sync !== false) fsyncSync(fd)
  } finally { closeSync(fd) }
  o.step?.()
  renameSync(o.tmp, full)
  if (o.sync !== false) fsyncDir(dirname(full))
}
