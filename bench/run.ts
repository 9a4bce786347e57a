/**
 * The rewind benchmark: pgrewind side by side with PostgreSQL's C pg_rewind (Debian's
 * 15) on identical fresh copies of one diverged pair, with pg_basebackup (the full copy a
 * rewind avoids) as the baseline.
 *
 *   npm run bench -- [--scale 30] [--tx 10000] [--runs 2] [--modes local,tcp,socket,load,tables,tables-tcp]
 *                    [--major 15] [--tables 30000] [--load-clients 4] [--tools C,pgrewind,nojournal,compare,basebackup]
 *                    [--verify full|none] [--pair DIR] [--keep-pair] [--build-only] [--json FILE]
 *                    [--hint-logging on|off] [--touch-scale N]
 *
 * The pair: a pgbench database of --scale on a primary with a streaming standby; the
 * standby is promoted; then both sides write (--tx pgbench transactions per client, 2
 * clients, on each side), and both stop cleanly. The old primary is the target, the
 * promoted standby the source. --pair DIR reuses a pair kept by --keep-pair (or made
 * by --build-only, which runs nothing); one made for the tables mode (e.g. --modes tables
 * --tables 100000 --build-only) serves that mode.
 *
 * --touch-scale N makes the writes after the promotion touch only the first N scale units
 * (accounts 1..100000·N, tellers, branches; pgbench's TPC-B-like transaction, with
 * --random-seed fixed for each side): the same rows, and as many pages, on any cluster
 * of scale ≥ N (new row versions that do not fit in place go to the table's end, which
 * moves with the scale), so a scale-100 and a scale-300 pair diverge by the same work
 * (the cost follows the work, not the cluster). A pair of a smaller scale is touched
 * whole. Default: pgbench's built-in script over the whole pair.
 *
 * --hint-logging off builds the pair without data checksums and wal_log_hints (before
 * PostgreSQL 18, initdb's default): C pg_rewind refuses such a target, pgrewind applies
 * its hint rule (or compares every block with --tools compare).
 *
 * Modes (each on fresh copies of the pair, every round):
 *   local   --source-pgdata: the source a stopped data directory
 *   tcp     --source-server over TCP on 127.0.0.1 (the source running, idle)
 *   socket  --source-server over the Unix socket (idle)
 *   load    --source-server over the Unix socket, pgbench (--load-clients) writing on the
 *           source during the rewind; its tps before and during the rewind are reported,
 *           and the transactions it did not commit during the rewind at its rate before
 *   tables  a pair of its own (pgbench scale 1) where each side created --tables tables
 *           after the fork; local source
 *   tables-tcp  that pair with --source-server over TCP on 127.0.0.1 (idle)
 *
 * Every round rewinds with each tool in turn, the order reversed every other round
 * (an even number of rounds, so each tool goes first as often as the other). Before
 * each run: fresh copies, `sync`, and the page cache dropped (/proc/sys/vm/drop_caches,
 * when writable: the output says when it is not). Each tool runs under bench/measure.py:
 * wall time, peak RSS, and /proc/PID/io (bytes read from storage, bytes written to the
 * page cache). Every rewound copy is then started as a standby of its source, made to
 * replay everything the source has, and compared table by table (row count and a hash
 * of every row): a fast run that is wrong fails the benchmark.
 *
 * A script, not a test: the machine is shared and noisy, so ratios measured within
 * one run matter more than absolute times.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { runtime } from '../lib/harness/runtime'
import { Cluster } from '../lib/harness/cluster'
import { chownToRunner, removeTree, runOk } from '../lib/harness/proc'
import { childEnv, unprivilegedUser } from '../lib/harness/runas'
import { debianPg15 } from '../lib/harness/workload'

const DEB = '/usr/lib/postgresql/15/bin'
const MEASURE = join(__dirname, '..', '..', 'bench', 'measure.py')

// ── options ───────────────────────────────────────────────────────────────────

function arg (name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`)

type Mode = 'local' | 'tcp' | 'socket' | 'load' | 'tables' | 'tables-tcp'
/** Where the source is in each mode, and whether the mode rewinds the pair of many tables */
const MODES: Record<Mode, { source: 'local' | 'tcp' | 'socket' | 'load', tables: boolean }> = {
  local: { source: 'local', tables: false },
  tcp: { source: 'tcp', tables: false },
  socket: { source: 'socket', tables: false },
  load: { source: 'load', tables: false },
  tables: { source: 'local', tables: true },
  'tables-tcp': { source: 'tcp', tables: true }
}
type Tool = 'C' | 'pgrewind' | 'nojournal' | 'compare' | 'basebackup'
const TOOL_NAMES: Record<Tool, string> = { C: 'C pg_rewind 15', pgrewind: 'pgrewind', nojournal: 'pgrewind --no-journal', compare: 'pgrewind --compare-blocks', basebackup: 'pg_basebackup 15' }

