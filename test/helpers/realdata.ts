import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, makeTempRoot, removeTree } from '../harness'

/**
 * Real pg_control files and timeline history files of one major, produced by real
 * servers, for the format tests. One scenario per major:
 *
 *   primary (checksums on) → streaming standby → standby stopped in recovery →
 *   primary stopped → standby restarted and promoted (timeline 2) → both write →
 *   both stopped; optionally a standby of the promoted node promoted again (TLI 3).
 *
 * Each control file is captured with what the server itself reported about it
 * (pg_control_* SQL functions, read in the same instant) when it was running, so the
 * tests have an oracle for every major, 18 included.
 */

export interface SqlControl {
  system: Record<string, any>
  checkpoint: Record<string, any>
  recovery: Record<string, any>
  init: Record<string, any>
}

export interface ControlSnapshot {
  label: string
  /** data dir of the cluster the file came from (its pg_wal stays until teardown) */
  dataDir: string
  bytes: Buffer
  /** what the running server said about this exact file; null for stopped clusters */
  sql: SqlControl | null
}

export interface RealData {
  major: number
  snapshots: ControlSnapshot[]
  primaryDir: string
  promotedDir: string
  /** pg_wal/00000002.history of the promoted node */
  history2: Buffer
  /** pg_wal/00000003.history, when asked for */
  history3: Buffer | null
  tli3Dir: string | null
  /** the standby's last replayed end LSN just before promotion: the switch point */
  switchLsn: string
  /** every cluster, for teardown */
  clusters: Cluster[]
  root: string
}

async function sqlControl (c: Cluster): Promise<SqlControl> {
  const one = async (fn: string): Promise<Record<string, any>> => {
    const rows = await c.query(`SELECT * FROM ${fn}()`)
    return rows[0]
  }
  return {
    system: await one('pg_control_system'),
    checkpoint: await one('pg_control_checkpoint'),
    recovery: await one('pg_control_recovery'),
    init: await one('pg_control_init')
  }
}

/**
 * Read the running cluster's pg_control together with the server's own view of it.
 * The file can change at any time (checkpoints, restartpoints); retry until the
 * SQL view is the same before and after our read, so both describe the same bytes.
 */
async function snapshotRunning (c: Cluster, label: string): Promise<ControlSnapshot> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const before = await sqlControl(c)
    const bytes = readFileSync(join(c.dataDir, 'global', 'pg_control'))
    const after = await sqlControl(c)
    if (JSON.stringify(before) === JSON.stringify(after)) return { label, dataDir: c.dataDir, bytes, sql: after }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`pg_control of ${c.name} kept changing`)
}

function snapshotStopped (c: Cluster, label: string): ControlSnapshot {
  return { label, dataDir: c.dataDir, bytes: readFileSync(join(c.dataDir, 'global', 'pg_control')), sql: null }
}

/**
 * The standby's replay position once it has replayed all it received from its
 * (now stopped) primary: the primary's shutdown checkpoint may still be in flight
 * when pg_ctl stop returns.
 */
async function settledReplayLsn (s: Cluster): Promise<string> {
  let last = ''
  for (let i = 0; i < 100; i++) {
    const row = (await s.query('SELECT pg_last_wal_replay_lsn()::text AS replay, pg_last_wal_receive_lsn()::text AS receive'))[0]
    const settled = row.replay === last && (row.receive === null || row.receive === row.replay)
    if (settled) return row.replay as string
    last = row.replay as string
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`standby ${s.name} replay position did not settle`)
}

