import {
  closeSync, constants, fchmodSync, fdatasync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, promises as fsp, renameSync, rmdirSync,
  readlinkSync, symlinkSync, unlinkSync, writeSync
} from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { TEMP_SUFFIX } from '../datadir/listing'
import { beforeChange } from './failpoint'
import { replaceFile } from './durable'
import { fileError } from '../datadir/files'
import type { Journal } from './journal'
import { checkLinkTarget, checkRelativePath, PathOp, symlinkAllowedAt, unsafePath } from './pathsafety'

export interface WriterOptions {
  dryRun: boolean
  dirMode: number
  fileMode: number
  /** the apply's undo journal: files it announced as replaced or removed are moved into it */
  journal?: Journal
  /**
   * Make what is written durable while the copy goes on: an fdatasync on the thread
   * pool after every WRITE_BACK_BYTES of a file, and one after its last change (when
   * it is closed, copied or cut). Once flush() has returned, every file changed is
   * durable, and the final sync needs only the directories whose entries changed.
   */
  writeBack?: boolean
}

export interface WriterStats {
  bytesWritten: number
  filesCreated: number
  filesTruncated: number
  filesRemoved: number
  dirsCreated: number
  dirsRemoved: number
  symlinksCreated: number
  symlinksRemoved: number
}

const ioError = (what: string, path: string, e: unknown): PgRewindError => fileError('target', what, path, e)

/**
 * The one way the rewind changes the target data directory. Every path is checked
 * (relative, no '..', no control characters) and every directory on the way must
 * be a real directory, except the symlinks PostgreSQL itself uses (pg_tblspc/<oid>,
 * pg_wal): a planted symlink cannot redirect a write outside the data directory.
 * In dry-run mode nothing is changed at all, but everything is still checked and
 * counted.
 */
export class TargetWriter {
  readonly stats: WriterStats = {
    bytesWritten: 0, filesCreated: 0, filesTruncated: 0, filesRemoved: 0, dirsCreated: 0, dirsRemoved: 0, symlinksCreated: 0, symlinksRemoved: 0
  }

  /** files open for writing (parallel fetches complete in any order): path -> fd (-1 in a dry run) */
  private readonly fds = new Map<string, number>()
  private readonly checkedDirs = new Set<string>()
  /** write-back: bytes written to an fd since its last fdatasync, the fdatasync in flight on it, closes waiting for theirs */
  private readonly dirty = new Map<number, number>()
  private readonly busy = new Map<number, Promise<void>>()
  private readonly flushing = new Set<Promise<void>>()
  private writeBackError: PgRewindError | null = null

  constructor (readonly pgdata: string, readonly opts: WriterOptions) {}

  /** Every file changed is durable once flush() has returned (see WriterOptions.writeBack). */
  get changesDurable (): boolean { return this.opts.writeBack === true && !this.opts.dryRun }

  /** From now on, files replaced or removed go into this journal. */
  setJournal (journal: Journal): void { this.opts.journal = journal }

  private full (path: string): string { return join(this.pgdata, path) }