/** pgrewind's options per variant: without the journal; every block compared with the source (what a target without hint logging costs at most) */
const TOOL_FLAGS: Record<'pgrewind' | 'nojournal' | 'compare', string[]> = { pgrewind: [], nojournal: ['--no-journal'], compare: ['--compare-blocks'] }

const opt = {
  major: Number(arg('major', '15')),
  scale: Number(arg('scale', '30')),
  tx: Number(arg('tx', '10000')),
  runs: Number(arg('runs', '2')),
  modes: arg('modes', 'local,tcp,socket,load').split(',') as Mode[],
  tables: Number(arg('tables', '30000')),
  loadClients: Number(arg('load-clients', '4')),
  loadWarmup: Number(arg('load-warmup', '5')),
  tools: arg('tools', 'C,pgrewind,basebackup').split(',') as Tool[],
  verify: arg('verify', 'full') as 'full' | 'none',
  pair: arg('pair', ''),
  keepPair: flag('keep-pair') || flag('build-only'),
  buildOnly: flag('build-only'),
  json: arg('json', ''),
  hintLogging: arg('hint-logging', 'on') !== 'off',
  touchScale: Number(arg('touch-scale', '0'))
}
for (const m of opt.modes) if (!(m in MODES)) throw new Error(`--modes: no mode ${m} (${Object.keys(MODES).join(', ')})`)
if (!Number.isInteger(opt.touchScale) || opt.touchScale < 0) throw new Error(`--touch-scale must be a whole number of scale units (0: pgbench's own script), not ${arg('touch-scale', '0')}`)

// ── measuring one process ─────────────────────────────────────────────────────

interface IoCounters { rchar: number, wchar: number, read_bytes: number, write_bytes: number, cancelled_write_bytes: number }
interface Measure {
  wall: number
  rssMb: number
  cpu: number
  io: IoCounters
  stdout: string
}

