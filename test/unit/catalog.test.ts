import t from 'tap'
import { crc32c } from '../../lib/format/crc32c'
import { versionInfo, type CatalogColumn } from '../../lib/format/versions'
import { PgRewindError } from '../../lib/errors'
import { parseRelMap } from '../../lib/catalog/relmap'
import { heapPageTuples, HEAP_HASNULL, HEAP_XMAX_LOCK_ONLY, xmaxIsLockOnly } from '../../lib/catalog/heappage'
import { deformFixed } from '../../lib/catalog/tuple'
import { ClogReader, clogSegmentName } from '../../lib/catalog/clog'
import { bestRow } from '../../lib/catalog/rowstate'
import { relationNames, relkindName } from '../../lib/catalog/names'
import { CatalogQuery, SqlNameLookup } from '../../lib/catalog/sqlnames'

/** pg_filenode.map as relmapper.c writes it */
function relmapFile (major: number, pairs: Array<[number, number]>, o: { magic?: number, badCrc?: boolean } = {}): Buffer {
  const { maxMappings, fileSize } = versionInfo(major).relmap
  const b = Buffer.alloc(fileSize)
  b.writeInt32LE(o.magic ?? 0x592717, 0)
  b.writeInt32LE(pairs.length, 4)
  pairs.forEach(([oid, fn], i) => { b.writeUInt32LE(oid, 8 + 8 * i); b.writeUInt32LE(fn, 12 + 8 * i) })
  const at = 8 + 8 * maxMappings
  b.writeUInt32LE((crc32c(b.subarray(0, at)) ^ (o.badCrc === true ? 1 : 0)) >>> 0, at)
  return b
}

t.test('relation map: 512 bytes with 62 mappings up to 15, 524 with 64 from 16', async t => {
  for (const major of [13, 14, 15, 16, 17, 18]) {
    const m = parseRelMap(relmapFile(major, [[1259, 1259], [1249, 16500]]), versionInfo(major), 'base/5/pg_filenode.map')
    t.same([...m], [[1259, 1259], [1249, 16500]], `PG${major}`)
    t.equal(relmapFile(major, []).length, major >= 16 ? 524 : 512)
  }
  const bad = (b: Buffer, major: number, re: RegExp): void => {
    t.throws(() => parseRelMap(b, versionInfo(major), 'global/pg_filenode.map'), { code: 'CATALOG_INVALID', message: /invalid relation map file "global\/pg_filenode.map"/, detail: re })
  }
  bad(relmapFile(16, [[1, 2]]), 15, /524 bytes, not 512/)
  bad(relmapFile(15, [[1, 2]], { magic: 0x592716 }), 15, /magic number is 0x592716/)
  bad(relmapFile(17, [[1, 2]], { badCrc: true }), 17, /CRC/)
  const tooMany = relmapFile(15, [])
  tooMany.writeInt32LE(63, 4)
  bad(tooMany, 15, /63 mappings \(at most 62\)/)
})

/** One heap tuple: 23-byte header (+ null bitmap), data from t_hoff (MAXALIGNed). */
function tuple (o: { xmin: number, xmax?: number, infomask?: number, natts: number, nulls?: number[], data: Buffer }): Buffer {
  const hasNulls = (o.nulls ?? []).length > 0
  const bitmapLen = hasNulls ? Math.ceil(o.natts / 8) : 0
  const hoff = (23 + bitmapLen + 7) & ~7
  const b = Buffer.alloc(hoff + o.data.length)
  b.writeUInt32LE(o.xmin, 0)
  b.writeUInt32LE(o.xmax ?? 0, 4)
  b.writeUInt16LE(o.natts, 18)
  b.writeUInt16LE((o.infomask ?? 0) | (hasNulls ? HEAP_HASNULL : 0), 20)
  b[22] = hoff
  if (hasNulls) for (let i = 0; i < o.natts; i++) if (!(o.nulls ?? []).includes(i)) b[23 + (i >> 3)] |= 1 << (i & 7)
  o.data.copy(b, hoff)
  return b
}

/** A heap page: line pointers from the front, tuples from the back. */
function page (tuples: Array<Buffer | 'dead'>): Buffer {
  const p = Buffer.alloc(8192)
  let upper = 8192
  tuples.forEach((tup, i) => {
    if (tup === 'dead') { p.writeUInt32LE(3 << 15, 24 + 4 * i); return }
    upper = (upper - tup.length) & ~7
    tup.copy(p, upper)
    p.writeUInt32LE((upper | (1 << 15) | (tup.length << 17)) >>> 0, 24 + 4 * i)
  })
  p.writeUInt16LE(24 + 4 * tuples.length, 12)
  p.writeUInt16LE(upper, 14)
  p.writeUInt16LE(8192, 16)
  p.writeUInt16LE(8192 | 4, 18)
  return p
}

