import t from 'tap'
import { PgRewindError } from '../../lib/errors'
import { versionInfo } from '../../lib/format/versions'
import { decodeRecord } from '../../lib/wal/record'
import { WalReader } from '../../lib/wal/reader'
import { HintCollector, hintRuleWhy, oldestXid, RelationBlocks, searchBack, transactionIdPrecedes } from '../../lib/rewind/hintrule'
import { encodeRecord, feedRecords, SynthRecord, SynthWal } from '../helpers/synthwal'
import { MemoryWalSource } from '../helpers/memwal'

const vi = versionInfo(16)
const SEG = 1024 * 1024
const FORK = 0x3000000n
const u32 = (...v: number[]): Buffer => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i)); return b }
const i64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigInt64LE(v); return b }

const insert = (xid: number, rel: number, blk: number): SynthRecord => ({ rmid: 10, info: 0x00, xid, blocks: [{ id: 0, rel: [1663, 5, rel], blk }], main: Buffer.from([1, 0, 0]) })
const del = (xid: number, rel: number, blk = 0): SynthRecord => ({ rmid: 10, info: 0x10, xid, blocks: [{ id: 0, rel: [1663, 5, rel], blk }], main: Buffer.alloc(8) })
const hotUpdate = (xid: number, rel: number): SynthRecord => ({ rmid: 10, info: 0x40, xid, blocks: [{ id: 0, rel: [1663, 5, rel], blk: 1 }], main: Buffer.alloc(14) })
const commit = (xid: number, subxacts: number[] = []): SynthRecord => subxacts.length === 0
  ? { rmid: 1, info: 0x00, xid, main: i64(1n) }
  : { rmid: 1, info: 0x80, xid, main: Buffer.concat([i64(1n), u32(2), u32(subxacts.length, ...subxacts)]) }
const abort = (xid: number): SynthRecord => ({ rmid: 1, info: 0x20, xid, main: Buffer.concat([i64(1n)]) })
/** COMMIT PREPARED of `xid`: the record's own xid is 0, the transaction's is in the twophase part */
const commitPrepared = (xid: number): SynthRecord => ({ rmid: 1, info: 0xB0, xid: 0, main: Buffer.concat([i64(1n), u32(0x10), u32(xid)]) })

function checkpoint (redo: bigint, nextXid: number, online = true): SynthRecord {
  const m = Buffer.alloc(88)
  m.writeBigUInt64LE(redo, 0)
  m.writeUInt32LE(1, 8)
  m.writeUInt32LE(1, 12)
  m.writeBigUInt64LE(BigInt(nextXid), 24)
  return { rmid: 0, info: online ? 0x10 : 0x00, main: m }
}
const runningXacts = (nextXid: number): SynthRecord => ({ rmid: 8, info: 0x10, main: Buffer.concat([u32(0, 0, 0, nextXid, nextXid, nextXid - 1)]) })

const feed = (c: HintCollector, start: bigint, recs: SynthRecord[]): bigint => feedRecords(c, start, recs, vi)

t.test('TransactionIdPrecedes: modulo 2^32 for normal xids, plain order for special ones', async t => {
  t.ok(transactionIdPrecedes(5, 10))
  t.notOk(transactionIdPrecedes(10, 5))
  t.notOk(transactionIdPrecedes(7, 7))
  t.ok(transactionIdPrecedes(0xFFFFFFF0, 5), 'across wraparound')
  t.notOk(transactionIdPrecedes(5, 0xFFFFFFF0))
  t.ok(transactionIdPrecedes(100, 100 + 0x7FFFFFFF), 'less than 2^31 ahead')
  t.notOk(transactionIdPrecedes(100, 100 + 0x80000001), 'more than 2^31 ahead is behind')
  t.ok(transactionIdPrecedes(2, 0xFFFFFFF0), 'FrozenTransactionId precedes every normal xid')
  t.notOk(transactionIdPrecedes(0xFFFFFFF0, 2))
  t.ok(transactionIdPrecedes(0, 1))
})

