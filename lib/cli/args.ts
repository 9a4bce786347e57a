import { PgRewindError } from '../errors'

/**
 * getopt_long-style parsing for pg_rewind's options: `-D DIR`, `-DDIR`, bundled
 * short flags (`-nP`), `--long=value` and `--long value`; the last occurrence wins.
 */
export interface OptionSpec {
  short?: string
  long: string
  /** takes an argument */
  arg?: boolean
}

export interface Parsed {
  opts: Map<string, string | true>
  positional: string[]
}

/** A command-line mistake: exit 1 with pg_rewind's "Try … --help" hint. */
export function usageError (msg: string, prog: string): PgRewindError {
  return new PgRewindError('USAGE', msg, { hint: `Try "${prog} --help" for more information.` })
}

export function parseArgs (argv: string[], specs: OptionSpec[], prog: string): Parsed {
  const opts = new Map<string, string | true>()
  const positional: string[] = []
  const byShort = new Map(specs.filter(s => s.short !== undefined).map(s => [s.short!, s]))
  const byLong = new Map(specs.map(s => [s.long, s]))
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') { positional.push(...argv.slice(i + 1)); break }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2)
      const spec = byLong.get(name)
      if (spec === undefined) throw usageError(`unrecognized option '${a}'`, prog)
      if (spec.arg === true) {
        let v: string | undefined = eq >= 0 ? a.slice(eq + 1) : argv[++i]
        if (v === undefined) throw usageError(`option '--${name}' requires an argument`, prog)
        opts.set(spec.long, v)
        v = undefined
      } else {
        if (eq >= 0) throw usageError(`option '--${name}' doesn't allow an argument`, prog)
        opts.set(spec.long, true)
      }
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j])
        if (spec === undefined) throw usageError(`invalid option -- '${a[j]}'`, prog)
        if (spec.arg === true) {
          const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i]
          if (v === undefined) throw usageError(`option requires an argument -- '${a[j]}'`, prog)
          opts.set(spec.long, v)
          break
        }
        opts.set(spec.long, true)
      }
    } else {
      positional.push(a)
    }
  }
  return { opts, positional }
}

/** --sync-method's value (pg_rewind 17+). */
export function syncMethodOption (opts: Map<string, string | true>, prog: string): 'fsync' | 'syncfs' | undefined {
  const sm = opts.get('sync-method')
  if (sm !== undefined && sm !== 'fsync' && sm !== 'syncfs') throw usageError(`unrecognized sync method: ${String(sm)}`, prog)
  return sm
}

/** No positional arguments allowed. */
export function noPositional (positional: string[], prog: string): void {
  if (positional.length > 0) throw usageError(`too many command-line arguments (first is "${positional[0]}")`, prog)
}

export const REWIND_OPTIONS: OptionSpec[] = [
  { short: 'D', long: 'target-pgdata', arg: true },
  { long: 'source-pgdata', arg: true },
  { long: 'source-server', arg: true },
  { short: 'n', long: 'dry-run' },
  { short: 'N', long: 'no-sync' },
  { short: 'P', long: 'progress' },
  { short: 'R', long: 'write-recovery-conf' },
  { short: 'c', long: 'restore-target-wal' },
  { long: 'config-file', arg: true },
  { long: 'debug' },
  { long: 'no-ensure-shutdown' },
  { long: 'sync-method', arg: true },
  { long: 'json' },
  { long: 'pg-bindir', arg: true },
  { long: 'no-journal' },
  { long: 'journal-dir', arg: true },
  { long: 'discard-journal' },
  { long: 'compare-blocks' }
]
