import { ERROR_CODES, PROTOCOL_ERRORS } from '../errorcodes'
import { defs } from '../contract/schemas'
import { CLIENT_NOTIFICATIONS, METHODS, SERVER_NOTIFICATIONS } from './methods'

export const OPENRPC_VERSION = '1.3.2'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
interface SchemaLike { readonly [k: string]: unknown }

/**
 * schemas/ embedded into one OpenRPC document: the shared definitions become
 * components.schemas, and "defs.json#/$defs/x" references become
 * "#/components/schemas/x", so the document stands alone. $schema/$id are dropped
 * from embedded schemas (inside the document they would re-base the references).
 */
function embed (v: unknown): Json {
  if (Array.isArray(v)) return v.map(embed)
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: Json } = {}
    for (const [k, x] of Object.entries(v)) {
      if (k === '$schema' || k === '$id') continue
      if (k === '$ref' && typeof x === 'string') {
        const m = /^defs\.json#\/\$defs\/([A-Za-z0-9_]+)$/.exec(x)
        if (m === null) throw new Error(`unexpected $ref "${x}" in schemas/`)
        out[k] = `#/components/schemas/${m[1]}`
      } else {
        out[k] = embed(x)
      }
    }
    return out
  }
  return v as Json
}

/** OpenRPC's by-name params: one content descriptor per property of the params schema. */
function contentDescriptors (params: SchemaLike): Json[] {
  const props = (params.properties ?? {}) as Record<string, unknown>
  const required = new Set((params.required ?? []) as string[])
  return Object.entries(props).map(([name, schema]) => ({ name, required: required.has(name), schema: embed(schema) }))
}

function method (name: string, params: SchemaLike, result: SchemaLike | null): { [k: string]: Json } {
  const m: { [k: string]: Json } = {
    name,
    summary: String(params.description ?? ''),
    paramStructure: 'by-name',
    params: contentDescriptors(params),
    // conditions across params (buildPlan's scan, rewind's source) that by-name
    // descriptors cannot express: the whole params schema
    'x-params-schema': embed(params)
  }
  if (result !== null) m.result = { name: `${name}Result`, description: String(result.description ?? ''), schema: embed(result) }
  return m
}

/** The rpc.discover result. */
export function openRpcDocument (version: string): { [k: string]: Json } {
  const errors: { [k: string]: Json } = {}
  for (const [kind, e] of [...Object.entries(PROTOCOL_ERRORS), ...Object.entries(ERROR_CODES)]) {
    errors[kind] = { code: e.rpc, message: e.message, data: { kind, hint: e.hint ?? null } }
  }
  const methods: Json[] = Object.entries(METHODS).map(([name, m]) => method(name, m.params, m.result))
  for (const [name, params] of Object.entries(CLIENT_NOTIFICATIONS)) methods.push(method(name, params, null))
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: 'pgrewind',
      version,
      description: 'Rewind a diverged PostgreSQL 13-18 data directory as JSON-Schema-validated steps. NDJSON over stdin/stdout: one JSON-RPC 2.0 message per line.'
    },
    methods,
    components: {
      schemas: embed((defs as SchemaLike).$defs) as { [k: string]: Json },
      errors
    },
    'x-notifications': Object.entries(SERVER_NOTIFICATIONS).map(([name, params]) => ({
      name,
      description: String(params.description ?? ''),
      params: embed(params)
    }))
  }
}
