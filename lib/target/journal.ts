import {
  closeSync, constants, copyFileSync, existsSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, promises as fsp, readdirSync,
  readFileSync, readlinkSync, realpathSync, renameSync, rmdirSync, rmSync, Stats, statSync, symlinkSync, unlinkSync
} from 'node:fs'
import { dirname, join } from 'node:path'
import { fileError, readAt } from '../datadir/files'
import { BufferPool, IoQueue, readAtAsync, SharedFd, spansOf, writevAt } from '../datadir/ioqueue'
import { JOURNAL_DIR, TEMP_SUFFIX } from '../datadir/listing'
import { PgRewindError } from '../errors'
import { beforeChange, reached } from './failpoint'
import { ContentWriter, fsyncDir, replaceFile, writeAll } from './durable'
import { writeJson } from '../jsonstream'
import { PathMap } from '../pathmap'

/**
 * The undo journal of an apply: before the rewind changes anything in the target, it
 * records — durably — how to put it back. Every change is announced by an intent,
 * and a batch of intents (with the old bytes they need) is fsynced before the first
 * change it covers; so after SIGKILL or power loss at any instant the journal
 * describes the target exactly, whichever of its announced changes were made. A big
 * batch reaches intents.jsonl a megabyte at a time before its commit, each piece only
 * after the old bytes its intents point to are durable: whatever part of it a crash
 * leaves, every intent there can be undone, as nothing for a change never made. Undo
 * runs the intents backwards, each one idempotent and correct whether or not its
 * change happened: that makes rollback itself interruptible and re-runnable.
 *
 * Cheap by design: a file that is removed or replaced whole is moved aside by rename
 * (no copy) when the journal is on its file system; only the old bytes of ranges
 * overwritten in place and of truncated tails are copied.
 *
 * Layout of the directory (pgrewind_journal/ in the data directory, or a link to a
 * directory of the user's choice):
 *   header.json     what was applied: plan digest, the target's pg_control digest before
 *   plan.json       the plan itself (verify and inspect read it)
 *   intents.jsonl   the intents, one JSON line each, and the state changes
 *   data            old bytes, appended
 *   files/<seq>     files moved aside
 */

export type JournalState = 'applying' | 'applied' | 'finishing' | 'done'

export type Intent =
  /** bytes at [offset, offset + length) will be overwritten in place; the old ones are at `data` in order */
  | { seq: number, op: 'ranges', path: string, ranges: Array<[number, number]>, data: number }
  /** the file will grow past `size` (a tail copied from the source) */
  | { seq: number, op: 'grow', path: string, size: number }
  /** the file will be cut to `size`; its old tail, `length` bytes, is at `data` */
  | { seq: number, op: 'cut', path: string, size: number, length: number, data: number }
  /** the file will be removed or replaced whole; the old one goes to files/<seq> (moved, or copied across file systems) */
  | { seq: number, op: 'aside', path: string, how: 'rename' | 'copy' }
  /** the path will be created */
  | { seq: number, op: 'create', path: string, type: 'file' | 'dir' | 'symlink', linkTarget?: string }
  /** the (emptied) directory will be removed */
  | { seq: number, op: 'rmdir', path: string, mode: number }
  /** the symlink will be removed */
  | { seq: number, op: 'unlink', path: string, linkTarget: string }
  /** the small file will be rewritten whole; its old content is at `data` (null: it did not exist) */
  | { seq: number, op: 'rewrite', path: string, data: number | null, length: number, mode: number }
  /**
   * a state change; `filesDurable` (with 'applied'): every file the apply wrote or cut
   * was fdatasynced after its last change, so the final sync needs only the directories
   */
  | { seq: number, op: 'state', state: JournalState, controlDigest?: string, filesDurable?: boolean }

type NewIntent = Intent extends infer I ? I extends { seq: number } ? Omit<I, 'seq'> : never : never

export interface JournalHeader {
  version: 1
  planDigest: string
  /** sha256 of the target's pg_control before the apply */
  controlDigestBefore: string
  createdAt: string
  pgdata: string
}

const ioError = (what: string, path: string, e: unknown): PgRewindError => fileError('target', what, path, e)

