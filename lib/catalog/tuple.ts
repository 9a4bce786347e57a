import { PgRewindError } from '../errors'
import type { CatalogColumn, CatalogColumnType } from '../format/versions'
import { HEAP_HASNULL, HEAP_NATTS_MASK, type HeapTuple } from './heappage'

/**
 * The fixed-width leading columns of a catalog row (heap_deform_tuple for the
 * types we read): each attribute aligned to its type's alignment from the start of
 * the tuple's data (t_hoff), a null (null bitmap bit clear) taking no space.
 * NAMEDATALEN is 64 in every build we support (pg_control's nameDataLen says so).
 */

export const NAMEDATALEN = 64

const TYPES: Record<CatalogColumnType, { len: number, align: number }> = {
  oid: { len: 4, align: 4 },
  xid: { len: 4, align: 4 },
  int4: { len: 4, align: 4 },
  float4: { len: 4, align: 4 },
  int2: { len: 2, align: 2 },
  bool: { len: 1, align: 1 },
  char: { len: 1, align: 1 },
  name: { len: NAMEDATALEN, align: 1 }
}

export type CatalogValue = number | string | boolean | null
export type CatalogRow = Record<string, CatalogValue>

/** The columns of one tuple; a column beyond the tuple's natts (added later, no value stored) is null. */
export function deformFixed (t: HeapTuple, columns: readonly CatalogColumn[], path: string): CatalogRow {
  const row: CatalogRow = {}
  const natts = t.infomask2 & HEAP_NATTS_MASK
  const hasNulls = (t.infomask & HEAP_HASNULL) !== 0
  const d = t.data
  let off = t.hoff
  for (let i = 0; i < columns.length; i++) {
    const [name, type] = columns[i]
    if (i >= natts || (hasNulls && (d[23 + (i >> 3)] & (1 << (i & 7))) === 0)) {
      row[name] = null
      continue
    }
    const { len, align } = TYPES[type]
    off = t.hoff + (((off - t.hoff) + align - 1) & ~(align - 1))
    if (off + len > d.length) {
      throw new PgRewindError('CATALOG_INVALID', `invalid row in block ${t.block} of "${path}"`, {
        detail: `Item ${t.offset} is ${d.length} bytes; column ${name} would end at ${off + len}.`, data: { path, block: t.block }
      })
    }
    switch (type) {
      case 'oid': case 'xid': row[name] = d.readUInt32LE(off); break
      case 'int4': row[name] = d.readInt32LE(off); break
      case 'float4': row[name] = d.readFloatLE(off); break
      case 'int2': row[name] = d.readInt16LE(off); break
      case 'bool': row[name] = d[off] !== 0; break
      case 'char': row[name] = String.fromCharCode(d[off]); break
      case 'name': {
        const nul = d.indexOf(0, off)
        row[name] = d.toString('utf8', off, nul >= 0 && nul < off + len ? nul : off + len)
        break
      }
    }
    off += len
  }
  return row
}