t.test('oldestXid: by modular order', async t => {
  t.equal(oldestXid([]), null)
  t.equal(oldestXid([10, 5, 7]), 5)
  t.equal(oldestXid([3, 0xFFFFFFF0, 100, 0xFFFFFFFF]), 0xFFFFFFF0, 'the set spans wraparound')
})

t.test('hintRuleWhy', async t => {
  t.equal(hintRuleWhy(true, null), null)
  t.match(hintRuleWhy(false, null), /neither data checksums nor wal_log_hints/)
  t.match(hintRuleWhy(true, 0x3000028n), /PARAMETER_CHANGE at 0\/3000028/)
})

t.test('HintCollector: the transactions that ended after the fork, and the heaps whose index items may be killed', async t => {
  const c = new HintCollector(vi, FORK)
  feed(c, 0x2FFF000n, [
    insert(105, 16384, 0),
    del(105, 16390), // deleted before the fork by a transaction that commits after it
    del(106, 16391), // by one that never ends on the target: its tuples are not dead there
    del(104, 16392) // by one that committed before the fork
  ])
  const end = feed(c, FORK, [
    commit(104), // a commit record at the fork... this one is after it: 104 counts
    commit(105, [107, 108]),
    del(200, 16393),
    insert(200, 16398, 0), // inserts after the fork: their index entries are in the WAL
    hotUpdate(201, 16394),
    abort(202),
    commitPrepared(150)
  ])
  t.ok(end > FORK)
  c.finish()
  t.same([...c.ended].sort((a, b) => a - b), [104, 105, 107, 108, 150, 202])
  t.equal(c.transactions, 4)
  t.same([...c.heaps.values()].map(h => h.relNumber).sort(), [16384, 16390, 16392, 16393, 16394], 'pre-fork row changes of 104 and 105, post-fork deletes and updates of anyone')
  // a record before the last common checkpoint (the walk back) by 105 deleting from another heap
  c.onEarlierRecord(decodeRecord(encodeRecord(del(105, 16395), 0n), 0, 0x1000000n, vi))
  c.onEarlierRecord(decodeRecord(encodeRecord(insert(150, 16397, 0), 0n), 0, 0x1000080n, vi))
  t.ok(c.heaps.has('1663/5/16397'), 'rows inserted by a prepared transaction finished after the fork')
  c.onEarlierRecord(decodeRecord(encodeRecord(del(99, 16396), 0n), 0, 0x1000100n, vi))
  t.ok(c.heaps.has('1663/5/16395'))
  t.notOk(c.heaps.has('1663/5/16396'))
})

function reader (w: SynthWal, drop: string[] = []): WalReader {
  const files = w.files()
  for (const f of drop) files.delete(f)
  return new WalReader(new MemoryWalSource(SEG, files), { version: vi, segSize: SEG, sysid: 0x1234567890ABCDEFn })
}