// the journal's header (durable before the first change), its intents, and where the whole files it keeps go
const HEADER = 'header.json'
const INTENTS = 'intents.jsonl'
const FILES = 'files'
const tmpOf = (path: string): string => `${path}.tmp`

function writeDurably (path: string, data: Buffer | string | ContentWriter, mode: number): void {
  replaceFile(path, data, { tmp: tmpOf(path), mode })
}

function lstatOrNull (p: string): Stats | null {
  try { return lstatSync(p) } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw ioError('could not stat', p, e)
  }
}

/** Lines read a chunk at a time (a journal of many files is never one string); `f` returning false stops. `last`: the end of the file, where a line may be torn. */
function eachLine (path: string, f: (line: string, last: boolean) => boolean): void {
  let fd: number
  try { fd = openSync(path, 'r') } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return // none written yet
    throw ioError('could not open the journal', path, e)
  }
  try {
    const buf = Buffer.alloc(1 << 20)
    let rest = Buffer.alloc(0)
    let held: string | null = null
    for (let pos = 0; ;) {
      const got = readAt(fd, buf, buf.length, pos)
      pos += got
      const data = rest.length > 0 ? Buffer.concat([rest, buf.subarray(0, got)]) : buf.subarray(0, got)
      let start = 0
      for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
        // a line is known not to be the last once the next one has begun
        if (held !== null && !f(held, false)) return
        held = data.toString('utf8', start, nl)
        start = nl + 1
      }
      rest = Buffer.from(data.subarray(start))
      if (got === 0) break
    }
    // an interrupted append tears its batch: the last complete line and what follows it
    if (held !== null && !f(held, true)) return
    if (rest.length > 0) f(rest.toString('utf8'), true)
  } finally { closeSync(fd) }
}

/**
 * What the intents tell about a path, in one number (PathMap): bit 0 its undo puts
 * the whole file back (moved aside, created, rewritten); with an aside intent, that
 * intent's (seq + 1) · 8, bit 2 when the file is copied (another file system), bit 1
 * once it has gone into the journal. 300,000 paths held some 35 MB in a Map and two
 * Sets (a plan of 100,000 tables a side).
 */
const RESTORABLE = 1
const MOVED = 2
const COPIED = 4
const asideSeq = (v: number): number => Math.floor(v / 8) - 1
const hasAside = (v: number | undefined): v is number => v !== undefined && v >= 8

/** A file moved aside: from where, to where in the journal (null: removed, its old bytes already copied in) */
interface Aside { full: string, to: string | null }

/** A file already gone is fine (moved by an interrupted run, or never there). */
function asideFailed (m: Aside, e: unknown): void {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
  throw m.to !== null ? ioError('could not move into the journal', m.full, e) : ioError('could not remove file', m.full, e)
}

export class Journal {
  /** the committed intents (all of them, or only the state intents: see `kept`) */
  private readonly intents: Intent[] = []
  /** how many intents are committed */
  private committed = 0
  /** intents recorded since the last commit: how many, and those this handle keeps (see `kept`) */
  private pendingCount = 0
  private pending: Intent[] = []
  /**
   * their lines not yet in intents.jsonl: written a megabyte at a time as they come
   * (after the old bytes they point to are durable), made durable by commit. 300,000
   * intents held as objects until the commit took some 30 MB.
   */
  private lines: string[] = []
  private linesSize = 0
  private dataFd = -1
  private dataSize = 0
  private readonly devOfDir = new Map<string, number>()
  /** by path: restorable, aside intent and how, moved (RESTORABLE, MOVED, COPIED above) */
  private readonly paths = new PathMap()
  private asides = 0
  /** the journal directory's file system (a file on another is copied aside, not moved) */
  private dev = -1
  /** old bytes announced by reserveRanges, to be copied by copyReserved: where they go in the data file */
  private reserved: Array<{ path: string, ranges: Array<[number, number]>, data: number }> = []

  /**
   * `kept`: what of the committed intents this handle holds — 'all' to roll back,
   * 'indexes' for the apply (the paths it moved aside or may remove, not every intent
   * with its ranges: a handle that began the journal never rolls it back), 'states' for
   * the steps after it
   */
  private constructor (readonly pgdata: string, readonly dir: string, readonly header: JournalHeader, private readonly fileMode: number,
    private readonly kept: 'all' | 'indexes' | 'states' = 'all') {}

