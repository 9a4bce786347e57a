import { close, closeSync, fstatSync, openSync, read, readSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { walFileName } from '../format/lsn'
import type { WalPageSource } from './reader'

/**
 * WalPageSource over a pg_wal directory (I/O adapter). Segment files are opened by
 * name (`TTTTTTTTLLLLLLLLSSSSSSSS`), one at a time (closed when another is needed), and
 * read in chunks with fs.readSync into one reusable buffer.
 *
 * `onMissing(fileName)` is asked when a segment does not exist in the directory; it
 * may return the path of a file to use instead (restore_command), or null. A file it
 * supplies must have exactly the segment size.
 *
 * Every segment file opened is remembered (`openedFiles`, in order of first opening):
 * pg_rewind keeps the WAL segments its backward scan needed.
 */

export interface SegmentFilesOptions {
  onMissing?: (fileName: string) => string | null
  /** bytes read per read() call (multiple of 8192); default 1 MiB */
  chunkSize?: number
  /**
   * Read ahead: when segments are opened in increasing order, the next two are read
   * into the page cache on the thread pool while this one is decoded (their files
   * are open until those reads are done).
   */
  readAhead?: boolean
}

/** where read-ahead bytes land (and are dropped): concurrent reads into it are harmless */
const prefetchScratch = Buffer.allocUnsafe(1024 * 1024)

export class SegmentFiles implements WalPageSource {
  readonly walDir: string
  readonly segSize: number
  private readonly onMissing: ((fileName: string) => string | null) | null
  private readonly chunkSize: number
  private readonly buf: Buffer
  private fd = -1
  private fdName = ''
  private fdPath = ''
  /** chunk currently in `buf`: [bufStart, bufStart + bufLen) of file fdName */
  private bufStart = -1
  private bufLen = 0
  private readonly opened = new Map<string, string>()
  /** the last segment opened, and the ones read ahead (read-ahead: see prefetch) */
  private lastSegNo = -2n
  private readonly prefetched = new Set<string>()
  private readonly readAhead: boolean

  constructor (walDir: string, segSize: number, opts: SegmentFilesOptions = {}) {
    this.walDir = walDir
    this.segSize = segSize
    this.onMissing = opts.onMissing ?? null
    this.readAhead = opts.readAhead === true
    const cs = opts.chunkSize ?? 1024 * 1024
    if (!Number.isInteger(cs) || cs < 8192 || cs % 8192 !== 0) throw new PgRewindError('INTERNAL', `invalid chunk size ${cs}`)
    this.chunkSize = Math.min(cs, segSize)
    this.buf = Buffer.allocUnsafe(this.chunkSize)
  }

  /** names of the segment files opened so far, in order of first opening */
  get openedFiles (): string[] {
    return [...this.opened.keys()]
  }

  /** name → path actually opened (a restored file's path when onMissing supplied it) */
  get openedPaths (): ReadonlyMap<string, string> {
    return this.opened
  }

  clearOpened (): void {
    this.opened.clear()
  }

  readPage (tli: number, segNo: bigint, offsetInSegment: number, length: number): Buffer {
    const name = walFileName(tli, segNo, this.segSize)
    if (name !== this.fdName || this.fd < 0) {
      this.open(name)
      // a forward scan reads the next segments next: have the thread pool read them
      // into the page cache while this one is decoded
      const ahead = !this.readAhead ? 0 : segNo === this.lastSegNo + 1n ? 2 : this.lastSegNo === -2n ? 1 : 0
      this.lastSegNo = segNo
      for (let k = 1; k <= ahead; k++) this.prefetch(walFileName(tli, segNo + BigInt(k), this.segSize))
    }
    const end = offsetInSegment + length
    if (this.bufStart >= 0 && offsetInSegment >= this.bufStart && end <= this.bufStart + this.bufLen) {
      return this.buf.subarray(offsetInSegment - this.bufStart, this.bufLen)
    }
    if (length > this.chunkSize) {
      // larger than a chunk (the WAL reader never asks for this): a one-off buffer
      const once = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.segSize - offsetInSegment)))
      return once.subarray(0, this.readInto(once, offsetInSegment, name))
    }
    // aligned chunks, so that walking backwards re-reads little
    let start = offsetInSegment - (offsetInSegment % this.chunkSize)
    if (end > start + this.chunkSize) start = offsetInSegment
    this.bufStart = -1
    const got = this.readInto(this.buf.subarray(0, Math.min(this.chunkSize, this.segSize - start)), start, name)
    this.bufStart = start
    this.bufLen = got
    const from = Math.min(offsetInSegment - start, got)
    return this.buf.subarray(from, got)
  }

  private readInto (dst: Buffer, position: number, name: string): number {
    let got = 0
    try {
      while (got < dst.length) {
        const n = readSync(this.fd, dst, got, dst.length - got, position + got)
        if (n === 0) break
        got += n
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      throw new PgRewindError('WAL_READ', `could not read file "${this.fdPath}": ${err.message}`, { data: { file: name, errno: err.code } })
    }
    return got
  }

  /**
   * Read a segment file into the page cache on the thread pool (the bytes go to a
   * scratch buffer and are dropped): the synchronous reads of the scan then find it
   * there. A hint: a missing file, or any error, is ignored.
   */
  private prefetch (name: string): void {
    if (this.prefetched.has(name) || this.opened.has(name)) return
    this.prefetched.add(name)
    let fd: number
    try { fd = openSync(join(this.walDir, name), 'r') } catch { return }
    const piece = Math.min(1024 * 1024, this.segSize)
    let left = Math.ceil(this.segSize / piece)
    for (let off = 0; off < this.segSize; off += piece) {
      read(fd, prefetchScratch, 0, piece, off, () => { if (--left === 0) close(fd, () => {}) })
    }
  }

  close (): void {
    if (this.fd >= 0) {
      try { closeSync(this.fd) } catch { /* already closed */ }
    }
    this.fd = -1
    this.fdName = ''
    this.bufStart = -1
  }

  private open (name: string): void {
    this.close()
    let path = join(this.walDir, name)
    let restored = false
    let fd: number
    try {
      fd = openSync(path, 'r')
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      if (err.code !== 'ENOENT') {
        throw new PgRewindError('WAL_READ', `could not open file "${path}": ${err.message}`, { data: { file: name, errno: err.code } })
      }
      const alt = this.onMissing === null ? null : this.onMissing(name)
      if (alt === null) {
        throw new PgRewindError('WAL_MISSING', `could not open file "${path}": No such file or directory`, { data: { file: name, path } })
      }
      path = alt
      restored = true
      try {
        fd = openSync(path, 'r')
      } catch (e2) {
        const err2 = e2 as NodeJS.ErrnoException
        throw new PgRewindError(err2.code === 'ENOENT' ? 'WAL_MISSING' : 'WAL_READ', `could not open file "${path}" restored from archive: ${err2.message}`, { data: { file: name, path } })
      }
    }
    let size: number
    try {
      size = fstatSync(fd).size
    } catch (e) {
      closeSync(fd)
      throw new PgRewindError('WAL_READ', `could not stat file "${path}": ${(e as Error).message}`, { data: { file: name, path } })
    }
    if (restored && size !== this.segSize) {
      closeSync(fd)
      throw new PgRewindError('RESTORE_COMMAND', `unexpected file size for "${name}": ${size} instead of ${this.segSize}`, { data: { file: name, path } })
    }
    this.fd = fd
    this.fdName = name
    this.fdPath = path
    if (!this.opened.has(name)) this.opened.set(name, path)
  }
}

/** Alias (the name used in the design notes). */
