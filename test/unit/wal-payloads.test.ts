import t from 'tap'
import { PgRewindError } from '../../lib/errors'
import { SUPPORTED_MAJORS, versionInfo } from '../../lib/format/versions'
import { decodeRecord } from '../../lib/wal/record'
import {
  dbaseKind, decodeCheckpointRecord, isCheckpointRecord, rmgrName, specialRecordKind, unrecognizedSpecialRecordError, RMGR_NAMES
} from '../../lib/wal/payloads'
import { decodeEndOfRecovery, decodeOverwriteContrecord, isSwitchRecord, recordTypeName } from '../helpers/waldump'
import { decodeDbaseCreateFileCopy, decodeDbaseCreateWalLog, decodeDbaseDrop } from '../../lib/wal/dbase'
import { decodeSmgrCreate, decodeSmgrTruncate } from '../../lib/wal/smgr'
import { xactOp } from '../../lib/wal/xact'
import { encodeRecord } from '../helpers/synthwal'

const rec = (major: number, r: Parameters<typeof encodeRecord>[0]) => decodeRecord(encodeRecord(r, 0x100n), 0, 0x3000028n, versionInfo(major))

function checkpointBytes (walLevel: number): Buffer {
  const b = Buffer.alloc(88)
  b.writeBigUInt64LE(0x2000028n, 0)
  b.writeUInt32LE(3, 8)
  b.writeUInt32LE(2, 12)
  b[16] = 1
  b.writeInt32LE(walLevel, 20)
  b.writeBigUInt64LE((1n << 32n) | 750n, 24)
  b.writeUInt32LE(24576, 32)
  b.writeUInt32LE(1, 36)
  b.writeUInt32LE(0, 40)
  b.writeUInt32LE(716, 44)
  b.writeUInt32LE(1, 48)
  b.writeUInt32LE(1, 52)
  b.writeUInt32LE(5, 56)
  b.writeBigInt64LE(1700000000n, 64)
  b.writeUInt32LE(0, 72)
  b.writeUInt32LE(0, 76)
  b.writeUInt32LE(749, 80)
  return b
}

t.test('checkpoint', async t => {
  for (const major of SUPPORTED_MAJORS) {
    const r = rec(major, { rmid: 0, info: 0x00, main: checkpointBytes(2) })
    t.ok(isCheckpointRecord(r))
    const cp = decodeCheckpointRecord(r, versionInfo(major))
    t.equal(cp.redo, 0x2000028n)
    t.equal(cp.thisTimeLineID, 3)
    t.equal(cp.prevTimeLineID, 2)
    t.equal(cp.fullPageWrites, true)
    t.equal(cp.walLevel, major >= 17 ? 2 : null, `PG${major} wal_level in CheckPoint`)
    t.equal(cp.nextXid, (1n << 32n) | 750n)
    t.equal(cp.nextOid, 24576)
    t.equal(cp.oldestXid, 716)
    t.equal(cp.oldestMultiDB, 5)
    t.equal(cp.time, 1700000000n)
    t.equal(cp.oldestActiveXid, 749)
  }
  t.ok(isCheckpointRecord(rec(15, { rmid: 0, info: 0x10, main: checkpointBytes(0) })), 'online checkpoint')
  t.notOk(isCheckpointRecord(rec(15, { rmid: 0, info: 0x20 })))
  t.notOk(isCheckpointRecord(rec(15, { rmid: 1, info: 0x00 })))
  t.throws(() => decodeCheckpointRecord(rec(15, { rmid: 0, info: 0x10, main: Buffer.alloc(80) }), versionInfo(15)),
    { code: 'WAL_INVALID_RECORD', message: /invalid checkpoint record at 0\/3000028: main data is 80 bytes, expected 88/ })
  t.throws(() => decodeCheckpointRecord(rec(15, { rmid: 0, info: 0x40 }), versionInfo(15)), { code: 'INTERNAL' })
})

t.test('switch, end of recovery, overwrite contrecord', async t => {
  t.ok(isSwitchRecord(rec(13, { rmid: 0, info: 0x40 })))
  t.notOk(isSwitchRecord(rec(13, { rmid: 1, info: 0x40 })))
  const eor = Buffer.alloc(24)
  eor.writeBigInt64LE(123456789n, 0)
  eor.writeUInt32LE(2, 8)
  eor.writeUInt32LE(1, 12)
  eor.writeInt32LE(1, 16)
  const e16 = decodeEndOfRecovery(rec(16, { rmid: 0, info: 0x90, main: eor.subarray(0, 16) }), versionInfo(16))
  t.same(e16, { endTime: 123456789n, thisTimeLineId: 2, prevTimeLineId: 1, walLevel: null })
  const e17 = decodeEndOfRecovery(rec(17, { rmid: 0, info: 0x90, main: eor }), versionInfo(17))
  t.same(e17, { endTime: 123456789n, thisTimeLineId: 2, prevTimeLineId: 1, walLevel: 1 })
  t.throws(() => decodeEndOfRecovery(rec(17, { rmid: 0, info: 0x90, main: eor.subarray(0, 16) }), versionInfo(17)), { code: 'WAL_INVALID_RECORD' })
  const oc = Buffer.alloc(16)
  oc.writeBigUInt64LE(0x5001FF8n, 0)
  oc.writeBigInt64LE(99n, 8)
  t.same(decodeOverwriteContrecord(rec(14, { rmid: 0, info: 0xD0, main: oc })), { overwrittenLsn: 0x5001FF8n, overwriteTime: 99n })
})

