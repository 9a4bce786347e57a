import { PgRewindError } from '../errors'
import type { FileType } from '../datadir/listing'
import { FILE_TYPES } from '../datadir/filelist'
import { BlockRanges, oneRange } from './blockranges'
import { ChunkedColumn } from '../columns'
import { JSON_ITEMS, JsonItems } from '../jsonstream'

/**
 * A plan's entries in columns (issue 13): an object per entry, with a heap number
 * for each of its sizes, held 30 MB of a plan of 300,000 entries (100,000 tables a
 * side) from buildPlan to writeBackupLabel; in columns, some 7 MB. An entry is made
 * as an object only when it is asked for (`at`, iteration), and the plan is still
 * an array of entries in JSON (`toJSON`; lib/jsonstream.ts writes it in pieces).
 */

export type Action = 'create' | 'copy' | 'copy_tail' | 'none' | 'truncate' | 'remove'

export interface PlanEntry {
  path: string
  action: Action
  /** type on the side the action takes it from (source for create/copy, else target) */
  type: FileType
  sourceSize?: number
  targetSize?: number
  linkTarget?: string
  /** blocks (of this segment file) changed on the target since the divergence, to re-fetch */
  blocks?: BlockRanges
}

/** pg_rewind's action order (creations and copies first, removals last): an action's code is its place. */
export const ACTIONS: readonly Action[] = ['create', 'copy', 'copy_tail', 'none', 'truncate', 'remove']
const ACTION_CODE = new Map(ACTIONS.map((a, i) => [a, i]))
const TYPE_CODE = new Map(FILE_TYPES.map((t, i) => [t, i]))
const REMOVE = ACTION_CODE.get('remove')!

const codeOf = <T>(codes: ReadonlyMap<T, number>, v: T, what: string, path: string): number => {
  const c = codes.get(v)
  if (c === undefined) throw new PgRewindError('INVALID_PARAMS', `plan entry "${path}" has no valid ${what} (${JSON.stringify(v) ?? 'undefined'})`, { data: { path } })
  return c
}

/** No size: sizes are byte counts, never NaN. */
const NONE = NaN
/** Block numbers end below InvalidBlockNumber (0xFFFFFFFF). */
const MAX_BLOCK_END = 0xFFFFFFFF

export class PlanEntries implements Iterable<PlanEntry>, JsonItems {
  length = 0
  private paths: string[] = []
  private readonly actions = new ChunkedColumn(Uint8Array)
  private readonly types = new ChunkedColumn(Uint8Array)
  private readonly sourceSizes = new ChunkedColumn(Float64Array)
  private readonly targetSizes = new ChunkedColumn(Float64Array)
  /**
   * An entry whose changed blocks are one range [start, end) (a new table's first
   * pages: most entries of a divergence of many files) has it in these two columns
   * (end 0: not so); a Map of 300,000 such lists cost 37 MB.
   */
  private readonly blockStart = new ChunkedColumn(Uint32Array)
  private readonly blockEnd = new ChunkedColumn(Uint32Array)
  /**
   * Any other list (empty, or of several ranges) as given, by entry: the apply reads an
   * entry's blocks several times, and the lists of pgbench's tables made anew each
   * time added 10 MB of garbage at scale 300.
   */
  private lists = new Map<number, BlockRanges>()
  /** by entry: symbolic links' targets, a handful */
  private links = new Map<number, string>()

  /** Entries as JSON carries them (a plan file's, a client's), checked for an action and type each. */
  static from (list: Iterable<PlanEntry>): PlanEntries {
    const out = new PlanEntries()
    for (const e of list) out.push(e)
    return out
  }

  push (e: PlanEntry): void {
    const i = this.length
    this.actions.set(i, codeOf(ACTION_CODE, e.action, 'action', e.path))
    this.types.set(i, codeOf(TYPE_CODE, e.type, 'type', e.path))
    this.paths.push(e.path)
    this.sourceSizes.set(i, e.sourceSize ?? NONE)
    this.targetSizes.set(i, e.targetSize ?? NONE)
    if (e.linkTarget !== undefined) this.links.set(i, e.linkTarget)
    this.length = i + 1
    this.blockStart.set(i, 0)
    this.blockEnd.set(i, 0)
    if (e.blocks !== undefined) this.setBlocks(i, e.blocks)
  }

  path (i: number): string { return this.paths[i] }
  action (i: number): Action { return ACTIONS[this.actions.get(i)] }
  blocks (i: number): BlockRanges | undefined {
    const end = this.blockEnd.get(i)
    return end !== 0 ? oneRange(this.blockStart.get(i), end) : this.lists.get(i)
  }