t.test('searchBack: to the RUNNING_XACTS record before the oldest xid, collecting only that set\'s blocks', async t => {
  const w = new SynthWal(vi, SEG)
  w.append(insert(90, 16384, 1))
  w.append(runningXacts(95)) // 100 not yet assigned, but 95 < 100: an earlier one would do too
  w.append(insert(96, 16384, 50))
  const rx = w.append(runningXacts(100))
  w.append(insert(100, 16384, 2))
  while (w.pos < 2n * BigInt(SEG) + 5000n) w.append(insert(99, 16384, 3)) // another segment, another transaction
  w.append(insert(101, 16385, 4))
  w.append(runningXacts(101)) // 100 is running: not a stop
  const from = w.append(checkpoint(w.pos, 102))
  const blocks = new RelationBlocks(131072)
  const seen: number[] = []
  const r = searchBack(reader(w), from, new Set([100, 101]), vi, rec => { seen.push(rec.xid); blocks.addRecord(rec) })
  t.equal(r.stop, 'running-xacts')
  t.equal(r.stoppedAt, rx)
  t.same(seen.sort(), [100, 101])
  const { blocks: b, count } = blocks.toRecord(vi)
  t.same(b, { 'base/5/16384': [[2, 3]], 'base/5/16385': [[4, 5]] })
  t.equal(count, 2)

  // nothing to find: no walk at all
  t.same(searchBack(reader(w), from, new Set(), vi, () => t.fail('no record')), { stoppedAt: from, stop: 'nothing-to-find', records: 0, walBytes: 0 })

  // the segment the walk needs is gone: WAL_MISSING naming it, pointing at --compare-blocks
  try {
    searchBack(reader(w, ['000000010000000000000001']), from, new Set([100]), vi, () => {})
    t.fail('expected an error')
  } catch (e) {
    t.ok(e instanceof PgRewindError)
    const err = e as PgRewindError
    t.equal(err.code, 'WAL_MISSING')
    t.match(err.message, /^WAL segment "000000010000000000000001" is missing, and the target's hint bits were not WAL-logged: .*the oldest xid 100/)
    t.match(err.hint, /--compare-blocks/)
    t.equal(err.data?.file, '000000010000000000000001')
  }
})

t.test('searchBack: a checkpoint whose nextXid is not after the oldest xid stops the walk at its redo point', async t => {
  const w = new SynthWal(vi, SEG)
  w.append(insert(90, 16384, 1))
  const redo = w.append(insert(97, 16384, 7)) // the checkpoint started here
  w.append(insert(100, 16384, 8)) // assigned after the checkpoint read nextXid (100), before its record
  const ck = w.append(checkpoint(redo, 100))
  w.append(insert(100, 16384, 9))
  const from = w.append(checkpoint(w.pos, 105))
  const seen: number[] = []
  const r = searchBack(reader(w), from, new Set([100]), vi, rec => seen.push(rec.blocks[0].blockNumber))
  t.equal(r.stop, 'checkpoint')
  t.equal(r.stoppedAt, redo)
  t.ok(r.stoppedAt < ck)
  t.same(seen.sort(), [8, 9], 'the record between the redo point and the checkpoint record too')

  // a shutdown checkpoint: its redo is itself
  const w2 = new SynthWal(vi, SEG)
  w2.append(insert(100, 16384, 1))
  w2.append(insert(110, 16384, 2))
  const shut = w2.append(checkpoint(0n, 111, false))
  // fix the redo to the record's own position, as a shutdown checkpoint has it
  const w3 = new SynthWal(vi, SEG)
  w3.append(insert(100, 16384, 1))
  w3.append(insert(110, 16384, 2))
  const at = w3.pos
  t.equal(w3.append(checkpoint(at, 111, false)), at)
  t.ok(shut > 0n)
  w3.append(insert(111, 16384, 3))
  const from3 = w3.append(checkpoint(w3.pos, 120))
  const seen3: number[] = []
  t.equal(searchBack(reader(w3), from3, new Set([111, 112]), vi, rec => seen3.push(rec.xid)).stop, 'checkpoint')
  t.same(seen3, [111])

  // across xid wraparound: nextXid 5 is "after" 0xFFFFFFF0, nextXid 0xFFFFFFE0 is not
  const w4 = new SynthWal(vi, SEG)
  w4.append(insert(0xFFFFFFE5, 16384, 1))
  const rx = w4.append(runningXacts(0xFFFFFFE0))
  w4.append(insert(0xFFFFFFF0, 16384, 2))
  w4.append(runningXacts(5))
  w4.append(insert(4, 16384, 3))
  const from4 = w4.append(checkpoint(w4.pos, 6))
  const seen4: number[] = []
  const r4 = searchBack(reader(w4), from4, new Set([0xFFFFFFF0, 4]), vi, rec => seen4.push(rec.xid))
  t.equal(r4.stoppedAt, rx)
  t.same(seen4.sort(), [4, 0xFFFFFFF0])

  // no stop anywhere: to the start of the WAL
  const w5 = new SynthWal(vi, SEG)
  w5.append(insert(50, 16384, 1))
  const from5 = w5.append(checkpoint(w5.pos, 60))
  t.equal(searchBack(reader(w5), from5, new Set([50]), vi, () => {}).stop, 'start-of-wal')
})
