import t from 'tap'
import { SUPPORTED_MAJORS, versionInfo } from '../../lib/format/versions'
import { timestampTzToIso } from '../../lib/format/timestamp'
import { decodeRecord } from '../../lib/wal/record'
import { heapRowChange } from '../../lib/wal/heap'
import {
  decodeXactAssignment, decodeXactEnd, decodeXactPrepare, XACT_XINFO_HAS_DBINFO, XACT_XINFO_HAS_DROPPED_STATS, XACT_XINFO_HAS_GID,
  XACT_XINFO_HAS_INVALS, XACT_XINFO_HAS_ORIGIN, XACT_XINFO_HAS_RELFILELOCATORS, XACT_XINFO_HAS_SUBXACTS, XACT_XINFO_HAS_TWOPHASE
} from '../../lib/wal/xact'
import { encodeRecord } from '../helpers/synthwal'

const rec = (major: number, r: Parameters<typeof encodeRecord>[0]) => decodeRecord(encodeRecord(r, 0x100n), 0, 0x3000028n, versionInfo(major))

const u32 = (...v: number[]): Buffer => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i)); return b }
const i64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigInt64LE(v); return b }

/** xl_xact_commit / _abort main data, part by part as XactLogCommitRecord writes them */
function xactEndBody (major: number, o: { commit: boolean, parts: number, time: bigint }): Buffer {
  const vi = versionInfo(major)
  const p: Buffer[] = [i64(o.time), u32(o.parts)]
  if ((o.parts & XACT_XINFO_HAS_DBINFO) !== 0) p.push(u32(5, 1663))
  if ((o.parts & XACT_XINFO_HAS_SUBXACTS) !== 0) p.push(u32(2, 901, 902))
  if ((o.parts & XACT_XINFO_HAS_RELFILELOCATORS) !== 0) p.push(u32(2, 1663, 5, 16384, 1663, 5, 16390))
  if ((o.parts & XACT_XINFO_HAS_DROPPED_STATS) !== 0) p.push(u32(1), Buffer.alloc(vi.xactStatsItemSize ?? 0, 7))
  if (o.commit && (o.parts & XACT_XINFO_HAS_INVALS) !== 0) p.push(u32(3), Buffer.alloc(48, 9))
  if ((o.parts & XACT_XINFO_HAS_TWOPHASE) !== 0) p.push(u32(777))
  if ((o.parts & XACT_XINFO_HAS_GID) !== 0) p.push(Buffer.from('my gid\0'))
  if ((o.parts & XACT_XINFO_HAS_ORIGIN) !== 0) p.push(Buffer.alloc(16, 1))
  return Buffer.concat(p)
}

t.test('commit and abort records, every optional part, every major', async t => {
  for (const major of SUPPORTED_MAJORS) {
    const vi = versionInfo(major)
    const stats = vi.xactStatsItemSize !== null ? XACT_XINFO_HAS_DROPPED_STATS : 0
    const all = XACT_XINFO_HAS_DBINFO | XACT_XINFO_HAS_SUBXACTS | XACT_XINFO_HAS_RELFILELOCATORS | stats | XACT_XINFO_HAS_INVALS | XACT_XINFO_HAS_ORIGIN
    const c = decodeXactEnd(rec(major, { rmid: 1, info: 0x80, xid: 900, main: xactEndBody(major, { commit: true, parts: all, time: 1234567n }) }), vi)
    t.same(c, {
      committed: true,
      prepared: false,
      xid: 900,
      time: 1234567n,
      xinfo: all,
      dbId: 5,
      subxacts: [901, 902],
      rels: [{ spcOid: 1663, dbOid: 5, relNumber: 16384 }, { spcOid: 1663, dbOid: 5, relNumber: 16390 }],
      gid: null
    }, `PG${major} commit`)
    const a = decodeXactEnd(rec(major, { rmid: 1, info: 0xA0, xid: 900, main: xactEndBody(major, { commit: false, parts: all, time: -5n }) }), vi)
    t.equal(a.committed, false)
    t.same(a.subxacts, [901, 902], `PG${major} abort: no invalidations part, the rest in order`)
    const cp = decodeXactEnd(rec(major, {
      rmid: 1, info: 0xB0, xid: 0, main: xactEndBody(major, { commit: true, parts: XACT_XINFO_HAS_TWOPHASE | XACT_XINFO_HAS_GID, time: 1n })
    }), vi)
    t.same([cp.committed, cp.prepared, cp.xid, cp.gid], [true, true, 777, 'my gid'], `PG${major} COMMIT PREPARED: the prepared xid and GID`)
    const plain = decodeXactEnd(rec(major, { rmid: 1, info: 0x00, xid: 42, main: i64(99n) }), vi)
    t.same([plain.xid, plain.time, plain.xinfo, plain.subxacts, plain.rels], [42, 99n, 0, [], []], `PG${major} commit without xinfo`)
    // one byte too many or too few: the parts must account for the main data exactly
    const body = xactEndBody(major, { commit: true, parts: all, time: 1n })
    t.throws(() => decodeXactEnd(rec(major, { rmid: 1, info: 0x80, xid: 9, main: Buffer.concat([body, Buffer.alloc(1)]) }), vi), { code: 'WAL_INVALID_RECORD' })
    t.throws(() => decodeXactEnd(rec(major, { rmid: 1, info: 0x80, xid: 9, main: body.subarray(0, body.length - 1) }), vi), { code: 'WAL_INVALID_RECORD' })
  }
  t.throws(() => decodeXactEnd(rec(14, { rmid: 1, info: 0x80, xid: 9, main: Buffer.concat([i64(1n), u32(XACT_XINFO_HAS_DROPPED_STATS), u32(0)]) }), versionInfo(14)),
    { code: 'WAL_INVALID_RECORD', message: /no dropped-stats part on PostgreSQL 14/ })
  t.throws(() => decodeXactEnd(rec(15, { rmid: 1, info: 0x80, xid: 9, main: Buffer.concat([i64(1n), u32(XACT_XINFO_HAS_SUBXACTS), u32(1000)]) }), versionInfo(15)),
    { code: 'WAL_INVALID_RECORD', message: /room for 1000 items/ })
  t.throws(() => decodeXactEnd(rec(15, { rmid: 1, info: 0x10, main: i64(1n) }), versionInfo(15)), { code: 'INTERNAL' }, 'a PREPARE is no commit')
})

