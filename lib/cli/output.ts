import { writeSync } from 'node:fs'
import { basename } from 'node:path'
import { hintFor } from '../errorcodes'
import { PgRewindError } from '../errors'
import { Logger, Progress } from '../steps/types'
import { launchedAs } from './launched'

/**
 * The path pgrewind was started as, links not followed: what the launcher
 * (lib/cli/pgrewind.sh) was started as; else a script's argv[1] under node; the
 * single executable's own argv[0] (process.argv0, which process.argv replaces with
 * the resolved executable).
 */
export function invokedAs (): string {
  if (launchedAs !== undefined) return launchedAs
  const sea = isSingleExecutable()
  return (sea ? process.argv0 : process.argv[1]) ?? 'pgrewind'
}

/** Are we the single executable (npm run package), not node running dist/? */
export function isSingleExecutable (): boolean {
  try {
    return (require('node:sea') as { isSea: () => boolean }).isSea()
  } catch {
    return false
  }
}

/**
 * Messages go to stderr as `<prog>: …`, like pg_rewind's (HA tools parse them):
 * `pg_rewind` when started under that name (a link or a copy named pg_rewind in a
 * bin_dir), else `pgrewind`.
 */
export const PROG = basename(invokedAs()).replace(/\.js$/, '') === 'pg_rewind' ? 'pg_rewind' : 'pgrewind'

/** pg_rewind's messages: info always, progress with -P (or --debug), debug with --debug. */
export function stderrLogger (o: { debug?: boolean, progress?: boolean, quiet?: boolean }, write: (s: string) => void = s => process.stderr.write(s)): Logger {
  const debug = o.debug === true
  const progress = debug || o.progress === true
  return {
    info: (m: string) => { if (o.quiet !== true || progress) write(`${PROG}: ${m}\n`) },
    progress: (m: string) => { if (progress) write(`${PROG}: ${m}\n`) },
    warn: (m: string) => write(`${PROG}: warning: ${m}\n`),
    debug: (m: string) => { if (debug) write(`${PROG}: debug: ${m}\n`) }
  }
}

/** message, detail, and the error's hint or else its code's (lib/errorcodes.ts, the README's table). */
export function printError (e: PgRewindError, write: (s: string) => void = s => process.stderr.write(s)): void {
  write(`${PROG}: error: ${e.message}\n`)
  if (e.detail !== undefined) write(`${PROG}: detail: ${e.detail}\n`)
  const hint = hintFor(e)
  if (hint !== undefined) write(`${PROG}: hint: ${hint}\n`)
}

/**
 * pg_rewind's `-P` meter: "<done>/<total> kB (<pct>%) copied", at most once a
 * second, redrawn in place on a terminal, one line each otherwise.
 */
export class ProgressMeter {
  private last = 0
  private readonly tty = process.stderr.isTTY === true

  constructor (private readonly write: (s: string) => void = s => process.stderr.write(s)) {}

  update (p: Progress, final = false): void {
    if (p.phase !== 'applyPlan') return
    const now = Date.now()
    if (!final && now - this.last < 1000) return
    this.last = now
    const total = Math.max(p.total, p.done)
    const doneKb = Math.floor(p.done / 1024)
    const totalKb = Math.floor(total / 1024)
    const pct = total > 0 ? Math.min(100, Math.floor(p.done * 100 / total)) : 100
    const line = `${String(doneKb).padStart(String(totalKb).length)}/${totalKb} kB (${pct}%) copied`
    this.write(`${line}${this.tty && !final ? '\r' : '\n'}`)
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * Text to stdout, written before this returns. process.stdout.write on a pipe queues
 * what the reader has not taken yet: a big `--json` summary (tens of MB of JSON
 * written in pieces) was held whole in memory behind a slower reader (about 115 MB
 * more with 30,000 tables a side). A pipe Node made non-blocking answers EAGAIN when
 * full: wait a millisecond and go on.
 */
export function writeStdout (text: string): void {
  const b = Buffer.from(text)
  let off = 0
  while (off < b.length) {
    try {
      off += writeSync(1, b, off, b.length - off)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e
      Atomics.wait(pause, 0, 0, 1)
    }
  }
}
