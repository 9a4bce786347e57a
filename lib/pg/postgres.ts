import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, renameSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { PgRewindError } from '../errors'

/**
 * The target cluster's own `postgres` binary, which pgrewind runs (as pg_rewind
 * does) for single-user crash recovery and to read restore_command. It must be of
 * the target's major version: another major would refuse the data directory at
 * best.
 */
export function findPostgres (pgdata: string, major: number, pgBindir?: string): string {
  const candidates: string[] = []
  if (pgBindir !== undefined) candidates.push(join(pgBindir, 'postgres'))
  else {
    const opts = join(pgdata, 'postmaster.opts')
    if (existsSync(opts)) {
      // first token of postmaster.opts is the binary the server last ran with
      const m = /^("([^"]+)"|(\S+))/.exec(readFileSync(opts, 'utf8'))
      const bin = m?.[2] ?? m?.[3]
      if (bin !== undefined && bin.startsWith('/')) candidates.push(bin)
    }
    for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir !== '') candidates.push(join(dir, 'postgres'))
    candidates.push(`/usr/lib/postgresql/${major}/bin/postgres`)
  }
  const wrong: string[] = []
  for (const c of candidates) {
    if (!existsSync(c)) continue
    const m = binDirMajor(join(c, '..'))
    if (m === major) return c
    wrong.push(`${c} (PostgreSQL ${m ?? '?'})`)
  }
  throw new PgRewindError('POSTGRES_NOT_FOUND', `program "postgres" of PostgreSQL ${major} is needed but was not found`, {
    detail: wrong.length > 0 ? `Found only binaries of another version: ${wrong.join(', ')}.` : `Looked in: ${[...new Set(candidates)].join(', ')}.`,
    hint: 'Use --pg-bindir to name the directory of the target cluster\'s PostgreSQL binaries.'
  })
}

function configArgs (configFile?: string): string[] {
  return configFile !== undefined ? ['-c', `config_file=${configFile}`] : []
}

/**
 * Single-user crash recovery of an unclean target (pg_rewind's ensureCleanShutdown).
 * Signal files make single-user mode refuse to start ("standby mode is not
 * supported by single-user servers"), so they are set aside for the duration and
 * put back afterwards, whatever happens.
 */
export function runCrashRecovery (postgres: string, pgdata: string, configFile?: string): void {
  const aside: Array<[string, string]> = []
  for (const f of ['standby.signal', 'recovery.signal']) {
    const p = join(pgdata, f)
    if (existsSync(p)) {
      renameSync(p, `${p}.pgrewind-aside`)
      aside.push([`${p}.pgrewind-aside`, p])
    }
  }
  try {
    // without -F (unlike pg_rewind): recovery's own writes are then durable when it
    // exits, so the rewind only has to sync what it changes itself
    const args = ['--single', '-D', pgdata, ...configArgs(configFile), 'template1']
    const r = spawnSync(postgres, args, { input: '', encoding: 'utf8', timeout: 3600_000 })
    if (r.status !== 0) {
      throw new PgRewindError('CRASH_RECOVERY_FAILED', 'postgres single-user mode in target cluster failed', {
        detail: `Command was: ${postgres} ${args.join(' ')}\n${(r.stderr ?? '').trim().split('\n').slice(-10).join('\n')}`
      })
    }
  } finally {
    for (const [from, to] of aside) renameSync(from, to)
  }
}

/** The target's restore_command, as `postgres -C` reports it. */
export function readRestoreCommand (postgres: string, pgdata: string, configFile?: string): string {
  const r = spawnSync(postgres, ['-D', pgdata, ...configArgs(configFile), '-C', 'restore_command'], { encoding: 'utf8', timeout: 60000 })
  if (r.status !== 0 || r.stdout === null) {
    throw new PgRewindError('RESTORE_COMMAND', 'could not read "restore_command" from target cluster', { detail: (r.stderr ?? '').trim() })
  }
  const cmd = r.stdout.replace(/[\r\n]+$/, '')
  if (cmd === '') throw new PgRewindError('RESTORE_COMMAND', '"restore_command" is not set in the target cluster')
  return cmd
}

/** Major version reported by `<bindir>/postgres --version`, or null. */
export function binDirMajor (bin: string): number | null {
  try {
    const out = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8', timeout: 10000 })
    const m = /\(PostgreSQL\) (\d+)/.exec(out)
    return m === null ? null : Number(m[1])
  } catch {
    return null
  }
}
