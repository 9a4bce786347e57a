import t from 'tap'
import { BlockBitmap } from '../../lib/rewind/blockranges'
import { blocksByPath, ChangedBlocks, RelFileIndex, SlotBlocks } from '../../lib/rewind/relfiles'
import { versionInfo } from '../../lib/format/versions'
import { changedBlocksOf } from '../../lib/rewind/filemap'

t.test('a slot per (tablespace, database, relation, segment), numbered densely in order of arrival', async t => {
  const ix = new RelFileIndex()
  t.equal(ix.slot(1663, 5, 16384), 0)
  t.equal(ix.slot(1663, 5, 16384, 1), 1, 'another segment')
  t.equal(ix.slot(1663, 6, 16384), 2, 'the same number in another database')
  t.equal(ix.slot(1664, 0, 16384), 3, 'and in another tablespace')
  t.equal(ix.slot(1663, 5, 16385), 4)
  t.same([ix.slot(1663, 5, 16384), ix.slot(1663, 6, 16384), ix.slot(1664, 0, 16384), ix.slot(1663, 5, 16384, 1)], [0, 2, 3, 1], 'found again')
  t.equal(ix.size, 5)
  for (let i = 0; i < 1000; i++) ix.slot(1663, 5, 20000 + i)
  t.equal(ix.size, 1005, 'the columns grow')
  t.same([ix.spc[3], ix.db[3], ix.rel[3], ix.seg[3]], [1664, 0, 16384, 0])
  t.same([ix.rel[1004], ix.slot(1663, 5, 20999)], [20999, 1004])
  t.same([ix.find(1663, 5, 16384, 1), ix.find(1664, 0, 16384, 0), ix.find(1663, 5, 20500, 0)], [1, 3, 505], 'found without adding')
  t.same([ix.find(1663, 5, 16384, 2), ix.find(1663, 7, 16384, 0), ix.find(1663, 5, 21000, 0), ix.size], [-1, -1, -1, 1005], 'not there: -1, nothing added')
  t.equal(new RelFileIndex().find(1663, 5, 16384, 0), -1, 'an empty index')
  // many files whose numbers differ only in high bits, or only by database: every one its own slot, found again
  const many = new RelFileIndex()
  const keys: Array<[number, number, number, number]> = []
  for (let i = 0; i < 20000; i++) keys.push([1663, 5 + (i % 7), (i * 65536) >>> 0, i % 3])
  t.ok(keys.every((k, i) => many.slot(...k) === i), 'each new file gets the next slot')
  t.ok(keys.every((k, i) => many.find(...k) === i && many.slot(...k) === i), 'all found again, by find and by slot')
  t.equal(many.slot(1663, 5, 1, 9), 20000, 'and added to after')
  many.trim()
  t.equal(many.rel.length, 20001, 'trimmed: the columns cut to the slots')
  t.ok(keys.every((k, i) => many.find(...k) === i), 'every file found again after the trim')
  t.same([many.find(1663, 5, 1, 9), many.find(1663, 5, 2, 9)], [20000, -1])
  t.same([many.slot(1663, 5, 2, 9), many.find(1663, 5, 2, 9), many.find(...keys[19999])], [20001, 20001, 19999], 'and added to after the trim')
})

t.test('changed blocks per slot: the same ranges and counts as a bitmap, run or not', async t => {
  let seed = 7
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF; return seed % n }
  const sb = new SlotBlocks()
  const ref: BlockBitmap[] = []
  for (let slot = 0; slot < 200; slot++) {
    ref.push(new BlockBitmap())
    const kind = slot % 4
    const n = 1 + rnd(40)
    const first = rnd(1000)
    for (let i = 0; i < n; i++) {
      // runs forwards, runs backwards, runs with repeats, and scattered blocks
      const blk = kind === 0 ? first + i : kind === 1 ? first + n - i : kind === 2 ? first + Math.floor(i / 2) : rnd(131072)
      sb.mark(slot, blk)
      ref[slot].mark(blk)
    }
  }
  for (let slot = 0; slot < 200; slot++) {
    t.same(sb.ranges(slot), ref[slot].toRanges(), `slot ${slot}`)
    t.equal(sb.count(slot), ref[slot].count())
  }
  t.same([sb.ranges(500), sb.count(500)], [[], 0], 'a slot never marked')
  const b = new SlotBlocks()
  b.mark(3, 0)
  t.same([b.ranges(2), b.ranges(3)], [[], [[0, 1]]], 'block 0 is a block')
  b.mark(4, 0xFFFFFFFE)
  b.mark(4, 0xFFFFFFFD)
  t.same([b.ranges(4), b.count(4)], [[[0xFFFFFFFD, 0xFFFFFFFF]], 2], 'a run up to the highest block number')
})

