import type { ErrorCode } from './errorcodes'

/**
 * One error type for the whole tool. Every user-facing failure carries a stable
 * `code` (documented in the README's error table), PostgreSQL-style message,
 * optional detail and hint. Adapters map it once: CLI → exit 1 + "pgrewind: error: …",
 * JSON-RPC → error object, Ansible → fail_json.
 */
export type { ErrorCode }

export interface ErrorFields {
  detail?: string
  hint?: string
  /** structured context: file, LSN, … (never secrets) */
  data?: Record<string, unknown>
}

export class PgRewindError extends Error {
  readonly code: ErrorCode
  readonly detail?: string
  readonly hint?: string
  readonly data?: Record<string, unknown>

  constructor (code: ErrorCode, message: string, fields: ErrorFields = {}) {
    super(message)
    this.name = 'PgRewindError'
    this.code = code
    this.detail = fields.detail
    this.hint = fields.hint
    this.data = fields.data
  }

  toJSON (): Record<string, unknown> {
    return { code: this.code, message: this.message, detail: this.detail, hint: this.hint, data: this.data }
  }
}

export function isPgRewindError (e: unknown): e is PgRewindError {
  return e instanceof PgRewindError
}

/** Wrap anything thrown into a PgRewindError without losing a typed one. */
export function asPgRewindError (e: unknown): PgRewindError {
  if (e instanceof PgRewindError) return e
  const err = e as NodeJS.ErrnoException
  return new PgRewindError('INTERNAL', err?.message ?? String(e), { data: err?.code ? { errno: err.code } : undefined })
}
