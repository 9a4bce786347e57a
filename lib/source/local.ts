import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { readAt, readWholeFile } from '../datadir/files'
import { BufferPool, IoQueue, readAtAsync, SharedFd, spansOf } from '../datadir/ioqueue'
import { listDataDir } from '../datadir/listing'
import { ChunkSink, FetchHooks, FetchRequest, RewindSource } from './types'
import type { FileList } from '../datadir/filelist'

const CHUNK = 1024 * 1024
/** block requests of one file gathered before their spans are read */
const GROUP = 512

/** A cleanly stopped data directory on this machine. */
export class LocalSource implements RewindSource {
  readonly kind = 'local' as const
  readonly description: string
  private readonly buf = Buffer.allocUnsafe(CHUNK)

  constructor (readonly pgdata: string) {
    this.description = `source data directory "${pgdata}"`
  }

  async listFiles (): Promise<FileList> {
    return listDataDir(this.pgdata, 'source')
  }

  async readFile (path: string): Promise<Buffer> {
    return readWholeFile(this.pgdata, path, 'source')
  }

  private openSource (path: string): number {
    const full = join(this.pgdata, path)
    try {
      return openSync(full, 'r')
    } catch (e) {
      throw new PgRewindError('SOURCE_IO', `could not open source file "${full}": ${(e as Error).message}`, { data: { path } })
    }
  }

  /**
   * Changed blocks are read many at once (IoQueue), close ones as one span, and handed
   * to the sink as each read completes; whole files are copied by `hooks.copyFile` when
   * given (in parallel too), else read in order through the sink.
   */
  async fetch (requests: Iterable<FetchRequest>, sink: ChunkSink, onBytes?: (n: number) => void, shouldStop?: () => void,
    _onVanished?: (path: string) => void, hooks?: FetchHooks): Promise<void> {
    const q = new IoQueue()
    const pool = new BufferPool()
    const fds: SharedFd[] = []
    let group: FetchRequest[] = []
    const flush = async (): Promise<void> => {
      if (group.length === 0) return
      const reqs = group
      group = []
      const f = new SharedFd(this.openSource(reqs[0].path))
      fds.push(f)
      for (const span of spansOf(reqs.map(r => [r.offset, r.length]))) {
        shouldStop?.()
        f.use()
        await q.push(async () => {
          const buf = pool.get()
          try {
            const want = span.end - span.start
            const n = await readAtAsync(f.fd, buf, want, span.start)
            if (n < want) {
              const req = reqs[span.parts[span.parts.length - 1][2]]
              throw new PgRewindError('SOURCE_CHANGED', `unexpected EOF while reading file "${req.path}"`, { data: { path: req.path, expected: span.end, got: span.start + n } })
            }
            for (const [o, l, i] of span.parts) {
              sink(reqs[i], o, buf.subarray(o - span.start, o - span.start + l))
              onBytes?.(l)
            }
          } finally {
            pool.put(buf)
            f.done()
          }
        })
      }
      f.seal()
    }
    try {
      for (const req of requests) {
        shouldStop?.()
        if (req.wholeFile !== true) {
          if (group.length > 0 && (group[0].path !== req.path || group.length >= GROUP)) await flush()
          group.push(req)
          continue
        }
        await flush()
        const copy = hooks?.copyFile
        if (copy !== undefined) {
          await q.push(async () => { onBytes?.(await copy(req, join(this.pgdata, req.path))) })
        } else {
          // the event loop must run now and then: a SIGTERM handler (the CLI's safe stop) runs only then
          await new Promise(resolve => setImmediate(resolve))
          const fd = this.openSource(req.path)
          try { this.fetchWhole(fd, req, sink, onBytes) } finally { closeSync(fd) }
        }
      }
      await flush()
      await q.drain()
    } catch (e) {
      await q.settle()
      throw e
    } finally {
      for (const f of fds) f.close()
    }
  }

  /** A whole file, in order; it must still have the size it was listed with. */
  private fetchWhole (fd: number, req: FetchRequest, sink: ChunkSink, onBytes?: (n: number) => void): void {
    let pos = req.offset
    const end = req.offset + req.length
    for (;;) {
      const n = readAt(fd, this.buf, CHUNK, pos)
      if (n === 0) break
      if (pos + n > end) {
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
      throw new PgRewindError('SOURCE_CHANGED', `size of source file "${req.path}" changed concurrently: ${req.length} bytes expected, ${pos - req.offset} copied`,
        { data: { path: req.path, expected: end, got: pos } })
    }
  }

  async close (): Promise<void> { /* nothing held open */ }
}
