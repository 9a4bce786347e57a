import { closeSync, lstatSync, openSync, readFileSync, readSync, Stats, statSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, PgRewindError } from '../errors'

/**
 * Reads from a local data directory, either side of a rewind: the target always,
 * the source when it is a stopped copy on this machine. Every error names the side
 * (TARGET_IO or SOURCE_IO), so a failure reading the target is never blamed on the
 * source.
 */
export type Side = 'target' | 'source'

/** Reads a whole file of one side, by its path relative to the data directory. */
export type ReadFile = (path: string) => Promise<Buffer>

export function ioCode (side: Side): ErrorCode {
  return side === 'target' ? 'TARGET_IO' : 'SOURCE_IO'
}

/** A failed system call on one side's file, typed (TARGET_IO or SOURCE_IO), with its errno. */
export function fileError (side: Side, what: string, path: string, e: unknown): PgRewindError {
  const err = e as NodeJS.ErrnoException
  return new PgRewindError(ioCode(side), `${what} "${path}": ${err.message}`, { data: { path, errno: err.code } })
}

export function readWholeFile (pgdata: string, path: string, side: Side): Buffer {
  try {
    return readFileSync(join(pgdata, path))
  } catch (e) {
    throw new PgRewindError(ioCode(side), `could not open file "${join(pgdata, path)}" for reading: ${(e as Error).message}`,
      { data: { path, errno: (e as NodeJS.ErrnoException).code } })
  }
}

/** Whole-file reads of one local data directory, with typed errors. */
export function localReader (pgdata: string, side: Side): ReadFile {
  return async (path: string) => readWholeFile(pgdata, path, side)
}

/** lstat, or null when the path does not exist. */
export function lstatOrNull (full: string, side: Side): Stats | null {
  try {
    return lstatSync(full)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new PgRewindError(ioCode(side), `could not stat file "${full}": ${(e as Error).message}`)
  }
}

/** Read up to `length` bytes at `position` into `buf`, looping over short reads; fewer only at EOF. */
export function readAt (fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got)
    if (n === 0) break
    got += n
  }
  return got
}

/**
 * Positional reads of one side's files, one file open at a time (callers go
 * through the files path by path, many ranges each).
 */
export class RangeReader {
  private fd = -1
  private path = ''
  private buf = Buffer.alloc(0)

  constructor (private readonly pgdata: string, private readonly side: Side) {}

  /** The bytes at [offset, offset + length) of `path`, fewer at its end; valid until the next call. */
  read (path: string, offset: number, length: number): Buffer {
    if (path !== this.path) {
      this.close()
      const full = join(this.pgdata, path)
      try {
        this.fd = openSync(full, 'r')
      } catch (e) {
        throw new PgRewindError(ioCode(this.side), `could not open file "${full}": ${(e as Error).message}`, { data: { path, errno: (e as NodeJS.ErrnoException).code } })
      }
      this.path = path
    }
    if (this.buf.length < length) this.buf = Buffer.alloc(length)
    return this.buf.subarray(0, readAt(this.fd, this.buf, length, offset))
  }

  close (): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
    this.path = ''
  }
}

/** Permission bits of the data directory decide the modes of what we create in it. */
export function dataDirModes (root: string): { dirMode: number, fileMode: number, groupAccess: boolean } {
  let mode: number
  try {
    mode = statSync(root).mode & 0o777
  } catch (e) {
    throw new PgRewindError('TARGET_IO', `could not stat directory "${root}": ${(e as Error).message}`)
  }
  const groupAccess = (mode & 0o050) === 0o050
  return groupAccess ? { dirMode: 0o750, fileMode: 0o640, groupAccess } : { dirMode: 0o700, fileMode: 0o600, groupAccess }
}

/** A server is running on the data directory when postmaster.pid names a live process. */
export function runningPostmasterPid (pgdata: string): number | null {
  let text: string
  try { text = readFileSync(join(pgdata, 'postmaster.pid'), 'utf8') } catch { return null }
  const pid = Number(text.split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return null
  try {
    process.kill(pid, 0)
    return pid
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : null
  }
}
