import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import Ajv from 'ajv'
import { JSONRPCErrorException } from 'json-rpc-2.0'
import openrpcDocument from '@open-rpc/meta-schema'
import jsonSchemaMeta from '@json-schema-tools/meta-schema'
import { ERROR_CODES, errorTableMarkdown, hintFor, PROTOCOL_ERRORS } from '../lib/errorcodes'
import { PgRewindError } from '../lib/errors'
import { toRpcError } from '../lib/rpc/errors'
import { cancelledError, Job } from '../lib/rpc/job'
import { readLines } from '../lib/rpc/lines'
import { METHODS, CLIENT_NOTIFICATIONS } from '../lib/rpc/methods'
import { openRpcDocument } from '../lib/rpc/openrpc'
import { ProgressThrottle } from '../lib/rpc/progress'
import { SerialQueue } from '../lib/rpc/queue'
import { redact } from '../lib/rpc/redact'
import { createAjv, schemaErrors } from '../lib/rpc/validate'
import { schemaFiles } from '../lib/rpc/generated/schemas'
import { Progress } from '../lib/steps/types'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const gen = require('../scripts/gen-schemas.js') as { render: () => string, OUT: string }
const ROOT = join(__dirname, '..')

t.test('every file in schemas/ compiles under strict ajv 2020-12, and every method has both schemas', async t => {
  const files = readdirSync(join(ROOT, 'schemas')).filter(f => f.endsWith('.json')).sort()
  t.same(Object.keys(schemaFiles).sort(), files, 'the generated module holds every schema file')
  const ajv = createAjv()
  for (const [f, s] of Object.entries(schemaFiles)) {
    t.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema', `${f} is 2020-12`)
    t.ok(ajv.getSchema(s.$id), `${f} compiles`)
  }
  for (const m of Object.keys(METHODS)) {
    t.ok(files.includes(`${m}.params.json`) && files.includes(`${m}.result.json`), `${m} has params and result schemas`)
  }
})

t.test('lib/rpc/generated/schemas.ts is what npm run gen:schemas writes', async t => {
  t.equal(readFileSync(gen.OUT, 'utf8'), gen.render(), 'up to date (run npm run gen:schemas)')
})

t.test('shared definitions: LSN, data dir, source', async t => {
  const ok = (id: string, v: unknown): boolean => schemaErrors({ $id: id }, v) === null
  const lsn = 'https://pgrewind.invalid/schemas/defs.json#/$defs/lsn'
  for (const good of ['0/0', '0/3000060', 'FFFFFFFF/FFFFFFFF', '1A/B']) t.ok(ok(lsn, good), `${good} is an LSN`)
  for (const bad of ['0/3000060 ', '0x0/1', '1/2/3', 'a/b', '123456789/0', '/1', '']) t.notOk(ok(lsn, bad), `"${bad}" is not an LSN`)
  const src = 'https://pgrewind.invalid/schemas/defs.json#/$defs/source'
  t.ok(ok(src, { pgdata: '/x' }))
  t.ok(ok(src, { connstr: 'host=a' }))
  t.notOk(ok(src, { pgdata: '/x', connstr: 'host=a' }), 'not both')
  t.notOk(ok(src, { pgdata: 'relative/dir' }), 'data directories are absolute')
  t.notOk(ok(src, {}), 'not neither')
  // buildPlan's scan is required exactly when a rewind is needed
  const div = { rewindNeeded: true }
  const params = { target: { pgdata: '/t' }, source: { pgdata: '/s' } }
  const e1 = schemaErrors(METHODS.buildPlan.params, { ...params, divergence: div }) ?? []
  t.ok(e1.some(e => e.keyword === 'required' && (e.params as { missingProperty?: string }).missingProperty === 'scan'), 'scan required with rewindNeeded')
  const e2 = schemaErrors(METHODS.rewind.params, { ...params, writeRecoveryConf: true }) ?? []
  t.ok(e2.length > 0, 'rewind with writeRecoveryConf needs a source server')
  t.equal(schemaErrors(METHODS.rewind.params, { target: { pgdata: '/t' }, source: { connstr: 'host=x' }, writeRecoveryConf: true }), null)
})

t.test('rpc.discover is a valid OpenRPC document listing every method with its schemas', async t => {
  const doc = openRpcDocument('1.2.3') as any
  // both meta-schemas are draft-07 under a custom $schema URL: validate with ajv's draft-07
  const meta = JSON.parse(JSON.stringify(openrpcDocument))
  delete meta.$schema
  const schemaMeta = JSON.parse(JSON.stringify(jsonSchemaMeta))
  delete schemaMeta.$schema
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, logger: false })
  // the OpenRPC meta-schema refers to it both with and without the trailing slash of its $id
  ajv.addSchema(schemaMeta)
  ajv.addSchema(schemaMeta, 'https://meta.json-schema.tools')
  const valid = ajv.validate(meta, doc)
  t.ok(valid, `valid OpenRPC: ${JSON.stringify(ajv.errors?.slice(0, 5))}`)
  t.equal(doc.info.version, '1.2.3')
  const names = doc.methods.map((m: { name: string }) => m.name)
  t.same(names.sort(), [...Object.keys(METHODS), ...Object.keys(CLIENT_NOTIFICATIONS)].sort())
  for (const m of doc.methods) {
    if (m.name in METHODS) t.ok(m.result?.schema !== undefined, `${m.name} has a result schema`)
    t.ok(Array.isArray(m.params), `${m.name} has params`)
  }
  const fd = doc.methods.find((m: { name: string }) => m.name === 'findDivergence')
  t.same(fd.params.map((p: { name: string, required: boolean }) => [p.name, p.required]),
    [['target', true], ['source', true], ['options', false], ['progressToken', false]])
  // every reference resolves inside the document
  const refs: string[] = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { if (k === '$ref') refs.push(x as string); else walk(x) }
  }
  walk(doc)
  t.ok(refs.length > 50)
  for (const r of new Set(refs)) t.ok(doc.components.schemas[r.replace('#/components/schemas/', '')] !== undefined, `${r} resolves`)
  // the document's schemas stand alone and say what schemas/ says
  const base = 'https://pgrewind.invalid/doc.json'
  const alone = JSON.parse(JSON.stringify(doc).replace(/#\/components\/schemas\//g, `${base}#/$defs/`))
  const ajv2 = createAjv()
  ajv2.addSchema({ $id: base, $defs: alone.components.schemas })
  const paramsOf = (name: string): object => alone.methods.find((m: { name: string }) => m.name === name)['x-params-schema']
  t.ok(ajv2.validate(paramsOf('findDivergence'), { target: { pgdata: '/t' }, source: { connstr: 'host=x' } }))
  t.notOk(ajv2.validate(paramsOf('findDivergence'), { target: { pgdata: 't' }, source: { pgdata: '/s' } }), 'relative data directory refused')
  t.notOk(ajv2.validate(paramsOf('buildPlan'), { target: { pgdata: '/t' }, source: { pgdata: '/s' }, divergence: { rewindNeeded: true } }))
})

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
