import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Cluster, chownToRunner } from '../harness'
import type { BinSource } from '../../lib/harness/bindir'
import type { TimelineHistoryEntry } from '../../lib/format/timeline'

/**
 * Real WAL for the WAL-decoder tests: one data directory per major, written by a real
 * server with a workload that exercises what the reader must handle, then promoted
 * (in place: standby.signal + promote) to timeline 2 and again to timeline 3.
 *
 * Workload: full-page images with wal_compression off, pglz (and lz4/zstd where the
 * build supports them), a 17 MiB logical message (record spanning pages and segments),
 * a 100 kB one, pg_switch_wal(), CREATE/DROP DATABASE (both strategies on 15+),
 * TRUNCATE, VACUUM with truncation, DROP TABLE, temporary and unlogged tables,
 * subtransactions (top-level xid block under wal_level=logical), a replication origin,
 * a prepared transaction, online checkpoints.
 */

export interface WalCluster {
  major: number
  cluster: Cluster
  dataDir: string
  walDir: string
  segSize: number
  sysid: bigint
  /** pg_control checkPoint (the final shutdown checkpoint) */
  checkPoint: bigint
  /** switch points: TLI 1→2, 2→3 */
  switchPoints: bigint[]
  /** compression methods the server accepted for wal_compression */
  compressions: string[]
  /** raw text of pg_wal/00000003.history */
  history3: string
  destroy: () => Promise<void>
}

function lsn (text: string): bigint {
  const [hi, lo] = text.split('/')
  return (BigInt('0x' + hi) << 32n) | BigInt('0x' + lo)
}

async function trySet (c: Cluster, sql: string): Promise<boolean> {
  try {
    await c.query(sql)
    return true
  } catch {
    return false
  }
}

async function fpiRound (c: Cluster, compression: string, round: number): Promise<boolean> {
  // SET is session-local and Cluster.query opens a session per call: one query string per round
  const ok = await trySet(c, `SET wal_compression = '${compression}'`)
  if (!ok) return false
  await c.query('CHECKPOINT')
  await c.query(`SET wal_compression = '${compression}';
    UPDATE w_fpi SET v = v || '${round}' WHERE id % 3 = 0;
    UPDATE w_idx SET k = k + 1 WHERE id % 5 = 0;`)
  return true
}

export async function promoteInPlace (c: Cluster): Promise<bigint> {
  await c.stop()
  const sig = join(c.dataDir, 'standby.signal')
  writeFileSync(sig, '')
  chownToRunner(sig)
  await c.start()
  const before = lsn(await c.scalar<string>('SELECT pg_last_wal_replay_lsn()::text'))
  await c.promote()
  return before
}