  /** The journal's directory as seen from the data directory. */
  static pathIn (pgdata: string): string { return join(pgdata, JOURNAL_DIR) }

  /**
   * The journal left in a data directory, or null. A torn last line (never fsynced) is
   * ignored. `statesOnly`: for the steps after the apply, which only ask its state and
   * add to it — the intents are counted, not kept (those of a rewind of 100,000 tables
   * a side took some 120 MB while writeBackupLabel checked the apply had finished);
   * such a journal cannot be rolled back.
   */
  static open (pgdata: string, fileMode = 0o600, o: { statesOnly?: boolean } = {}): Journal | null {
    const dir = journalLocation(pgdata)
    if (!existsSync(join(dir, HEADER))) return null
    let header: JournalHeader
    try {
      header = JSON.parse(readFileSync(join(dir, HEADER), 'utf8')) as JournalHeader
    } catch (e) {
      throw new PgRewindError('JOURNAL_INVALID', `the journal in "${dir}" cannot be read: ${(e as Error).message}`)
    }
    const j = new Journal(pgdata, dir, header, fileMode, o.statesOnly === true ? 'states' : 'all')
    let n = 0
    eachLine(join(dir, INTENTS), (line, last) => {
      n++
      if (line === '') return true
      let x: Intent
      try {
        x = JSON.parse(line) as Intent
      } catch (e) {
        if (last) return false // the torn last line of an interrupted append
        throw new PgRewindError('JOURNAL_INVALID', `the journal in "${dir}" is damaged at line ${n}: ${(e as Error).message}`)
      }
      j.add(x)
      return true
    })
    try { j.dataSize = statSync(join(dir, 'data')).size } catch { j.dataSize = 0 }
    return j
  }

  /**
   * Start a journal for an apply: the directory (or, with `at`, a link to a directory
   * elsewhere), then its header, durably, before anything else happens.
   */
  static begin (pgdata: string, header: Omit<JournalHeader, 'version'>, o: { at?: string, dirMode: number, fileMode: number }): Journal {
    const link = Journal.pathIn(pgdata)
    let dir = link
    try {
      if (o.at !== undefined) {
        mkdirSync(o.at, { recursive: true, mode: o.dirMode })
        if (lstatOrNull(link) === null) symlinkSync(o.at, link)
        dir = o.at
      } else {
        mkdirSync(link, { mode: o.dirMode })
      }
      mkdirSync(join(dir, FILES), { mode: o.dirMode })
      reached('journal_header')
      const h: JournalHeader = { version: 1, ...header }
      writeDurably(join(dir, HEADER), JSON.stringify(h, null, 2) + '\n', o.fileMode)
      fsyncDir(pgdata)
      return new Journal(pgdata, dir, h, o.fileMode, 'indexes')
    } catch (e) {
      if (e instanceof PgRewindError) throw e
      throw ioError('could not create the journal', dir, e)
    }
  }

  /**
   * A journal whose header was never written — the run was interrupted in begin(),
   * before it changed anything (the header is durable before the first change) — is
   * removed: its directory (or the link to it, and what begin() made in the directory
   * it points to). Returns whether there was one. Anything in it that begin() does not
   * make is refused, not removed.
   */
  static discardIncomplete (pgdata: string): boolean {
    const link = Journal.pathIn(pgdata)
    const st = lstatOrNull(link)
    if (st === null) return false
    const dir = journalLocation(pgdata)
    if (existsSync(join(dir, HEADER))) return false
    let names: string[]
    try { names = existsSync(dir) ? readdirSync(dir) : [] } catch (e) { throw ioError('could not read the journal directory', dir, e) }
    const emptyDir = (p: string): boolean => { try { return readdirSync(p).length === 0 } catch { return false } }
    const made = (n: string): boolean => n === tmpOf(HEADER) || (n === FILES && emptyDir(join(dir, n)))
    const other = names.filter(n => !made(n))
    if (other.length > 0) {
      throw new PgRewindError('JOURNAL_INVALID', `the journal in "${dir}" has no header but holds ${other.map(n => `"${n}"`).join(', ')}`, {
        hint: 'It is not one pgrewind left unfinished: look at it, and move it away before running pgrewind again.'
      })
    }
    try {
      for (const n of names) rmSync(join(dir, n), { recursive: true, force: true })
      if (st.isSymbolicLink()) unlinkSync(link)
      else rmdirSync(link)
      fsyncDir(pgdata)
    } catch (e) {
      throw ioError('could not remove the unfinished journal', dir, e)
    }
    return true
  }

