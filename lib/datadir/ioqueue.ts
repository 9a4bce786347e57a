import { closeSync, read, write, writev, writevSync } from 'node:fs'

/**
 * Parallel file I/O on libuv's thread pool, bounded. A rewind's reads are small and
 * scattered (8 kB blocks all over the relation files, on a page cache that is cold
 * after a failover): one at a time, each waits for the disk's latency; several in
 * flight let the device serve them together (measured here, cold cache: 15,500 random
 * 8 kB reads/s one at a time, 30,000/s with 16 in flight). Close blocks are read
 * together as one span (a gap of a few blocks costs less than another read).
 */

/** Reads (or copies) in flight at once. */
export const IO_DEPTH = Math.max(1, Number(process.env.PGREWIND_IO_DEPTH ?? '16'))
/** Ranges closer than this are read as one span, the bytes between them read and dropped. */
export const SPAN_GAP = Math.max(0, Number(process.env.PGREWIND_SPAN_GAP ?? String(32 * 1024)))
/** Longest span read at once. */
export const SPAN_MAX = 512 * 1024

// libuv's pool (4 threads by default) bounds the syscalls in flight: make it as deep
// as our queue, before its first use (it starts lazily, on the first async fs call)
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(Math.min(64, IO_DEPTH + 4))

/** Up to `limit` tasks running; push() waits for a free slot; the first failure is thrown by push() or drain(). */
export class IoQueue {
  private readonly running = new Set<Promise<void>>()
  private failure: { e: unknown } | null = null

  constructor (readonly limit: number = IO_DEPTH) {}

  get failed (): boolean { return this.failure !== null }

  async push (task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running)
    this.check()
    const p: Promise<void> = task()
      .catch(e => { if (this.failure === null) this.failure = { e } })
      .finally(() => { this.running.delete(p) })
    this.running.add(p)
  }

  /** Wait for everything started; throws the first failure. */
  async drain (): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running)
    this.check()
  }

  /** Wait for everything started, ignoring failures (cleanup after an error). */
  async settle (): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running)
  }

  private check (): void {
    if (this.failure !== null) throw this.failure.e
  }
}

/** Read up to `length` bytes at `position`, looping over short reads; fewer only at EOF. */
export async function readAtAsync (fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0
  while (got < length) {
    const n = await new Promise<number>((resolve, reject) => read(fd, buf, got, length - got, position + got, (e, k) => e !== null ? reject(e) : resolve(k)))
    if (n === 0) break
    got += n
  }
  return got
}

/** Write all of `bufs` contiguously at `position`. */
export async function writevAtAsync (fd: number, bufs: Buffer[], position: number): Promise<void> {
  let pos = position
  let rest = bufs.filter(b => b.length > 0)
  while (rest.length > 0) {
    const n = rest.length === 1
      ? await new Promise<number>((resolve, reject) => write(fd, rest[0], 0, rest[0].length, pos, (e, k) => e !== null ? reject(e) : resolve(k)))
      : await new Promise<number>((resolve, reject) => writev(fd, rest, pos, (e, k) => e !== null ? reject(e) : resolve(k)))
    pos += n
    let skip = n
    const next: Buffer[] = []
    for (const b of rest) {
      if (skip >= b.length) { skip -= b.length; continue }
      next.push(skip > 0 ? b.subarray(skip) : b)
      skip = 0
    }
    rest = next
  }
}

/**
 * Write all of `bufs` contiguously at `position`, synchronously: into the page cache,
 * a few microseconds for 8 kB, where handing the write to the thread pool costs more.
 */
export function writevAt (fd: number, bufs: Buffer[], position: number): void {
  let pos = position
  let rest = bufs.filter(b => b.length > 0)
  while (rest.length > 0) {
    const n = writevSync(fd, rest, pos)
    pos += n
    let skip = n
    const next: Buffer[] = []
    for (const b of rest) {
      if (skip >= b.length) { skip -= b.length; continue }
      next.push(skip > 0 ? b.subarray(skip) : b)
      skip = 0
    }
    rest = next
  }
}

/** A span of one file read at once: [start, end), covering `parts` (offset, length, index of the range it is of), in order. */
export interface Span { start: number, end: number, parts: Array<[number, number, number]> }

/**
 * Group sorted, non-overlapping ranges (offset, length) into spans: a range joins the
 * current span when the gap before it is at most `gap` and the span stays within
 * `max` bytes (a longer range is a span of its own, read in pieces of at most `max`).
 */
export function spansOf (ranges: Iterable<[number, number]>, gap = SPAN_GAP, max = SPAN_MAX): Span[] {
  const out: Span[] = []
  let cur: Span | null = null
  let i = -1
  for (const [off, len] of ranges) {
    i++
    if (len <= 0) continue
    if (cur !== null && off >= cur.end && off - cur.end <= gap && off + len - cur.start <= max) {
      cur.parts.push([off, len, i])
      cur.end = off + len
      continue
    }
    // a range longer than a span: pieces of `max`
    let o = off
    let l = len
    while (l > max) {
      out.push({ start: o, end: o + max, parts: [[o, max, i]] })
      o += max
      l -= max
    }
    cur = { start: o, end: o + l, parts: [[o, l, i]] }
    out.push(cur)
  }
  return out
}

/** Reusable buffers of SPAN_MAX bytes, one per read in flight. */
export class BufferPool {
  private readonly free: Buffer[] = []
  constructor (readonly size: number = SPAN_MAX) {}
  get (): Buffer { return this.free.pop() ?? Buffer.allocUnsafe(this.size) }
  put (b: Buffer): void { this.free.push(b) }
}

/** A file descriptor shared by the reads in flight on it: closed when it is sealed (no more will start) and the last one is done. */
export class SharedFd {
  private users = 0
  private sealed = false
  private closed = false
  constructor (readonly fd: number) {}
  use (): void { this.users++ }
  done (): void { this.users--; this.maybeClose() }
  seal (): void { this.sealed = true; this.maybeClose() }
  /** after a failure, once nothing is in flight any more */
  close (): void { if (!this.closed) { this.closed = true; closeSync(this.fd) } }
  get isClosed (): boolean { return this.closed }
  private maybeClose (): void { if (this.sealed && this.users === 0) this.close() }
}