  /** Entry `i`'s blocks from now on. */
  setBlocks (i: number, r: BlockRanges): void {
    for (const [a, b] of r) {
      // a range no relation file can have is refused (and a single one, held as 32-bit numbers, never wrapped)
      if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a < b && b <= MAX_BLOCK_END)) {
        throw new PgRewindError('INVALID_PARAMS', `plan entry "${this.paths[i]}" has an invalid block range [${String(a)}, ${String(b)})`, { data: { path: this.paths[i] } })
      }
    }
    this.lists.delete(i)
    this.blockEnd.set(i, 0)
    if (r.length === 1) {
      this.blockStart.set(i, r[0][0])
      this.blockEnd.set(i, r[0][1])
    } else {
      this.lists.set(i, r)
    }
  }

  /** Entry `i` as an object: one literal shape, the keys in PlanEntry's order, absent ones undefined (left out of JSON). */
  at (i: number): PlanEntry {
    const s = this.sourceSizes.get(i)
    const t = this.targetSizes.get(i)
    return {
      path: this.paths[i],
      action: ACTIONS[this.actions.get(i)],
      type: FILE_TYPES[this.types.get(i)],
      sourceSize: Number.isNaN(s) ? undefined : s,
      targetSize: Number.isNaN(t) ? undefined : t,
      linkTarget: this.links.get(i),
      blocks: this.blocks(i)
    }
  }

  * [Symbol.iterator] (): Iterator<PlanEntry> {
    for (let i = 0; i < this.length; i++) yield this.at(i)
  }

  /**
   * pg_rewind's order: by action, then by path (removals in reverse, children before
   * their directory). Entries are grouped by action keeping their order, and a group
   * is sorted by path only when it is not so already: buildFileMap adds them in path
   * order (both listings walked together), and a comparison sort of 300,000 entries
   * cost some 30 MB of heap at buildPlan's peak.
   */
  sort (): this {
    const n = this.length
    const { actions, paths } = this
    const start = new Uint32Array(ACTIONS.length + 1)
    for (let i = 0; i < n; i++) start[actions.get(i) + 1]++
    for (let a = 0; a < ACTIONS.length; a++) start[a + 1] += start[a]
    const order = new Uint32Array(n)
    const next = start.slice()
    for (let i = 0; i < n; i++) order[next[actions.get(i)]++] = i
    for (let a = 0; a < ACTIONS.length; a++) {
      const group = order.subarray(start[a], start[a + 1])
      let ascending = true
      for (let k = 1; k < group.length && ascending; k++) ascending = paths[group[k - 1]] < paths[group[k]]
      if (!ascending) group.sort((x, y) => paths[x] < paths[y] ? -1 : paths[x] > paths[y] ? 1 : 0)
      if (a === REMOVE) group.reverse()
    }
    this.permute(order)
    return this
  }

  /**
   * Entry `order[k]` moved to place k, in place (cycle by cycle): new columns and a
   * new array of paths, with the old ones still held, made the sort's own peak.
   */
  private permute (order: Uint32Array): void {
    const { paths } = this
    const columns = [this.actions, this.types, this.sourceSizes, this.targetSizes, this.blockStart, this.blockEnd]
    const held = new Float64Array(columns.length)
    const done = new Uint8Array(order.length)
    for (let i = 0; i < order.length; i++) {
      if (done[i] !== 0) continue
      const p = paths[i]
      for (let c = 0; c < columns.length; c++) held[c] = columns[c].get(i)
      let j = i
      for (let from = order[j]; from !== i; from = order[j]) {
        paths[j] = paths[from]
        for (const col of columns) col.set(j, col.get(from))
        done[j] = 1
        j = from
      }
      paths[j] = p
      for (let c = 0; c < columns.length; c++) columns[c].set(j, held[c])
      done[j] = 1
    }
    if (this.links.size === 0 && this.lists.size === 0) return
    const placeOf = new Uint32Array(order.length)
    for (let k = 0; k < order.length; k++) placeOf[order[k]] = k
    const moved = <T>(m: Map<number, T>): Map<number, T> => new Map([...m].map(([i, v]) => [placeOf[i], v]))
    this.links = moved(this.links)
    this.lists = moved(this.lists)
  }

  toArray (): PlanEntry[] {
    return Array.from(this)
  }

  /** JSON.stringify writes the array of entries. */
  toJSON (): PlanEntry[] { return this.toArray() }

  /** lib/jsonstream.ts writes them one at a time. */
  [JSON_ITEMS] (): Iterable<PlanEntry> { return this }
}
