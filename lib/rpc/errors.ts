import { JSONRPCErrorCode, JSONRPCErrorException } from 'json-rpc-2.0'
import { ERROR_CODES, errorInfo, hintFor, PROTOCOL_ERRORS, ProtocolErrorKind } from '../errorcodes'
import { PgRewindError } from '../errors'
import { redact, redactDeep } from '../libpq/secrets'

export interface RpcError {
  code: number
  message: string
  data: { kind: string, detail?: string, hint?: string, [k: string]: unknown }
}

/**
 * The one mapping from anything thrown to a JSON-RPC error object:
 * PgRewindError → its code's JSON-RPC code (lib/errorcodes.ts) with
 * data {kind, detail, hint, …data}; a JSONRPCErrorException keeps its code; anything
 * else is a bug: -32603 with kind INTERNAL (json-rpc-2.0 would say code 0).
 */
export function toRpcError (e: unknown): RpcError {
  if (e instanceof PgRewindError) {
    const data: RpcError['data'] = { ...(e.data ?? {}), kind: e.code }
    if (e.detail !== undefined) data.detail = e.detail
    const hint = hintFor(e)
    if (hint !== undefined) data.hint = hint
    return { code: errorInfo(e.code).rpc, message: redact(e.message), data: redactDeep(data) }
  }
  if (e instanceof JSONRPCErrorException) {
    const data = (e.data ?? {}) as Record<string, unknown>
    return { code: e.code, message: redact(e.message), data: redactDeep({ kind: 'INTERNAL', ...data }) }
  }
  const message = e instanceof Error ? e.message : String(e)
  return { code: JSONRPCErrorCode.InternalError, message: redact(message), data: { kind: 'INTERNAL', hint: ERROR_CODES.INTERNAL.hint } }
}

/** An error the protocol layer answers with itself. */
export function protocolError (kind: ProtocolErrorKind, detail?: string, extra: Record<string, unknown> = {}): RpcError {
  const p = PROTOCOL_ERRORS[kind]
  const data: RpcError['data'] = { ...extra, kind, hint: p.hint }
  if (detail !== undefined) data.detail = detail
  return { code: p.rpc, message: p.message, data }
}

/** Throwable form, for json-rpc-2.0 middleware and methods. */
export function rpcException (err: RpcError): JSONRPCErrorException {
  return new JSONRPCErrorException(err.message, err.code, err.data)
}