  get state (): JournalState {
    for (let i = this.intents.length - 1; i >= 0; i--) {
      const x = this.intents[i]
      if (x.op === 'state') return x.state
    }
    return 'applying'
  }

  /** The apply made every file it wrote or cut durable itself (see the 'state' intent). */
  get filesDurable (): boolean {
    return this.intents.some(x => x.op === 'state' && x.filesDurable === true)
  }

  /** pg_control's digest as the finished rewind left it (set when the journal is done). */
  get controlDigestAfter (): string | undefined {
    for (let i = this.intents.length - 1; i >= 0; i--) {
      const x = this.intents[i]
      if (x.op === 'state' && x.controlDigest !== undefined) return x.controlDigest
    }
    return undefined
  }

  /** Bytes the journal holds (old data and files copied into it; files moved aside by rename cost nothing). */
  get bytes (): number {
    this.require('indexes', 'described')
    let n = this.dataSize
    for (const v of this.paths.allValues()) {
      if (hasAside(v) && (v & COPIED) !== 0) {
        try { n += statSync(join(this.dir, FILES, String(asideSeq(v)))).size } catch { /* not there */ }
      }
    }
    return n
  }

  get files (): number {
    this.require('indexes', 'described')
    return this.asides
  }

  private require (kept: 'all' | 'indexes', what: string): void {
    if (this.kept !== 'all' && this.kept !== kept) throw new PgRewindError('INTERNAL', `a journal handle that keeps its ${this.kept} cannot be ${what}`)
  }

  writePlan (plan: unknown): void {
    // JSON.stringify's text, written in pieces: a big plan is never one string
    writeDurably(join(this.dir, 'plan.json'), out => { writeJson(plan, out); out('\n') }, this.fileMode)
  }

  readPlan<T> (): T | null {
    try { return JSON.parse(readFileSync(join(this.dir, 'plan.json'), 'utf8')) as T } catch { return null }
  }

  private add (i: Intent): void {
    this.committed++
    if (this.kept === 'all' || i.op === 'state') this.intents.push(i)
    if (this.kept !== 'states') this.index(i)
  }

  private record (i: NewIntent): Intent {
    const x = { seq: this.committed + this.pendingCount, ...i } as Intent
    this.pendingCount++
    if (this.kept === 'all' || x.op === 'state') this.pending.push(x)
    if (this.kept !== 'states') this.index(x)
    const line = JSON.stringify(x)
    this.lines.push(line)
    this.linesSize += line.length + 1
    if (this.linesSize >= 1 << 20) {
      try {
        // never an intent on disk whose old bytes are not
        if (this.dataFd >= 0) fdatasyncSync(this.dataFd)
        this.writeLines(false)
      } catch (e) { throw ioError('could not write the journal', this.dir, e) }
    }
    return x
  }

  /** The lines recorded so far appended to intents.jsonl (`sync`: and made durable). */
  private writeLines (sync: boolean): void {
    const fd = openSync(join(this.dir, INTENTS), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, this.fileMode)
    try {
      if (this.lines.length > 0) writeAll(fd, Buffer.from(this.lines.join('\n') + '\n'))
      this.lines = []
      this.linesSize = 0
      if (sync) fsyncSync(fd)
    } finally { closeSync(fd) }
  }

  /** What an intent, committed or pending, tells about its path. */
  private index (i: Intent): void {
    if (i.op === 'aside') {
      if (!hasAside(this.paths.get(i.path))) this.asides++
      this.paths.set(i.path, (i.seq + 1) * 8 + (i.how === 'copy' ? COPIED : 0) + RESTORABLE)
    } else if ((i.op === 'create' || i.op === 'rewrite') && this.paths.get(i.path) === undefined) {
      this.paths.set(i.path, RESTORABLE)
    }
  }

