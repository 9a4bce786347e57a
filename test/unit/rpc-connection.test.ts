import t from 'tap'
import { PassThrough } from 'node:stream'
import { Job } from '../../lib/rpc/job'
import { readLines } from '../../lib/rpc/lines'
import { ProgressThrottle } from '../../lib/rpc/progress'
import { SerialQueue } from '../../lib/rpc/queue'
import { Progress } from '../../lib/steps/types'

t.test('$/progress throttle: one per 250 ms, plus first and last of each phase', async t => {
  let now = 0
  const out: Progress[] = []
  const th = new ProgressThrottle(p => out.push(p), 250, () => now)
  for (let i = 0; i <= 100; i++) { now = i * 10; th.report({ phase: 'applyPlan', done: i, total: 100 }) }
  t.same(out.map(p => p.done), [0, 25, 50, 75, 100], 'first, every 250 ms, and the final one')
  out.length = 0
  th.report({ phase: 'applyPlan', done: 100, total: 100 })
  now += 1000
  th.report({ phase: 'applyPlan', done: 100, total: 100 })
  t.same(out, [], 'the final report is sent once')
  th.report({ phase: 'sync', done: 0, total: 10 })
  th.report({ phase: 'sync', done: 5, total: 10 })
  th.report({ phase: 'sync', done: 10, total: 10 })
  t.same(out.map(p => `${p.phase}:${p.done}`), ['sync:0', 'sync:10'], 'a new phase reports at once; its last report too')
})

t.test('lines: split across chunks, UTF-8 kept, oversized lines dropped and reported', async t => {
  const input = new PassThrough()
  const lines: string[] = []
  let oversized = 0
  const done = new Promise<void>(resolve => readLines(input, 1024, { line: l => lines.push(l), oversized: () => { oversized++ }, end: resolve }))
  const euro = Buffer.from('"€"\n')
  input.write('{"a":')
  input.write('1}\r\n')
  input.write(euro.subarray(0, 2)) // split inside the multi-byte character
  input.write(euro.subarray(2))
  input.write(Buffer.alloc(700, 'x'))
  input.write(Buffer.alloc(700, 'x')) // 1400 bytes without a newline: too long
  input.write(Buffer.alloc(3000, 'y'))
  input.write('\nafter\n')
  input.write(Buffer.concat([Buffer.alloc(2000, 'z'), Buffer.from('\nsame chunk\n')])) // a long line within one chunk
  input.end('tail')
  await done
  t.same(lines, ['{"a":1}', '"€"', 'after', 'same chunk', 'tail'])
  t.equal(oversized, 2)
})

t.test('the target queue runs one at a time in order; a waiting request cancelled never runs', async t => {
  const q = new SerialQueue()
  const log: string[] = []
  let release: () => void = () => {}
  const first = q.run(new Job(), async () => { log.push('1 start'); await new Promise<void>(resolve => { release = resolve }); log.push('1 end') })
  const j2 = new Job()
  const second = q.run(j2, async () => { log.push('2 ran') })
  const third = q.run(new Job(), async () => { log.push('3 ran') })
  t.ok(q.busy)
  j2.cancel()
  await t.rejects(second, { code: 'CANCELLED' })
  release()
  await first
  await third
  t.same(log, ['1 start', '1 end', '3 ran'])
  const j4 = new Job()
  j4.cancel()
  await t.rejects(q.run(j4, async () => { log.push('4 ran') }), { code: 'CANCELLED' })
  t.notOk(log.includes('4 ran'))
})
