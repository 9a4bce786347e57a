import { PgRewindError } from '../errors'

/**
 * One running or waiting request, cancellable. The flag lives in shared memory so
 * that a step busy in a worker thread sees `$/cancelRequest` at its next safe point
 * (Ports.checkCancelled) without yielding to any event loop.
 */
export class Job {
  readonly flagBuffer = new SharedArrayBuffer(4)
  private readonly flag = new Int32Array(this.flagBuffer)
  private readonly listeners: Array<() => void> = []

  get cancelled (): boolean { return Atomics.load(this.flag, 0) !== 0 }

  cancel (): void {
    if (this.cancelled) return
    Atomics.store(this.flag, 0, 1)
    for (const f of this.listeners.splice(0)) f()
  }

  onCancel (f: () => void): void { this.listeners.push(f) }
}

export function cancelledError (): PgRewindError {
  return new PgRewindError('CANCELLED', 'request cancelled', {
    detail: 'A $/cancelRequest for this request arrived; the step stopped at a safe point.'
  })
}

/** A flag as seen from inside a worker: throws CANCELLED once it is set. */
export function checkFlag (flagBuffer: SharedArrayBuffer): () => void {
  const flag = new Int32Array(flagBuffer)
  return () => {
    if (Atomics.load(flag, 0) !== 0) throw cancelledError()
  }
}
