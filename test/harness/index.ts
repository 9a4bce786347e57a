import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Cluster } from '../../lib/pg/cluster'
import { runOk, chownToRunner, makeDir } from '../../lib/pg/proc'
import { unprivilegedUser } from '../../lib/pg/runas'

// tap records coverage and process info of every node child it sees spawned,
// including the CLI we run as the unprivileged user: let that user own tap's
// output dirs (root writes there regardless), instead of opening them to everyone.
if (unprivilegedUser() !== null && existsSync('.tap')) {
  for (const d of ['.tap', '.tap/processinfo', '.tap/coverage']) {
    makeDir(d, 0o755)
    chownToRunner(d)
  }
}

export * from '../../lib/pg/cluster'
export * from '../../lib/pg/proc'
export * from '../../lib/drill/scenario'

/** True when Debian's PostgreSQL 15 client tools (the oracles) are installed. */
export function debianPg15 (): string | null {
  const d = '/usr/lib/postgresql/15/bin'
  return existsSync(join(d, 'pg_waldump')) ? d : null
}

/**
 * Bigger data for benchmarks: pgbench from Debian's PostgreSQL 15 when installed
 * (it talks to any 13–18 server), else an SQL equivalent.
 */
export async function loadWorkload (c: Cluster, scale: number, opts: { transactions?: number } = {}): Promise<void> {
  const deb = debianPg15()
  const conn = ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres']
  if (deb !== null) {
    if (scale > 0) await runOk(join(deb, 'pgbench'), [...conn, '-i', '-q', '-s', String(scale), 'postgres'])
    if (opts.transactions !== undefined) await runOk(join(deb, 'pgbench'), [...conn, '-n', '-c', '2', '-t', String(opts.transactions), 'postgres'])
    return
  }
  if (scale > 0) await c.query(`
    CREATE TABLE IF NOT EXISTS pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
    INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, ${scale * 100000}) g;`)
  if (opts.transactions !== undefined) {
    await c.query(`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % ${Math.max(1, Math.floor(scale * 100000 / opts.transactions))} = 0`)
  }
}
export * from "./cli"
