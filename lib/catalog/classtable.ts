import { grown, orderBy, rowsWithKey } from '../columns'
import type { ClassRow } from './filecatalog'
import { ROW_STATE_RANK, ROW_STATES, RowState } from './rowstate'

/**
 * pg_class of one database, every row version, in columns: a database with 30,000
 * tables has some 120,000 rows, and held as objects with their name strings and
 * three maps to find them (by file, by OID, by TOAST table) they took ~60 MB while
 * the WAL's files were named (issue 13); here ~50 bytes a row. Names are kept as
 * UTF-8 bytes in one buffer, a string made only for a row asked for.
 */

const STATE_MASK = 0x07
const SHARED = 0x08
const UPDATED = 0x10

export class ClassTable {
  length = 0
  private oids = new Uint32Array(0)
  private filenodes = new Uint32Array(0)
  private tablespaces = new Uint32Array(0)
  private toastrelids = new Uint32Array(0)
  private namespaces = new Uint32Array(0)
  private flags = new Uint8Array(0)
  private kinds = new Uint8Array(0)
  /** row i's name is names[nameEnd[i - 1] .. nameEnd[i]) */
  private nameEnd = new Uint32Array(0)
  private names = Buffer.alloc(0)
  /** the rows ordered by file number, OID and TOAST table: made at the first lookup after an add */
  private order: { file: Uint32Array, oid: Uint32Array, toast: Uint32Array } | null = null

  add (r: ClassRow): void {
    const i = this.length++
    if (i >= this.oids.length) this.grow(i + 1)
    this.oids[i] = r.oid
    this.filenodes[i] = r.filenode
    this.tablespaces[i] = r.tablespace
    this.toastrelids[i] = r.toastrelid
    this.namespaces[i] = r.namespace
    this.flags[i] = ROW_STATE_RANK[r.state] | (r.shared ? SHARED : 0) | (r.updated ? UPDATED : 0)
    this.kinds[i] = r.kind.charCodeAt(0)
    const start = i === 0 ? 0 : this.nameEnd[i - 1]
    const len = Buffer.byteLength(r.name)
    if (start + len > this.names.length) {
      const b = Buffer.alloc(Math.max(this.names.length * 2, start + len, 4096))
      this.names.copy(b, 0, 0, start)
      this.names = b
    }
    this.nameEnd[i] = start + this.names.write(r.name, start)
    this.order = null
  }

  private grow (n: number): void {
    this.oids = grown(this.oids, n)
    this.filenodes = grown(this.filenodes, n)
    this.tablespaces = grown(this.tablespaces, n)
    this.toastrelids = grown(this.toastrelids, n)
    this.namespaces = grown(this.namespaces, n)
    this.flags = grown(this.flags, n)
    this.kinds = grown(this.kinds, n)
    this.nameEnd = grown(this.nameEnd, n)
  }

  oid (i: number): number { return this.oids[i] }
  filenode (i: number): number { return this.filenodes[i] }
  tablespace (i: number): number { return this.tablespaces[i] }
  toastrelid (i: number): number { return this.toastrelids[i] }
  namespace (i: number): number { return this.namespaces[i] }
  state (i: number): RowState { return ROW_STATES[this.flags[i] & STATE_MASK] }
  shared (i: number): boolean { return (this.flags[i] & SHARED) !== 0 }
  kind (i: number): string { return String.fromCharCode(this.kinds[i]) }
  name (i: number): string { return this.names.toString('utf8', i === 0 ? 0 : this.nameEnd[i - 1], this.nameEnd[i]) }

  row (i: number): ClassRow {
    return {
      oid: this.oids[i],
      name: this.name(i),
      namespace: this.namespaces[i],
      filenode: this.filenodes[i],
      tablespace: this.tablespaces[i],
      toastrelid: this.toastrelids[i],
      kind: this.kind(i),
      shared: this.shared(i),
      state: this.state(i),
      updated: (this.flags[i] & UPDATED) !== 0
    }
  }

  private orders (): NonNullable<ClassTable['order']> {
    this.order ??= {
      file: orderBy(this.filenodes, this.length),
      oid: orderBy(this.oids, this.length),
      toast: orderBy(this.toastrelids, this.length)
    }
    return this.order
  }

  /** The rows whose relation has the file (tablespace, file number), in row order. */
  rowsOfFile (tablespace: number, filenode: number): number[] {
    return rowsWithKey(this.orders().file, this.filenodes, filenode).filter(i => this.tablespaces[i] === tablespace)
  }

  /** The versions of one relation's row. */
  rowsOfOid (oid: number): number[] {
    return rowsWithKey(this.orders().oid, this.oids, oid)
  }

  /** The rows of the relations whose TOAST table is `toastOid`. */
  rowsOwningToast (toastOid: number): number[] {
    return toastOid === 0 ? [] : rowsWithKey(this.orders().toast, this.toastrelids, toastOid)
  }

  /** The row that best describes its object now (bestRow's rule), -1 for none. */
  best (rows: readonly number[]): number {
    let b = -1
    for (const i of rows) if (b < 0 || (this.flags[i] & STATE_MASK) > (this.flags[b] & STATE_MASK)) b = i
    return b
  }
}
