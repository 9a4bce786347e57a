import { createHash } from 'node:crypto'
import type { Plan } from '../steps/types'

/**
 * A plan pins its own content: the sha256 of its canonical JSON (object keys sorted
 * at every level, so the same content always has the same text), everything but
 * the digest itself.
 */
export function canonicalJson (v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  const o = v as Record<string, unknown>
  return `{${Object.keys(o).filter(k => o[k] !== undefined).sort().map(k => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`
}

export function sha256Hex (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export function planDigest (plan: Omit<Plan, 'digest'> | Plan): string {
  const { digest: _ignored, ...content } = plan as Plan
  return sha256Hex(canonicalJson(content))
}