async function measured (cmd: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Measure> {
  const out = join(mkdtempSync(join(tmpdir(), 'pgrewind-measure-')), 'm.json')
  const u = unprivilegedUser()
  return await new Promise((resolve, reject) => {
    // measure.py runs as root (it must read the zombie's /proc/PID/io) and drops to the unprivileged user for the command
    const child = spawn('python3', [MEASURE, out, String(u?.uid ?? -1), String(u?.gid ?? -1), cmd, ...args],
      { cwd: '/', env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', () => {
      try {
        const m = JSON.parse(readFileSync(out, 'utf8')) as { exit: number, wallSeconds: number, maxRssKb: number, userSeconds: number, sysSeconds: number, io: IoCounters }
        if (m.exit !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${m.exit}):\n${stderr.slice(-3000)}${stdout.slice(-2000)}`)
        resolve({ wall: m.wallSeconds, rssMb: m.maxRssKb / 1024, cpu: m.userSeconds + m.sysSeconds, io: m.io, stdout })
      } catch (e) { reject(e) } finally { rmSync(join(out, '..'), { recursive: true, force: true }) }
    })
  })
}

// ── the page cache ────────────────────────────────────────────────────────────

let dropNote: string | null = null
function dropCaches (): void {
  spawnSync('sync')
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3')
  } catch (e) {
    if (dropNote === null) {
      dropNote = `the page cache could NOT be dropped before the runs (${(e as Error).message}): reads may come from the cache`
      console.log(`note: ${dropNote}`)
    }
  }
}

// ── the pair ──────────────────────────────────────────────────────────────────

interface PairInfo { major: number, scale: number, tx: number, tables: number, hintLogging: boolean, bin: 'system' | 'embedded', root: string, touchScale?: number }

const pairConf = { max_wal_size: '4GB', checkpoint_timeout: '30min', wal_keep_size: '512MB', shared_buffers: '128MB', max_connections: 40 }

async function pgbench (c: Cluster, args: string[]): Promise<void> {
  await runOk(join(DEB, 'pgbench'), ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres', ...args, 'postgres'])
}

/** pgbench's TPC-B-like transaction with its keys drawn from the first `touch` scale units only. */
function touchScript (touch: number): string {
  return [
    `\\set aid random(1, 100000 * ${touch})`,
    `\\set bid random(1, ${touch})`,
    `\\set tid random(1, 10 * ${touch})`,
    '\\set delta random(-5000, 5000)',
    'BEGIN;',
    'UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;',
    'SELECT abalance FROM pgbench_accounts WHERE aid = :aid;',
    'UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;',
    'UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;',
    'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);',
    'END;', ''
  ].join('\n')
}

/** pgbench scale `scale`, standby, promotion, `tx` transactions per client (2 clients) on both sides, `tables` new tables on both sides. */
async function buildPair (scale: number, tx: number, tables: number): Promise<PairInfo> {
  const t0 = Date.now()
  const bin = opt.major === 15 ? 'system' : 'embedded'
  // creating many tables writes GBs of WAL and checkpoints on the way: keep it all, or the
  // target would no longer have the WAL from the last common checkpoint (no tool could rewind it)
  const conf = tables > 0 ? { ...pairConf, wal_keep_size: '64GB' } : pairConf
  const primary = await Cluster.init({ major: opt.major, name: 'primary', bin, conf, ...(opt.hintLogging ? {} : { checksums: false, walLogHints: false }) })
  await primary.start()
  await pgbench(primary, ['-i', '-q', '-s', String(scale)])
  await primary.checkpoint()
  const standby = await primary.createStandby('standby')
  await primary.waitForReplay(standby)
  await standby.promote()
  const touch = tables === 0 && opt.touchScale > 0 ? Math.min(opt.touchScale, scale) : 0
  const script = join(primary.root, 'touch.sql')
  if (touch > 0) {
    writeFileSync(script, touchScript(touch))
    chownToRunner(script)
  }
  const writes = async (c: Cluster, side: string): Promise<void> => {
    await c.query(`CREATE TABLE on_${side} AS SELECT generate_series(1, 10000) AS x`)
    // a seed of each side's own: the same rows on any scale, not the same on both sides
    const how = touch > 0 ? ['-f', script, `--random-seed=${side === 'target' ? 1 : 2}`] : []
    if (tx > 0) await pgbench(c, ['-n', '-c', '2', '-j', '2', '-t', String(tx), ...how])
    for (let done = 0; done < tables; done += 1000) {
      const n = Math.min(1000, tables - done)
      await c.query(`DO $$ BEGIN FOR i IN ${done}..${done + n - 1} LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text); INSERT INTO %I VALUES (1, %L)', '${side}_' || i, '${side}_' || i, '${side}'); END LOOP; END $$`)
    }
  }
  await Promise.all([writes(standby, 'source'), writes(primary, 'target')])
  await standby.stop()
  await primary.stop()
  const info: PairInfo = { major: opt.major, scale, tx, tables, hintLogging: opt.hintLogging, bin, root: primary.root, ...(touch > 0 ? { touchScale: touch } : {}) }
  writeFileSync(join(primary.root, 'bench-pair.json'), JSON.stringify(info))
  console.log(`pair ready in ${primary.root}: PG ${opt.major}${opt.hintLogging ? '' : ' without hint logging'}, pgbench scale ${scale}, ${tx} transactions x 2 clients per side${touch > 0 ? ` on the first ${touch} scale units` : ''}${tables > 0 ? `, ${tables} new tables per side` : ''}; ` +
    `target ${du(primary.dataDir)}, source ${du(standby.dataDir)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
  return info
}

function du (dir: string): string {
  const r = spawnSync('du', ['-sm', dir], { encoding: 'utf8' })
  return `${r.stdout.split('\t')[0]} MB`
}

// ── verifying a rewound copy ──────────────────────────────────────────────────

/** Tables hashed by one statement: each locks them all, and a standby's lock table holds 64 × max_connections. */
const DIGEST_BATCH = 1000

/** Per table of every database: row count and the sum of a 32-bit hash of every row, a thousand tables a query (no sort, fast on 30,000 tables). */
async function digest (c: Cluster): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const dbs = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1')
  out.set('databases', dbs.map(d => d.datname).join(','))
  for (const { datname } of dbs) {
    const tables = (await c.query<{ oid: string }>(`
      SELECT c.oid::text AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm') AND c.relpersistence = 'p'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`, datname)).map(r => r.oid)
    for (let i = 0; i < tables.length; i += DIGEST_BATCH) {
      const rows = await c.query<{ t: string, d: string }>(`
        SELECT n.nspname || '.' || c.relname AS t,
               (xpath('/row/d/text()', query_to_xml(format('SELECT count(*) || '':'' || coalesce(sum(hashtext(x::text)::int8), 0) AS d FROM %I.%I x', n.nspname, c.relname), false, true, '')))[1]::text AS d
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = ANY($1::oid[])`, datname, [tables.slice(i, i + DIGEST_BATCH)])
      for (const r of rows) out.set(`${datname}:${r.t}`, r.d)
    }
  }
  return out
}

/** Start the rewound target as a standby of the source, let it replay everything, compare every table. */
async function rejoinAndVerify (target: Cluster, source: Cluster): Promise<string> {
  if (!source.running) await source.start()
  target.reassertLocalConf()
  // it copied the source's configuration: not the source's TCP port
  target.appendConf({ listen_addresses: '' })
  target.followPrimary(source)
  await target.start()
  await source.query('CREATE TABLE IF NOT EXISTS rejoin_marker (n int); INSERT INTO rejoin_marker VALUES (1)')
  await source.waitForReplay(target, 600_000)
  const [a, b] = await Promise.all([digest(target), digest(source)])
  const diff: string[] = []
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) diff.push(`${k}: ${a.get(k) ?? '(missing)'} != ${b.get(k) ?? '(missing)'}`)
  if (diff.length > 0) throw new Error(`the rewound copy differs from its source after rejoining:\n${diff.slice(0, 20).join('\n')}`)
  return `${a.size - 1} tables identical`
}

// ── load on the source ────────────────────────────────────────────────────────

/** pgbench writing on the source, with per-second progress (timestamps) to compute tps in a window. */
class Load {
  private readonly samples: Array<[number, number]> = [] // [end time s, tps over the second before]
  private readonly child
  private readonly done: Promise<void>
  constructor (c: Cluster, clients: number) {
    const u = unprivilegedUser()
    this.child = spawn(join(DEB, 'pgbench'), ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres', '-n', '-c', String(clients), '-j', '2',
      '-T', '3600', '-P', '1', '--progress-timestamp', 'postgres'], { cwd: '/', env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'], uid: u?.uid, gid: u?.gid })
    let buf = ''
    this.child.stderr.on('data', (d: Buffer) => {
      buf += d.toString()
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const m = /^progress: ([\d.]+) s, ([\d.]+) tps/.exec(buf.slice(0, i))
        if (m !== null) this.samples.push([Number(m[1]), Number(m[2])])
        buf = buf.slice(i + 1)
      }
    })
    this.done = new Promise(resolve => this.child.on('close', () => resolve()))
  }

  /** Mean tps over [from, to] (seconds since the epoch), each one-second sample weighted by its overlap. */
  tps (from: number, to: number): number {
    let w = 0
    let sum = 0
    for (const [end, tps] of this.samples) {
      const o = Math.min(end, to) - Math.max(end - 1, from)
      if (o > 0) { w += o; sum += o * tps }
    }
    return w > 0 ? sum / w : NaN
  }

  async stop (): Promise<void> {
    this.child.kill('SIGINT')
    await this.done
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

// ── one run ───────────────────────────────────────────────────────────────────

interface RunResult {
  mode: Mode
  round: number
  tool: Tool
  m: Measure
  /** pgrewind's --json summary */
  summary?: any
  tpsBefore?: number
  tpsDuring?: number
  verified: string
}

async function freePort (): Promise<number> {
  const net = await import('node:net')
  return await new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
    })
  })
}

