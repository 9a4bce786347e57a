import t from 'tap'
import { Framer } from '../../lib/source/pgwire'
import { Chunk, chunksOf } from '../../lib/source/server'

const MiB = 1024 * 1024

function msg (type: string, body: Buffer): Buffer {
  const h = Buffer.alloc(5)
  h.write(type, 0, 'latin1')
  h.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([h, body])
}

t.test('Framer: the same messages however the stream is cut', async t => {
  const bodies = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(3000, 7), Buffer.from('last')]
  const stream = Buffer.concat(bodies.map((b, i) => msg('DTZC'[i], b)))
  const want = bodies.map((b, i) => `${'DTZC'[i]}:${b.toString('hex')}`)
  for (let cut = 1; cut < stream.length; cut += (cut < 20 ? 1 : 97)) {
    const got: string[] = []
    const f = new Framer((type, body) => got.push(`${String.fromCharCode(type)}:${body.toString('hex')}`))
    for (let at = 0; at < stream.length; at += cut) f.push(stream.subarray(at, at + cut))
    if (got.join() !== want.join()) {
      t.same(got, want, `cut every ${cut} bytes`)
      return
    }
  }
  t.pass('every cut from 1 byte up gives the same messages')
  // a message arriving whole is passed on without a copy
  let seen: Buffer | null = null
  const whole = msg('D', Buffer.from('abc'))
  new Framer((_type, body) => { seen = body }).push(whole)
  t.equal((seen as unknown as Buffer).buffer, whole.buffer, 'no copy for a message in one piece')
})

t.test('Framer: an impossible length is a protocol error', async t => {
  const bad = Buffer.alloc(5)
  bad.write('D')
  bad.writeInt32BE(2, 1)
  t.throws(() => new Framer(() => {}).push(bad), { code: 'SOURCE_PROTOCOL' })
})

const chunks = (req: Parameters<typeof chunksOf>[0], prev?: Chunk): Array<[string, number, number, number]> =>
  [...chunksOf(req, prev)].map(c => [c.path, c.offset, c.length, c.expected])

t.test('chunksOf: ranges cut into ≤1 MiB chunks, contiguous ones merged', async t => {
  t.same(chunks({ path: 'a', offset: 0, length: 2.5 * MiB }), [['a', 0, MiB, MiB], ['a', MiB, MiB, MiB], ['a', 2 * MiB, 0.5 * MiB, 0.5 * MiB]])
  const prev: Chunk = { path: 'a', offset: 0, length: 8192, expected: 8192, req: { path: 'a', offset: 0, length: 8192 } }
  t.same(chunks({ path: 'a', offset: 8192, length: 16384 }, prev), [], 'merged into the previous chunk')
  t.equal(prev.length, 3 * 8192)
  t.equal(prev.expected, 3 * 8192)
  const full: Chunk = { path: 'a', offset: 0, length: MiB - 8192, expected: MiB - 8192, req: { path: 'a', offset: 0, length: MiB - 8192 } }
  t.same(chunks({ path: 'a', offset: MiB - 8192, length: 3 * 8192 }, full), [['a', MiB, 2 * 8192, 2 * 8192]], 'merged up to 1 MiB, the rest a new chunk')
  const gap: Chunk = { path: 'a', offset: 0, length: 8192, expected: 8192, req: { path: 'a', offset: 0, length: 8192 } }
  t.same(chunks({ path: 'a', offset: 3 * 8192, length: 8192 }, gap), [['a', 3 * 8192, 8192, 8192]], 'not contiguous: not merged')
  const other: Chunk = { path: 'b', offset: 0, length: 8192, expected: 8192, req: { path: 'b', offset: 0, length: 8192 } }
  t.same(chunks({ path: 'a', offset: 8192, length: 8192 }, other), [['a', 8192, 8192, 8192]], 'another file: not merged')
})

t.test('chunksOf: a whole small file is asked for with a full chunk (it may have grown)', async t => {
  t.same(chunks({ path: 'f', offset: 0, length: 100, wholeFile: true }), [['f', 0, MiB, 100]])
  t.same(chunks({ path: 'f', offset: 0, length: 0, wholeFile: true }), [['f', 0, MiB, 0]], 'an empty file too')
  t.same(chunks({ path: 'f', offset: 0, length: MiB + 1, wholeFile: true }), [['f', 0, MiB, MiB], ['f', MiB, 1, 1]])
  const prev: Chunk = { path: 'f', offset: 0, length: 10, expected: 10, req: { path: 'f', offset: 0, length: 10 } }
  t.same(chunks({ path: 'f', offset: 10, length: 5, wholeFile: true }, prev), [['f', 10, MiB, 5]], 'a whole-file request is never merged')
})
