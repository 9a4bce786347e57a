import { PgRewindError } from '../errors'
import { parseWalFileName } from '../format/lsn'
import { isRelationDataFile } from '../format/relpath'
import { VersionInfo, BLCKSZ } from '../format/versions'
import { FileEntry } from '../source/types'
import { FileList, mergeLists } from '../datadir/filelist'
import { JOURNAL_DIR, TEMP_SUFFIX } from '../datadir/listing'
import { BlockRanges, clipRanges, iterBlocks, rangesCount, unionRanges } from './blockranges'
import { ChangedBlocks } from './relfiles'
import { Action, PlanEntries, PlanEntry } from './planentries'

/**
 * The file map: for every path in either data directory, what to do with it.
 * Rules and their order are pg_rewind 18's decide_file_action and its exclude lists
 * (src/bin/pg_rewind/filemap.c), plus pg_rewind 19's
 * "do not copy WAL segments from before the divergence that both sides have".
 */

export type { Action, PlanEntry } from './planentries'

// Basenames never copied, and removed from the target (a stale postmaster.pid, an old
// backup_label …). pg_internal.init is a prefix match (pg_internal.init.<pid> too).
const EXCLUDED_FILES = new Set([
  'postgresql.auto.conf.tmp', 'current_logfiles.tmp', 'backup_label', 'tablespace_map', 'backup_manifest',
  'postmaster.pid', 'postmaster.opts'
])
const EXCLUDED_PREFIXES = ['pg_internal.init']
// Top-level directories whose contents are runtime state, not data.
const EXCLUDED_DIR_CONTENTS = ['pg_stat_tmp', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']

export function isExcluded (path: string): boolean {
  if (path.includes('/pgsql_tmp') || path.startsWith('pgsql_tmp')) return true
  const base = path.slice(path.lastIndexOf('/') + 1)
  if (EXCLUDED_FILES.has(base)) return true
  if (EXCLUDED_PREFIXES.some(p => base.startsWith(p))) return true
  // our own temporary files, left by an interrupted run
  if (base.endsWith(TEMP_SUFFIX)) return true
  return EXCLUDED_DIR_CONTENTS.some(d => path.startsWith(d + '/'))
}

export interface FileMapInput {
  source: FileList
  /** the target's entries in path order: a walk of its directory, read once as the map is built */
  target: Iterable<FileEntry>
  /** target version (relation paths, tablespace directory name) */
  version: VersionInfo
  segSize: number
  /** pg_wal/<file> names the target needs for recovery: never removed */
  keepWal: ReadonlySet<string>
  /** first WAL segment number that is not common history (segment of the divergence point) */
  divergenceSegNo: bigint
  /** changed main-fork blocks of a relation segment file (from scanWal) */
  changedBlocks: (path: string) => BlockRanges | undefined
  /** regular files both sides have to collect for a block comparison (FileMap.shared) */
  share?: (path: string) => boolean
}

export interface FileMap {
  entries: PlanEntries
  /** the files both sides have that `share` selected, in path order */
  shared: SharedRelationFile[]
}

/** pg_wal/<24 hex digits>: a WAL segment (not .partial, .history …). */
function walSegNo (path: string, segSize: number): bigint | null {
  if (!path.startsWith('pg_wal/')) return null
  const name = path.slice('pg_wal/'.length)
  return parseWalFileName(name, segSize)?.segNo ?? null
}

/** pgrewind's own undo journal (lib/target/journal.ts), on either side: never copied, never removed. */
export function isJournalPath (path: string): boolean {
  return path === JOURNAL_DIR || path.startsWith(`${JOURNAL_DIR}/`)
}

const describe = (e: FileEntry): string =>
  e.type === 'file' ? 'a regular file' : e.type === 'dir' ? 'a directory' : `a symbolic link to "${e.linkTarget ?? ''}"`

/** pg_rewind's message, and what was found and what to do about it. */
function typeMismatch (path: string, src: FileEntry, tgt: FileEntry): PgRewindError {
  const hint = src.type === 'symlink'
    ? `Make "${path}" in the target data directory the same link (ln -sfn '${src.linkTarget ?? ''}' '${path}'), or remove it there, then run again.`
    : tgt.type === 'symlink'
      ? 'A source server shows a symbolic link as the file or directory it points to. Replace the link in the target data directory with a copy of what it points to, or remove it, then run again.'
      : `Make "${path}" the same type on both sides, or remove it from the target data directory, then run again.`
  return new PgRewindError('FILE_TYPE_MISMATCH', `file "${path}" is of different type in source and target`, {
    detail: `It is ${describe(src)} in the source and ${describe(tgt)} in the target.`,
    hint,
    data: { path, sourceType: src.type, targetType: tgt.type }
  })
}

// Each entry is written as a literal of one of five fixed shapes (key order as
// before, so plans print the same): built by object spread, every entry got a hidden
// class of its own in V8, about 600 bytes per entry more (71 MB instead of 20 MB for
// the 90,000 entries of a pair with 30,000 tables a side). The shape of the files both
// sides have carries `blocks` from the start (undefined: left out of JSON): added
// afterwards, it went into a property array of its own, 80 bytes more an entry.
function decide (path: string, s: FileEntry | undefined, t: FileEntry | undefined, input: FileMapInput): PlanEntry {
  if (path === 'global/pg_control' || isJournalPath(path)) return { path, action: 'none', type: (s ?? t)!.type }
  if (path.includes('.DS_Store')) return { path, action: 'none', type: (s ?? t)!.type }
  if (isExcluded(path)) return t !== undefined ? { path, action: 'remove', type: t.type, targetSize: t.size } : { path, action: 'none', type: s!.type }

  if (s !== undefined && t === undefined) {
    if (s.type === 'file') return { path, action: 'copy', type: 'file', sourceSize: s.size }
    return { path, action: 'create', type: s.type, linkTarget: s.linkTarget }
  }
  if (s === undefined && t !== undefined) {
    if (input.keepWal.has(path)) return { path, action: 'none', type: t.type, targetSize: t.size }
    return { path, action: 'remove', type: t.type, targetSize: t.size }
  }
  const src = s!
  const tgt = t!
  if (src.type !== tgt.type) throw typeMismatch(path, src, tgt)
  if (path.endsWith('PG_VERSION') || src.type !== 'file') return { path, action: 'none', type: src.type }

  const segNo = walSegNo(path, input.segSize)
  let action: Action
  if (segNo !== null) {
    // Segments wholly before the divergence hold common history on both sides.
    action = segNo < input.divergenceSegNo && src.size === tgt.size ? 'none' : 'copy'
  } else if (!isRelationDataFile(path, input.version)) {
    action = 'copy'
  } else {
    action = tgt.size < src.size ? 'copy_tail' : tgt.size > src.size ? 'truncate' : 'none'
  }
  return { path, sourceSize: src.size, targetSize: tgt.size, type: 'file', action, blocks: undefined }
}

/**
 * The ordered file map: the entries that do something (an action, or blocks to
 * fetch). Both listings are walked together, each path decided as it is met: no map
 * of either side, and no entry kept for the paths that need nothing (most of them).
 */
export function buildFileMap (input: FileMapInput): FileMap {
  const { source, share } = input
  for (let i = 0; i < source.length; i++) {
    if (source.type(i) !== 'file' && isRelationDataFile(source.path(i), input.version)) {
      throw new PgRewindError('FILE_TYPE_MISMATCH', `data file "${source.path(i)}" in source is not a regular file`, { data: { path: source.path(i) } })
    }
  }
  const entries = new PlanEntries()
  const shared: SharedRelationFile[] = []
  mergeLists(source, input.target, (path, s, t) => {
    const e = decideOne(path, s < 0 ? undefined : source.entry(s), t, input)
    if (isActive(e)) entries.push(e)
    if (share !== undefined && s >= 0 && t !== undefined && source.type(s) === 'file' && t.type === 'file' && share(path)) {
      shared.push({ path, sourceSize: source.size(s), targetSize: t.size })
    }
  })
  return { entries: entries.sort(), shared }
}

/** A scan's changed blocks (its columns, or a record by path parsed from JSON) as the file map asks for them: only a record's own keys. */
export function changedBlocksOf (blocks: ChangedBlocks | Readonly<Record<string, BlockRanges>>): (path: string) => BlockRanges | undefined {
  if (blocks instanceof ChangedBlocks) return path => blocks.get(path)
  // a ChangedBlocks that lost its class (structured-cloned, say) would look like a
  // record without a single path: every block would be missed, silently
  for (const k in blocks) {
    if (Object.hasOwn(blocks, k) && !Array.isArray(blocks[k])) throw new PgRewindError('INVALID_PARAMS', `the scan's changed blocks are not a record of block ranges by path (at "${k}")`)
  }
  return path => Object.hasOwn(blocks, path) ? blocks[path] : undefined
}

/** One path's entry: its action, and the changed blocks the WAL names within both copies. */
function decideOne (path: string, s: FileEntry | undefined, t: FileEntry | undefined, input: FileMapInput): PlanEntry {
  const entry = decide(path, s, t, input)
  const changed = input.changedBlocks(path)
  if (changed !== undefined && t !== undefined && s !== undefined) {
    if (t.type !== 'file') throw new PgRewindError('FILE_TYPE_MISMATCH', `unexpected page modification for non-regular file "${path}"`, { data: { path } })
    // Blocks past the end of either copy are handled by COPY_TAIL/TRUNCATE.
    const limit = Math.floor(Math.min(s.size, t.size) / BLCKSZ)
    const kept = clipRanges(changed, limit)
    if (rangesCount(kept) > 0) entry.blocks = kept
  }
  return entry
}

/** A regular file both sides have whose blocks a comparison may look at: up to the shorter copy. */
export interface SharedRelationFile { path: string, sourceSize: number, targetSize: number }

/**
 * More blocks to fetch (a comparison's), for files `shared` lists: joined to the
 * map's entry, or an entry made (in order) for a file the map left alone (both
 * copies the same size). Returns how many blocks were new.
 */
export function addBlocks (map: PlanEntries, shared: readonly SharedRelationFile[], blocks: ReadonlyMap<string, BlockRanges>): number {
  if (blocks.size === 0) return 0
  let added = 0
  const left = new Map(blocks)
  for (let i = 0; i < map.length; i++) {
    const r = left.get(map.path(i))
    if (r === undefined) continue
    left.delete(map.path(i))
    const was = map.blocks(i) ?? []
    const now = unionRanges(was, r)
    map.setBlocks(i, now)
    added += rangesCount(now) - rangesCount(was)
  }
  if (left.size === 0) return added
  for (const f of shared) {
    const r = left.get(f.path)
    if (r === undefined || rangesCount(r) === 0) continue
    map.push({ path: f.path, sourceSize: f.sourceSize, targetSize: f.targetSize, type: 'file', action: 'none', blocks: r })
    added += rangesCount(r)
  }
  map.sort()
  return added
}

/**
 * Whether the apply replaces the target's file whole rather than writing its changed
 * blocks into it: they cover every block the target's file has, and the source's is
 * at least as long (the rest is its tail). The same bytes are written, but the old
 * file goes into the undo journal by a rename instead of its blocks being copied
 * there, and a local source's file is copied by the kernel: where many small
 * relations changed whole (a pair whose sides both created tables after the fork),
 * that is most of the apply's work. The plan, its --debug map and what it discards
 * stay pg_rewind's.
 */
export function replacedWhole (e: Pick<PlanEntry, 'action' | 'blocks' | 'sourceSize' | 'targetSize'>): boolean {
  if ((e.action !== 'none' && e.action !== 'copy_tail') || e.blocks === undefined) return false
  const size = e.targetSize ?? 0
  return size > 0 && size % BLCKSZ === 0 && (e.sourceSize ?? 0) >= size && rangesCount(e.blocks) * BLCKSZ === size
}

/** An entry that does something (an action, or blocks to fetch). */
function isActive (e: PlanEntry): boolean {
  return e.action !== 'none' || e.blocks !== undefined
}

/** pg_rewind's --debug map: `PATH (ACTION)` then `block N` lines, for the entries that do something. */
export function formatDebugMap (map: Iterable<PlanEntry>): string[] {
  const lines: string[] = []
  for (const e of map) {
    if (!isActive(e)) continue
    lines.push(`${e.path} (${e.action.toUpperCase()})`)
    if (e.blocks !== undefined) for (const b of iterBlocks(e.blocks)) lines.push(`block ${b}`)
  }
  return lines
}

export interface MapTotals {
  /** Σ sizes of the source's regular files */
  sourceBytes: number
  /** what will be fetched: whole copies, tails, changed blocks */
  fetchBytes: number
  blocks: number
  /** what the undo journal keeps: old blocks overwritten in place, truncated tails (files replaced whole are moved aside) */
  journalBytes: number
}

export function mapTotals (map: Iterable<PlanEntry>, source: FileList): MapTotals {
  const sourceBytes = source.fileBytes()
  let fetchBytes = 0
  let blocks = 0
  let journalBytes = 0
  for (const e of map) {
    if (e.action === 'copy') fetchBytes += e.sourceSize ?? 0
    else if (e.action === 'copy_tail') fetchBytes += (e.sourceSize ?? 0) - (e.targetSize ?? 0)
    else if (e.action === 'truncate') journalBytes += (e.targetSize ?? 0) - (e.sourceSize ?? 0)
    if (e.blocks !== undefined) {
      const n = rangesCount(e.blocks)
      blocks += n
      fetchBytes += n * BLCKSZ
      if (e.action !== 'remove' && !replacedWhole(e)) journalBytes += n * BLCKSZ
    }
  }
  return { sourceBytes, fetchBytes, blocks, journalBytes }
}