async function runOne (pair: PairInfo, mode: Mode, round: number, tool: Tool): Promise<RunResult> {
  const primary = Cluster.attach(pair.major, 'primary', pair.root, pair.bin)
  const standby = Cluster.attach(pair.major, 'standby', pair.root, pair.bin)
  // copies a stopped benchmark left behind in a kept pair
  for (const stale of ['bench_target', 'bench_source', 'bench_basebackup', 'bench_target.tblspc', 'bench_source.tblspc']) removeTree(join(pair.root, stale))
  const tgt = primary.clone('bench_target')
  const src = standby.clone('bench_source')
  let load: Load | null = null
  const extra = join(pair.root, 'bench_basebackup')
  const source = MODES[mode].source
  try {
    if (source === 'tcp') {
      src.tcpPort = await freePort()
      src.port = src.tcpPort
      src.appendConf({ listen_addresses: '127.0.0.1', port: src.port })
    }
    // a production primary: durable commits (the harness's clusters run with fsync off)
    if (source === 'load') src.appendConf({ fsync: true })
    const server = source !== 'local'
    if (server) await src.start()
    const srcArgs = server ? ['--source-server', src.connstr()] : ['--source-pgdata', src.dataDir]
    dropCaches()
    let loadFrom = 0
    if (source === 'load') {
      load = new Load(src, opt.loadClients)
      loadFrom = Date.now() / 1000
      await sleep(opt.loadWarmup * 1000)
    }
    const t0 = Date.now() / 1000
    let m: Measure
    let summary: any
    switch (tool) {
      case 'C':
        m = await measured(join(DEB, 'pg_rewind'), ['-D', tgt.dataDir, ...srcArgs])
        break
      case 'pgrewind':
      case 'nojournal':
      case 'compare':
        // the command users run: the launcher (npm's bin), with the node this bench runs on
        m = await measured(runtime().launcher, ['-D', tgt.dataDir, ...srcArgs, '--json', ...TOOL_FLAGS[tool]], { PGREWIND_NODE: runtime().node })
        summary = JSON.parse(m.stdout)
        break
      case 'basebackup':
        removeTree(extra)
        m = await measured(join(DEB, 'pg_basebackup'), ['-D', extra, '-d', src.connstr(), '-X', 'stream', '-c', 'fast'])
        break
    }
    const t1 = Date.now() / 1000
    let tpsBefore: number | undefined
    let tpsDuring: number | undefined
    if (load !== null) {
      await sleep(1100) // the last progress line of the rewind's window
      tpsBefore = load.tps(loadFrom + 1, t0)
      tpsDuring = load.tps(t0, t1)
      await load.stop()
      load = null
    }
    let verified = 'not verified'
    if (tool === 'basebackup') verified = 'baseline (not a rewind)'
    else if (opt.verify === 'full') verified = await rejoinAndVerify(tgt, src)
    return { mode, round, tool, m, summary, tpsBefore, tpsDuring, verified }
  } finally {
    if (load !== null) await load.stop()
    await src.destroy()
    await tgt.destroy()
    removeTree(extra)
  }
}

