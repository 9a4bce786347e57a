import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { dataDirModes } from '../datadir/files'
import { TEMP_SUFFIX } from '../datadir/listing'
import { BLCKSZ } from '../format/versions'
import { announcePlan, blocksToWrite, copiedWhole } from '../rewind/announce'
import { checkSourceUnchanged, clusterIdentity, readClusterInfo } from '../rewind/clusterinfo'
import type { PlanEntries, PlanEntry } from '../rewind/planentries'
import { describeJournal, settleInterrupted } from '../rewind/journaling'
import { openSourceChecked, plannedTarget, planOf } from '../rewind/preconditions'
import { preflight } from '../rewind/preflight'
import { FetchHooks, FetchRequest } from '../source/types'
import { Journal } from '../target/journal'
import { MARKER_FILE, readAutoConf, withMarker } from '../target/marker'
import { PathOp } from '../target/pathsafety'
import { TargetWriter } from '../target/writer'
import { ApplyResult, PlanInput, Ports } from './types'

/** The failure of `p`, or null once it has fulfilled. */
async function settle (p: Promise<unknown> | undefined): Promise<{ e: unknown } | null> {
  return await (p ?? Promise.resolve()).then(() => null, (e: unknown) => ({ e }))
}

/** A whole-file copy's request: its plan entry's number comes back with its data. */
interface CopyRequest extends FetchRequest { entry: number }

/** What the writer checks each entry's path for, one at a time (not an array of them). */
function * pathOps (entries: Iterable<PlanEntry>): Generator<{ path: string, op: PathOp, linkTarget?: string }> {
  for (const e of entries) yield { path: e.path, op: pathOp(e), linkTarget: e.linkTarget }
}

function pathOp (e: PlanEntry): PathOp {
  switch (e.action) {
    case 'create': return e.type === 'symlink' ? 'symlink creation' : 'directory creation'
    case 'remove': return e.type === 'symlink' ? 'symlink removal' : e.type === 'dir' ? 'directory removal' : 'removal'
    case 'truncate': return 'truncation'
    default: return 'open'
  }
}

/** The entries that copy a file whole from the source. */
function copies (entries: PlanEntries): number {
  let n = 0
  for (let i = 0; i < entries.length; i++) if (entries.action(i) === 'copy') n++
  return n
}

/**
 * Step 4: change the target as the plan says, fetching data from the source. The
 * plan's order is pg_rewind's: creations, copies, tails, changed blocks, then
 * truncations and removals last. pg_control is not touched here (writeBackupLabel
 * does that last), so until then the target is still recognisably the old one and
 * the same plan can be applied again.
 *
 * Before the first change: the preflight (space, permissions, WAL), then the undo
 * journal (lib/target/journal.ts) with every change announced and the old bytes it
 * needs, durably; then the marker that keeps a half-rewound target from starting
 * (lib/target/marker.ts). An interrupted apply of the same plan found here is rolled
 * back first, so running the plan again always completes it.
 *
 * Fetches are queued across entries, as pg_rewind does: the entries are walked
 * lazily as the source asks for more requests, each entry's action done when it is
 * reached (a directory is created before any request for a file in it is queued) —
 * whole files and tails first, while the journal saves the old bytes of the changed
 * blocks (they need different files or bytes of the disk), then the changed blocks.
 * Unlike pg_rewind, a copied file is emptied only when its data arrives, copies into
 * pg_wal/ (and postgresql.auto.conf, which carries the marker) go through a
 * temporary name until every fetch has finished, and truncations and removals come
 * after that: without a journal (options.journal false), an interrupted run leaves
 * the target's own WAL as it was, so the next run can analyse the target again.
 */
