import { Readable } from 'node:stream'
import {
  createJSONRPCErrorResponse, createJSONRPCSuccessResponse, isJSONRPCRequest, JSONRPCErrorResponse, isJSONRPCResponse, isJSONRPCResponses,
  JSONRPCClient, JSONRPCID, JSONRPCRequest, JSONRPCResponse, JSONRPCServer, JSONRPCServerAndClient,
  JSONRPCServerMiddleware
} from 'json-rpc-2.0'
import { schemaErrors } from '../contract/validate'
import { Progress } from '../steps/types'
import { Dispatcher } from './dispatch'
import { protocolError, RpcError, rpcException, toRpcError } from './errors'
import { Job } from './job'
import { DEFAULT_MAX_LINE_BYTES, readLines } from './lines'
import { JsonLog } from './log'
import { CLIENT_NOTIFICATIONS, isMethod, METHODS, MethodName } from './methods'
import { ProgressThrottle } from './progress'

export interface ServeOptions {
  input: Readable
  /** protocol output: one line per call, nothing else may go there */
  write: (line: string) => void
  log: JsonLog
  version: string
  maxLineBytes?: number
  /** a result that fails its schema is answered as an INTERNAL error (tests); else it is logged */
  checkResults?: boolean
  /** the process runs as root: methods that change a target are refused */
  isRoot?: boolean
}

function errorResponse (id: JSONRPCID, e: RpcError): JSONRPCErrorResponse {
  return createJSONRPCErrorResponse(id, e.code, e.message, e.data)
}

