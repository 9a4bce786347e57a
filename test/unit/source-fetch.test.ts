import t from 'tap'
import { Framer, RowParser } from '../../lib/source/pgwire'
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

t.test('Framer: streamed messages passed on in pieces, the others whole, in order, however the stream is cut', async t => {
  const bodies = [Buffer.from('one'), Buffer.alloc(3000, 7), Buffer.alloc(0), Buffer.from('mid'), Buffer.alloc(5000, 9)]
  const types = 'DTDZD'
  const stream = Buffer.concat(bodies.map((b, i) => msg(types[i], b)))
  const want = bodies.map((b, i) => `${types[i]}:${b.toString('hex')}`)
  for (let cut = 1; cut < stream.length; cut += (cut < 20 ? 1 : 131)) {
    const got: string[] = []
    let open: { len: number, parts: Buffer[] } | null = null
    const f = new Framer((type, body) => got.push(`${String.fromCharCode(type)}:${body.toString('hex')}`), {
      type: 'D'.charCodeAt(0),
      start: len => { if (open !== null) throw new Error('started twice'); open = { len, parts: [] } },
      part: piece => { open?.parts.push(Buffer.from(piece)) },
      end: () => {
        const o = open as unknown as { len: number, parts: Buffer[] }
        const body = Buffer.concat(o.parts)
        if (body.length !== o.len) throw new Error(`${body.length} bytes of ${o.len}`)
        got.push(`D:${body.toString('hex')}`)
        open = null
      }
    })
    for (let at = 0; at < stream.length; at += cut) f.push(stream.subarray(at, at + cut))
    if (got.join() !== want.join() || open !== null) {
      t.same(got, want, `cut every ${cut} bytes`)
      return
    }
  }
  t.pass('every cut gives the same messages, the streamed ones in pieces')
})

/** A DataRow's body: the field count, then each field's length and bytes (null: -1). */
function dataRow (fields: Array<Buffer | null>): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2)]
  parts[0].writeInt16BE(fields.length)
  for (const f of fields) {
    const len = Buffer.alloc(4)
    len.writeInt32BE(f === null ? -1 : f.length)
    parts.push(len)
    if (f !== null) parts.push(f)
  }
  return Buffer.concat(parts)
}

function parse (body: Buffer, cut: number): { head: string[], lastLength: number, data: Buffer } {
  const out = { head: [] as string[], lastLength: NaN, data: Buffer.alloc(0) }
  const pieces: Buffer[] = []
  const p = new RowParser()
  p.start(body.length, {
    onRowHead: (fields, lastLength) => { out.head = fields.map(f => f === null ? 'null' : f.toString('hex')); out.lastLength = lastLength },
    onRowData: (piece, at) => {
      if (at !== pieces.reduce((a, b) => a + b.length, 0)) throw new Error(`piece at ${at}`)
      pieces.push(Buffer.from(piece))
    }
  })
  for (let at = 0; at < body.length; at += cut) p.part(body.subarray(at, at + cut))
  p.end()
  out.data = Buffer.concat(pieces)
  return out
}

t.test('RowParser: the fields before the last at once, the last in pieces, however the row is cut', async t => {
  const path = Buffer.from('base/5/16384')
  const begin = Buffer.alloc(8)
  begin.writeBigInt64BE(8192n)
  const rows: Array<Array<Buffer | null>> = [
    [path, begin, Buffer.alloc(20000, 3)],
    [path, begin, null],
    [path, begin, Buffer.alloc(0)],
    [Buffer.alloc(0), null, Buffer.from('x')],
    [Buffer.alloc(700, 1), Buffer.from('y')],
    [Buffer.from('only')]
  ]
  for (const fields of rows) {
    const body = dataRow(fields)
    const last = fields[fields.length - 1]
    const want = { head: fields.slice(0, -1).map(f => f === null ? 'null' : f.toString('hex')), lastLength: last === null ? -1 : last.length, data: last ?? Buffer.alloc(0) }
    let bad = ''
    for (const cut of [1, 2, 3, 5, 7, 64, 999, body.length]) {
      const got = parse(body, cut)
      if (JSON.stringify(got.head) !== JSON.stringify(want.head) || got.lastLength !== want.lastLength || !got.data.equals(want.data)) bad = `cut every ${cut}`
    }
    t.equal(bad, '', `${fields.length} fields, the last ${want.lastLength} bytes`)
  }
  const none = parse(dataRow([]), 1)
  t.same([none.head, none.lastLength], [[], -1], 'a row of no fields')
})

t.test('RowParser: a row that does not add up is a protocol error', async t => {
  const body = dataRow([Buffer.from('p'), Buffer.alloc(100, 5)])
  const lying = Buffer.from(body)
  lying.writeInt32BE(5000, 2) // the first field longer than the row
  t.throws(() => parse(lying, 7), { code: 'SOURCE_PROTOCOL' }, 'a field past the end')
  const longLast = Buffer.from(body)
  longLast.writeInt32BE(101, 7) // the last field one byte longer than what the row holds
  t.throws(() => parse(longLast, 7), { code: 'SOURCE_PROTOCOL' }, 'the last field past the end')
  const negative = Buffer.from(body)
  negative.writeInt16BE(-1, 0)
  t.throws(() => parse(negative, 3), { code: 'SOURCE_PROTOCOL' }, 'a negative field count')
  const p = new RowParser()
  p.start(body.length, { onRowHead: () => {}, onRowData: () => {} })
  p.part(body.subarray(0, body.length - 1))
  t.throws(() => p.end(), { code: 'SOURCE_PROTOCOL' }, 'the message ended before the row')
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
