import { parentPort, workerData } from 'node:worker_threads'
import { PgRewindError } from '../errors'
import { openSource } from '../source/open'
import { Ports } from '../steps/types'
import { runStep } from './handlers'
import { checkFlag } from './job'
import { WorkerInput, WorkerMessage } from './runner'

/**
 * A worker thread runs one step (lib/rpc/runner.ts explains why). It reports logs
 * and progress as messages and ends with one `done` or `error` message.
 */
function post (m: WorkerMessage): void {
  parentPort?.postMessage(m)
}

function serializeError (e: unknown): Extract<WorkerMessage, { t: 'error' }>['error'] {
  if (e instanceof PgRewindError) return { pg: true, code: e.code, message: e.message, detail: e.detail, hint: e.hint, data: e.data }
  const err = e as Error
  return { pg: false, message: err?.message ?? String(e), stack: err?.stack }
}

const input = workerData as WorkerInput
const log: Ports['log'] = {
  info: msg => post({ t: 'log', level: 'info', msg }),
  progress: msg => post({ t: 'log', level: 'info', msg }),
  debug: msg => post({ t: 'log', level: 'debug', msg }),
  warn: msg => post({ t: 'log', level: 'warn', msg })
}
const ports: Ports = {
  log,
  progress: p => post({ t: 'progress', p }),
  checkCancelled: checkFlag(input.cancelFlag),
  openSource: async spec => await openSource(spec, { debug: m => log.debug(m), warn: m => log.warn(m) })
}

Promise.resolve()
  .then(() => {
    // cancelled before it started: do nothing at all
    ports.checkCancelled?.()
    return runStep(input.method, input.params as Record<string, unknown>, ports)
  })
  .then(
    result => post({ t: 'done', result }),
    e => post({ t: 'error', error: serializeError(e) })
  )