function validId (id: unknown): id is JSONRPCID {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

/** Why `m` is not a JSON-RPC 2.0 request we can pass on, or null when it is one. */
function requestProblem (m: unknown): string | null {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return 'a request must be a JSON object'
  const r = m as Record<string, unknown>
  if (r.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"'
  if (typeof r.method !== 'string') return 'method must be a string'
  if ('id' in r && !validId(r.id)) return 'id must be a string, a number or null'
  if (r.params !== undefined && (r.params === null || typeof r.params !== 'object')) return 'params must be an object or an array'
  if ('result' in r || 'error' in r) return 'a request has no result or error'
  return null
}

function isResponseLike (m: unknown): boolean {
  return m !== null && typeof m === 'object' && (Array.isArray(m) ? (m.length > 0 && isJSONRPCResponses(m)) : isJSONRPCResponse(m as JSONRPCResponse))
}

/** JSON.stringify that cannot throw on a bigint (error data may carry one). */
function stringify (v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => typeof x === 'bigint' ? x.toString() : x)
}

const idKey = (id: JSONRPCID | undefined): string => JSON.stringify(id ?? null)

/**
 * `pgrewind rpc`: JSON-RPC 2.0, one message per line on `input`, answers and
 * notifications one per line through `write`. Requests run as they arrive (a batch's
 * members concurrently); steps that change a target go through one queue, in
 * arrival order. Nothing is kept between calls: every step gets all it needs in its
 * params. Resolves when the input has ended and every request has been answered.
 */
export async function serve (o: ServeOptions): Promise<void> {
  const { log } = o
  const dispatcher = new Dispatcher({ log, version: o.version, isRoot: o.isRoot, checkResults: o.checkResults })
  const jobs = new Map<string, Set<Job>>()
  const pending = new Set<Promise<void>>()

  const send = (payload: unknown): void => {
    let line: string
    try {
      line = stringify(payload)
    } catch (e) {
      const id = (payload as { id?: JSONRPCID })?.id ?? null
      line = stringify(errorResponse(id, toRpcError(e)))
    }
    o.write(line + '\n')
  }

  const server = new JSONRPCServer({ errorListener: () => { /* every failure is logged once, by the method wrapper */ } })
  server.mapErrorToJSONRPCErrorResponse = (id, e) => errorResponse(id, toRpcError(e))
  server.handleMethodNotFound = async (req: JSONRPCRequest) => req.id === undefined
    ? null
    : errorResponse(req.id, protocolError('METHOD_NOT_FOUND', `there is no method "${String(req.method).slice(0, 100)}"`))
  const client = new JSONRPCClient((payload) => { send(payload) })
  const sac = new JSONRPCServerAndClient(server, client, {
    errorListener: (msg: string) => log.log('warn', msg)
  })

  // Every request's params are checked against its schema before anything runs.
  const validateParams: JSONRPCServerMiddleware<void> = async (next, req, sp) => {
    const schema = isMethod(req.method)
      ? METHODS[req.method].params
      : CLIENT_NOTIFICATIONS[req.method as keyof typeof CLIENT_NOTIFICATIONS]
    if (schema !== undefined) {
      const errors = schemaErrors(schema, req.params ?? {})
      if (errors !== null) {
        throw rpcException({
          code: -32602,
          message: 'Invalid params',
          data: { kind: 'INVALID_PARAMS', detail: `params do not match schemas/${schema.$id.slice(schema.$id.lastIndexOf('/') + 1)}`, errors }
        })
      }
    }
    return await next(req, sp)
  }
  sac.applyServerMiddleware(validateParams)

  /** One request: registered for $/cancelRequest by its id, its progress sent as notifications. */
  const execute = async (method: MethodName, params: Record<string, unknown>, id: JSONRPCID | undefined): Promise<unknown> => {
    const job = new Job()
    const key = idKey(id)
    if (id !== undefined) {
      if (!jobs.has(key)) jobs.set(key, new Set())
      jobs.get(key)!.add(job)
    }
    const token = (params.progressToken as string | number | undefined) ?? id ?? undefined
    const throttle = new ProgressThrottle((p: Progress) => sac.notify('$/progress', token === undefined || token === null ? { ...p } : { token, ...p }))
    try {
      return await dispatcher.execute({ method, params, job, progress: p => throttle.report(p), id })
    } finally {
      jobs.get(key)?.delete(job)
      if (jobs.get(key)?.size === 0) jobs.delete(key)
    }
  }

  for (const name of Object.keys(METHODS) as MethodName[]) {
    sac.addMethodAdvanced(name, async (req: JSONRPCRequest) => {
      const t0 = Date.now()
      log.log('info', 'request', { method: name, id: req.id })
      try {
        const result = await execute(name, (req.params ?? {}) as Record<string, unknown>, req.id)
        log.log('info', 'done', { method: name, id: req.id, ms: Date.now() - t0 })
        return req.id === undefined ? null : createJSONRPCSuccessResponse(req.id, result)
      } catch (e) {
        const err = toRpcError(e)
        log.log(err.data.kind === 'INTERNAL' ? 'error' : 'info', `failed: ${err.message}`, { method: name, id: req.id, ms: Date.now() - t0, kind: err.data.kind })
        throw e
      }
    })
  }

  // $/cancelRequest {id}: stop that request at its next safe point; it then answers -32800.
  sac.addMethod('$/cancelRequest', (params: { id: JSONRPCID }) => {
    const set = jobs.get(idKey(params.id))
    log.log('info', set === undefined ? 'cancel: no such request in flight' : 'cancel', { cancels: params.id })
    for (const j of set ?? []) j.cancel()
    return null
  })

  /** One member of a batch, or a single message: a response to send, or null. */
  const answer = async (m: unknown): Promise<JSONRPCResponse | null> => {
    const problem = requestProblem(m)
    if (problem !== null) {
      const id = m !== null && typeof m === 'object' && validId((m as { id?: unknown }).id) ? (m as { id: JSONRPCID }).id : null
      return errorResponse(id, protocolError('INVALID_REQUEST', problem))
    }
    return await server.receive(m as JSONRPCRequest)
  }

  const handle = async (msg: unknown): Promise<void> => {
    // answers to requests of ours (we send none, but the client side of the pair handles them)
    if (isResponseLike(msg)) {
      await sac.receiveAndSend(msg as JSONRPCResponse, undefined, undefined)
      return
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0) {
        send(errorResponse(null, protocolError('INVALID_REQUEST', 'an empty batch')))
        return
      }
      if (msg.every(m => requestProblem(m) === null && isJSONRPCRequest(m as JSONRPCRequest))) {
        // json-rpc-2.0 runs the batch (concurrently) and sends the array of answers
        await sac.receiveAndSend(msg as JSONRPCRequest[], undefined, undefined)
        return
      }
      // invalid members get their own -32600 within the batch answer
      const answers = (await Promise.all(msg.map(answer))).filter((r): r is JSONRPCResponse => r !== null)
      if (answers.length > 0) send(answers)
      return
    }
    if (requestProblem(msg) === null) {
      await sac.receiveAndSend(msg as JSONRPCRequest, undefined, undefined)
      return
    }
    const r = await answer(msg)
    if (r !== null) send(r)
  }

  const track = (p: Promise<void>): void => {
    const q = p.catch((e: unknown) => log.log('error', `unexpected failure handling a message: ${(e as Error)?.message ?? String(e)}`))
      .finally(() => pending.delete(q))
    pending.add(q)
  }

  await new Promise<void>(resolve => {
    readLines(o.input, o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, {
      line: (line: string) => {
        if (line.trim() === '') return
        let msg: unknown
        try {
          msg = JSON.parse(line)
        } catch (e) {
          // never echo the line: it may hold anything, a password included
          const at = /position (\d+)/.exec((e as Error).message)?.[1]
          send(errorResponse(null, protocolError('PARSE_ERROR', `invalid JSON${at !== undefined ? ` at position ${at}` : ''} in a line of ${line.length} characters`)))
          return
        }
        track(handle(msg))
      },
      oversized: () => {
        send(errorResponse(null, protocolError('REQUEST_TOO_LARGE', `a line was longer than ${o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES} bytes; it was discarded`)))
      },
      end: () => resolve()
    })
  })
  log.log('info', pending.size > 0 ? `input closed; finishing ${pending.size} message(s) in flight` : 'input closed')
  while (pending.size > 0) await Promise.all([...pending])
}
