import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { Client } from 'pg'
import { newClient } from '../libpq/pgmodule'
import { findBinDir, BinSource } from './bindir'
import { chownToRunner, makeDir, makeTempRoot, removeTree, run, runOk, runSync } from './proc'
import { clusterError } from './runas'

/**
 * Real PostgreSQL clusters for the tests: initdb in a private temp dir, unix socket
 * only (no TCP port to collide on unless asked), servers run as the unprivileged
 * user when we are root. Every started cluster is registered so that a failing test
 * or an interrupted process never leaves a server running.
 */

export interface ClusterOptions {
  major: number
  name?: string
  /** data checksums (default true); when false wal_log_hints is turned on instead */
  checksums?: boolean
  walLogHints?: boolean
  /** initdb -g: group-readable data dir (0750/0640) */
  groupAccess?: boolean
  /** extra postgresql.conf settings */
  conf?: Record<string, string | number | boolean>
  /** also listen on 127.0.0.1 (a free port is chosen) */
  tcp?: boolean
  bin?: BinSource
  /** parent dir (default: a new private temp dir) */
  root?: string
}

const live = new Set<Cluster>()

function stopAllSync (): void {
  for (const c of live) {
    runSync(join(c.binDir, 'pg_ctl'), ['-D', c.dataDir, 'stop', '-m', 'immediate', '-w'])
  }
  live.clear()
}

let guarded = false
/**
 * Installed when the first server starts (not when this module is loaded): a process
 * that ends, or is interrupted, stops the servers it started.
 */
function guardProcess (): void {
  if (guarded) return
  guarded = true
  process.on('exit', stopAllSync)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { stopAllSync(); process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)) })
  }
}

let portCounter = 0
/** Socket ports only name the socket file (.s.PGSQL.<port>) in a per-cluster dir, so they cannot collide. */
function nextPort (): number {
  portCounter++
  return 20000 + ((process.pid * 7 + portCounter * 13) % 30000)
}

async function freeTcpPort (): Promise<number> {
  const net = await import('node:net')
  return await new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

function confLine (k: string, v: string | number | boolean): string {
  const val = typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)
  return `${k} = ${val}\n`
}

export class Cluster {
  readonly major: number
  readonly name: string
  readonly root: string
  readonly dataDir: string
  readonly socketDir: string
  readonly binDir: string
  port: number
  tcpPort: number | null = null
  running = false
  private readonly ownsRoot: boolean

  private constructor (major: number, name: string, root: string, ownsRoot: boolean, binDir: string) {
    this.major = major
    this.name = name
    this.root = root
    this.ownsRoot = ownsRoot
    this.binDir = binDir
    this.dataDir = join(root, name)
    this.socketDir = makeDir(join(root, `${name}.sock`))
    this.port = nextPort()
  }

  get logFile (): string { return join(this.root, `${this.name}.log`) }

  /**
   * An existing (stopped) data directory `root/name` made by this harness, e.g. a
   * benchmark's pair kept between runs; it is not owned: destroy() removes only it.
   */
  static attach (major: number, name: string, root: string, bin: BinSource = 'embedded'): Cluster {
    if (!existsSync(join(root, name, 'PG_VERSION'))) throw clusterError(`no data directory at ${join(root, name)}`)
    return new Cluster(major, name, root, false, findBinDir(major, bin))
  }

  /** initdb a new cluster (not started). */
  static async init (opts: ClusterOptions): Promise<Cluster> {
    const binDir = findBinDir(opts.major, opts.bin ?? 'embedded')
    const ownsRoot = opts.root === undefined
    const root = opts.root ?? makeTempRoot()
    const c = new Cluster(opts.major, opts.name ?? 'primary', root, ownsRoot, binDir)
    const args = ['-D', c.dataDir, '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8', '--locale=C']
    if (opts.checksums ?? true) args.push('--data-checksums')
    else if (opts.major >= 18) args.push('--no-data-checksums')
    if (opts.groupAccess === true) args.push('-g')
    await runOk(join(binDir, 'initdb'), args)
    const conf: Record<string, string | number | boolean> = {
      listen_addresses: '',
      unix_socket_directories: c.socketDir,
      port: c.port,
      wal_level: 'replica',
      max_wal_senders: 10,
      max_replication_slots: 10,
      hot_standby: true,
      wal_keep_size: '512MB',
      fsync: false,
      full_page_writes: true,
      shared_buffers: '32MB',
      max_connections: 30,
      autovacuum: false,
      logging_collector: false,
      wal_log_hints: opts.walLogHints ?? (opts.checksums === false),
      ...opts.conf
    }
    if (opts.tcp === true) {
      c.tcpPort = await freeTcpPort()
      conf.listen_addresses = '127.0.0.1'
      conf.port = c.tcpPort
      c.port = c.tcpPort
    }
    c.appendConf(conf)
    return c
  }

