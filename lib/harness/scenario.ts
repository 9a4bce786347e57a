import { join } from 'node:path'
import { Cluster, ClusterOptions } from './cluster'
import { makeDir } from './proc'

/**
 * Failover scenarios: a primary with a streaming standby, the standby promoted,
 * both sides writing afterwards (the old primary does not know it was replaced),
 * then both stopped. The old primary is the rewind *target*, the promoted standby
 * the *source*.
 */

export interface Pair {
  /** old primary: the node to rewind */
  target: Cluster
  /** promoted standby: the new primary */
  source: Cluster
  root: string
  tablespaceDir: string | null
}

export interface PairOptions extends ClusterOptions {
  /** create a tablespace (symlinked) before the standby is made */
  tablespace?: boolean
}

/**
 * Stop and remove both nodes: the source first, because the target owns the
 * directory both live in (removing it first would pull the data directory from
 * under a running source).
 */
export async function destroyPair (pair: Pair): Promise<void> {
  try {
    await pair.source.destroy()
  } finally {
    await pair.target.destroy()
  }
}

/** Common history: what both nodes have before the failover. */
export async function setupPair (opts: PairOptions): Promise<Pair> {
  const target = await Cluster.init({ ...opts, name: 'primary' })
  await target.start()
  let tablespaceDir: string | null = null
  if (opts.tablespace === true) {
    tablespaceDir = makeDir(join(target.root, 'ts1'))
    await target.query(`CREATE TABLESPACE ts1 LOCATION '${tablespaceDir}'`)
  }
  await target.query(`
    CREATE TABLE t_common (id int PRIMARY KEY, v text);
    INSERT INTO t_common SELECT g, 'common ' || g FROM generate_series(1, 5000) g;
    CREATE TABLE t_trunc (id int, pad text);
    INSERT INTO t_trunc SELECT g, repeat('x', 200) FROM generate_series(1, 3000) g;
    CREATE TABLE t_drop_on_target (id int);
    INSERT INTO t_drop_on_target SELECT generate_series(1, 100);
    CREATE TABLE t_drop_on_source (id int);
    INSERT INTO t_drop_on_source SELECT generate_series(1, 100);
    CREATE UNLOGGED TABLE t_unlogged (id int);
    INSERT INTO t_unlogged SELECT generate_series(1, 100);
  `)
  if (tablespaceDir !== null) {
    await target.query("CREATE TABLE t_ts (id int, v text) TABLESPACE ts1; INSERT INTO t_ts SELECT g, 'ts' || g FROM generate_series(1, 2000) g")
  }
  await target.query('CREATE DATABASE db_common')
  await target.query('CREATE DATABASE db_drop_on_source')
  await target.query('CREATE DATABASE db_drop_on_target')
  await target.query('CREATE TABLE d1 AS SELECT generate_series(1, 300) AS id', 'db_drop_on_target')
  await target.query('CREATE TABLE c1 (id int PRIMARY KEY, v text); INSERT INTO c1 SELECT g, md5(g::text) FROM generate_series(1, 2000) g', 'db_common')
  await target.checkpoint()
  const source = await target.createStandby('standby')
  await target.waitForReplay(source)
  return { target, source, root: target.root, tablespaceDir }
}

export interface DivergeOptions {
  /** how the old primary ends: clean shutdown (default) or a crash */
  targetStop?: 'clean' | 'crash' | 'running'
  /** how the new primary ends: clean shutdown (default, needed for a local source) or left running */
  sourceStop?: 'clean' | 'running'
  /** make the target write a lot (many changed blocks) */
  heavy?: boolean
}

