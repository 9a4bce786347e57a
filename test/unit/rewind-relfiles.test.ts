import t from 'tap'
import { BlockBitmap } from '../../lib/rewind/blockranges'
import { blocksByPath, RelFileIndex, SlotBlocks } from '../../lib/rewind/relfiles'
import { versionInfo } from '../../lib/format/versions'

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
