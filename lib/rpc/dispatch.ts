import { schemaErrors } from '../contract/validate'
import { PgRewindError } from '../errors'
import { inspect } from '../steps/inspect'
import { Progress } from '../steps/types'
import { StepMethod } from './handlers'
import { Job } from './job'
import { JsonLog } from './log'
import { InlineMethod, METHODS, MethodName, STEP_METHODS } from './methods'
import { openRpcDocument } from './openrpc'
import { SerialQueue } from './queue'
import { runInWorker } from './runner'

export interface DispatchOptions {
  log: JsonLog
  version: string
  /** the process runs as root: methods that change a target are refused */
  isRoot?: boolean
  /** a result that fails its schema is answered as an INTERNAL error (tests); else it is logged */
  checkResults?: boolean
}

/** One request as the connection hands it over: validated params, its job, its progress channel. */
export interface Call {
  method: MethodName
  params: Record<string, unknown>
  job: Job
  progress: (p: Progress) => void
  /** for log lines */
  id?: unknown
}

/**
 * The methods' policy, applied to one call: inline reads answered at once; step
 * methods in a worker thread; those that change a target refused to root and run
 * one at a time in arrival order. Every result is checked against its schema.
 */
export class Dispatcher {
  private readonly queue = new SerialQueue()
  private discover: unknown = null

  constructor (private readonly o: DispatchOptions) {}

  async execute (call: Call): Promise<unknown> {
    const result = call.method in STEP_METHODS
      ? await this.step(call.method as StepMethod, call)
      : await this.inline(call.method as InlineMethod, call.params)
    const errors = schemaErrors(METHODS[call.method].result, result)
    if (errors !== null) {
      // a result that fails its own schema is a bug in this server
      this.o.log.log('error', `result does not match schemas/${call.method}.result.json`, { method: call.method, id: call.id, errors })
      if (this.o.checkResults === true) {
        throw new PgRewindError('INTERNAL', `result does not match schemas/${call.method}.result.json`, { data: { errors } })
      }
    }
    return result
  }

  private async inline (method: InlineMethod, params: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case 'rpc.discover':
        this.discover ??= openRpcDocument(this.o.version)
        return this.discover
      case 'inspect':
        return await inspect(params.pgdata as string)
    }
  }

  private async step (method: StepMethod, call: Call): Promise<unknown> {
    const mutates = STEP_METHODS[method].changesTarget(call.params)
    if (this.o.isRoot === true && mutates) {
      throw new PgRewindError('RUN_AS_ROOT', 'cannot be executed by "root"', { hint: 'Run pgrewind rpc as the PostgreSQL superuser (the data directory\'s owner).' })
    }
    const run = async (): Promise<unknown> => await runInWorker(method, call.params, call.job, {
      log: (level, msg) => this.o.log.log(level, msg, { method, id: call.id }),
      progress: call.progress
    })
    return mutates ? await this.queue.run(call.job, run) : await run()
  }
}
