import { ChildProcess, spawn } from 'node:child_process'
import { childEnv, spawnIdentity } from '../../lib/harness/runas'
import { createAjv } from '../../lib/contract/validate'
import { METHODS, MethodName, SERVER_NOTIFICATIONS } from '../../lib/rpc/methods'
import { CLI } from '../../lib/harness/cli'
import { cliCommand } from '../../lib/harness/runtime'

/**
 * A JSON-RPC client of `pgrewind rpc` in a child process (the compiled CLI, run as
 * the unprivileged user when the tests are root), speaking NDJSON over its stdin
 * and stdout like any orchestrator would. It checks as it reads that stdout holds
 * nothing but JSON-RPC messages, that every success result matches its method's
 * result schema, every error has data.kind and every $/progress its schema, and
 * that every stderr line is a JSON object.
 */
export interface RpcMessage {
  jsonrpc: '2.0'
  id?: string | number | null
  method?: string
  params?: any
  result?: any
  error?: { code: number, message: string, data?: any }
}

const ajv = createAjv()

export class RpcChild {
  readonly child: ChildProcess
  /** every message received, in order */
  readonly messages: RpcMessage[] = []
  readonly problems: string[] = []
  stderr = ''
  private buf = ''
  private nextId = 1
  private readonly waiters = new Map<string, (m: RpcMessage) => void>()
  private readonly methodOf = new Map<string, string>()
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>

  /** `asSelf`: keep this process's user (root in CI) instead of the unprivileged one */
  constructor (args: string[] = ['--check-results'], env: Record<string, string | undefined> = {}, asSelf = false) {
    const c = asSelf ? { cmd: process.execPath, args: [CLI, 'rpc', ...args] } : cliCommand(['rpc', ...args])
    this.child = spawn(c.cmd, c.args, { cwd: '/', env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'], ...(asSelf ? {} : spawnIdentity()) })
    this.child.stdin?.on('error', () => { /* the server may be gone already */ })
    this.child.stdout?.on('data', (d: Buffer) => this.onData(d.toString()))
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.exited = new Promise(resolve => this.child.on('close', (code, signal) => resolve({ code, signal })))
  }

  private onData (s: string): void {
    this.buf += s
    let nl: number
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl)
      this.buf = this.buf.slice(nl + 1)
      let msg: RpcMessage
      try {
        msg = JSON.parse(line)
      } catch {
        this.problems.push(`stdout line is not JSON: ${line.slice(0, 200)}`)
        continue
      }
      const list = Array.isArray(msg) ? msg as RpcMessage[] : [msg]
      for (const m of list) this.receive(m)
    }
  }

  private receive (m: RpcMessage): void {
    if (m?.jsonrpc !== '2.0') this.problems.push(`not a JSON-RPC 2.0 message: ${JSON.stringify(m).slice(0, 200)}`)
    this.messages.push(m)
    if (m.method !== undefined) {
      const schema = SERVER_NOTIFICATIONS[m.method as keyof typeof SERVER_NOTIFICATIONS]
      if (schema === undefined) this.problems.push(`unexpected notification ${m.method}`)
      else if (!ajv.validate(schema.$id, m.params)) this.problems.push(`${m.method} params fail their schema: ${JSON.stringify(ajv.errors)}`)
      return
    }
    const key = JSON.stringify(m.id)
    const method = this.methodOf.get(key)
    if (m.error !== undefined) {
      if (typeof m.error.data?.kind !== 'string') this.problems.push(`error without data.kind: ${JSON.stringify(m.error)}`)
    } else if (method !== undefined && !ajv.validate(METHODS[method as MethodName].result.$id, m.result)) {
      this.problems.push(`${method} result fails its schema: ${JSON.stringify(ajv.errors)}`)
    }
    const w = this.waiters.get(key)
    if (w !== undefined) {
      this.waiters.delete(key)
      w(m)
    }
  }

  /** Write raw text to the server's stdin. */
  writeRaw (s: string | Buffer): void { this.child.stdin?.write(s) }

  /** Send a request without waiting; returns its id and the promise of its answer. */
  send (method: string, params?: unknown, id: string | number = this.nextId++): { id: string | number, answer: Promise<RpcMessage> } {
    const answer = this.expect(id, method)
    this.writeRaw(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n')
    return { id, answer }
  }

  /** The answer to a request with this id (sent by send() or writeRaw()). */
  expect (id: string | number | null, method?: string): Promise<RpcMessage> {
    const key = JSON.stringify(id)
    if (method !== undefined) this.methodOf.set(key, method)
    return new Promise(resolve => this.waiters.set(key, resolve))
  }

  async call (method: string, params?: unknown): Promise<RpcMessage> {
    return await this.send(method, params).answer
  }

  /** The result, or a thrown error with the server's error object. */
  async result<T = any> (method: string, params?: unknown): Promise<T> {
    const r = await this.call(method, params)
    if (r.error !== undefined) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`)
    return r.result as T
  }

  notify (method: string, params?: unknown): void {
    this.writeRaw(JSON.stringify({ jsonrpc: '2.0', method, params }) + '\n')
  }

  notifications (method: string): RpcMessage[] {
    return this.messages.filter(m => m.method === method)
  }

  /** Close stdin; resolves with the exit status. */
  async close (): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    this.child.stdin?.end()
    return await this.exited
  }

  /** stderr lines that are not JSON objects (must be none). */
  badStderrLines (): string[] {
    return this.stderr.split('\n').filter(l => l !== '').filter(l => {
      try { return typeof JSON.parse(l) !== 'object' } catch { return true }
    })
  }

  kill (): void { this.child.kill('SIGKILL') }
}
