/**
 * One error type for the whole tool. Every user-facing failure carries a stable
 * `code` (documented in the README's error table), PostgreSQL-style message,
 * optional detail and hint. Adapters map it once: CLI → exit 1 + "pgrewind: error: …",
 * JSON-RPC → error object, Ansible → fail_json.
 */
export type ErrorCode =
  // input / usage
  | 'USAGE'
  | 'INVALID_PARAMS'
  // format layer
  | 'INVALID_LSN'
  | 'CONTROL_FILE_SIZE'
  | 'CONTROL_FILE_CRC'
  | 'CONTROL_FILE_VERSION'
  | 'UNSUPPORTED_VERSION'
  | 'INVALID_SEGMENT_SIZE'
  | 'HISTORY_SYNTAX'
  | 'HISTORY_INVALID'
  | 'WAL_MISSING'
  | 'WAL_READ'
  | 'WAL_INVALID_PAGE'
  | 'WAL_INVALID_RECORD'
  | 'WAL_CRC'
  | 'WAL_END'
  | 'RELPATH'
  // rewind preconditions
  | 'DIFFERENT_SYSTEMS'
  | 'INCOMPATIBLE_CLUSTERS'
  | 'NO_CHECKSUMS'
  | 'TARGET_NOT_CLEAN'
  | 'TARGET_RUNNING'
  | 'SOURCE_NOT_CLEAN'
  | 'SOURCE_RUNNING'
  | 'NO_COMMON_ANCESTOR'
  | 'CRASH_RECOVERY_FAILED'
  | 'POSTGRES_NOT_FOUND'
  | 'RESTORE_COMMAND'
  | 'UNRECOGNIZED_SPECIAL_RECORD'
  | 'FILE_TYPE_MISMATCH'
  | 'SOURCE_CHANGED'
  | 'SOURCE_IO'
  | 'TARGET_IO'
  | 'UNSAFE_PATH'
  | 'PLAN_STALE'
  | 'PLAN_DIGEST'
  | 'CANCELLED'
  | 'SOURCE_CONNECTION'
  | 'SOURCE_PRIVILEGES'
  // server source (--source-server)
  | 'CONNSTR_INVALID'
  | 'SOURCE_IN_RECOVERY'
  | 'SOURCE_SETTINGS'
  | 'SOURCE_QUERY'
  | 'SOURCE_PROTOCOL'
  | 'SOURCE_STATE'
  | 'RUN_AS_ROOT'
  | 'INTERNAL'

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
