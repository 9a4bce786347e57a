import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Cluster } from './cluster'
import { runOk } from './proc'

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
  if (scale > 0) {
    await c.query(`
    CREATE TABLE IF NOT EXISTS pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
    INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, ${scale * 100000}) g;`)
  }
  if (opts.transactions !== undefined) {
    await c.query(`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % ${Math.max(1, Math.floor(scale * 100000 / opts.transactions))} = 0`)
  }
}