export async function applyPlan (input: PlanInput, ports: Ports): Promise<ApplyResult> {
  const plan = planOf(input)
  const { opts, dryRun, pgdata } = await plannedTarget(input, plan)
  const resumed = settleInterrupted(pgdata, { dryRun, log: ports.log, planDigest: plan.digest, replaceDone: true })
  const modes = dataDirModes(pgdata)
  const useJournal = !dryRun && opts.journal !== false

  const source = await openSourceChecked(input.source, ports)
  let journal: Journal | undefined
  // the write-back starts during the copy, unless nothing is to be synced (--no-sync)
  const writer = new TargetWriter(pgdata, { dryRun, ...modes, writeBack: !dryRun && opts.noSync !== true })
  let bytesFetched = 0
  let applied = 0
  let lastReport = 0
  const total = plan.totals.fetchBytes
  const onBytes = (n: number): void => {
    bytesFetched += n
    if (ports.progress !== undefined && bytesFetched - lastReport >= 4 * 1024 * 1024) {
      lastReport = bytesFetched
      ports.progress({ phase: 'applyPlan', done: bytesFetched, total })
    }
  }
  const staged = (path: string): boolean => path.startsWith('pg_wal/') || path === MARKER_FILE
  const dest = (path: string): string => staged(path) ? `${path}${TEMP_SUFFIX}` : path
  // Files copied whole, by entry number: a flag each, not a set of their paths (a
  // plan of many files has tens of thousands). Their requests carry the number back.
  const entries = plan.entries
  const copyState = new Uint8Array(entries.length)
  // copies not written to yet: emptied when their first data arrives (and not
  // before: an interrupted run leaves the files it did not reach as they were)
  const UNOPENED = 1
  const OPENED = 2
  const VANISHED = 3
  for (let i = 0; i < entries.length; i++) if (copiedWhole(entries.at(i))) copyState[i] = UNOPENED
  /** `i`'s copy is to be written now: true the first time (the caller opens it, emptied) */
  const firstWrite = (i: number): boolean => {
    if (copyState[i] !== UNOPENED) return false
    copyState[i] = OPENED
    return true
  }
  const sink = (req: FetchRequest, off: number, data: Buffer): void => {
    if (req.wholeFile !== true) return writer.writeAt(req.path, off, data)
    if (firstWrite((req as CopyRequest).entry)) writer.open(dest(req.path), true)
    writer.writeAt(dest(req.path), off, data)
  }
  // a copy's entry by path, for a file the running source dropped (rare: made when needed)
  let copyOf: Map<string, number> | null = null
  const copyEntry = (path: string): number | undefined => {
    if (copyOf === null) {
      copyOf = new Map()
      for (let i = 0; i < entries.length; i++) if (copyState[i] !== 0) copyOf.set(entries.path(i), i)
    }
    return copyOf.get(path)
  }
  // other files that vanished: removed once the old bytes of their blocks are journaled
  // (removing one asks the journal to take it whole)
  const vanishedFiles = new Set<string>()
  let blocksJournaled = false
  // a file the running source no longer has: pg_rewind 14+ removes it on the target too
  const vanished = (path: string): void => {
    ports.log.debug(`file "${path}" was removed on the source while it was copied; removing it on the target`)
    const i = copyEntry(path)
    if (i === undefined) {
      if (vanishedFiles.has(path)) return
      vanishedFiles.add(path)
      if (blocksJournaled) writer.removeFile(path)
      return
    }
    const opened = copyState[i] === OPENED
    copyState[i] = VANISHED
    if (dest(path) !== path) {
      // drop what was fetched of it; the target's own file goes after the fetch
      if (opened) writer.removeFile(dest(path))
      return
    }
    writer.removeFile(path)
  }
  const isLast = (e: PlanEntry): boolean => e.action === 'truncate' || e.action === 'remove'

  // Whole files and tails first, changed blocks after: the journal saves the blocks'
  // old bytes while the whole files are copied (they touch other files or bytes)
  function * changedBlocks (): Generator<FetchRequest> {
    for (const e of entries) {
      ports.checkCancelled?.()
      if (vanishedFiles.has(e.path)) continue
      for (const [a, b] of blocksToWrite(e) ?? []) yield { path: e.path, offset: a * BLCKSZ, length: (b - a) * BLCKSZ }
    }
  }
  function * wholeFilesAndTails (): Generator<FetchRequest> {
    for (let i = 0; i < entries.length; i++) {
      const e = entries.at(i)
      ports.checkCancelled?.()
      if (copyState[i] !== 0) {
        const req: CopyRequest = { path: e.path, offset: 0, length: e.sourceSize ?? 0, wholeFile: true, entry: i }
        yield req
        applied++
        continue
      }
      switch (e.action) {
        case 'create':
          if (e.type === 'dir') writer.mkdir(e.path)
          else if (e.type === 'symlink') writer.symlink(e.path, e.linkTarget ?? '')
          break
        case 'copy_tail': {
          const from = e.targetSize ?? 0
          yield { path: e.path, offset: from, length: (e.sourceSize ?? 0) - from }
          break
        }
        default:
          break
      }
      if (!isLast(e)) applied++
    }
  }

  try {
    const src = await readClusterInfo(p => source.readFile(p), 'source')
    checkSourceUnchanged(source.kind, clusterIdentity(src), plan.source, 'the plan')
    writer.precheck(pathOps(entries))
    if (!dryRun) {
      const report = preflight(pgdata, plan, { journalDir: useJournal ? (opts.journalDir ?? pgdata) : null, restoreTargetWal: opts.restoreTargetWal === true })
      if (useJournal) {
        ports.log.progress(`writing the undo journal (${Math.round(report.journalBytes / 1024)} kB of old data)`)
        journal = Journal.begin(pgdata, { planDigest: plan.digest, controlDigestBefore: plan.target.controlDigest, createdAt: new Date().toISOString(), pgdata },
          { at: opts.journalDir, dirMode: modes.dirMode, fileMode: modes.fileMode })
        journal.writePlan(plan)
        journal.rewrite(MARKER_FILE)
        announcePlan(journal, plan, { staged, tempOf: dest, rewritten: new Set([MARKER_FILE]) })
        journal.commit()
        writer.setJournal(journal)
      }
      // from here on the target refuses to start until writeBackupLabel is done
      writer.writeFileDurably(MARKER_FILE, withMarker(readAutoConf(pgdata), pgdata))
    }

    // a local source's whole files are copied by the kernel, several at once
    const hooks: FetchHooks | undefined = !dryRun && source.kind === 'local'
      ? {
          copyFile: async (req, from) => {
            firstWrite((req as CopyRequest).entry)
            return await writer.copyFileFrom(from, dest(req.path), req.length)
          }
        }
      : undefined
    // the blocks' old bytes are saved while the whole files are copied (waited for
    // even when the copy fails: the journal closes after this)
    const saving = settle(journal?.copyReserved())
    const copyFailed = await settle(source.fetch(wholeFilesAndTails(), sink, onBytes, ports.checkCancelled, vanished, hooks))
    const saveFailed = await saving
    const failed = copyFailed ?? saveFailed
    if (failed !== null) throw failed.e
    // durable before the first block is written
    journal?.commit()
    blocksJournaled = true
    for (const path of vanishedFiles) writer.removeFile(path)
    await source.fetch(changedBlocks(), sink, onBytes, ports.checkCancelled, vanished, hooks)
    for (let i = 0; i < entries.length; i++) {
      if (copyState[i] === 0) continue
      const path = entries.path(i)
      if (copyState[i] === VANISHED) {
        writer.removeFile(path)
        continue
      }
      // a local source sends no chunk for an empty file
      if (firstWrite(i)) writer.open(dest(path), true)
      if (path === MARKER_FILE) {
        // the source's postgresql.auto.conf, still with the marker
        writer.close()
        const content = dryRun ? '' : readFileSync(join(pgdata, dest(path)), 'utf8')
        writer.writeFileDurably(MARKER_FILE, withMarker(content, pgdata))
      } else if (dest(path) !== path) {
        writer.commitStaged(path)
      }
    }
    for (const e of entries) {
      if (!isLast(e)) continue
      ports.checkCancelled?.()
      if (e.action === 'truncate') writer.truncate(e.path, e.sourceSize ?? 0)
      else if (e.type === 'dir') writer.removeDir(e.path)
      else if (e.type === 'symlink') writer.removeSymlink(e.path)
      else writer.removeFile(e.path)
      applied++
    }
    await writer.flush()
    journal?.setState('applied', { filesDurable: writer.changesDurable })
  } finally {
    await writer.settle()
    journal?.close()
    await source.close()
  }
  ports.progress?.({ phase: 'applyPlan', done: bytesFetched, total })
  const s = writer.stats
  return {
    dryRun,
    bytesFetched,
    filesCopied: copies(entries),
    filesTruncated: s.filesTruncated,
    filesRemoved: s.filesRemoved,
    dirsCreated: s.dirsCreated,
    dirsRemoved: s.dirsRemoved,
    symlinksCreated: s.symlinksCreated,
    entriesApplied: applied,
    journal: journal !== undefined ? describeJournal(pgdata, journal) : null,
    resumed
  }
}
