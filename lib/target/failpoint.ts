/**
 * Fault injection for the tests (test/rewind-faults*.test.ts, npm run soak): with
 * PGREWIND_FAILPOINT=kill:N the process kills itself with SIGKILL just before the
 * Nth change to the target, with enospc:N that change fails as a full disk would,
 * with pause:MS every change waits MS milliseconds (a window to interrupt a run in).
 * PGREWIND_FAILPOINT=count prints, at exit, how many changes a run made. Unset, it
 * costs one comparison per change. Changes are the writer's and the rollback's.
 */
let mode: 'kill' | 'enospc' | 'pause' | 'count' | null = null
let at = Infinity
let changes = 0
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Set (or, with '', clear) the failpoint; the environment's is set at load. */
export function setFailpoint (spec: string): void {
  const m = /^(kill|enospc|pause):(\d+)$/.exec(spec)
  mode = m !== null ? m[1] as 'kill' | 'enospc' | 'pause' : spec === 'count' ? 'count' : null
  at = m !== null ? Number(m[2]) : Infinity
  changes = 0
}

setFailpoint(process.env.PGREWIND_FAILPOINT ?? '')
if (mode === 'count') process.on('exit', () => process.stderr.write(`pgrewind: failpoint: ${changes} changes\n`))

/** Called before every change to the target. */
export function beforeChange (): void {
  if (mode === null) return
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