// ── report ────────────────────────────────────────────────────────────────────

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const MB = (n: number): string => (n / 1048576).toFixed(0)
const f2 = (n: number): string => Number.isNaN(n) ? '-' : n.toFixed(2)
/**
 * What the rewind cost the source: the transactions it did not commit during the rewind
 * at the rate it had before. A faster rewind takes more per second for a shorter time;
 * this is the total, the figure to weigh two tools by (the rate during is the other).
 */
const txLost = (r: RunResult): number => ((r.tpsBefore ?? NaN) - (r.tpsDuring ?? NaN)) * r.m.wall
const range = (xs: number[], d = 2): string => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`

function printRun (r: RunResult): void {
  const io = r.m.io
  let line = `  ${r.mode.padEnd(10)} round ${r.round + 1} ${TOOL_NAMES[r.tool].padEnd(22)} ${r.m.wall.toFixed(2).padStart(7)} s  RSS ${r.m.rssMb.toFixed(0).padStart(4)} MB  ` +
    `cpu ${r.m.cpu.toFixed(2)} s  read ${MB(io.read_bytes)} MB  written ${MB(io.write_bytes)} MB (rchar ${MB(io.rchar)}, wchar ${MB(io.wchar)})`
  if (r.summary !== undefined) {
    const s = r.summary
    line += `\n      steps: ${Object.entries(s.timings as Record<string, number>).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')} ms; ` +
      `fetched ${MB(s.plan.totals.fetchBytes)} MB, journal ${MB(s.apply.journal?.bytes ?? 0)} MB, ${s.scan.records} WAL records`
  }
  if (r.tpsBefore !== undefined) {
    line += `\n      source pgbench: ${r.tpsBefore.toFixed(0)} tps before, ${(r.tpsDuring ?? NaN).toFixed(0)} tps during the rewind, ` +
      `${txLost(r).toFixed(0)} transactions fewer than at the rate before`
  }
  line += `\n      ${r.verified}`
  console.log(line)
}