const name = (s: string): Buffer => { const b = Buffer.alloc(64); b.write(s); return b }

t.test('heap pages, tuple headers and the fixed-width columns of a row', async t => {
  const cols: CatalogColumn[] = [['oid', 'oid'], ['nm', 'name'], ['flag', 'bool'], ['n2', 'int2'], ['n4', 'int4'], ['k', 'char'], ['f', 'float4']]
  // oid@0, name@4..68, bool@68, int2@70, int4@72, char@76, float4@80
  const d = Buffer.alloc(84)
  d.writeUInt32LE(16384, 0); name('lost_here').copy(d, 4); d[68] = 1; d.writeInt16LE(-2, 70); d.writeInt32LE(-70000, 72); d[76] = 0x72; d.writeFloatLE(1.5, 80)
  // a row with nm null: everything after it moves up by 64 bytes (bool@4, int2@6, int4@8, char@12, float4@16)
  const n = Buffer.alloc(20)
  n.writeUInt32LE(16385, 0); n[4] = 0; n.writeInt16LE(3, 6); n.writeInt32LE(7, 8); n[12] = 0x69; n.writeFloatLE(2, 16)
  const pg = page([tuple({ xmin: 700, natts: 7, data: d }), 'dead', tuple({ xmin: 701, xmax: 702, infomask: HEAP_XMAX_LOCK_ONLY, natts: 7, nulls: [1], data: n }), tuple({ xmin: 703, natts: 2, data: d.subarray(0, 68) })])
  const tups = [...heapPageTuples(pg, 'base/5/1259', 3)]
  t.same(tups.map(x => [x.block, x.offset, x.xmin, x.xmax]), [[3, 1, 700, 0], [3, 3, 701, 702], [3, 4, 703, 0]], 'dead line pointers carry no tuple')
  t.same(deformFixed(tups[0], cols, 'p'), { oid: 16384, nm: 'lost_here', flag: true, n2: -2, n4: -70000, k: 'r', f: 1.5 })
  t.same(deformFixed(tups[1], cols, 'p'), { oid: 16385, nm: null, flag: false, n2: 3, n4: 7, k: 'i', f: 2 }, 'a null takes no space')
  t.same(deformFixed(tups[2], cols, 'p'), { oid: 16384, nm: 'lost_here', flag: null, n2: null, n4: null, k: null, f: null }, 'columns beyond natts are null')
  t.ok(xmaxIsLockOnly(tups[1].infomask))
  t.same([...heapPageTuples(Buffer.alloc(8192), 'p', 0)], [], 'a new (all-zero) page has no tuples')
  const broken = Buffer.from(pg)
  broken.writeUInt16LE(9000, 16)
  t.throws(() => [...heapPageTuples(broken, 'base/5/1259', 3)], { code: 'CATALOG_INVALID', message: 'invalid page header in block 3 of "base/5/1259"' })
  const badLp = Buffer.from(pg)
  badLp.writeUInt32LE((8190 | (1 << 15) | (40 << 17)) >>> 0, 24)
  t.throws(() => [...heapPageTuples(badLp, 'base/5/1259', 3)], { code: 'CATALOG_INVALID', message: /invalid line pointer/ })
  t.throws(() => deformFixed({ ...tups[2], infomask2: 7 }, cols, 'base/5/1259'), { code: 'CATALOG_INVALID', message: /invalid row in block 3/ })
})