t.test('smgr and dbase payloads', async t => {
  const c = Buffer.alloc(16)
  c.writeUInt32LE(1663, 0); c.writeUInt32LE(5, 4); c.writeUInt32LE(16400, 8); c.writeInt32LE(3, 12)
  t.same(decodeSmgrCreate(rec(15, { rmid: 2, info: 0x11, main: c })), { rel: { spcOid: 1663, dbOid: 5, relNumber: 16400 }, forkNumber: 3 })
  const tr = Buffer.alloc(20)
  tr.writeUInt32LE(12, 0); tr.writeUInt32LE(1663, 4); tr.writeUInt32LE(5, 8); tr.writeUInt32LE(16400, 12); tr.writeInt32LE(7, 16)
  t.same(decodeSmgrTruncate(rec(14, { rmid: 2, info: 0x21, main: tr })), { blkno: 12, rel: { spcOid: 1663, dbOid: 5, relNumber: 16400 }, flags: 7 })
  t.throws(() => decodeSmgrTruncate(rec(14, { rmid: 2, info: 0x21, main: tr.subarray(0, 19) })), { code: 'WAL_INVALID_RECORD' })

  const fc = Buffer.alloc(16)
  fc.writeUInt32LE(16500, 0); fc.writeUInt32LE(1663, 4); fc.writeUInt32LE(1, 8); fc.writeUInt32LE(1663, 12)
  t.same(decodeDbaseCreateFileCopy(rec(13, { rmid: 4, info: 0x01, main: fc }), versionInfo(13)), { dbId: 16500, tablespaceId: 1663, srcDbId: 1, srcTablespaceId: 1663 })
  t.same(decodeDbaseCreateFileCopy(rec(15, { rmid: 4, info: 0x01, main: fc }), versionInfo(15)), { dbId: 16500, tablespaceId: 1663, srcDbId: 1, srcTablespaceId: 1663 })
  t.same(decodeDbaseCreateWalLog(rec(16, { rmid: 4, info: 0x10, main: fc.subarray(0, 8) }), versionInfo(16)), { dbId: 16500, tablespaceId: 1663 })
  const dr = Buffer.alloc(16)
  dr.writeUInt32LE(16500, 0); dr.writeInt32LE(2, 4); dr.writeUInt32LE(1663, 8); dr.writeUInt32LE(16390, 12)
  t.same(decodeDbaseDrop(rec(13, { rmid: 4, info: 0x11, main: dr }), versionInfo(13)), { dbId: 16500, tablespaceIds: [1663, 16390] })
  t.same(decodeDbaseDrop(rec(18, { rmid: 4, info: 0x21, main: dr }), versionInfo(18)), { dbId: 16500, tablespaceIds: [1663, 16390] })
  t.throws(() => decodeDbaseDrop(rec(18, { rmid: 4, info: 0x21, main: dr.subarray(0, 12) }), versionInfo(18)), { code: 'WAL_INVALID_RECORD', message: /ntablespaces 2/ })
  // the trap: 0x10 is DROP in 13/14, CREATE_WAL_LOG in 15+
  t.equal(dbaseKind({ rmid: 4, info: 0x10 }, versionInfo(14)), 'drop')
  t.equal(dbaseKind({ rmid: 4, info: 0x10 }, versionInfo(15)), 'create-wal-log')
  t.equal(dbaseKind({ rmid: 4, info: 0x20 }, versionInfo(14)), null)
  t.equal(dbaseKind({ rmid: 4, info: 0x21 }, versionInfo(15)), 'drop')
  t.equal(dbaseKind({ rmid: 5, info: 0x00 }, versionInfo(15)), null)
  t.throws(() => decodeDbaseCreateWalLog(rec(14, { rmid: 4, info: 0x10, main: fc }), versionInfo(14)), { code: 'INTERNAL' })
})