function summarize (results: RunResult[]): string {
  const lines: string[] = []
  lines.push('| mode | tool | wall s median (min–max) | ours/C (median of rounds) | peak RSS MB | read MB | written MB | journal MB | source tps before → during (transactions fewer) |')
  lines.push('|---|---|---|---|---|---|---|---|---|')
  for (const mode of [...new Set(results.map(r => r.mode))]) {
    const rs = results.filter(r => r.mode === mode)
    for (const tool of [...new Set(rs.map(r => r.tool))]) {
      const t = rs.filter(r => r.tool === tool)
      const ratios: number[] = []
      if (tool !== 'C') {
        for (const r of t) {
          const c = rs.find(x => x.tool === 'C' && x.round === r.round)
          if (c !== undefined) ratios.push(r.m.wall / c.m.wall)
        }
      }
      const j = t.map(r => r.summary?.apply?.journal?.bytes ?? 0)
      const tps = t.filter(r => r.tpsBefore !== undefined)
      const tpsMedian = (f: (r: RunResult) => number): string => median(tps.map(f)).toFixed(0)
      lines.push(`| ${mode} | ${TOOL_NAMES[tool]} | ${range(t.map(r => r.m.wall))} | ${ratios.length > 0 ? `${f2(median(ratios))} (${f2(Math.min(...ratios))}–${f2(Math.max(...ratios))})` : ''} | ` +
        `${median(t.map(r => r.m.rssMb)).toFixed(0)} (max ${Math.max(...t.map(r => r.m.rssMb)).toFixed(0)}) | ${MB(median(t.map(r => r.m.io.read_bytes)))} | ${MB(median(t.map(r => r.m.io.write_bytes)))} | ` +
        `${t[0].summary !== undefined ? MB(median(j)) : ''} | ${tps.length > 0 ? `${tpsMedian(r => r.tpsBefore ?? NaN)} → ${tpsMedian(r => r.tpsDuring ?? NaN)} (${tpsMedian(txLost)})` : ''} |`)
    }
  }
  const ours = results.filter(r => r.summary !== undefined && r.tool === 'pgrewind')
  if (ours.length > 0) {
    lines.push('')
    lines.push('pgrewind per step, median ms:')
    for (const mode of [...new Set(ours.map(r => r.mode))]) {
      const o = ours.filter(r => r.mode === mode)
      const steps = Object.keys(o[0].summary.timings as Record<string, number>)
      lines.push(`  ${mode}: ${steps.map(k => `${k} ${median(o.map(r => r.summary.timings[k] as number)).toFixed(0)}`).join(', ')}`)
    }
  }
  return lines.join('\n')
}

