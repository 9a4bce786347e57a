import { formatConnString, parseConnString, SECRET_KEYWORDS } from './conninfo'

/**
 * Secrets never leave the server in logs or error messages. Connection strings are
 * the one place a secret can hide in otherwise harmless text (a source's
 * description, a libpq error echoing its input): mask `password=…`,
 * `sslpassword=…` and the password of a `postgres://user:password@` URI.
 */
const KEYWORD_SECRET = /\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s'"]+)/gi
const URI_SECRET = /(postgres(?:ql)?:\/\/[^:@/?\s]*:)([^@/?\s]*)@/gi

export function redact (text: string): string {
  return text.replace(KEYWORD_SECRET, '$1********').replace(URI_SECRET, '$1********@')
}

/** The same for every string in a JSON-like value (error data). */
export function redactDeep<T> (v: T): T {
  if (typeof v === 'string') return redact(v) as T
  if (Array.isArray(v)) return v.map(x => redactDeep(x)) as T
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = /^(ssl)?password$/i.test(k) ? '********' : redactDeep(x)
    return out as T
  }
  return v
}

/** The connection string without its secrets (for a plan file: apply takes the password from PGPASSWORD or a password file). */
export function withoutSecrets (connstr: string): string {
  return formatConnString([...parseConnString(connstr)].filter(([k]) => !SECRET_KEYWORDS.has(k)))
}

/** pairs with every secret value replaced, for display. */
export function redactPairs (pairs: Array<[string, string]>): Array<[string, string]> {
  return pairs.map(([k, v]) => [k, SECRET_KEYWORDS.has(k) ? '********' : v])
}

/** True when the string itself carries a secret (then it must not stay visible in our argv). */
export function connStringHasSecret (connstr: string): boolean {
  try {
    const m = parseConnString(connstr)
    return [...SECRET_KEYWORDS].some(k => (m.get(k) ?? '') !== '')
  } catch {
    // unparsable: assume the worst
    return /pass/i.test(connstr)
  }
}