/** Promote the standby, write on both sides, stop them. */
export async function diverge (pair: Pair, opts: DivergeOptions = {}): Promise<void> {
  const { target, source } = pair
  await source.promote()
  // The new primary's history: what the rewound node must end up with.
  await source.query(`
    INSERT INTO t_common SELECT g, 'source ' || g FROM generate_series(5001, 6000) g;
    UPDATE t_common SET v = 'source upd' WHERE id % 10 = 0;
    TRUNCATE t_trunc;
    INSERT INTO t_trunc VALUES (1, 'after truncate on source');
    DROP TABLE t_drop_on_source;
    CREATE TABLE t_source_only (id int, v text);
    INSERT INTO t_source_only SELECT g, 'so' || g FROM generate_series(1, 1000) g;
  `)
  await source.query('CREATE DATABASE db_source_only')
  await source.query('DROP DATABASE db_drop_on_source')
  await source.query('CREATE TABLE s1 AS SELECT g AS id FROM generate_series(1, 500) g', 'db_source_only')
  await source.query('UPDATE c1 SET v = \'src\' WHERE id < 100', 'db_common')
  if (pair.tablespaceDir !== null) await source.query("INSERT INTO t_ts SELECT g, 'src' FROM generate_series(2001, 2500) g")
  await source.checkpoint()

  // The old primary keeps going: everything it writes now must be undone.
  const n = opts.heavy === true ? 200000 : 3000
  await target.query(`
    INSERT INTO t_common SELECT g, 'target ' || g FROM generate_series(6001, ${6000 + n}) g;
    UPDATE t_common SET v = 'target upd' WHERE id % 7 = 0;
    INSERT INTO t_trunc SELECT g, repeat('y', 300) FROM generate_series(3001, 9000) g;
    DROP TABLE t_drop_on_target;
    CREATE TABLE t_target_only (id int, v text);
    INSERT INTO t_target_only SELECT g, 'to' || g FROM generate_series(1, 1000) g;
    INSERT INTO t_unlogged SELECT generate_series(1, 100);
  `)
  await target.query('CREATE DATABASE db_target_only')
  await target.query('DROP DATABASE db_drop_on_target')
  await target.query('CREATE TABLE x1 AS SELECT g AS id FROM generate_series(1, 500) g', 'db_target_only')
  await target.query('DELETE FROM c1 WHERE id > 1500', 'db_common')
  if (pair.tablespaceDir !== null) await target.query("UPDATE t_ts SET v = 'target' WHERE id % 3 = 0")
  await target.checkpoint()
  await target.query("INSERT INTO t_common SELECT g, 'after ckpt' FROM generate_series(1000000, 1000500) g")

  if ((opts.sourceStop ?? 'clean') === 'clean') await source.stop()
  const ts = opts.targetStop ?? 'clean'
  if (ts === 'clean') await target.stop()
  else if (ts === 'crash') await target.crash()
}

/** One content hash per user table of every database, plus the database list. */
export async function contentSnapshot (c: Cluster): Promise<Map<string, string>> {
  const snap = new Map<string, string>()
  const dbs = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1')
  snap.set('databases', dbs.map(d => d.datname).join(','))
  for (const { datname } of dbs) {
    const tables = await c.query<{ nspname: string, relname: string }>(`
      SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm') AND c.relpersistence = 'p'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1, 2`, datname)
    snap.set(`${datname}:tables`, tables.map(t => `${t.nspname}.${t.relname}`).join(','))
    for (const t of tables) {
      const ident = `"${t.nspname.replace(/"/g, '""')}"."${t.relname.replace(/"/g, '""')}"`
      const h = await c.scalar<string>(
        `SELECT count(*)::text || ':' || coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '-') FROM ${ident} x`, datname)
      snap.set(`${datname}:${t.nspname}.${t.relname}`, h)
    }
  }
  return snap
}

/** Human-readable differences between two snapshots (empty = identical). */
export function diffSnapshots (a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = []
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) out.push(`${k}: ${a.get(k) ?? '(missing)'} != ${b.get(k) ?? '(missing)'}`)
  }
  return out
}

export async function compareContents (a: Cluster, b: Cluster): Promise<string[]> {
  return diffSnapshots(await contentSnapshot(a), await contentSnapshot(b))
}

/**
 * Start the rewound `target` as a standby of `source` (unless the rewind already
 * wrote a recovery configuration), wait until it has replayed everything the
 * source has, and return the content differences (empty = verified).
 */
export async function rejoinAndCompare (target: Cluster, source: Cluster, opts: { configured?: boolean } = {}): Promise<string[]> {
  if (!source.running) await source.start()
  target.reassertLocalConf()
  if (opts.configured !== true) target.followPrimary(source)
  await target.start()
  await source.query('CREATE TABLE IF NOT EXISTS rejoin_marker (n int); INSERT INTO rejoin_marker VALUES (1)')
  await source.waitForReplay(target, 120000)
  return await compareContents(target, source)
}
