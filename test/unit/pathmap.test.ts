import t from 'tap'
import { PathMap } from '../../lib/pathmap'

t.test('a map of paths to numbers: the same answers as a Map, through growth and collisions', async t => {
  const m = new PathMap()
  const ref = new Map<string, number>()
  t.equal(m.get('base/5/1'), undefined, 'empty')
  let seed = 11
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF; return seed % n }
  for (let i = 0; i < 50000; i++) {
    // paths alike but for a digit or two, some set again, values up to 2^40
    const key = rnd(3) === 0 ? `pg_tblspc/16500/PG_16_202307071/5/${rnd(40000)}` : `base/${rnd(4)}/${rnd(60000)}${rnd(5) === 0 ? '.1' : ''}`
    const v = rnd(1 << 30) * 1024 + i
    m.set(key, v)
    ref.set(key, v)
  }
  t.equal(m.size, ref.size, `${ref.size} keys`)
  t.ok([...ref].every(([k, v]) => m.get(k) === v), 'every value')
  t.same([...m.allValues()], [...ref.values()], 'the values in the order their keys were first set')
  for (const k of ['base/5/', 'base/0/600001', '', 'base/1/1.2', '\u00e9', 'pg_tblspc/16500/PG_16_202307071/5/40000']) {
    t.equal(m.get(k), ref.get(k), `"${k}": as the Map says`)
  }
  m.set('', 7)
  m.set('\u00e9t\u00e9', 8)
  t.same([m.get(''), m.get('\u00e9t\u00e9'), m.get('ete')], [7, 8, undefined], 'the empty key, non-ASCII keys')
})
