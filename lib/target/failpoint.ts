/**
 * Fault injection for the tests (test/rewind-faults*.test.ts, npm run soak): with
 * PGREWIND_FAILPOINT=kill:N the process kills itself with SIGKILL just before the
 * Nth change to the target, with enospc:N that change fails as a full disk would,
 * with pause:MS every change waits MS milliseconds (a window to interrupt a run in),
 * with kill-at:NAME it dies where the code says reached(NAME) (the last steps, whose
 * place in the count varies).
 * PGREWIND_FAILPOINT=count prints, at exit, how many changes a run made. Unset, it
 * costs one comparison per change. Changes are the writer's and the rollback's.
 */
let mode: 'kill' | 'enospc' | 'pause' | 'count' | 'kill-at' | null = null
let at = Infinity
let name = ''
let changes = 0
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Set (or, with '', clear) the failpoint; the environment's is set at load. */
export function setFailpoint (spec: string): void {
  const m = /^(kill|enospc|pause):(\d+)$/.exec(spec)
  const named = /^kill-at:([a-z_]+)$/.exec(spec)
  mode = m !== null ? m[1] as 'kill' | 'enospc' | 'pause' : named !== null ? 'kill-at' : spec === 'count' ? 'count' : null
  at = m !== null ? Number(m[2]) : Infinity
  name = named?.[1] ?? ''
  changes = 0
}

/** A named place in a run (kill-at:NAME dies here). */
export function reached (place: string): void {
  if (mode === 'kill-at' && place === name) process.kill(process.pid, 'SIGKILL')
}

setFailpoint(process.env.PGREWIND_FAILPOINT ?? '')
if (mode === 'count') process.on('exit', () => process.stderr.write(`pgrewind: failpoint: ${changes} changes\n`))

/** Called before every change to the target. */
export function beforeChange (): void {
  if (mode === null || mode === 'kill-at') return
  changes++
  if (mode === 'pause') {
    Atomics.wait(sleeper, 0, 0, at)
    return
  }
  if (changes < at) return
  if (mode === 'kill') process.kill(process.pid, 'SIGKILL')
  if (mode === 'enospc') {
    const e = new Error('ENOSPC: no space left on device (injected)') as NodeJS.ErrnoException
    e.code = 'ENOSPC'
    throw e
  }
}