t.test('xact opcodes', async t => {
  const v13 = versionInfo(13)
  const v14 = versionInfo(14)
  t.equal(xactOp({ rmid: 1, info: 0x00 }, v13), 'COMMIT')
  t.equal(xactOp({ rmid: 1, info: 0x80 }, v13), 'COMMIT', 'HAS_INFO bit is not part of the opcode')
  t.equal(xactOp({ rmid: 1, info: 0x10 }, v13), 'PREPARE')
  t.equal(xactOp({ rmid: 1, info: 0xA0 }, v13), 'ABORT')
  t.equal(xactOp({ rmid: 1, info: 0x30 }, v13), 'COMMIT_PREPARED')
  t.equal(xactOp({ rmid: 1, info: 0xC0 }, v13), 'ABORT_PREPARED')
  t.equal(xactOp({ rmid: 1, info: 0x50 }, v13), 'ASSIGNMENT')
  t.equal(xactOp({ rmid: 1, info: 0x60 }, v13), null, 'no INVALIDATIONS in 13')
  t.equal(xactOp({ rmid: 1, info: 0x60 }, v14), 'INVALIDATIONS')
  t.equal(xactOp({ rmid: 1, info: 0x70 }, v14), null)
  t.equal(xactOp({ rmid: 2, info: 0x00 }, v14), null)
})

t.test('pg_rewind classification (extractPageInfo)', async t => {
  for (const major of SUPPORTED_MAJORS) {
    const vi = versionInfo(major)
    const k = (rmid: number, info: number): string => specialRecordKind({ rmid, info }, vi)
    t.equal(k(4, 0x01), 'ignored-special', 'DBASE create (file copy)')
    t.equal(k(4, vi.dbase.drop | 1), 'ignored-special', 'DBASE drop')
    t.equal(k(2, 0x11), 'ignored-special', 'SMGR create')
    t.equal(k(2, 0x21), 'ignored-special', 'SMGR truncate')
    for (const x of [0x00, 0x20, 0x30, 0x40, 0x80, 0xA0, 0xB0, 0xC0]) t.equal(k(1, x | 1), 'ignored-special', `XACT ${x.toString(16)}`)
    t.equal(k(1, 0x11), 'unrecognized-special', 'XACT PREPARE with the flag')
    t.equal(k(1, 0x61), 'unrecognized-special', 'XACT INVALIDATIONS with the flag')
    t.equal(k(1, 0x10), 'normal')
    t.equal(k(10, 0x00), 'normal')
    t.equal(k(10, 0x01), 'unrecognized-special')
    t.equal(k(2, 0x31), 'unrecognized-special', 'unknown SMGR code')
    t.equal(k(0, 0xB0), 'normal')
    t.equal(k(4, 0x10), major >= 15 ? 'ignored-special' : 'ignored-special', '0x10: create-wal-log (15+) or drop (13/14)')
    t.equal(k(4, 0x21), major >= 15 ? 'ignored-special' : 'unrecognized-special', '0x20: drop only on 15+')
    t.equal(k(4, 0x31), 'unrecognized-special')
  }
  const r = rec(15, { rmid: 10, info: 0x71 })
  const e = unrecognizedSpecialRecordError(r, versionInfo(15))
  t.type(e, PgRewindError)
  t.equal(e.code, 'UNRECOGNIZED_SPECIAL_RECORD')
  t.equal(e.message, 'WAL record modifies a relation, but record type is not recognized: lsn: 0/3000028, rmid: 10, rmgr: Heap, info: 71')
  const custom = rec(15, { rmid: 130, info: 0x01 })
  t.equal(specialRecordKind(custom, versionInfo(15)), 'unrecognized-special')
  t.match(unrecognizedSpecialRecordError(custom, versionInfo(15)).message, /rmid: 130, rmgr: custom, info: 01/)
})

t.test('names', async t => {
  t.equal(RMGR_NAMES.length, 22)
  t.equal(rmgrName(0, versionInfo(13)), 'XLOG')
  t.equal(rmgrName(21, versionInfo(13)), 'LogicalMessage')
  t.equal(rmgrName(128, versionInfo(13)), 'unknown(128)')
  t.equal(rmgrName(128, versionInfo(15)), 'custom')
  t.equal(rmgrName(50, versionInfo(15)), 'unknown(50)')
  const v13 = versionInfo(13)
  const v17 = versionInfo(17)
  t.equal(recordTypeName({ rmid: 0, info: 0xE0 }, v13), null, 'no CHECKPOINT_REDO before 17')
  t.equal(recordTypeName({ rmid: 0, info: 0xE0 }, v17), 'CHECKPOINT_REDO')
  t.equal(recordTypeName({ rmid: 0, info: 0x41 }, v17), 'SWITCH')
  t.equal(recordTypeName({ rmid: 4, info: 0x00 }, v13), 'CREATE')
  t.equal(recordTypeName({ rmid: 4, info: 0x00 }, v17), 'CREATE_FILE_COPY')
  t.equal(recordTypeName({ rmid: 4, info: 0x10 }, v13), 'DROP')
  t.equal(recordTypeName({ rmid: 4, info: 0x10 }, v17), 'CREATE_WAL_LOG')
  t.equal(recordTypeName({ rmid: 2, info: 0x21 }, v17), 'TRUNCATE')
  t.equal(recordTypeName({ rmid: 1, info: 0x80 }, v17), 'COMMIT')
  t.equal(recordTypeName({ rmid: 10, info: 0 }, v17), null)
})
