import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { JSONRPCErrorException } from 'json-rpc-2.0'
import { ERROR_CODES, errorTableMarkdown, hintFor, PROTOCOL_ERRORS } from '../../lib/errorcodes'
import { PgRewindError } from '../../lib/errors'
import { toRpcError } from '../../lib/rpc/errors'
import { cancelledError } from '../../lib/rpc/job'
import { redact } from '../../lib/libpq/secrets'

const ROOT = join(__dirname, '..', '..')

t.test('README "Error codes" is the table of lib/errorcodes.ts', async t => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const at = readme.indexOf('## Error codes')
  t.ok(at >= 0, 'README has an "Error codes" section')
  const section = readme.slice(at)
  const table = section.slice(section.indexOf('| code |'))
  const end = table.indexOf('\n\n')
  t.equal(end >= 0 ? table.slice(0, end + 1) : table, errorTableMarkdown(), 'README table = errorTableMarkdown() (paste it from there)')
})

t.test('error codes: domain codes in -32000..-32099, unique; the exceptions are the standard ones', async t => {
  const seen = new Map<number, string>()
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    if (code === 'INVALID_PARAMS') t.equal(info.rpc, -32602)
    else if (code === 'INTERNAL') t.equal(info.rpc, -32603)
    else if (code === 'CANCELLED') t.equal(info.rpc, -32800)
    else {
      t.ok(info.rpc <= -32000 && info.rpc >= -32099, `${code}: ${info.rpc} in the implementation range`)
      t.notOk(seen.has(info.rpc), `${code}: ${info.rpc} not also used by ${seen.get(info.rpc) ?? ''}`)
      seen.set(info.rpc, code)
    }
    t.ok(info.message.length > 0 && info.hint !== undefined, `${code} has a message and a hint`)
  }
  t.equal(PROTOCOL_ERRORS.PARSE_ERROR.rpc, -32700)
  t.equal(PROTOCOL_ERRORS.METHOD_NOT_FOUND.rpc, -32601)
})

t.test('one mapping to JSON-RPC errors; secrets never pass', async t => {
  const e = new PgRewindError('PLAN_STALE', 'the target changed since the plan was computed', { detail: 'd', data: { path: 'x', kind: 'not me' } })
  const r = toRpcError(e)
  t.equal(r.code, ERROR_CODES.PLAN_STALE.rpc)
  t.same(r.data, { path: 'x', kind: 'PLAN_STALE', detail: 'd', hint: ERROR_CODES.PLAN_STALE.hint }, 'kind wins over data.kind; the table\'s hint fills in')
  t.equal(hintFor(new PgRewindError('USAGE', 'x', { hint: 'own' })), 'own')
  const internal = toRpcError(new TypeError('boom'))
  t.equal(internal.code, -32603, 'a plain Error is -32603, not json-rpc-2.0\'s code 0')
  t.equal(internal.data.kind, 'INTERNAL')
  t.equal(toRpcError(cancelledError()).code, -32800)
  t.equal(toRpcError(new JSONRPCErrorException('Invalid params', -32602, { kind: 'INVALID_PARAMS' })).code, -32602)
  const secret = toRpcError(new PgRewindError('SOURCE_CONNECTION', 'could not connect: host=h password=hunter2 user=u', {
    detail: "uri postgres://u:hunter2@h/db and password='a b\\' c'", data: { password: 'hunter2', nested: ['sslpassword=hunter2'] }
  }))
  t.notMatch(JSON.stringify(secret), /hunter2|a b/, 'no password in message, detail or data')
  t.match(secret.message, /password=\*{8} user=u/)
  t.equal(redact('postgresql://u:p%40ss@h:5432/db'), 'postgresql://u:********@h:5432/db')
})
