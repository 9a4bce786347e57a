import { cancelledError, Job } from './job'

interface Waiting {
  job: Job
  start: () => void
}

/**
 * Steps that change a target run one at a time, in the order their requests
 * arrived: json-rpc-2.0 runs the requests of a batch (and single requests) as they
 * come, concurrently. A request cancelled while it waits answers at once and never
 * runs.
 */
export class SerialQueue {
  private running = false
  private readonly waiting: Waiting[] = []

  async run<T> (job: Job, work: () => Promise<T>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      const item: Waiting = {
        job,
        start: () => {
          this.running = true
          work().then(resolve, reject).finally(() => {
            this.running = false
            this.next()
          })
        }
      }
      job.onCancel(() => {
        const i = this.waiting.indexOf(item)
        if (i >= 0) {
          this.waiting.splice(i, 1)
          reject(cancelledError())
        }
      })
      if (job.cancelled) {
        reject(cancelledError())
        return
      }
      this.waiting.push(item)
      this.next()
    })
  }

  get busy (): boolean { return this.running || this.waiting.length > 0 }

  private next (): void {
    if (this.running) return
    const item = this.waiting.shift()
    item?.start()
  }
}
