/**
 * JSON text written out in pieces, never held whole: a plan of 100,000 entries is
 * tens of megabytes of JSON, and building it as one string (and, for the canonical
 * form, every nested level's string before it is joined) costs several times that
 * in memory. `writeJson` produces exactly the text of `JSON.stringify(v)`, or, with
 * `sortKeys`, of `canonicalJson(v)` (lib/rewind/plandigest.ts) — the same bytes, so
 * the same digests — handing it to `out` in chunks of about CHUNK characters.
 *
 * It walks the top levels of the value itself and stringifies what lies deeper
 * (a plan entry, a relation of the discard report) in one call each: the long
 * arrays of a plan or a result are never deeper than DEPTH.
 */

const CHUNK = 64 * 1024
const DEPTH = 3

export interface JsonOptions {
  /** object keys sorted at every level, as the plan digest hashes them (canonicalJson) */
  sortKeys?: boolean
}

/**
 * An object that is an array in JSON and writes its items one at a time (a plan's
 * entries in columns, lib/rewind/planentries.ts): never made into one array here.
 */
export const JSON_ITEMS: unique symbol = Symbol('jsonItems')
export interface JsonItems { [JSON_ITEMS]: () => Iterable<unknown> }
const itemsOf = (x: object): Iterable<unknown> | null =>
  typeof (x as Partial<JsonItems>)[JSON_ITEMS] === 'function' ? (x as JsonItems)[JSON_ITEMS]() : null

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const omitted = (x: unknown): boolean => x === undefined || typeof x === 'function' || typeof x === 'symbol'

export function writeJson (v: unknown, out: (chunk: string) => void, o: JsonOptions = {}): void {
  const sortKeys = o.sortKeys === true
  let buf = ''
  const emit = (s: string): void => {
    buf += s
    if (buf.length >= CHUNK) {
      out(buf)
      buf = ''
    }
  }
  const whole = (x: unknown): string => sortKeys ? canonicalText(x) : JSON.stringify(x) ?? 'null'
  const walk = (x: unknown, depth: number): void => {
    const items = x !== null && typeof x === 'object' ? itemsOf(x) : null
    if (items !== null) {
      emit('[')
      let first = true
      for (const item of items) {
        if (!first) emit(',')
        first = false
        walk(item, depth + 1)
      }
      emit(']')
      return
    }
    // what has a toJSON (a Date …) is JSON.stringify's business, as is anything deep enough to be small
    if (x === null || typeof x !== 'object' || depth >= DEPTH || (!sortKeys && typeof (x as { toJSON?: unknown }).toJSON === 'function')) {
      emit(whole(x))
      return
    }
    if (Array.isArray(x)) {
      emit('[')
      for (let i = 0; i < x.length; i++) {
        if (i > 0) emit(',')
        if (omitted(x[i]) && !sortKeys) emit('null')
        else walk(x[i], depth + 1)
      }
      emit(']')
      return
    }
    const obj = x as Record<string, unknown>
    let keys = Object.keys(obj)
    keys = sortKeys ? keys.filter(k => obj[k] !== undefined).sort() : keys.filter(k => !omitted(obj[k]))
    emit('{')
    for (let i = 0; i < keys.length; i++) {
      emit(`${i > 0 ? ',' : ''}${JSON.stringify(keys[i])}:`)
      walk(obj[keys[i]], depth + 1)
    }
    emit('}')
  }
  walk(v, 0)
  if (buf.length > 0) out(buf)
}

/**
 * The canonical JSON of a (small) value: keys sorted at every level, undefined
 * members left out. The plan digest's text; `writeJson(v, out, { sortKeys: true })`
 * writes the same in pieces.
 */
export function canonicalText (v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
  const items = itemsOf(v)
  if (items !== null) return canonicalText(Array.from(items))
  if (Array.isArray(v)) return `[${v.map(canonicalText).join(',')}]`
  const o = v as Record<string, unknown>
  return `{${Object.keys(o).filter(k => o[k] !== undefined).sort().map(k => `${JSON.stringify(k)}:${canonicalText(o[k])}`).join(',')}}`
}
