import { PgRewindError } from '../errors'
import { grown } from '../columns'
import type { FileEntry, FileType } from './listing'

/** A file type's code in a column is its place here (listings, plan entries). */
export const FILE_TYPES: readonly FileType[] = ['file', 'dir', 'symlink']
const TYPE_CODE: Record<FileType, number> = { file: 0, dir: 1, symlink: 2 }

/**
 * One side's file listing in columns, ordered by path: a string and nine bytes a
 * file where an object per file cost about 140 (240,000 of them for a pair with
 * 30,000 tables a side), so that the file map can walk both sides together in one
 * pass instead of holding a map of each (issue 13). Paths compare as JavaScript
 * strings (UTF-16 code units: byte order for the ASCII names a data directory has).
 */
export class FileList {
  private paths: string[] = []
  private types = new Uint8Array(64)
  private sizes = new Float64Array(64)
  /** symlink targets by path: a handful (tablespaces) */
  private readonly links = new Map<string, string>()
  private sorted = true

  static of (entries: Iterable<FileEntry>, side: 'source' | 'target'): FileList {
    const l = new FileList()
    for (const e of entries) l.add(e.path, e.type, e.size, e.linkTarget)
    return l.finish(side)
  }

  get length (): number { return this.paths.length }

  add (path: string, type: FileType, size: number, linkTarget?: string): void {
    const i = this.paths.length
    if (i > 0 && this.sorted && !(this.paths[i - 1] < path)) this.sorted = false
    this.types = grown(this.types, i + 1)
    this.sizes = grown(this.sizes, i + 1)
    this.paths.push(path)
    this.types[i] = TYPE_CODE[type]
    this.sizes[i] = size
    if (linkTarget !== undefined) this.links.set(path, linkTarget)
  }

  /** Rows ordered by path (rows added in another order are sorted: a server's listing); a path listed twice is refused. */
  finish (side: 'source' | 'target'): this {
    const n = this.paths.length
    if (!this.sorted) {
      const order = new Uint32Array(n)
      for (let i = 0; i < n; i++) order[i] = i
      const p = this.paths
      order.sort((a, b) => p[a] < p[b] ? -1 : p[a] > p[b] ? 1 : 0)
      const paths = new Array<string>(n)
      const types = new Uint8Array(n)
      const sizes = new Float64Array(n)
      for (let r = 0; r < n; r++) {
        const i = order[r]
        paths[r] = p[i]
        types[r] = this.types[i]
        sizes[r] = this.sizes[i]
      }
      this.paths = paths
      this.types = types
      this.sizes = sizes
      this.sorted = true
    } else if (this.sizes.length > n) {
      // the room the columns grew into, let go: no row is added to a finished list
      this.types = this.types.slice(0, n)
      this.sizes = this.sizes.slice(0, n)
    }
    for (let i = 1; i < n; i++) {
      if (this.paths[i - 1] === this.paths[i]) throw new PgRewindError('INTERNAL', `duplicate ${side} file "${this.paths[i]}"`)
    }
    return this
  }

  path (i: number): string { return this.paths[i] }
  type (i: number): FileType { return FILE_TYPES[this.types[i]] }
  size (i: number): number { return this.sizes[i] }
  linkTarget (i: number): string | undefined { return this.links.get(this.paths[i]) }

  /** Row i as an object: made when asked (short-lived), not kept. */
  entry (i: number): FileEntry {
    const linkTarget = this.linkTarget(i)
    return linkTarget === undefined
      ? { path: this.paths[i], type: this.type(i), size: this.sizes[i] }
      : { path: this.paths[i], type: this.type(i), size: this.sizes[i], linkTarget }
  }

  * entries (): Generator<FileEntry> {
    for (let i = 0; i < this.paths.length; i++) yield this.entry(i)
  }

  [Symbol.iterator] (): Generator<FileEntry> { return this.entries() }

  /** Σ sizes of the regular files. */
  fileBytes (): number {
    let n = 0
    for (let i = 0; i < this.paths.length; i++) if (this.types[i] === TYPE_CODE.file) n += this.sizes[i]
    return n
  }
}

/**
 * A finished list and a listing in path order (a walk of the target's directory, or
 * another list) merged by path: `f(path, s, t)` once for every path either side has,
 * with its row in `source` (-1 where it lacks it) and the other's entry (undefined
 * where it lacks it), in path order. The other side is read once, as it comes.
 */
export function mergeLists (source: FileList, target: Iterable<FileEntry>, f: (path: string, s: number, t: FileEntry | undefined) => void): void {
  let i = 0
  let last: string | undefined
  for (const t of target) {
    const tp = t.path
    if (last !== undefined && !(last < tp)) throw new PgRewindError('INTERNAL', `target file "${tp}" listed out of order or twice`)
    last = tp
    for (; i < source.length && source.path(i) < tp; i++) f(source.path(i), i, undefined)
    // a path both have is passed as the source's string: what the map keeps of it is one string, not two
    if (i < source.length && source.path(i) === tp) f(source.path(i), i++, t)
    else f(tp, -1, t)
  }
  for (; i < source.length; i++) f(source.path(i), i, undefined)
}
