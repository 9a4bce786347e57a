import { Client } from 'pg'
import type { Test } from 'tap'
import { Pair, withPair } from '../harness'

/**
 * A failover after which the old primary (the rewind's target) did known things the
 * rewind must report as discarded: committed, rolled-back and prepared transactions,
 * a transaction begun before the fork and committed after it, a table created and
 * one dropped, a TOASTed update, a database created, one changed and dropped, a
 * TRUNCATE, a savepoint rolled back. `expected` is what the report must say.
 */

export interface ExpectedRelation {
  database: string
  name: string
  kind: string
  toastOf?: string
  created: boolean
  dropped: boolean
  rewrites: number
  committed: [number, number, number]
  prepared: [number, number, number]
  aborted: [number, number, number]
  /** the target cannot name it (its database was dropped): the source does */
  nameSource: 'target' | 'source'
}

export interface DiscardScenario {
  pair: Pair
  /** commit times of the first and last transaction committed after the fork (ISO 8601, from pg_xact_commit_timestamp) */
  firstCommit: string
  lastCommit: string
  toastName: string
  relations: ExpectedRelation[]
}

const ISO = "to_char(pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

export const EXPECTED_TRANSACTIONS = {
  // C0 … C14 below
  committed: 15,
  // the ROLLBACK and the ROLLBACK TO SAVEPOINT of a subtransaction that had written
  aborted: 2,
  prepared: 1,
  unfinished: 0,
  // C0
  beganBeforeFork: 1
}

export async function discardScenario (t: Test, major: number): Promise<DiscardScenario> {
  const pair = await withPair(t, { major, conf: { max_prepared_transactions: 5, track_commit_timestamp: true } })
  const { target, source } = pair
  // before the fork, replicated to the standby
  await target.query(`CREATE TABLE toasty (id int PRIMARY KEY, big text);
    ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL;
    INSERT INTO toasty VALUES (1, repeat('a', 10000))`)
  const early = new Client({ host: target.socketDir, port: target.port, user: 'postgres', database: 'postgres' })
  await early.connect()
  try {
    await early.query('BEGIN')
    await early.query("INSERT INTO t_common SELECT g, 'early' FROM generate_series(40001, 40004) g")
    // an open transaction's records stay in WAL buffers: a checkpoint writes them out to the standby
    await target.checkpoint()
    await target.waitForReplay(source)
    await source.promote()

    // after the fork, on the old primary only
    await early.query("INSERT INTO t_common SELECT g, 'late' FROM generate_series(40005, 40006) g") // C0
    await early.query('COMMIT')
  } finally {
    await early.end()
  }
  await target.query('CREATE TABLE lost_here (id int, v text)') // C1
  await target.query("INSERT INTO lost_here SELECT g, 'x' || g FROM generate_series(1, 37) g") // C2
  await target.query("INSERT INTO t_common SELECT g, 'lost' FROM generate_series(10001, 10020) g") // C3
  await target.query("UPDATE t_common SET v = 'lost upd' WHERE id <= 10") // C4
  await target.query('DELETE FROM t_common WHERE id > 4990 AND id <= 5000') // C5
  await target.query("BEGIN; INSERT INTO t_common SELECT g, 'rb' FROM generate_series(20001, 20005) g; ROLLBACK") // A1
  await target.query("BEGIN; INSERT INTO t_common SELECT g, 'p' FROM generate_series(30001, 30003) g; UPDATE t_common SET v = 'p' WHERE id IN (11, 12); PREPARE TRANSACTION 'lost_gid'") // P1
  await target.query('DROP TABLE t_drop_on_target') // C6
  await target.query("UPDATE toasty SET big = repeat('b', 10000) WHERE id = 1") // C7: 6 TOAST chunks of 1996 bytes out, 6 in
  await target.query('CREATE DATABASE db_lost') // C8
  await target.query('CREATE TABLE in_lost_db (id int)', 'db_lost') // C9
  await target.query('INSERT INTO in_lost_db SELECT generate_series(1, 20)', 'db_lost') // C10
  await target.query('DELETE FROM d1 WHERE id <= 7', 'db_drop_on_target') // C11
  await target.query('DROP DATABASE db_drop_on_target') // C12
  await target.query('TRUNCATE t_trunc') // C13
  await target.query("BEGIN; INSERT INTO lost_here VALUES (100, 'kept'); SAVEPOINT s; INSERT INTO lost_here VALUES (101, 'gone'); ROLLBACK TO s; COMMIT") // C14 (+ the subtransaction's ABORT)
  const firstCommit = await target.scalar<string>(`SELECT ${ISO} FROM t_common WHERE id = 40005`)
  const lastCommit = await target.scalar<string>(`SELECT ${ISO} FROM lost_here WHERE id = 100`)
  const toastName = await target.scalar<string>("SELECT 'pg_toast.' || t.relname FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.relname = 'toasty'")
  await source.stop()
  await target.stop()

  const rel = (database: string, name: string, kind: string, o: Partial<ExpectedRelation> = {}): ExpectedRelation => ({
    database, name, kind, created: false, dropped: false, rewrites: 0, committed: [0, 0, 0], prepared: [0, 0, 0], aborted: [0, 0, 0], nameSource: 'target', ...o
  })
  return {
    pair,
    firstCommit,
    lastCommit,
    toastName,
    relations: [
      rel('db_drop_on_target', 'public.d1', 'table', { dropped: true, committed: [0, 0, 7], nameSource: 'source' }),
      rel('db_lost', 'public.in_lost_db', 'table', { created: true, committed: [20, 0, 0] }),
      rel('postgres', toastName, 'toast table', { toastOf: 'public.toasty', committed: [6, 0, 6] }),
      rel('postgres', 'public.lost_here', 'table', { created: true, committed: [38, 0, 0], aborted: [1, 0, 0] }),
      rel('postgres', 'public.t_common', 'table', { committed: [22, 10, 10], prepared: [3, 2, 0], aborted: [5, 0, 0] }),
      rel('postgres', 'public.t_drop_on_target', 'table', { dropped: true }),
      rel('postgres', 'public.t_trunc', 'table', { rewrites: 1 }),
      rel('postgres', 'public.toasty', 'table', { committed: [0, 1, 0] })
    ]
  }
}
