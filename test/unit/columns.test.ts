import t from 'tap'
import { grown, orderBy, rowsWithKey } from '../../lib/columns'

t.test('grown keeps the contents and the type', async t => {
  const a = Float64Array.from([1, 2, 3])
  const g = grown(a, 100)
  t.ok(g instanceof Float64Array)
  t.ok(g.length >= 100)
  t.same([...g.subarray(0, 4)], [1, 2, 3, 0])
  t.equal(grown(g, 10), g, 'no copy when there is room')
})

/** what orderBy must give: a stable sort of the row numbers by key */
const expected = (keys: number[]): number[] => keys.map((k, i) => [k, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(p => p[1])

t.test('orderBy: rows by key, equal keys in row order, both ways (packed in doubles and compared)', async t => {
  let seed = 7
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  const keys = [0, 0xFFFFFFFF, 5, 5, 0xFFFFFFFE, 1, 5, 0, 2 ** 31, 2 ** 31 - 1]
  for (let i = 0; i < 2000; i++) keys.push(i % 3 === 0 ? rnd(50) : rnd(2 ** 31) * 2 + rnd(2))
  const col = Uint32Array.from(keys)
  // a column longer than its rows (grown): only the first n count
  const long = grown(col, col.length + 100)
  long.fill(1, col.length)
  for (const packed of [2 ** 21, 100]) {
    const order = orderBy(long, col.length, packed)
    t.same([...order], expected(keys), `packed up to ${packed} rows`)
  }
})

t.test('rowsWithKey: every row of a key, in row order; none for an absent key', async t => {
  const keys = Uint32Array.from([9, 3, 9, 0, 3, 0xFFFFFFFF, 9])
  const order = orderBy(keys, keys.length)
  t.same(rowsWithKey(order, keys, 9), [0, 2, 6])
  t.same(rowsWithKey(order, keys, 3), [1, 4])
  t.same(rowsWithKey(order, keys, 0xFFFFFFFF), [5])
  t.same(rowsWithKey(order, keys, 0), [3])
  t.same(rowsWithKey(order, keys, 4), [])
  t.same(rowsWithKey(order, keys, 10), [])
  t.same(rowsWithKey(orderBy(keys, 0), keys, 9), [], 'no rows')
})
