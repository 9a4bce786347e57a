import t from 'tap'
import { writeJson, canonicalText } from '../../lib/jsonstream'
import { PlanEntries, PlanEntry } from '../../lib/rewind/planentries'

/**
 * A plan's entries in columns (lib/rewind/planentries.ts): the same entries, the
 * same JSON and canonical text as the array they replace, pg_rewind's order.
 */

const entries: PlanEntry[] = [
  { path: 'base/5/16390', action: 'remove', type: 'file', targetSize: 16384 },
  { path: 'pg_tblspc/16400', action: 'create', type: 'symlink', linkTarget: '/srv/ts ü' },
  { path: 'base/5/16384', action: 'none', type: 'file', sourceSize: 8192, targetSize: 8192, blocks: [[0, 1], [3, 5]] },
  { path: 'base/5/16391', action: 'remove', type: 'file', targetSize: 0 },
  { path: 'a', action: 'create', type: 'dir' },
  { path: 'base/5/16385', action: 'copy_tail', type: 'file', sourceSize: 2 ** 40, targetSize: 8192 },
  { path: 'z.conf', action: 'copy', type: 'file', sourceSize: 1 },
  { path: 'base/5/1', action: 'truncate', type: 'file', sourceSize: 0, targetSize: 8192 }
]

/** the order pg_rewind's comparator gives (as buildFileMap sorted entries before they were columns) */
const RANK = { create: 0, copy: 1, copy_tail: 2, none: 3, truncate: 4, remove: 5 }
function pgRewindOrder (list: PlanEntry[]): PlanEntry[] {
  return [...list].sort((a, b) => {
    const d = RANK[a.action] - RANK[b.action]
    if (d !== 0) return d
    const c = a.path < b.path ? -1 : a.path > b.path ? 1 : 0
    return a.action === 'remove' ? -c : c
  })
}

const text = (v: unknown, sortKeys: boolean): string => {
  let out = ''
  writeJson(v, s => { out += s }, { sortKeys })
  return out
}

t.test('the same entries back, absent fields absent', async t => {
  const c = PlanEntries.from(entries)
  t.equal(c.length, entries.length)
  t.same(c.toArray(), entries)
  t.same([...c], entries, 'iterated')
  t.same(Object.keys(c.at(4)).filter(k => c.at(4)[k as keyof PlanEntry] !== undefined), ['path', 'action', 'type'], 'a directory has no sizes')
  t.equal(c.at(5).sourceSize, 2 ** 40, 'sizes past 2^32 kept')
  t.equal(c.at(3).targetSize, 0, 'a size of 0 is a size')
  t.equal(c.path(2), 'base/5/16384')
  t.equal(c.action(0), 'remove')
  t.same(c.blocks(2), [[0, 1], [3, 5]])
  t.equal(c.blocks(0), undefined)
})

t.test('the same JSON, whole or in pieces, and the same canonical text', async t => {
  const c = PlanEntries.from(entries)
  t.equal(JSON.stringify({ entries: c }), JSON.stringify({ entries }))
  t.equal(text({ entries: c }, false), JSON.stringify({ entries }))
  t.equal(text({ entries: c }, true), canonicalText({ entries }))
  t.equal(canonicalText({ entries: c }), canonicalText({ entries }))
})

t.test('pg_rewind\'s order, whether the entries come in path order or not', async t => {
  const want = pgRewindOrder(entries)
  t.same(PlanEntries.from(entries).sort().toArray(), want, 'in no order')
  const byPath = [...entries].sort((a, b) => a.path < b.path ? -1 : 1)
  t.same(PlanEntries.from(byPath).sort().toArray(), want, 'in path order (as buildFileMap adds them)')
  const many: PlanEntry[] = []
  for (let i = 0; i < 2000; i++) {
    const action = (['create', 'copy', 'copy_tail', 'none', 'truncate', 'remove'] as const)[(i * 7) % 6]
    many.push({ path: `base/5/${(i * 7919) % 10007}`, action, type: 'file', sourceSize: i, blocks: i % 5 === 0 ? [[i, i + 1]] : undefined })
  }
  many.push({ path: 'base/5/99999', action: 'none', type: 'file', blocks: Array.from({ length: 100 }, (_, k): [number, number] => [2 * k, 2 * k + 1]) })
  const sorted = PlanEntries.from(many).sort()
  t.same(sorted.toArray(), pgRewindOrder(many), '2,001 entries: blocks, short lists and a long one, follow their entry')
  const more = PlanEntries.from(sorted)
  more.push({ path: 'base/5/0', action: 'none', type: 'file', blocks: [[0, 1]] })
  t.same(more.sort().toArray(), pgRewindOrder([...many, { path: 'base/5/0', action: 'none', type: 'file', blocks: [[0, 1]] }]), 'one added to sorted entries')
})

t.test('an entry without a known action or type is refused', async t => {
  t.throws(() => PlanEntries.from([{ path: 'x', action: 'delete' as PlanEntry['action'], type: 'file' }]), { code: 'INVALID_PARAMS', message: /"x" has no valid action/ })
  t.throws(() => PlanEntries.from([{ path: 'y', action: 'copy', type: 'fifo' as PlanEntry['type'] }]), { code: 'INVALID_PARAMS', message: /"y" has no valid type/ })
  for (const r of [[2 ** 32, 2 ** 32 + 1], [3, 3], [-1, 2], [0.5, 2]] as Array<[number, number]>) {
    t.throws(() => PlanEntries.from([{ path: 'z', action: 'none', type: 'file', blocks: [[0, 1], r] }]), { code: 'INVALID_PARAMS', message: /"z" has an invalid block range/ }, `[${r.join(', ')}) is not wrapped into 32 bits`)
  }
  t.same(PlanEntries.from([{ path: 'e', action: 'none', type: 'file', blocks: [] }]).at(0).blocks, [], 'an empty list stays one')
})
