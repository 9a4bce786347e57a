import { BLCKSZ } from '../format/versions'
import { Journal } from '../target/journal'
import { Plan } from '../steps/types'
import { dirname } from 'node:path'
import { PlanEntry, replacedWhole } from './filemap'
import { SyncSet } from '../target/sync'

/**
 * The changed blocks the apply writes into a file: none when the file is removed or
 * replaced whole (a plan never has remove or copy with blocks, but one from a file or
 * a client might).
 */
export function blocksToWrite (e: PlanEntry): Array<[number, number]> | undefined {
  return e.action === 'remove' || e.action === 'copy' || replacedWhole(e) ? undefined : e.blocks
}

/** The apply writes the source's file whole in place of the target's (or where it has none). */
export function copiedWhole (e: PlanEntry): boolean {
  return e.action === 'copy' || replacedWhole(e)
}

/**
 * What applying the entries touches: files written or cut (a plan names a path once),
 * and the directories whose entries change. `withFiles` false: the directories only
 * (the apply made its files durable) — a set of 300,000 paths built to be dropped was
 * a 15 MB moment at the end of a big rewind.
 */
export function syncSetOf (entries: Iterable<PlanEntry>, withFiles = true): SyncSet {
  const files: string[] = []
  const dirs = new Set<string>()
  const parent = (p: string): string => { const d = dirname(p); return d === '.' ? '' : d }
  for (const e of entries) {
    if (withFiles && (e.action === 'copy' || e.action === 'copy_tail' || e.action === 'truncate' || e.blocks !== undefined)) files.push(e.path)
    if (copiedWhole(e) || e.action === 'create' || e.action === 'remove') dirs.add(parent(e.path))
    if (e.action === 'create' && e.type === 'dir') dirs.add(e.path)
  }
  return { files, dirs: [...dirs] }
}

/**
 * Tell the journal, before anything changes, what applying each plan entry will do
 * to the target (undo runs it backwards). `staged` names the copies written under a
 * temporary name first (`tempOf`) and renamed into place at the end; `rewritten` the
 * files already announced as rewritten whole. The changed blocks' old bytes are only
 * reserved: the caller commits, then copies them (Journal.copyReserved, many reads at
 * once) while the whole files are fetched, and commits again before the first block
 * is written.
 */
export function announcePlan (journal: Journal, plan: Plan, o: { staged: (path: string) => boolean, tempOf: (path: string) => string, rewritten: ReadonlySet<string> }): void {
  const buf = Buffer.allocUnsafe(1024 * 1024)
  for (const e of plan.entries) {
    const blocks = blocksToWrite(e)
    if (blocks !== undefined) journal.reserveRanges(e.path, blocks.map(([a, b]) => [a * BLCKSZ, (b - a) * BLCKSZ]))
    if (replacedWhole(e)) {
      journal.aside(e.path)
      continue
    }
    switch (e.action) {
      case 'create':
        journal.create(e.path, e.type === 'symlink' ? 'symlink' : 'dir', e.linkTarget)
        break
      case 'copy':
        if (o.staged(e.path)) journal.create(o.tempOf(e.path), 'file')
        if (o.rewritten.has(e.path)) break
        if (e.targetSize !== undefined) journal.aside(e.path)
        else journal.create(e.path, 'file')
        break
      case 'copy_tail':
        journal.grow(e.path, e.targetSize ?? 0)
        break
      case 'truncate':
        journal.cut(e.path, e.sourceSize ?? 0, e.targetSize ?? 0, buf)
        break
      case 'remove':
        if (e.type === 'dir') journal.rmdir(e.path)
        else if (e.type === 'symlink') journal.unlink(e.path)
        else journal.aside(e.path)
        break
      default:
        break
    }
  }
}