// ── main ──────────────────────────────────────────────────────────────────────

async function main (): Promise<void> {
  if (debianPg15() === null || !existsSync(join(DEB, 'pg_rewind')) || !existsSync(join(DEB, 'pgbench'))) throw new Error(`Debian's PostgreSQL 15 is needed (${DEB}): apt-get install postgresql-15`)
  if (opt.runs % 2 !== 0) throw new Error('--runs must be even: each tool goes first in half of the rounds')
  const started = new Date()
  let tools = opt.tools
  if (opt.major !== 15 && tools.some(t => t === 'C' || t === 'basebackup')) {
    console.log(`note: Debian's C pg_rewind and pg_basebackup are PostgreSQL 15; on PG ${opt.major} only pgrewind is measured`)
    tools = tools.filter(t => t !== 'C' && t !== 'basebackup')
  }
  if (!opt.hintLogging && tools.includes('C')) {
    console.log('note: C pg_rewind refuses a target without data checksums and wal_log_hints; it is left out')
    tools = tools.filter(t => t !== 'C')
  }
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; started ${started.toISOString()}`)
  console.log(`command: npm run bench -- ${process.argv.slice(2).join(' ')}`)

  const pairs: { main?: PairInfo, tables?: PairInfo } = {}
  const owned: string[] = []
  const results: RunResult[] = []
  try {
    const modes = opt.modes.filter(m => !MODES[m].tables)
    // --pair DIR: a kept pair serves the tables mode when it was made for it (--tables N), else the others
    const kept = opt.pair !== '' ? JSON.parse(readFileSync(join(opt.pair, 'bench-pair.json'), 'utf8')) as PairInfo : null
    if (kept !== null && kept.tables > 0) {
      pairs.tables = kept
      console.log(`reusing the pair in ${opt.pair}: ${kept.tables} new tables per side`)
    }
    if (modes.length > 0) {
      if (kept !== null && kept.tables === 0) {
        pairs.main = kept
        console.log(`reusing the pair in ${opt.pair}: scale ${pairs.main.scale}, ${pairs.main.tx} transactions x 2 per side${pairs.main.touchScale !== undefined ? ` on the first ${pairs.main.touchScale} scale units` : ''}`)
      } else {
        pairs.main = await buildPair(opt.scale, opt.tx, 0)
        owned.push(pairs.main.root)
      }
    }
    if (opt.modes.some(m => MODES[m].tables) && pairs.tables === undefined) {
      pairs.tables = await buildPair(1, 0, opt.tables)
      owned.push(pairs.tables.root)
    }
    for (const mode of opt.buildOnly ? [] : opt.modes) {
      const pair = MODES[mode].tables ? pairs.tables : pairs.main
      if (pair === undefined) continue
      const modeTools = tools.filter(t => t !== 'basebackup' || MODES[mode].source === 'tcp' || MODES[mode].source === 'socket')
      for (let round = 0; round < opt.runs; round++) {
        const order = round % 2 === 0 ? modeTools : [...modeTools].reverse()
        for (const tool of order) {
          const r = await runOne(pair, mode, round, tool)
          results.push(r)
          printRun(r)
        }
      }
    }
  } finally {
    if (!opt.keepPair) for (const r of owned) removeTree(r)
    else for (const r of owned) console.log(`kept the pair in ${r} (--pair ${r})`)
  }
  const table = summarize(results)
  console.log(`\n${table}`)
  if (dropNote !== null) console.log(`\nnote: ${dropNote}`)
  console.log(`\nfinished ${new Date().toISOString()} (${((Date.now() - started.getTime()) / 60000).toFixed(0)} min)`)
  if (opt.json !== '') writeFileSync(opt.json, JSON.stringify({ options: opt, started, pairs, dropNote, results: results.map(r => ({ ...r, m: { ...r.m, stdout: undefined } })) }, null, 1))
}

main().catch(e => { console.error(e); process.exitCode = 1 })