export async function buildRealData (major: number, opts: { tli3?: boolean } = {}): Promise<RealData> {
  const root = makeTempRoot()
  const clusters: Cluster[] = []
  const data: Partial<RealData> = { major, root, clusters, snapshots: [] }
  try {
    const p = await Cluster.init({ major, name: 'primary', root, conf: { wal_level: 'logical', track_commit_timestamp: true } })
    clusters.push(p)
    await p.start()
    await p.query('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g')
    await p.checkpoint()
    data.snapshots!.push(await snapshotRunning(p, 'primary in production'))

    const s = await p.createStandby('standby')
    clusters.push(s)
    await p.query('INSERT INTO t SELECT g, md5(g::text) FROM generate_series(2001, 3000) g')
    await p.checkpoint() // gives the standby a checkpoint record to make a restartpoint from
    await p.waitForReplay(s)
    await s.checkpoint() // a restartpoint: advances the standby's minRecoveryPoint and checkpoint copy
    data.snapshots!.push(await snapshotRunning(s, 'standby in archive recovery'))
    await s.stop()
    data.snapshots!.push(snapshotStopped(s, 'standby shut down in recovery'))

    // Stop the primary before promoting so the switch point is fixed: the standby
    // has replayed the primary's shutdown checkpoint and nothing can follow it.
    await s.start()
    await p.stop()
    data.switchLsn = await settledReplayLsn(s)
    await s.promote()
    await s.checkpoint()
    await s.query('INSERT INTO t SELECT g, \'promoted\' FROM generate_series(3001, 4000) g')
    data.snapshots!.push(await snapshotRunning(s, 'promoted in production'))
    await s.stop()
    data.snapshots!.push(snapshotStopped(s, 'promoted shut down'))
    data.history2 = readFileSync(join(s.dataDir, 'pg_wal', '00000002.history'))
    data.promotedDir = s.dataDir

    // The old primary goes on on timeline 1: the divergence pg_rewind would undo.
    await p.start()
    await p.query('UPDATE t SET v = \'old primary\' WHERE id % 5 = 0')
    await p.stop()
    data.snapshots!.push(snapshotStopped(p, 'primary shut down'))
    data.primaryDir = p.dataDir

    data.history3 = null
    data.tli3Dir = null
    if (opts.tli3 === true) {
      const s2 = await s.createStandby('standby2')
      clusters.push(s2)
      await s2.promote()
      await s2.checkpoint()
      await s2.stop()
      data.snapshots!.push(snapshotStopped(s2, 'second promotion shut down'))
      data.history3 = readFileSync(join(s2.dataDir, 'pg_wal', '00000003.history'))
      data.tli3Dir = s2.dataDir
    }
    return data as RealData
  } catch (e) {
    await destroyRealData(data as RealData)
    throw e
  }
}

export async function destroyRealData (d: RealData | undefined): Promise<void> {
  if (d === undefined) return
  for (const c of d.clusters ?? []) {
    try { await c.destroy() } catch { /* keep going: the rest must still be stopped */ }
  }
  if (d.root !== undefined) removeTree(d.root)
}

/** Debian's pg_controldata 15 (reads the 13–17 layouts), or null when not installed. */
export const PG_CONTROLDATA_15 = '/usr/lib/postgresql/15/bin/pg_controldata'
export const PG_REWIND_15 = '/usr/lib/postgresql/15/bin/pg_rewind'

/**
 * Run pg_controldata 15 on a copy of a control file (so it sees exactly these
 * bytes, not whatever the live file holds by then) and return its "label: value"
 * lines. C locale and UTC make the time fields reproducible.
 */
export function runPgControlData (bytes: Buffer): { fields: Map<string, string>, stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pgrewind-cd-'))
  try {
    mkdirSync(join(dir, 'global'))
    writeFileSync(join(dir, 'global', 'pg_control'), bytes)
    const r = spawnSync(PG_CONTROLDATA_15, ['-D', dir], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC' } })
    if (r.status !== 0) throw new Error(`pg_controldata failed: ${r.stderr}`)
    const fields = new Map<string, string>()
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf(':')
      if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).trim())
    }
    return { fields, stderr: r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function hasPgControlData15 (): boolean {
  return existsSync(PG_CONTROLDATA_15)
}

export function walFiles (dataDir: string): string[] {
  return readdirSync(join(dataDir, 'pg_wal')).filter(n => /^[0-9A-F]{24}$/.test(n)).sort()
}
