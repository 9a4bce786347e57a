/**
 * Fault injection for the tests (test/rewind-faults*.test.ts, npm run soak): with
 * PGREWIND_FAILPOINT=kill:N the process kills itself with SIGKILL just before the
 * Nth change to the target, with enospc:N that change fails as a full disk would,
 * with pause:MS every change waits MS milliseconds (a window to interrupt a run in).
 * PGREWIND_FAILPOINT=count prints, at exit, how many changes a run made. Unset, it
 * costs one comparison per change.
 */
const spec = process.env.PGREWIND_FAILPOINT ?? ''
const m = /^(kill|enospc|pause):(\d+)$/.exec(spec)
const mode = m?.[1] ?? (spec === 'count' ? 'count' : null)
const at = m !== null ? Number(m[2]) : Infinity
let changes = 0
const sleeper = new Int32Array(new SharedArrayBuffer(4))

if (mode === 'count') process.on('exit', () => process.stderr.write(`pgrewind: failpoint: ${changes} changes\n`))

/** Called by the target writer before every change it makes. */
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
