import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { ErrorCode, PgRewindError } from '../errors'
import { Progress } from '../steps/types'
import { Job } from './job'
import { LogLevel } from './log'
import { StepMethod } from './handlers'
import { WORKER_HEAP_LIMITS } from '../heap'

export interface WorkerInput {
  method: StepMethod
  params: unknown
  cancelFlag: SharedArrayBuffer
}

export type WorkerMessage =
  | { t: 'log', level: LogLevel, msg: string }
  | { t: 'progress', p: Progress }
  | { t: 'done', result: unknown }
  | { t: 'error', error: { pg: true, code: ErrorCode, message: string, detail?: string, hint?: string, data?: Record<string, unknown> } | { pg: false, message: string, stack?: string } }

export interface RunHooks {
  log: (level: LogLevel, msg: string) => void
  progress: (p: Progress) => void
}

// compiled: dist/lib/rpc/worker.js; from the sources (ts-node, in development): worker.ts through ts-node
// single executable (scripts/package.js): the worker's bundle, kept in the executable as an asset
const FROM_SOURCE = __filename.endsWith('.ts')
const WORKER = join(__dirname, FROM_SOURCE ? 'worker.ts' : 'worker.js')
const WORKER_EXEC_ARGV = FROM_SOURCE ? ['--require', 'ts-node/register/transpile-only'] : undefined

let seaWorker: string | null | undefined
function seaWorkerCode (): string | null {
  if (seaWorker === undefined) {
    seaWorker = null
    try {
      const sea = require('node:sea') as { isSea: () => boolean, getAsset: (key: string, encoding: string) => string }
      if (sea.isSea()) seaWorker = sea.getAsset('worker.cjs', 'utf8')
    } catch { /* node:sea is Node >= 20.12, and only the executable has the asset */ }
  }
  return seaWorker
}

function startWorker (workerData: WorkerInput): Worker {
  const code = seaWorkerCode()
  if (code !== null) return new Worker(code, { eval: true, workerData, stdout: true, stderr: true, resourceLimits: WORKER_HEAP_LIMITS })
  return new Worker(WORKER, { workerData, stdout: true, stderr: true, execArgv: WORKER_EXEC_ARGV, resourceLimits: WORKER_HEAP_LIMITS })
}

/**
 * Run a step in a worker thread. The steps read and write files synchronously and
 * never yield to the event loop for long stretches (a WAL scan is one synchronous
 * pass), so on the main thread a `$/cancelRequest` — or any other request — could
 * not even be read until the step ended. In a worker the main thread stays free:
 * it reads the cancel, sets the shared flag, and the step stops at its next safe
 * point. The worker's stdout and stderr are captured into the log, so nothing a
 * step prints can reach the protocol stream. A crashed worker is an INTERNAL error
 * for its request, never the end of the server.
 */
export async function runInWorker (method: StepMethod, params: unknown, job: Job, hooks: RunHooks): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const input: WorkerInput = { method, params, cancelFlag: job.flagBuffer }
    const w = startWorker(input)
    let settled = false
    const settle = (f: () => void): void => {
      if (settled) return
      settled = true
      f()
      // the step has returned (its files and connections are closed): nothing left to wait for
      void w.terminate()
    }
    w.on('message', (m: WorkerMessage) => {
      switch (m.t) {
        case 'log': hooks.log(m.level, m.msg); break
        case 'progress': if (!settled) hooks.progress(m.p); break
        case 'done': settle(() => resolve(m.result)); break
        case 'error': settle(() => reject(m.error.pg
          ? new PgRewindError(m.error.code, m.error.message, { detail: m.error.detail, hint: m.error.hint, data: m.error.data })
          : new PgRewindError('INTERNAL', m.error.message, { detail: m.error.stack })))
      }
    })
    w.on('error', e => settle(() => reject(new PgRewindError('INTERNAL', `worker thread failed: ${e.message}`, { detail: e.stack }))))
    w.on('exit', code => settle(() => reject(new PgRewindError('INTERNAL', `worker thread exited (code ${code}) without a result`))))
    w.stdout.on('data', (d: Buffer) => hooks.log('info', `step wrote to stdout: ${d.toString().trimEnd()}`))
    w.stderr.on('data', (d: Buffer) => hooks.log('warn', `step wrote to stderr: ${d.toString().trimEnd()}`))
  })
}
