import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Ajv from 'ajv'
import openrpcDocument from '@open-rpc/meta-schema'
import jsonSchemaMeta from '@json-schema-tools/meta-schema'
import { METHODS, CLIENT_NOTIFICATIONS } from '../../lib/rpc/methods'
import { openRpcDocument } from '../../lib/rpc/openrpc'
import { createAjv, schemaErrors } from '../../lib/contract/validate'
import { schemaFiles } from '../../lib/contract/schemas'

const gen = require('../../scripts/gen-schemas.js') as { render: () => string, OUT: string }
const ROOT = join(__dirname, '..', '..')

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

t.test('lib/contract/schemas.ts is what npm run gen:schemas writes', async t => {
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