t.test('pg_xact: two bits per transaction, segments of 32 pages', async t => {
  const seg0 = Buffer.alloc(8192 * 32)
  // xid 4: committed, 5: aborted, 6: sub-committed, 7: in progress
  seg0[1] = 0b00111001
  const seg2 = Buffer.alloc(8192)
  seg2[0] = 0b10 // xid 2·1048576: aborted
  const files = new Map([[clogSegmentName(0), seg0], [clogSegmentName(2), seg2]])
  const read = async (p: string): Promise<Buffer> => {
    const b = files.get(p)
    if (b === undefined) throw new PgRewindError('TARGET_IO', `no ${p}`, { data: { errno: 'ENOENT' } })
    return b
  }
  t.equal(clogSegmentName(0x1A), 'pg_xact/001A')
  const c = new ClogReader(read, [0, 2])
  t.same(await Promise.all([1, 2, 4, 5, 6, 7].map(async x => await c.status(x))), ['committed', 'committed', 'committed', 'aborted', 'sub-committed', 'in-progress'])
  t.equal(await c.status(2 * 1048576), 'aborted')
  t.equal(await c.status(2 * 1048576 + 8192 * 4), 'unknown', 'beyond the written part of a segment')
  t.equal(await c.status(1048576), 'unknown', 'a missing segment after the first one there is')
  files.delete(clogSegmentName(0))
  const later = new ClogReader(read, [2])
  t.equal(await later.status(5), 'committed', 'a segment truncated away: long since frozen')
})

t.test('which row version names an object', async t => {
  t.equal(bestRow([{ state: 'deleted' as const, n: 1 }, { state: 'live' as const, n: 2 }, { state: 'uncommitted' as const, n: 3 }])?.n, 2)
  t.equal(bestRow([{ state: 'rolled-back' as const, n: 1 }, { state: 'deleted' as const, n: 2 }])?.n, 2)
  t.equal(bestRow([]), undefined)
  t.same(['r', 'i', 't', 'm', 'p', 'x'].map(relkindName), ['table', 'index', 'toast table', 'materialized view', 'partitioned table', 'relkind x'])
})

t.test('names by SQL on a source server: rows to names, failures to reasons', async t => {
  const calls: Array<[string | null, unknown[]]> = []
  const q: CatalogQuery = async <T extends Record<string, unknown>>(db: string | null, sql: string, params: unknown[]): Promise<T[]> => {
    calls.push([db, params])
    if (db === 'unreachable') throw new Error('connection refused')
    if (sql.includes('AS oid, datname FROM')) return [{ oid: '16407', datname: 'db_drop_on_target' }] as unknown as T[]
    return [
      { spc: '1663', fn: '16408', oid: '16400', relname: 'd1', nspname: 'public', relkind: 'r', owner: null },
      { spc: '1663', fn: '16410', oid: '16403', relname: 'pg_toast_16400', nspname: 'pg_toast', relkind: 't', owner: 'public.d1' },
      { spc: '1663', fn: '99', oid: null, relname: null, nspname: null, relkind: null, owner: null }
    ] as unknown as T[]
  }
  const l = new SqlNameLookup(q, 'source server "host=h"')
  t.same(await l.databases([16407, 5]), new Map<number, unknown>([[16407, { name: 'db_drop_on_target' }], [5, { reason: 'the source server "host=h" has no database with OID 5' }]]))
  const files = [{ spcOid: 1663, relNumber: 16408 }, { spcOid: 1663, relNumber: 16410 }, { spcOid: 1663, relNumber: 99 }]
  const names = await relationNames(l, 16407, 'db_drop_on_target', files)
  t.same(files.map(names), [
    { oid: 16400, schema: 'public', name: 'd1', kind: 'table', toastOf: null, systemCatalog: false },
    { oid: 16403, schema: 'pg_toast', name: 'pg_toast_16400', kind: 'toast table', toastOf: 'public.d1', systemCatalog: false },
    { reason: 'the source server "host=h" has no relation with file 99 in database "db_drop_on_target"' }
  ])
  t.same(names({ spcOid: 1663, relNumber: 12345 }), { reason: 'not looked up' }, 'a file not asked for')
  t.same(calls[1], ['db_drop_on_target', [[1663, 1663, 1663], [16408, 16410, 99]]], 'asked in that database, every file at once')
  await relationNames(l, 0, null, files.slice(0, 1))
  t.equal(calls[2][0], null, 'shared catalogs: in the session\'s own database')
  t.same(files.slice(0, 1).map(await relationNames(l, 16407, null, files.slice(0, 1))), [{ reason: 'the source server "host=h" cannot be asked without the database\'s name' }])
  t.same(files.slice(0, 1).map(await relationNames(l, 16407, 'unreachable', files.slice(0, 1))), [{ reason: 'the source server "host=h" could not be asked in database "unreachable": connection refused' }])
  const down = new SqlNameLookup(async () => { throw new Error('gone') }, 'source server "host=h"')
  t.same(await down.databases([1]), new Map([[1, { reason: 'the source server "host=h" could not be asked: gone' }]]))
})