t.test('PREPARE records: header size per version, GID and subtransactions MAXALIGNed', async t => {
  for (const major of SUPPORTED_MAJORS) {
    const vi = versionInfo(major)
    const hs = vi.twoPhaseHeaderSize
    t.equal(hs, major >= 15 ? 72 : 64)
    const gid = Buffer.from('lost_gid\0')
    const body = Buffer.alloc(hs + 16 + 8)
    body.writeUInt32LE(0x57F94534, 0)
    body.writeUInt32LE(body.length, 4)
    body.writeUInt32LE(738, 8)
    body.writeUInt32LE(5, 12)
    body.writeBigInt64LE(818000000000000n, 16)
    body.writeInt32LE(2, 28)
    body.writeUInt16LE(gid.length, hs - 18)
    gid.copy(body, hs)
    body.writeUInt32LE(739, hs + 16)
    body.writeUInt32LE(740, hs + 20)
    const p = decodeXactPrepare(rec(major, { rmid: 1, info: 0x10, xid: 738, main: body }), vi)
    t.same(p, { xid: 738, dbId: 5, preparedAt: 818000000000000n, gid: 'lost_gid', subxacts: [739, 740] }, `PG${major}`)
    t.throws(() => decodeXactPrepare(rec(major, { rmid: 1, info: 0x10, xid: 737, main: body }), vi), { code: 'WAL_INVALID_RECORD', message: /header says xid 738/ })
    t.throws(() => decodeXactPrepare(rec(major, { rmid: 1, info: 0x10, xid: 738, main: body.subarray(0, hs + 20) }), vi), { code: 'WAL_INVALID_RECORD' })
  }
  const a = decodeXactAssignment(rec(16, { rmid: 1, info: 0x50, main: u32(500, 2, 501, 502) }), versionInfo(16))
  t.same(a, { top: 500, subxacts: [501, 502] })
  t.throws(() => decodeXactAssignment(rec(16, { rmid: 1, info: 0x50, main: u32(500, 3, 501) }), versionInfo(16)), { code: 'WAL_INVALID_RECORD' })
})

t.test('heap row changes', async t => {
  const blk = [{ id: 0, rel: [1663, 5, 16384] as [number, number, number], blk: 0 }]
  const heap = (info: number, main: Buffer) => heapRowChange(rec(15, { rmid: 10, info, xid: 5, blocks: blk, main }))
  t.same(heap(0x00, Buffer.from([4, 0, 0x08])), { op: 'insert', rows: 1 })
  t.same(heap(0x80, Buffer.from([1, 0, 0x08])), { op: 'insert', rows: 1 }, 'INSERT with INIT_PAGE')
  t.equal(heap(0x00, Buffer.from([4, 0, 0x04])), null, 'a speculative insertion counts when confirmed')
  t.same(heap(0x50, Buffer.from([4, 0])), { op: 'insert', rows: 1 }, 'CONFIRM')
  t.same(heap(0x10, Buffer.from([5, 0, 0, 0, 3, 0, 0, 0x01])), { op: 'delete', rows: 1 })
  t.same(heap(0x10, Buffer.from([5, 0, 0, 0, 3, 0, 0, 0x10])), { op: 'delete', rows: 1 }, 'a row moved to another partition is deleted here')
  t.equal(heap(0x10, Buffer.from([5, 0, 0, 0, 3, 0, 0, 0x08])), null, 'super-deletion withdraws a speculative insertion')
  t.same(heap(0x20, Buffer.alloc(14)), { op: 'update', rows: 1 })
  t.same(heap(0x40, Buffer.alloc(14)), { op: 'update', rows: 1 }, 'HOT_UPDATE')
  for (const info of [0x30, 0x60, 0x70]) t.equal(heap(info, Buffer.alloc(16)), null, `opcode 0x${info.toString(16)} changes no row`)
  t.equal(heap(0x00, Buffer.from([4, 0])), null, 'too short to carry its flags')
  const multi = Buffer.alloc(4 + 2 * 37)
  multi.writeUInt16LE(37, 2)
  t.same(heapRowChange(rec(18, { rmid: 9, info: 0x50, xid: 5, blocks: blk, main: multi })), { op: 'insert', rows: 37 }, 'Heap2 MULTI_INSERT')
  t.equal(heapRowChange(rec(18, { rmid: 9, info: 0x40, xid: 5, blocks: blk, main: multi })), null, 'Heap2 VISIBLE')
  t.equal(heapRowChange(rec(18, { rmid: 11, info: 0x00, xid: 5, blocks: blk, main: multi })), null, 'not heap')
})

t.test('TimestampTz in ISO 8601', async t => {
  t.equal(timestampTzToIso(0n), '2000-01-01T00:00:00.000000Z')
  t.equal(timestampTzToIso(818000000123456n), '2025-12-02T14:13:20.123456Z')
  t.equal(timestampTzToIso(-1n), '1999-12-31T23:59:59.999999Z')
})
