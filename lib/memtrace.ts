/**
 * PGREWIND_MEMTRACE=1: on stderr, at each step's start and end, the peak RSS since
 * the last mark (sampled every 20 ms) and the heap now — how issue 13's measurements
 * of what holds a big rewind's memory were made. Unset, nothing runs.
 */
import { readFileSync } from 'node:fs'

const on = process.env.PGREWIND_MEMTRACE === '1'
const mb = (n: number): string => (n / 1048576).toFixed(0)
let phase = 'start'
let peak = { rss: 0, heapUsed: 0, external: 0 }

function sample (): void {
  const m = process.memoryUsage()
  if (m.rss > peak.rss) peak = { rss: m.rss, heapUsed: m.heapUsed, external: m.external }
}

if (on) {
  setInterval(sample, 20).unref()
  // what happens after the last step (the summary, the sessions closed) counts too
  process.on('exit', () => memMark('exit'))
}

/** The kernel's own peak (VmHWM): the samples miss a peak reached while the thread is busy. */
function highWaterMb (): string {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'))
  return m === null ? '?' : (Number(m[1]) / 1024).toFixed(0)
}

/** The phase that ends here, and the one that begins. */
export function memMark (next: string): void {
  if (!on) return
  sample()
  const m = process.memoryUsage()
  process.stderr.write(`memtrace: ${phase}: peak RSS ${mb(peak.rss)} MB (heap used ${mb(peak.heapUsed)}, external ${mb(peak.external)}); ` +
    `now RSS ${mb(m.rss)}, heap ${mb(m.heapTotal)}, used ${mb(m.heapUsed)}, external ${mb(m.external)}; ` +
    `high-water ${highWaterMb()} MB\n`)
  phase = next
  peak = { rss: 0, heapUsed: 0, external: 0 }
}
