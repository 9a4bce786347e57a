import t from 'tap'
import { BlockBitmap, clipRanges, iterBlocks, oneRange, rangesCount, unionRanges } from '../../lib/rewind/blockranges'

t.test('marked blocks come back as sorted half-open ranges', async t => {
  const b = new BlockBitmap()
  t.same(b.toRanges(), [], 'nothing marked')
  for (const n of [7, 3, 4, 5, 0, 200, 201, 5]) b.mark(n)
  t.same(b.toRanges(), [[0, 1], [3, 6], [7, 8], [200, 202]])
  t.equal(b.count(), 7, 'each block counted once')
  const one = new BlockBitmap()
  t.equal(one.count(), 0)
  one.mark(9)
  one.mark(9)
  t.equal(one.count(), 1)
})

t.test('the bitmap grows to any block number', async t => {
  const b = new BlockBitmap()
  b.mark(131071) // the last block of a 1 GB segment
  b.mark(1)
  t.same(b.toRanges(), [[1, 2], [131071, 131072]])
  const all = new BlockBitmap()
  for (let i = 0; i < 1000; i++) all.mark(i)
  t.same(all.toRanges(), [[0, 1000]], 'a run is one range')
})

t.test('count, clip, iterate', async t => {
  const r: Array<[number, number]> = [[0, 2], [5, 9], [20, 21]]
  t.equal(rangesCount(r), 7)
  t.same(clipRanges(r, 7), [[0, 2], [5, 7]], 'cut inside a range')
  t.same(clipRanges(r, 5), [[0, 2]], 'a range starting at the limit is dropped')
  t.same(clipRanges(r, 0), [])
  t.same(clipRanges(r, 100), r)
  t.same([...iterBlocks([[1, 3], [6, 7]])], [1, 2, 6])
})

t.test('one small range: one frozen array shared by every file that has it', async t => {
  const a = new BlockBitmap()
  a.mark(0)
  const b = new BlockBitmap()
  b.mark(1)
  b.mark(0)
  t.equal(a.toRanges(), oneRange(0, 1), 'a single block')
  t.equal(b.toRanges(), oneRange(0, 2), 'a single run')
  t.same(oneRange(0, 2), [[0, 2]])
  t.ok(Object.isFrozen(oneRange(0, 2)) && Object.isFrozen(oneRange(0, 2)[0]), 'frozen: a change in place throws')
  t.throws(() => { oneRange(0, 2)[0][1] = 5 }, TypeError)
  t.not(oneRange(5, 1000), oneRange(5, 1000), 'a long range is its own')
  t.same(oneRange(5, 1000), [[5, 1000]])
  t.equal(clipRanges(oneRange(0, 2), 2), oneRange(0, 2), 'nothing to clip: the same array')
  t.equal(clipRanges([[0, 2], [4, 9]], 1), oneRange(0, 1), 'clipped to one small range: shared')
  const u = unionRanges(oneRange(0, 2), oneRange(1, 3))
  t.same(u, [[0, 3]], 'a union is a new array')
  t.same(oneRange(0, 2), [[0, 2]], 'and leaves its inputs as they were')
})
