import t from 'tap'
import { randomBytes } from 'node:crypto'
import { RpcChild, RpcMessage } from './helpers/rpcclient'

/**
 * The protocol layer of `pgrewind rpc`, against the real server in a child process:
 * every kind of bad input is answered, and the server keeps serving afterwards.
 * (No cluster is needed: errors from the steps come from directories that are not
 * data directories.)
 */

const NOT_A_DATA_DIR = '/nonexistent/pgrewind-test'

function errorOf (m: RpcMessage): { code: number, kind: string } {
  return { code: m.error?.code ?? 0, kind: m.error?.data?.kind }
}

t.test('malformed JSON, unknown method, invalid params, invalid requests, batches', async t => {
  const c = new RpcChild()
  t.teardown(() => c.kill())
  const parse = c.expect(null)
  c.writeRaw('{"jsonrpc":"2.0","id":1,"method":\n')
  t.same(errorOf(await parse), { code: -32700, kind: 'PARSE_ERROR' })

  const unknown = await c.call('noSuchMethod', {})
  t.same(errorOf(unknown), { code: -32601, kind: 'METHOD_NOT_FOUND' })

  const invalid = await c.call('findDivergence', { target: { pgdata: 'relative' }, source: { pgdata: '/s', connstr: 'x' }, extra: 1 })
  t.same(errorOf(invalid), { code: -32602, kind: 'INVALID_PARAMS' })
  const errs = invalid.error?.data?.errors as Array<{ instancePath: string, keyword: string }>
  t.ok(errs.some(e => e.instancePath === '/target/pgdata' && e.keyword === 'pattern'), 'the schema error for the relative path')
  t.ok(errs.some(e => e.keyword === 'additionalProperties'), 'the schema error for the unknown param')
  t.same(errorOf(await c.call('scanWal', [1, 2])), { code: -32602, kind: 'INVALID_PARAMS' }, 'by-position params refused')
  t.same(errorOf(await c.call('applyPlan')), { code: -32602, kind: 'INVALID_PARAMS' }, 'no params at all')

  // not requests
  const bad1 = c.expect(7)
  c.writeRaw('{"jsonrpc":"1.0","id":7,"method":"inspect"}\n')
  t.same(errorOf(await bad1), { code: -32600, kind: 'INVALID_REQUEST' }, 'wrong jsonrpc version, answered with its id')
  const bad2 = c.expect(null)
  c.writeRaw('42\n')
  t.same(errorOf(await bad2), { code: -32600, kind: 'INVALID_REQUEST' })
  const bad3 = c.expect(null)
  c.writeRaw('{"jsonrpc":"2.0","id":{"x":1},"method":"inspect"}\n')
  t.same(errorOf(await bad3), { code: -32600, kind: 'INVALID_REQUEST' }, 'an object id')
  const empty = c.expect(null)
  c.writeRaw('[]\n')
  t.same(errorOf(await empty), { code: -32600, kind: 'INVALID_REQUEST' }, 'empty batch')

  // a batch: valid and invalid members, a notification (no answer); one array back
  const before = c.messages.length
  const a = c.expect('b1', 'rpc.discover')
  const b = c.expect('b2')
  c.writeRaw(JSON.stringify([
    { jsonrpc: '2.0', id: 'b1', method: 'rpc.discover' },
    { jsonrpc: '2.0', id: 'b2', method: 'inspect', params: { pgdata: NOT_A_DATA_DIR } },
    { jsonrpc: '2.0', method: 'inspect', params: { pgdata: NOT_A_DATA_DIR } },
    'garbage'
  ]) + '\n')
  t.ok((await a).result?.openrpc, 'rpc.discover answered inside the batch')
  t.same(errorOf(await b), { code: -32031, kind: 'TARGET_IO' })
  await new Promise(resolve => setTimeout(resolve, 200))
  const batchAnswers = c.messages.slice(before)
  t.equal(batchAnswers.length, 3, 'three answers: two requests and the garbage member, none for the notification')
  t.same(errorOf(batchAnswers.find(m => m.id === null)!), { code: -32600, kind: 'INVALID_REQUEST' })

  // an all-valid batch goes through json-rpc-2.0 itself
  const v1 = c.expect('v1', 'inspect')
  const v2 = c.expect('v2', 'rpc.discover')
  c.writeRaw(JSON.stringify([{ jsonrpc: '2.0', id: 'v1', method: 'inspect', params: { pgdata: NOT_A_DATA_DIR } }, { jsonrpc: '2.0', id: 'v2', method: 'rpc.discover', params: [] }]) + '\n')
  t.equal((await v1).error?.data?.kind, 'TARGET_IO')
  t.equal((await v2).result?.info?.title, 'pgrewind')

  // a notification of an unknown method, and a response-shaped message: no answer, no harm
  c.notify('$/somethingElse', {})
  c.writeRaw('{"jsonrpc":"2.0","id":99,"result":1}\n')
  t.ok((await c.call('rpc.discover')).result, 'still serving')
  const { code } = await c.close()
  t.equal(code, 0, 'exits 0 when stdin closes')
  t.same(c.problems, [], 'stdout held only valid JSON-RPC messages')
  t.same(c.badStderrLines(), [], 'stderr held only JSON log lines')
})