t.test('blocks by segment file path', async t => {
  const ix = new RelFileIndex()
  const sb = new SlotBlocks()
  sb.mark(ix.slot(1663, 5, 16384), 3)
  sb.mark(ix.slot(1663, 5, 16384, 2), 0)
  sb.mark(ix.slot(1663, 5, 16384, 2), 1)
  ix.slot(1663, 5, 16390) // named, nothing marked
  t.same(blocksByPath(ix, sb, versionInfo(16)), { blocks: { 'base/5/16384': [[3, 4]], 'base/5/16384.2': [[0, 2]] }, count: 3 })
})

t.test('the scan\'s changed blocks looked up by path: exactly the record\'s, for every major', async t => {
  for (const major of [13, 14, 15, 16, 17, 18]) {
    const vi = versionInfo(major)
    const ix = new RelFileIndex()
    const sb = new SlotBlocks()
    sb.mark(ix.slot(1663, 5, 16384), 3)
    sb.mark(ix.slot(1663, 5, 16384, 2), 0)
    sb.mark(ix.slot(1663, 5, 16384, 2), 9) // a bitmap
    sb.mark(ix.slot(1664, 0, 1262), 0) // global
    sb.mark(ix.slot(16500, 16401, 16410), 7) // a tablespace
    ix.slot(1663, 5, 16390) // named, nothing marked
    for (let i = 0; i < 2000; i++) sb.mark(ix.slot(1663, 5, 30000 + i, i % 3), i)
    const { blocks: record, count } = blocksByPath(ix, sb, vi)
    const c = new ChangedBlocks(ix, sb, vi)
    t.same([c.count, count], [5 + 2000, 5 + 2000], `PG ${major}: the count`)
    t.same(c.toRecord(), record, `PG ${major}: the JSON form is the record`)
    const keys = Object.keys(record)
    t.equal(keys.length, 2004)
    t.ok(keys.every(k => JSON.stringify(c.get(k)) === JSON.stringify(record[k])), `PG ${major}: every path's blocks`)
    c.trim()
    t.ok(keys.every(k => JSON.stringify(c.get(k)) === JSON.stringify(record[k])), `PG ${major}: every path's blocks, its columns cut to size`)
    t.same([c.count, c.toRecord()], [5 + 2000, record], `PG ${major}: the count and record unchanged by the trim`)
    t.ok(keys.some(k => k.startsWith('pg_tblspc/16500/')) && keys.includes('global/1262'))
    // paths the record has no key for: the same number in another form, fork, temporary relation, file
    for (const p of ['base/5/16390', 'base/5/016384', 'base/5/16384_fsm', 'base/5/16384_vm', 'base/5/16384.1', 'base/5/16384.02', 'base/5/t3_16384',
      'base/6/16384', 'base/5/16384/', 'global/pg_control', 'pg_wal/000000010000000000000001', 'base/5', '__proto__', 'constructor']) {
      t.equal(c.get(p), undefined, `PG ${major}: nothing for "${p}"`)
    }
  }
  const vi = versionInfo(16)
  const ix = new RelFileIndex()
  const sb = new SlotBlocks()
  sb.mark(ix.slot(1663, 5, 16384, 1), 4)
  const c = new ChangedBlocks(ix, sb, vi)
  t.equal(JSON.stringify({ changedBlocks: c }), '{"changedBlocks":{"base/5/16384.1":[[4,5]]}}', 'its JSON is the record')
  t.same(changedBlocksOf(JSON.parse(JSON.stringify(c)))('base/5/16384.1'), [[4, 5]], 'and the record read back finds the blocks')
  t.throws(() => changedBlocksOf(structuredClone(c) as unknown as Record<string, Array<[number, number]>>), { code: 'INVALID_PARAMS' },
    'a copy that lost its class is refused, not read as a record without a path')
  const bad = new RelFileIndex()
  const badBlocks = new SlotBlocks()
  badBlocks.mark(bad.slot(1664, 5, 1262), 0)
  t.throws(() => new ChangedBlocks(bad, badBlocks, vi), { code: 'RELPATH' }, 'a shared relation in a database (corrupt WAL): refused')
  const none = ChangedBlocks.none()
  t.same([none.count, none.toRecord(), none.get('base/5/16384')], [0, {}, undefined], 'none')
})