  private openData (): number {
    if (this.dataFd < 0) {
      const p = join(this.dir, 'data')
      try {
        // written at explicit positions (never O_APPEND): copies run in parallel into reserved places
        this.dataFd = openSync(p, constants.O_WRONLY | constants.O_CREAT, this.fileMode)
        this.dataSize = Math.max(this.dataSize, statSync(p).size)
      } catch (e) { throw ioError('could not open the journal', p, e) }
    }
    return this.dataFd
  }

  /** Copy `length` bytes of a target file at `offset` to the end of the data file. */
  private saveBytes (fd: number, offset: number, length: number, buf: Buffer): void {
    const out = this.openData()
    let pos = offset
    const end = offset + length
    while (pos < end) {
      const n = readAt(fd, buf, Math.min(buf.length, end - pos), pos)
      if (n === 0) throw new PgRewindError('TARGET_IO', `the target file ended before offset ${end} while its old contents were saved`, { data: { offset: pos } })
      writeAll(out, buf.subarray(0, n), this.dataSize)
      this.dataSize += n
      pos += n
    }
  }

  private openTarget (path: string): number {
    const full = join(this.pgdata, path)
    try { return openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW) } catch (e) { throw ioError('could not open target file', full, e) }
  }

  // ── announcing changes (durable at commit) ───────────────────────────────────────

  /** Old bytes of ranges [offset, length] about to be overwritten in place. */
  ranges (path: string, ranges: Array<[number, number]>, buf: Buffer): void {
    const fd = this.openTarget(path)
    try {
      const data = this.dataSize
      for (const [off, len] of ranges) this.saveBytes(fd, off, len, buf)
      this.record({ op: 'ranges', path, ranges, data })
    } finally { closeSync(fd) }
  }

  /**
   * ranges(), with the copy of the old bytes deferred: the place of the bytes in the
   * data file is reserved now; copyReserved() copies them, many at once, and only then
   * records the intents (after every intent announced before it finishes). So a
   * commit() while the copy runs — the copies of whole files go on meanwhile — can
   * never make durable an intent whose old bytes are not saved yet.
   */
  reserveRanges (path: string, ranges: Array<[number, number]>): void {
    this.openData()
    const data = this.dataSize
    let length = 0
    for (const [, len] of ranges) length += len
    this.dataSize += length
    this.reserved.push({ path, ranges, data })
  }

  /**
   * Copy the old bytes of every reserved range into its place, with up to `depth` reads
   * in flight (close ranges read as one span), then record their intents (commit() makes
   * them durable). Undo runs them before the intents announced earlier: a plan moves or
   * removes no file whose blocks it writes (and a file the running source drops is moved
   * aside only after this commit), so they overwrite files that stay, and the order
   * between them and those intents does not matter.
   */
  async copyReserved (depth?: number): Promise<void> {
    const jobs = this.reserved
    this.reserved = []
    if (jobs.length === 0) return
    const out = this.openData()
    const q = new IoQueue(depth)
    const pool = new BufferPool()
    const fds: SharedFd[] = []
    // the write-back of the data file starts as it fills (commit's fsync then finds little left)
    let unsynced = 0
    const syncs: Array<Promise<void>> = []
    const written = (n: number): void => {
      unsynced += n
      if (unsynced < 16 * 1024 * 1024) return
      unsynced = 0
      syncs.push(new Promise<void>((resolve, reject) => fdatasync(out, e => e !== null ? reject(e) : resolve())))
    }
    try {
      for (const job of jobs) {
        const f = new SharedFd(this.openTarget(job.path))
        fds.push(f)
        // where each range's bytes go: one after the other in the data file
        const dataOf: number[] = []
        let d = job.data
        for (const [, len] of job.ranges) { dataOf.push(d); d += len }
        for (const span of spansOf(job.ranges)) {
          f.use()
          await q.push(async () => {
            const buf = pool.get()
            try {
              const want = span.end - span.start
              const n = await readAtAsync(f.fd, buf, want, span.start)
              if (n < want) throw new PgRewindError('TARGET_IO', `the target file "${job.path}" ended before offset ${span.end} while its old contents were saved`, { data: { offset: span.start + n } })
              // the parts of a span are whole ranges, one after the other, or a piece of one long range
              const [o0, , i0] = span.parts[0]
              const at = dataOf[i0] + (o0 - job.ranges[i0][0])
              writevAt(out, span.parts.map(([o, l]) => buf.subarray(o - span.start, o - span.start + l)), at)
              written(want)
            } finally {
              pool.put(buf)
              f.done()
            }
          })
        }
        f.seal()
      }
      await q.drain()
      await Promise.all(syncs)
    } catch (e) {
      await q.settle()
      await Promise.allSettled(syncs)
      if (e instanceof PgRewindError) throw e
      throw ioError('could not save the old contents of the target into the journal', this.dir, e)
    } finally {
      for (const f of fds) f.close()
    }
    for (const { path, ranges, data } of jobs) this.record({ op: 'ranges', path, ranges, data })
  }

  grow (path: string, size: number): void { this.record({ op: 'grow', path, size }) }

  cut (path: string, size: number, oldSize: number, buf: Buffer): void {
    const fd = this.openTarget(path)
    try {
      const data = this.dataSize
      this.saveBytes(fd, size, oldSize - size, buf)
      this.record({ op: 'cut', path, size, length: oldSize - size, data })
    } finally { closeSync(fd) }
  }

  /** The file will be removed or replaced: moved into the journal when it is on the same file system, else copied now. */
  aside (path: string): void {
    const full = join(this.pgdata, path)
    const parent = dirname(full)
    let dev = this.devOfDir.get(parent)
    if (dev === undefined) {
      try { dev = statSync(parent).dev } catch (e) { throw ioError('could not stat', parent, e) }
      this.devOfDir.set(parent, dev)
    }
    if (this.dev < 0) {
      try { this.dev = statSync(this.dir).dev } catch (e) { throw ioError('could not stat', this.dir, e) }
    }
    const how = dev === this.dev ? 'rename' : 'copy'
    const i = this.record({ op: 'aside', path, how }) as Intent & { op: 'aside' }
    if (how === 'copy') {
      const dest = join(this.dir, FILES, String(i.seq))
      try {
        copyFileSync(full, tmpOf(dest))
        const fd = openSync(tmpOf(dest), 'r+')
        try { fsyncSync(fd) } finally { closeSync(fd) }
        renameSync(tmpOf(dest), dest)
      } catch (e) { throw ioError('could not copy into the journal', full, e) }
    }
  }

  create (path: string, type: 'file' | 'dir' | 'symlink', linkTarget?: string): void {
    this.record({ op: 'create', path, type, linkTarget })
  }

  rmdir (path: string): void {
    const full = join(this.pgdata, path)
    let mode = 0o700
    try { mode = statSync(full).mode & 0o7777 } catch { /* gone already: undo recreates with the default */ }
    this.record({ op: 'rmdir', path, mode })
  }

  unlink (path: string): void {
    const full = join(this.pgdata, path)
    let linkTarget: string
    try { linkTarget = readlinkSync(full) } catch (e) { throw ioError('could not read symbolic link', full, e) }
    this.record({ op: 'unlink', path, linkTarget })
  }

  /** A small file about to be rewritten whole (pg_control, backup_label, postgresql.auto.conf, standby.signal). */
  rewrite (path: string): void {
    const full = join(this.pgdata, path)
    const st = lstatOrNull(full)
    if (st === null) {
      this.record({ op: 'rewrite', path, data: null, length: 0, mode: 0 })
      return
    }
    let content: Buffer
    try { content = readFileSync(full) } catch (e) { throw ioError('could not read', full, e) }
    const out = this.openData()
    const data = this.dataSize
    writeAll(out, content, data)
    this.dataSize += content.length
    this.record({ op: 'rewrite', path, data, length: content.length, mode: st.mode & 0o7777 })
  }

  /** Make every announced change durable in the journal; only then may the changes start. */
  commit (): void {
    if (this.pendingCount === 0) return
    try {
      if (this.dataFd >= 0) fsyncSync(this.dataFd)
      this.writeLines(true)
      fsyncDir(this.dir)
      fsyncDir(join(this.dir, FILES))
    } catch (e) {
      throw ioError('could not write the journal', this.dir, e)
    }
    this.committed += this.pendingCount
    for (const i of this.pending) this.intents.push(i)
    this.pending = []
    this.pendingCount = 0
  }

  setState (state: JournalState, o: { controlDigest?: string, filesDurable?: boolean } = {}): void {
    this.record({ op: 'state', state, ...o })
    this.commit()
  }

  close (): void {
    if (this.dataFd >= 0) closeSync(this.dataFd)
    this.dataFd = -1
  }

  // ── during the apply ───────────────────────────────────────────────────────────

  /**
   * A file about to be removed that no intent announced as removed (one the running
   * source no longer has, maybe after its blocks were written): move it aside,
   * announced durably, before it goes.
   */
  ensureAnnounced (path: string): void {
    // a file whose undo puts it back whole may go; one with only block intents may
    // not (undo writes old bytes into it, so it must still exist)
    if (this.paths.get(path) !== undefined) return
    this.aside(path)
    this.commit()
  }

  /** The file will be replaced or removed: move it aside now, once (the writer calls this just before). */
  moveAside (path: string): boolean {
    const m = this.takeAside(path)
    if (m === null) return false
    try {
      if (m.to !== null) renameSync(m.full, m.to)
      else unlinkSync(m.full)
    } catch (e) { asideFailed(m, e) }
    return true
  }

  /**
   * moveAside on the thread pool: a plan of 300,000 files replaced whole spent 6 s of
   * the main thread in rename(2) between two large directories (RESULTS.md).
   */
  async moveAsideAsync (path: string): Promise<boolean> {
    const m = this.takeAside(path)
    if (m === null) return false
    try {
      if (m.to !== null) await fsp.rename(m.full, m.to)
      else await fsp.unlink(m.full)
    } catch (e) { asideFailed(m, e) }
    return true
  }

  /** Where `path` goes aside (null `to`: its old bytes are already copied in, it only goes), marked as moved; null when not announced or moved already. */
  private takeAside (path: string): Aside | null {
    const v = this.paths.get(path)
    if (!hasAside(v) || (v & MOVED) !== 0) return null
    this.paths.set(path, v + MOVED)
    return { full: join(this.pgdata, path), to: (v & COPIED) === 0 ? join(this.dir, FILES, String(asideSeq(v))) : null }
  }

  /** Remove the journal (and the files it kept): the apply can no longer be undone. */
  discard (): void {
    this.close()
    const link = Journal.pathIn(this.pgdata)
    try {
      rmSync(this.dir, { recursive: true, force: true })
      if (this.dir !== link) rmSync(link, { force: true })
      fsyncDir(this.pgdata)
    } catch (e) { throw ioError('could not remove the journal', this.dir, e) }
  }

  // ── undo ───────────────────────────────────────────────────────────────────────

  /**
   * Put the target back as it was before the apply: every intent undone, newest
   * first; each step checks what is there, so it is right whether or not the change
   * it undoes was made, and right again when an interrupted rollback runs anew. The
   * journal is removed last, after everything restored is durable.
   */
  rollback (onProgress?: (done: number, total: number) => void): RollbackStats {
    this.require('all', 'rolled back')
    const stats: RollbackStats = { intents: 0, bytesRestored: 0, filesRestored: 0, removed: 0 }
    const touchedFiles = new Set<string>()
    const touchedDirs = new Set<string>()
    const data = existsSync(join(this.dir, 'data')) ? openSync(join(this.dir, 'data'), 'r') : -1
    const buf = Buffer.allocUnsafe(1024 * 1024)
    const full = (p: string): string => join(this.pgdata, p)
    const copyBack = (from: number, length: number, path: string, at: number): void => {
      const out = openSync(full(path), constants.O_WRONLY | constants.O_NOFOLLOW)
      try {
        let done = 0
        while (done < length) {
          const n = readAt(data, buf, Math.min(buf.length, length - done), from + done)
          if (n === 0) throw new PgRewindError('JOURNAL_INVALID', `the journal's data ends early (restoring "${path}")`)
          writeAll(out, buf.subarray(0, n), at + done)
          done += n
        }
      } finally { closeSync(out) }
      stats.bytesRestored += length
      touchedFiles.add(path)
    }
    const total = this.intents.length
    try {
      for (let k = total - 1; k >= 0; k--) {
        const i = this.intents[k]
        const p = i.op === 'state' ? '' : full(i.path)
        if (i.op !== 'state') beforeChange()
        switch (i.op) {
          case 'state': break
          case 'ranges': {
            if (lstatOrNull(p)?.isFile() !== true) break
            let from = i.data
            for (const [off, len] of i.ranges) {
              copyBack(from, len, i.path, off)
              from += len
            }
            break
          }
          case 'grow': {
            const st = lstatOrNull(p)
            if (st?.isFile() === true && st.size > i.size) truncateFile(p, i.size)
            touchedFiles.add(i.path)
            break
          }
          case 'cut': {
            const st = lstatOrNull(p)
            if (st?.isFile() === true) copyBack(i.data, i.length, i.path, i.size)
            break
          }
          case 'aside': {
            const kept = join(this.dir, FILES, String(i.seq))
            if (lstatOrNull(kept) === null) break // never moved: the target still has its own
            const st = lstatOrNull(p)
            if (st !== null && !st.isDirectory()) unlinkSync(p)
            if (i.how === 'rename') renameSync(kept, p)
            else {
              copyFileSync(kept, p)
              unlinkSync(kept)
            }
            stats.filesRestored++
            touchedFiles.add(i.path)
            touchedDirs.add(dirname(p))
            break
          }
          case 'create': {
            const st = lstatOrNull(p)
            if (st === null) break
            if (i.type === 'dir') {
              if (st.isDirectory()) rmdirSync(p)
            } else if (i.type === 'symlink') {
              if (st.isSymbolicLink()) unlinkSync(p)
            } else if (!st.isDirectory()) {
              unlinkSync(p)
            }
            stats.removed++
            touchedDirs.add(dirname(p))
            break
          }
          case 'rmdir':
            if (lstatOrNull(p) === null) {
              mkdirSync(p, { mode: i.mode })
              touchedDirs.add(dirname(p))
            }
            break
          case 'unlink':
            if (lstatOrNull(p) === null) {
              symlinkSync(i.linkTarget, p)
              touchedDirs.add(dirname(p))
            }
            break
          case 'rewrite': {
            // a durable write cut short leaves its temporary file
            if (lstatOrNull(`${p}${TEMP_SUFFIX}`)?.isFile() === true) unlinkSync(`${p}${TEMP_SUFFIX}`)
            if (i.data === null) {
              if (lstatOrNull(p) !== null) unlinkSync(p)
            } else {
              const content = Buffer.allocUnsafe(i.length)
              if (readAt(data, content, i.length, i.data) !== i.length) throw new PgRewindError('JOURNAL_INVALID', `the journal's data ends early (restoring "${i.path}")`)
              writeDurably(p, content, i.mode)
            }
            touchedDirs.add(dirname(p))
            break
          }
        }
        stats.intents++
        if ((stats.intents & 1023) === 0) onProgress?.(stats.intents, total)
      }
      // durable before the journal goes: an interrupted rollback must find it again
      for (const f of touchedFiles) fsyncFileIfExists(full(f))
      for (const d of touchedDirs) fsyncDirIfExists(d)
      fsyncDirIfExists(this.pgdata)
    } catch (e) {
      if (e instanceof PgRewindError) throw e
      throw ioError('could not roll back', this.pgdata, e)
    } finally {
      if (data >= 0) closeSync(data)
    }
    onProgress?.(total, total)
    this.discard()
    return stats
  }
}

export interface RollbackStats {
  /** intents undone */
  intents: number
  /** old bytes written back */
  bytesRestored: number
  /** files moved or copied back from the journal */
  filesRestored: number
  /** files, directories and links the apply created, removed again */
  removed: number
}

function truncateFile (p: string, size: number): void {
  const fd = openSync(p, constants.O_WRONLY | constants.O_NOFOLLOW)
  try { ftruncateSync(fd, size) } finally { closeSync(fd) }
}

function fsyncFileIfExists (p: string): void {
  let fd: number
  try { fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW) } catch { return }
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

function fsyncDirIfExists (d: string): void {
  try { fsyncDir(d) } catch { /* gone: its parent holds the change */ }
}

/** Where the journal lives really (through the link, when it is elsewhere). */
export function journalLocation (pgdata: string): string {
  const p = Journal.pathIn(pgdata)
  try { return realpathSync(p) } catch { return p }
}