t.test('oversized lines and binary garbage are answered; the server goes on', async t => {
  const c = new RpcChild(['--check-results', '--max-line-bytes', '4096'])
  t.teardown(() => c.kill())
  const big = c.expect(null)
  c.writeRaw(JSON.stringify({ jsonrpc: '2.0', id: 'big', method: 'inspect', params: { pgdata: '/' + 'x'.repeat(10000) } }) + '\n')
  const r = await big
  t.same(errorOf(r), { code: -32600, kind: 'REQUEST_TOO_LARGE' })
  t.notOk(c.messages.some(m => m.id === 'big'), 'the oversized request was not run')
  t.ok((await c.call('rpc.discover')).result, 'serving after an oversized line')

  const garbage = c.expect(null)
  c.writeRaw(Buffer.concat([randomBytes(3000).map(b => b === 10 ? 0 : b), Buffer.from('\n')]))
  const g = await garbage
  t.ok(g.error?.code === -32700 || g.error?.code === -32600, `binary garbage answered with a protocol error (${g.error?.code ?? ''})`)
  const nul = c.expect(null)
  c.writeRaw(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x0a]))
  t.same(errorOf(await nul), { code: -32700, kind: 'PARSE_ERROR' })
  t.ok((await c.call('rpc.discover')).result, 'serving after binary garbage')
  t.equal((await c.close()).code, 0)
  t.same(c.problems, [])
})

t.test('the default limit: a 65 MiB line is refused without holding it, quickly', async t => {
  const c = new RpcChild()
  t.teardown(() => c.kill())
  const big = c.expect(null)
  const t0 = Date.now()
  const chunk = Buffer.alloc(1024 * 1024, 'a')
  for (let i = 0; i < 65; i++) c.writeRaw(chunk)
  c.writeRaw('\n')
  t.same(errorOf(await big), { code: -32600, kind: 'REQUEST_TOO_LARGE' })
  t.ok((await c.call('rpc.discover')).result, 'still serving')
  t.ok(Date.now() - t0 < 20000, `done in ${Date.now() - t0} ms`)
  t.equal((await c.close()).code, 0)
})

t.test('stdin closed in the middle of a call, and in the middle of a line', async t => {
  // closed right after the request: the step is still starting in its worker
  const c = new RpcChild()
  t.teardown(() => c.kill())
  const a = c.send('findDivergence', { target: { pgdata: NOT_A_DATA_DIR }, source: { pgdata: NOT_A_DATA_DIR } }).answer
  const b = c.send('rpc.discover').answer
  const exit = c.close()
  t.equal((await a).error?.data?.kind, 'TARGET_IO', 'the call in flight is answered after stdin closed')
  t.ok((await b).result)
  t.equal((await exit).code, 0, 'then the server exits 0')

  // the last line has no newline: it still counts
  const d = new RpcChild()
  t.teardown(() => d.kill())
  const last = d.expect(5, 'rpc.discover')
  d.writeRaw('{"jsonrpc":"2.0","id":5,"method":"rpc.discover"}')
  await d.close()
  t.ok((await last).result, 'a complete request without its newline is answered')

  // a half-written line: a parse error, no crash
  const e = new RpcChild()
  t.teardown(() => e.kill())
  const half = e.expect(null)
  e.writeRaw('{"jsonrpc":"2.0","id":6,"meth')
  const st = await e.close()
  t.same(errorOf(await half), { code: -32700, kind: 'PARSE_ERROR' })
  t.equal(st.code, 0)
})

t.test('secrets never reach stdout or stderr, even in errors', async t => {
  const c = new RpcChild()
  t.teardown(() => c.kill())
  const r = await c.call('findDivergence', {
    target: { pgdata: NOT_A_DATA_DIR },
    source: { connstr: 'host=/nonexistent/socket port=1 user=u password=Sup3rS3cret dbname=postgres connect_timeout=2' }
  })
  t.ok(r.error !== undefined, 'fails (no such server or data directory)')
  const bad = await c.call('noSuch', { connstr: 'password=Sup3rS3cret' })
  t.equal(bad.error?.code, -32601)
  const garbage = c.expect(null)
  c.writeRaw('password=Sup3rS3cret not json\n')
  t.equal((await garbage).error?.code, -32700)
  await c.close()
  const all = JSON.stringify(c.messages) + c.stderr
  t.notMatch(all, /Sup3rS3cret/, 'the password appears nowhere')
})

t.test('as root, methods that change a target are refused; reading is fine', async t => {
  const c = new RpcChild(['--check-results'], {}, true)
  t.teardown(() => c.kill())
  const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0
  const params = { target: { pgdata: NOT_A_DATA_DIR }, source: { pgdata: NOT_A_DATA_DIR } }
  const r = await c.call('findDivergence', params)
  // (it may crash-recover the target; a dry run may not)
  t.equal(r.error?.data?.kind, isRoot ? 'RUN_AS_ROOT' : 'TARGET_IO')
  t.equal((await c.call('findDivergence', { ...params, options: { dryRun: true } })).error?.data?.kind, 'TARGET_IO', 'a dry run only reads')
  t.equal((await c.call('inspect', { pgdata: NOT_A_DATA_DIR })).error?.data?.kind, 'TARGET_IO')
  t.equal((await c.close()).code, 0)
})