  /** The parent directories of `path` must be real directories (or the allowed links). */
  private checkParents (path: string, op: PathOp): void {
    const parts = path.split('/')
    let prefix = ''
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = prefix === '' ? parts[i] : `${prefix}/${parts[i]}`
      if (this.checkedDirs.has(prefix)) continue
      let st
      try {
        st = lstatSync(this.full(prefix))
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return // created later in plan order, or dry-run
        throw ioError('could not stat', prefix, e)
      }
      if (st.isSymbolicLink()) {
        if (!symlinkAllowedAt(prefix)) throw unsafePath(path, op, `"${prefix}" is a symbolic link in the target.`)
      } else if (!st.isDirectory()) {
        throw unsafePath(path, op, `"${prefix}" is not a directory in the target.`)
      }
      this.checkedDirs.add(prefix)
    }
  }

  private check (path: string, op: PathOp): void {
    checkRelativePath(path, op)
    this.checkParents(path, op)
  }

  /** Close `path` if it is open (all open files when null). */
  private closeOpen (path: string | null = null): void {
    const paths = path === null ? [...this.fds.keys()] : this.fds.has(path) ? [path] : []
    for (const p of paths) {
      const fd = this.fds.get(p) ?? -1
      this.fds.delete(p)
      if (fd < 0) continue
      if (this.dirty.has(fd) || this.busy.has(fd)) {
        // written to: its write-back starts now, and it is closed when that is done
        this.dirty.delete(fd)
        this.track(p, (this.busy.get(fd) ?? Promise.resolve()).then(async () => await fdatasyncAsync(fd)).finally(() => closeSync(fd)))
        continue
      }
      try { closeSync(fd) } catch (e) { throw ioError('could not close target file', p, e) }
    }
  }

  /** An asynchronous write-back, waited for by flush(); its failure fails the apply (an fsync error is reported only once). */
  private track (path: string, p: Promise<void>): void {
    const q: Promise<void> = p
      .catch(e => { this.writeBackError ??= ioError('could not write back (fdatasync) target file', path, e) })
      .finally(() => { this.flushing.delete(q) })
    this.flushing.add(q)
  }

  private noteWritten (path: string, fd: number, n: number): void {
    if (this.opts.writeBack !== true) return
    if (this.writeBackError !== null) throw this.writeBackError
    const d = (this.dirty.get(fd) ?? 0) + n
    this.dirty.set(fd, d)
    if (d < WRITE_BACK_BYTES || this.busy.has(fd)) return
    this.dirty.set(fd, 0)
    const p = fdatasyncAsync(fd)
    this.busy.set(fd, p)
    this.track(path, p.finally(() => { this.busy.delete(fd) }))
  }

  /** Wait for the write-backs started (all files closed first); throws the first failure. */
  async flush (): Promise<void> {
    this.closeOpen()
    while (this.flushing.size > 0) await Promise.all([...this.flushing])
    if (this.writeBackError !== null) throw this.writeBackError
  }

  /** After a failure: wait for what is in flight, so that nothing happens after the step has ended. */
  async settle (): Promise<void> {
    try { this.closeOpen() } catch { /* the failure being handled matters more */ }
    while (this.flushing.size > 0) await Promise.all([...this.flushing])
  }

  /** Open (creating it if missing) a file for writing; `truncate` empties it first. */
  open (path: string, truncate: boolean): void {
    this.check(path, 'open')
    this.closeOpen(path)
    // a few files open at once: the oldest is closed
    if (this.fds.size >= MAX_OPEN) this.closeOpen(this.fds.keys().next().value as string)
    if (this.opts.dryRun) {
      this.fds.set(path, -1)
      return
    }
    let existed = true
    try { lstatSync(this.full(path)) } catch { existed = false }
    try {
      beforeChange()
      // a file replaced whole: the old one goes into the journal, the new one is a new file
      if (truncate && this.opts.journal?.moveAside(path) === true) existed = false
      // O_NOFOLLOW: never write through a symlink planted at the file name itself
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (truncate ? constants.O_TRUNC : 0)
      const fd = openSync(this.full(path), flags, this.opts.fileMode)
      this.fds.set(path, fd)
      // emptied: synced when closed even if nothing is written to it
      if (truncate && this.opts.writeBack === true) this.dirty.set(fd, 0)
    } catch (e) {
      throw ioError('could not open target file', path, e)
    }
    if (!existed) this.stats.filesCreated++
  }

  /**
   * Replace `path` whole with a copy of the local file `from`, made by the kernel
   * (copy_file_range, or a reflink where the file system has them): no bytes pass
   * through this process. As open(path, true): the old file goes into the journal (or
   * away), the new one is a new file with the data directory's mode. It must have
   * `expected` bytes: a source that changed size while we copy is an error.
   */
  async copyFileFrom (from: string, path: string, expected: number): Promise<number> {
    this.check(path, 'open')
    this.closeOpen(path)
    if (this.opts.dryRun) {
      this.stats.bytesWritten += expected
      return expected
    }
    const full = this.full(path)
    let existed = true
    try {
      beforeChange()
      // on the thread pool, as the copy: the main thread goes on with the other files
      // (300,000 renames were 6 s of it, bench/RESULTS.md)
      if (this.opts.journal !== undefined && await this.opts.journal.moveAsideAsync(path)) existed = false
      else {
        // whatever is there (a file, a symlink planted at the name) goes; never written through
        try { await fsp.unlink(full) } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') existed = false; else throw e }
      }
      await fsp.copyFile(from, full, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && !lstatOk(from)) throw new PgRewindError('SOURCE_IO', `could not open source file "${from}": ${(e as Error).message}`, { data: { path } })
      throw ioError('could not copy into target file', path, e)
    }
    if (!existed) this.stats.filesCreated++
    let size: number
    try {
      const fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW)
      try {
        // the copy has the source file's mode: ours is the data directory's
        const st = fstatSync(fd)
        if ((st.mode & 0o7777) !== this.opts.fileMode) fchmodSync(fd, this.opts.fileMode)
        size = st.size
      } catch (e) {
        closeSync(fd)
        throw e
      }
      if (this.opts.writeBack === true) this.track(path, fdatasyncAsync(fd).finally(() => closeSync(fd)))
      else closeSync(fd)
    } catch (e) { throw ioError('could not open target file', path, e) }
    if (size !== expected) {
      throw new PgRewindError('SOURCE_CHANGED', `size of source file "${path}" changed concurrently: ${expected} bytes expected, ${size} copied`,
        { data: { path, expected, got: size } })
    }
    this.stats.bytesWritten += size
    return size
  }

  writeAt (path: string, offset: number, data: Buffer): void {
    if (!this.fds.has(path)) this.open(path, false)
    const fd = this.fds.get(path) ?? -1
    if (!this.opts.dryRun) {
      let done = 0
      while (done < data.length) {
        try {
          beforeChange()
          done += writeSync(fd, data, done, data.length - done, offset + done)
        } catch (e) {
          throw ioError('could not write file', path, e)
        }
      }
      this.noteWritten(path, fd, data.length)
    }
    this.stats.bytesWritten += data.length
  }

  truncate (path: string, size: number): void {
    this.check(path, 'truncation')
    this.closeOpen(path)
    this.stats.filesTruncated++
    if (this.opts.dryRun) return
    let fd: number
    try {
      fd = openSync(this.full(path), constants.O_WRONLY | constants.O_NOFOLLOW)
    } catch (e) {
      throw ioError('could not open file for truncation', path, e)
    }
    try {
      beforeChange()
      ftruncateSync(fd, size)
    } catch (e) {
      closeSync(fd)
      throw ioError(`could not truncate file to ${size}:`, path, e)
    }
    if (this.opts.writeBack === true) this.track(path, fdatasyncAsync(fd).finally(() => closeSync(fd)))
    else closeSync(fd)
  }

  removeFile (path: string): void {
    this.check(path, 'removal')
    this.closeOpen(path)
    this.stats.filesRemoved++
    if (this.opts.dryRun) return
    try {
      beforeChange()
      // a removal no plan entry announced (a file the running source no longer has)
      this.opts.journal?.ensureAnnounced(path)
      if (this.opts.journal?.moveAside(path) === true) return
      unlinkSync(this.full(path))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('could not remove file', path, e)
    }
  }

  removeDir (path: string): void {
    this.check(path, 'directory removal')
    this.stats.dirsRemoved++
    this.checkedDirs.delete(path)
    if (this.opts.dryRun) return
    try {
      beforeChange()
      rmdirSync(this.full(path))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('could not remove directory', path, e)
    }
  }

  removeSymlink (path: string): void {
    this.check(path, 'symlink removal')
    this.stats.symlinksRemoved++
    this.checkedDirs.delete(path)
    if (this.opts.dryRun) return
    try {
      beforeChange()
      unlinkSync(this.full(path))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('could not remove symbolic link', path, e)
    }
  }

  mkdir (path: string): void {
    this.check(path, 'directory creation')
    this.stats.dirsCreated++
    if (this.opts.dryRun) return
    try {
      beforeChange()
      mkdirSync(this.full(path), { mode: this.opts.dirMode })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('could not create directory', path, e)
    }
  }

  /** A symlink as the source has it (tablespaces, linked configuration files): never followed by a write. */
  symlink (path: string, target: string): void {
    this.check(path, 'symlink creation')
    checkLinkTarget(path, target)
    this.stats.symlinksCreated++
    if (this.opts.dryRun) return
    try {
      beforeChange()
      symlinkSync(target, this.full(path))
    } catch (e) {
      // the same link from an interrupted run of the same plan: nothing to do
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && sameLink(this.full(path), target)) return
      throw ioError('could not create symbolic link at', path, e)
    }
  }

  /**
   * Replace a small file durably: write a temp file, fsync, rename, fsync the
   * directory. A crash leaves either the old or the new file, never half of one.
   */
  writeFileDurably (path: string, data: Buffer | string, opts: { sync?: boolean } = {}): void {
    this.check(path, 'open')
    this.closeOpen(path)
    this.stats.bytesWritten += Buffer.byteLength(data)
    if (this.opts.dryRun) return
    try {
      replaceFile(this.full(path), data, { tmp: this.full(`${path}${TEMP_SUFFIX}`), mode: this.opts.fileMode, sync: opts.sync, step: beforeChange })
    } catch (e) { throw ioError('could not write file durably', path, e) }
  }

  /**
   * Put a file written under its temporary name (`path` + TEMP_SUFFIX) in place:
   * until then the target still has its old copy, so an interrupted run can be
   * analysed again from the target's own files.
   */
  commitStaged (path: string): void {
    const tmp = `${path}${TEMP_SUFFIX}`
    this.check(tmp, 'removal')
    this.check(path, 'open')
    this.closeOpen(tmp)
    this.closeOpen(path)
    if (this.opts.dryRun) return
    try {
      beforeChange()
      this.opts.journal?.moveAside(path)
      renameSync(this.full(tmp), this.full(path))
    } catch (e) { throw ioError('could not rename file', tmp, e) }
  }

  close (): void { this.closeOpen() }

  /**
   * Check every path of a batch before the first change, so that one bad name in a
   * plan (from a hostile source, or a hand-edited plan) leaves the target untouched.
   */
  precheck (ops: Iterable<{ path: string, op: PathOp, linkTarget?: string }>): void {
    for (const o of ops) {
      this.check(o.path, o.op)
      if (o.op === 'symlink creation') checkLinkTarget(o.path, o.linkTarget ?? '')
    }
  }
}

/** Files kept open for writing at once. */
const MAX_OPEN = 32
/** With writeBack, an fdatasync is started after this many bytes written to one file. */
const WRITE_BACK_BYTES = 8 * 1024 * 1024

async function fdatasyncAsync (fd: number): Promise<void> {
  await new Promise<void>((resolve, reject) => fdatasync(fd, e => e !== null ? reject(e) : resolve()))
}

function lstatOk (path: string): boolean {
  try { lstatSync(path); return true } catch { return false }
}

function sameLink (path: string, target: string): boolean {
  try { return lstatSync(path).isSymbolicLink() && readlinkSync(path) === target } catch { return false }
}