  appendConf (conf: Record<string, string | number | boolean>): void {
    appendFileSync(join(this.dataDir, 'postgresql.conf'), Object.entries(conf).map(([k, v]) => confLine(k, v)).join(''))
  }

  /** libpq connection string to this cluster (unix socket unless tcp). */
  connstr (db = 'postgres', user = 'postgres'): string {
    const host = this.tcpPort !== null ? '127.0.0.1' : this.socketDir
    return `host=${host} port=${this.port} user=${user} dbname=${db}`
  }

  async start (): Promise<void> {
    guardProcess()
    const r = await run(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '120', 'start'])
    if (r.code !== 0) {
      const log = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n').slice(-30).join('\n') : ''
      throw clusterError(`pg_ctl start ${this.name} (PG ${this.major}) failed: ${r.stderr}${r.stdout}\n${log}`)
    }
    this.running = true
    live.add(this)
  }

  async stop (mode: 'fast' | 'immediate' | 'smart' = 'fast'): Promise<void> {
    if (!this.running) return
    await runOk(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, 'stop', '-m', mode, '-w', '-t', '120'])
    this.running = false
    live.delete(this)
  }

  /** Stop without a shutdown checkpoint: the control file stays "in production". */
  async crash (): Promise<void> { await this.stop('immediate') }

  async restart (): Promise<void> {
    await this.stop()
    await this.start()
  }

  /** A connection of its own (for a transaction held open across other work); the caller ends it. */
  async connect (db = 'postgres'): Promise<Client> {
    const client = newClient({ host: this.tcpPort !== null ? '127.0.0.1' : this.socketDir, port: this.port, user: 'postgres', database: db })
    await client.connect()
    return client
  }

  async query<T extends Record<string, unknown> = Record<string, any>>(sql: string, db = 'postgres', params: unknown[] = []): Promise<T[]> {
    const client = newClient({ host: this.tcpPort !== null ? '127.0.0.1' : this.socketDir, port: this.port, user: 'postgres', database: db })
    await client.connect()
    try {
      const r = await client.query(sql, params)
      const results = Array.isArray(r) ? r[r.length - 1] : r
      return results.rows as T[]
    } finally {
      await client.end()
    }
  }

  async scalar<T = unknown>(sql: string, db = 'postgres'): Promise<T> {
    const rows = await this.query(sql, db)
    if (rows.length === 0) throw clusterError(`no row from ${sql}`)
    return Object.values(rows[0])[0] as T
  }

  async isInRecovery (): Promise<boolean> {
    return await this.scalar<boolean>('SELECT pg_is_in_recovery()')
  }

  async checkpoint (): Promise<void> { await this.query('CHECKPOINT') }

  async currentLsn (): Promise<string> {
    return await this.scalar<string>(await this.isInRecovery() ? 'SELECT pg_last_wal_replay_lsn()::text' : 'SELECT pg_current_wal_lsn()::text')
  }

  async timeline (): Promise<number> {
    return Number(await this.scalar('SELECT timeline_id FROM pg_control_checkpoint()'))
  }

  /** Wait until `standby` has replayed everything this (primary) has written so far. */
  async waitForReplay (standby: Cluster, timeoutMs = 60000): Promise<void> {
    const target = await this.currentLsn()
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const ok = await standby.scalar<boolean>(`SELECT pg_last_wal_replay_lsn() >= '${target}'::pg_lsn`)
      if (ok) return
      if (Date.now() > deadline) throw clusterError(`${standby.name} did not replay up to ${target} within ${timeoutMs} ms`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  /**
   * A streaming standby made from a copy of this cluster taken while it is cleanly
   * stopped (the embedded builds have no pg_basebackup). Tablespaces are copied to
   * new locations and their links re-pointed, as pg_basebackup's --tablespace-mapping.
   */
  async createStandby (name: string, opts: { slot?: boolean } = {}): Promise<Cluster> {
    const wasRunning = this.running
    if (wasRunning) await this.stop()
    const s = new Cluster(this.major, name, this.root, false, this.binDir)
    copyDataDir(this.dataDir, s.dataDir, join(this.root, `${name}.tblspc`))
    for (const f of ['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.signal']) {
      if (existsSync(join(s.dataDir, f))) unlinkSync(join(s.dataDir, f))
    }
    if (this.tcpPort !== null) {
      s.tcpPort = await freeTcpPort()
      s.port = s.tcpPort
    }
    s.appendConf({ port: s.port, unix_socket_directories: s.socketDir })
    s.followPrimary(this)
    if (wasRunning) await this.start()
    if (opts.slot === true) await this.query(`SELECT pg_create_physical_replication_slot('${name}')`)
    await s.start()
    return s
  }

  /**
   * A rewind copies the source's configuration files: put this node's own port and
   * socket directory back before starting it (as an operator's config management would).
   */
  reassertLocalConf (): void {
    this.appendConf({ port: this.port, unix_socket_directories: this.socketDir })
  }

  /** An independent copy of this (stopped) cluster under another name, port and socket. */
  clone (name: string): Cluster {
    if (this.running) throw clusterError(`cannot clone running cluster ${this.name}`)
    const c = new Cluster(this.major, name, this.root, false, this.binDir)
    copyDataDir(this.dataDir, c.dataDir, join(this.root, `${name}.tblspc`))
    c.reassertLocalConf()
    return c
  }

  /** Configure this (stopped) data dir to stream from `primary` on its next start. */
  followPrimary (primary: Cluster): void {
    writeFileSync(join(this.dataDir, 'standby.signal'), '')
    chownToRunner(join(this.dataDir, 'standby.signal'))
    appendFileSync(join(this.dataDir, 'postgresql.auto.conf'),
      confLine('primary_conninfo', `${primary.connstr()} application_name=${this.name}`) +
      confLine('recovery_target_timeline', 'latest'))
  }

  async promote (): Promise<void> {
    await runOk(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, 'promote', '-w', '-t', '120'])
    const deadline = Date.now() + 60000
    while (await this.isInRecovery()) {
      if (Date.now() > deadline) throw clusterError(`${this.name} still in recovery after promote`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  /** Stop (immediately) and delete everything this cluster owns. */
  async destroy (): Promise<void> {
    if (this.running) {
      try { await this.stop('immediate') } catch { /* already gone */ }
    }
    removeTree(this.dataDir)
    removeTree(this.socketDir)
    if (this.ownsRoot) removeTree(this.root)
  }
}

/** cp -a keeps owners and modes; tablespaces are re-homed under `tblspcRoot`. */
export function copyDataDir (src: string, dst: string, tblspcRoot: string): void {
  // cp -a into an existing directory would copy `src` inside it and leave the old contents
  if (existsSync(dst)) throw clusterError(`cannot copy ${src} to ${dst}: it exists (left by an interrupted run?)`)
  const r = spawnSync('cp', ['-a', src, dst], { encoding: 'utf8' })
  if (r.status !== 0) throw clusterError(`cp -a ${src} ${dst}: ${r.stderr}`)
  const tbl = join(dst, 'pg_tblspc')
  if (!existsSync(tbl)) return
  for (const oid of readdirSync(tbl)) {
    const link = join(tbl, oid)
    let target: string
    try { target = readlinkSync(link) } catch { continue } // in-place tablespace: a plain dir, already copied
    makeDir(tblspcRoot)
    const newLoc = join(tblspcRoot, oid)
    const c = spawnSync('cp', ['-a', target, newLoc], { encoding: 'utf8' })
    if (c.status !== 0) throw clusterError(`cp -a ${target} ${newLoc}: ${c.stderr}`)
    unlinkSync(link)
    symlinkSync(newLoc, link)
  }
}

/** Run fn with a fresh cluster root; everything is destroyed afterwards. */
export async function withRoot<T> (fn: (root: string) => Promise<T>): Promise<T> {
  const root = makeTempRoot()
  try { return await fn(root) } finally { removeTree(root) }
}