export async function makeWalCluster (major: number, opts: { bin?: BinSource, bigMessage?: boolean } = {}): Promise<WalCluster> {
  const c = await Cluster.init({
    major,
    name: `wal${major}`,
    bin: opts.bin,
    conf: { wal_level: 'logical', max_prepared_transactions: 5, wal_keep_size: '1GB', max_wal_size: '1GB', checkpoint_timeout: '1h' }
  })
  try {
    await c.start()
    const compressions: string[] = []
    await c.query(`
      CREATE TABLE w_fpi (id int PRIMARY KEY, v text);
      INSERT INTO w_fpi SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 4000) g;
      CREATE TABLE w_idx (id int, k int);
      CREATE INDEX ON w_idx (k);
      INSERT INTO w_idx SELECT g, g FROM generate_series(1, 4000) g;
      CREATE UNLOGGED TABLE w_unlogged (id int PRIMARY KEY);
      INSERT INTO w_unlogged SELECT generate_series(1, 500);
      CREATE TEMP TABLE w_temp AS SELECT generate_series(1, 500) AS id; INSERT INTO w_temp VALUES (0);
    `)
    const methods = major >= 15 ? ['off', 'pglz', 'lz4', 'zstd'] : ['off', 'on']
    let round = 0
    for (const m of methods) {
      if (await fpiRound(c, m, round++)) compressions.push(m)
    }
    // subtransactions (top-level xid block under wal_level=logical on 14+), aborted subxact
    await c.query(`BEGIN;
      INSERT INTO w_idx VALUES (-1, -1);
      SAVEPOINT a; INSERT INTO w_idx VALUES (-2, -2);
      SAVEPOINT b; INSERT INTO w_idx VALUES (-3, -3); RELEASE b;
      ROLLBACK TO a; INSERT INTO w_idx VALUES (-4, -4);
      COMMIT;`)
    // replication origin block
    await c.query("SELECT pg_replication_origin_create('w_origin')")
    await c.query(`SELECT pg_replication_origin_session_setup('w_origin');
      INSERT INTO w_idx VALUES (-5, -5);
      SELECT pg_replication_origin_session_reset();`)
    // prepared transaction
    await c.query('BEGIN; INSERT INTO w_idx VALUES (-6, -6); PREPARE TRANSACTION \'w_p1\'')
    await c.query("COMMIT PREPARED 'w_p1'")
    await c.query('BEGIN; INSERT INTO w_idx VALUES (-7, -7); PREPARE TRANSACTION \'w_p2\'')
    await c.query("ROLLBACK PREPARED 'w_p2'")
    // multi-page and multi-segment records
    await c.query("SELECT pg_logical_emit_message(false, 'w', repeat('m', 100000))")
    if (opts.bigMessage !== false) await c.query("SELECT pg_logical_emit_message(false, 'w', repeat('M', 17 * 1024 * 1024))")
    await c.query("SELECT pg_logical_emit_message(true, 'w', repeat('t', 30000))")
    // relation-level special records
    await c.query(`
      CREATE TABLE w_trunc (id int, pad text);
      INSERT INTO w_trunc SELECT g, repeat('x', 300) FROM generate_series(1, 3000) g;
      TRUNCATE w_trunc;
      INSERT INTO w_trunc SELECT g, repeat('y', 300) FROM generate_series(1, 3000) g;
      DELETE FROM w_trunc WHERE id > 100;`)
    await c.query('VACUUM w_trunc')
    await c.query('CREATE TABLE w_drop (id int); INSERT INTO w_drop VALUES (1)')
    await c.query('DROP TABLE w_drop')
    await c.query('CREATE DATABASE w_db1')
    if (major >= 15) await c.query('CREATE DATABASE w_db2 STRATEGY file_copy')
    await c.query('DROP DATABASE w_db1')
    await c.query('SELECT pg_switch_wal()')
    await c.query('INSERT INTO w_idx VALUES (-8, -8)')
    await c.query('CHECKPOINT')
    await c.query('INSERT INTO w_idx SELECT g, g FROM generate_series(10000, 10500) g')

    // timeline 2, then 3
    const sw1 = await promoteInPlace(c)
    await c.query('INSERT INTO w_idx SELECT g, g FROM generate_series(20000, 20300) g; UPDATE w_fpi SET v = v WHERE id < 50')
    const sw2 = await promoteInPlace(c)
    await c.query('INSERT INTO w_idx SELECT g, g FROM generate_series(30000, 30300) g')
    await c.stop()

    const control = readFileSync(join(c.dataDir, 'global', 'pg_control'))
    const walDir = join(c.dataDir, 'pg_wal')
    return {
      major,
      cluster: c,
      dataDir: c.dataDir,
      walDir,
      segSize: control.readUInt32LE(228),
      sysid: control.readBigUInt64LE(0),
      checkPoint: control.readBigUInt64LE(32),
      switchPoints: [sw1, sw2],
      compressions,
      history3: readFileSync(join(walDir, '00000003.history'), 'utf8'),
      destroy: async () => { await c.destroy() }
    }
  } catch (e) {
    await c.destroy()
    throw e
  }
}

/** Timeline history entries of a history file's text (+ the tip), in the reader's shape. */
export function historyEntries (text: string, tip: number): TimelineHistoryEntry[] {
  const out: TimelineHistoryEntry[] = []
  let begin = 0n
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line)
    if (m === null) continue
    const end = lsn(m[2])
    out.push({ tli: Number(m[1]), begin, end })
    begin = end
  }
  out.push({ tli: tip, begin, end: 0n })
  return out
}

/** WAL segment file names in a pg_wal directory, sorted. */
export function segmentFiles (walDir: string): string[] {
  return readdirSync(walDir).filter(f => /^[0-9A-F]{24}$/.test(f)).sort()
}
