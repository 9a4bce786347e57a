import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { readAt, readWholeFile } from '../datadir/files'
import { listDataDir } from '../datadir/listing'
import { ChunkSink, FetchRequest, FileEntry, RewindSource } from './types'

const CHUNK = 1024 * 1024
const YIELD_EVERY = 4 * 1024 * 1024

/** A cleanly stopped data directory on this machine. */
export class LocalSource implements RewindSource {
  readonly kind = 'local' as const
  readonly description: string
  private readonly buf = Buffer.allocUnsafe(CHUNK)

  constructor (readonly pgdata: string) {
    this.description = `source data directory "${pgdata}"`
  }

  async listFiles (): Promise<FileEntry[]> {
    return listDataDir(this.pgdata, 'source')
  }

  async readFile (path: string): Promise<Buffer> {
    return readWholeFile(this.pgdata, path, 'source')
  }

  async fetch (requests: Iterable<FetchRequest>, sink: ChunkSink, onBytes?: (n: number) => void, shouldStop?: () => void): Promise<void> {
    // changed blocks come as many ranges of one file: open it once for all of them
    let openPath: string | null = null
    let fd = -1
    let sinceYield = 0
    try {
      for (const req of requests) {
        // every so often let the event loop run: a SIGTERM handler (the CLI's safe
        // stop) can only run then, the copy itself being synchronous
        sinceYield += req.length + 8192
        if (sinceYield >= YIELD_EVERY) {
          sinceYield = 0
          await new Promise(resolve => setImmediate(resolve))
        }
        shouldStop?.()
        if (req.path !== openPath) {
          if (fd >= 0) closeSync(fd)
          fd = -1
          openPath = null
          const full = join(this.pgdata, req.path)
          try {
            fd = openSync(full, 'r')
          } catch (e) {
            throw new PgRewindError('SOURCE_IO', `could not open source file "${full}": ${(e as Error).message}`, { data: { path: req.path } })
          }
          openPath = req.path
        }
        this.fetchOne(fd, req, sink, onBytes)
      }
    } finally {
      if (fd >= 0) closeSync(fd)
    }
  }

  private fetchOne (fd: number, req: FetchRequest, sink: ChunkSink, onBytes?: (n: number) => void): void {
    let pos = req.offset
    const end = req.offset + req.length
    while (pos < end || req.wholeFile === true) {
      const want = req.wholeFile === true ? CHUNK : Math.min(CHUNK, end - pos)
      const n = readAt(fd, this.buf, want, pos)
      if (n === 0) break
      if (req.wholeFile === true && pos + n > end) {
        throw new PgRewindError('SOURCE_CHANGED',
          `size of source file "${req.path}" changed concurrently: ${req.length} bytes expected, more copied`,
          { data: { path: req.path, expected: req.length } })
      }
      // the sink must consume (write) the chunk before we reuse the buffer
      sink(req, pos, this.buf.subarray(0, n))
      onBytes?.(n)
      pos += n
    }
    if (pos !== end) {
      throw new PgRewindError('SOURCE_CHANGED', req.wholeFile === true
        ? `size of source file "${req.path}" changed concurrently: ${req.length} bytes expected, ${pos - req.offset} copied`
        : `unexpected EOF while reading file "${req.path}"`, { data: { path: req.path, expected: end, got: pos } })
    }
  }

  async close (): Promise<void> { /* nothing held open */ }
}
