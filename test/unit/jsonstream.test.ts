import t from 'tap'
import { createHash } from 'node:crypto'
import { canonicalText, writeJson } from '../../lib/jsonstream'
import { planDigest } from '../../lib/rewind/plandigest'
import { xorshift32 } from '../helpers/rng'

/** A random JSON-ish value (with undefined members), nested up to `depth`. */
function randomValue (next: () => number, depth: number): unknown {
  const k = next() % (depth > 0 ? 8 : 5)
  switch (k) {
    case 0: return null
    case 1: return next() % 1000 - 500
    case 2: return ['a', 'b"c', 'ü', '\n', ''][next() % 5]
    case 3: return next() % 2 === 0
    case 4: return undefined
    case 5: case 6: return Array.from({ length: next() % 5 }, () => randomValue(next, depth - 1))
    default: return Object.fromEntries(Array.from({ length: next() % 5 }, () => [['z', 'a', 'm', 'k"', 'b'][next() % 5], randomValue(next, depth - 1)]))
  }
}

/** What writeJson hands out, joined, and the largest piece. */
function written (v: unknown, sortKeys = false): { text: string, largest: number, pieces: number } {
  const parts: string[] = []
  writeJson(v, c => parts.push(c), { sortKeys })
  return { text: parts.join(''), largest: Math.max(0, ...parts.map(p => p.length)), pieces: parts.length }
}

t.test('the same text as JSON.stringify, and with sortKeys as canonicalText', async t => {
  const samples: unknown[] = [
    null, 1, 'x"y', true, [], {}, [undefined, () => 1, 2], { a: undefined, b: () => 1, c: [1, [2, [3, [4, { z: 1, a: 2 }]]]] },
    { d: new Date(0), n: NaN, i: -Infinity, e: { deep: { deeper: { deepest: [undefined, { b: 1, a: undefined }] } } } },
    { entries: [{ path: 'base/5/1', action: 'none', blocks: [[0, 1]] }], b: 'é\u2028\u0000' }
  ]
  samples.forEach((v, i) => {
    t.equal(written(v).text, JSON.stringify(v), `sample ${i}: JSON.stringify`)
    t.equal(written(v, true).text, canonicalText(v), `sample ${i}: canonical`)
  })
  const next = xorshift32(13)
  let same = 0
  for (let i = 0; i < 500; i++) {
    const v = randomValue(next, 6)
    if (written(v).text === (JSON.stringify(v) ?? 'null') && written(v, true).text === canonicalText(v)) same++
    else t.fail(`random value ${i} differs`)
  }
  t.equal(same, 500, '500 random values')
})

t.test('a big plan is written in bounded pieces, and hashes to the digest of its whole canonical text', async t => {
  const entries = Array.from({ length: 100_000 }, (_, i) => ({ path: `base/16384/${100000 + i}`, sourceSize: 8192, targetSize: 8192 * (i % 3), type: 'file', action: 'none', blocks: [[0, 1], [5, 9]] }))
  const plan = { planVersion: 1, entries, totals: { entries: entries.length }, discards: { relations: entries.map(e => ({ name: e.path, files: [{ path: e.path }] })) } }
  const w = written(plan)
  const whole = JSON.stringify(plan)
  t.ok(w.text === whole, `the same ${whole.length} characters as JSON.stringify`)
  t.ok(w.largest < 128 * 1024, `pieces of at most 128 kB (largest ${w.largest})`)
  t.ok(w.pieces > 100)
  const digest = createHash('sha256').update(canonicalText(plan)).digest('hex')
  t.equal(planDigest(plan as never), digest, 'planDigest streams the same canonical text')
})
