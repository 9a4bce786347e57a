import t, { Test } from 'tap'
import { ChildProcess, spawn } from 'node:child_process'
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { Client } from 'pg'
import { childEnv, spawnIdentity } from '../lib/harness/runas'
import { runtime } from '../lib/harness/runtime'
import { chownToRunner, diverge, makeDir, makeTempRoot, pgrewind, rejoinAndCompare, removeTree, run, withPair } from './harness'
import { DEBIAN15, pgRewindWrapper, requirePackage } from './helpers/ha'

/**
 * pgrewind as Patroni's pg_rewind (Debian's patroni 3.0 with etcd-server): two
 * members with use_pg_rewind and a bin_dir whose pg_rewind is pgrewind; a real split
 * brain — the leader's Patroni frozen (SIGSTOP) until its leader key expires and the
 * replica takes over, writes on both sides, the old primary's postmaster killed,
 * Patroni resumed — and the old member must come back as a streaming replica of the
 * new leader with identical contents, rewound by pgrewind. Once with Patroni's rewind
 * role over SCRAM (its password file), restore_command and a config_dir outside the
 * data directory (so Patroni passes --restore-target-wal --config-file=…), once with
 * the superuser over trust. And what patroni/postgresql/rewind.py reads of
 * pg_rewind: the --help check, the exit status, and the missing-WAL line it parses
 * to fetch a segment and retry.
 */
requirePackage('/usr/bin/patroni', 'patroni')
requirePackage('/usr/bin/etcd', 'etcd-server')
requirePackage('/usr/lib/python3/dist-packages/etcd/__init__.py', 'python3-etcd')
requirePackage(join(DEBIAN15, 'postgres'), 'postgresql-15')

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      s.close(() => resolve(port))
    })
  })
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Poll f until it returns something; on a timeout, say what was awaited and how the log ends. */
async function until<T> (what: string, timeoutMs: number, f: () => Promise<T | null | undefined | false>, log?: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const v = await f()
      if (v !== null && v !== undefined && v !== false) return v
    } catch (e) { last = e }
    if (Date.now() > deadline) {
      const tail = log !== undefined && existsSync(log) ? `\n${log}:\n${readFileSync(log, 'utf8').split('\n').slice(-25).join('\n')}` : ''
      throw new Error(`timed out waiting for ${what}${last !== null ? `: ${(last as Error).message}` : ''}${tail}`)
    }
    await sleep(250)
  }
}

/** A long-running program as the servers' user, without tap's loader, its output in `log`. */
function daemon (t: Test, cmd: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a')
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', cmd, ...args], { cwd: '/', env: childEnv({ LC_ALL: 'C.UTF-8' }), stdio: ['ignore', fd, fd], ...spawnIdentity() })
  closeSync(fd)
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    try { child.kill('SIGCONT') } catch { /* gone */ }
    child.kill('SIGTERM')
    const exited = await Promise.race([new Promise(resolve => child.once('exit', () => resolve(true))), sleep(30_000).then(() => false)])
    if (exited !== true) child.kill('SIGKILL')
  })
  return child
}

async function rest (port: number, path: string): Promise<{ status: number, body: any }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) })
  const text = await r.text()
  let body: unknown = text
  try { body = JSON.parse(text) } catch { /* not JSON */ }
  return { status: r.status, body }
}

interface Member { name: string, pgPort: number, apiPort: number, dataDir: string, log: string, proc?: ChildProcess }

async function sql (m: Member, password: string, q: string): Promise<any[]> {
  const c = new Client({ host: '127.0.0.1', port: m.pgPort, user: 'postgres', password, database: 'postgres' })
  await c.connect()
  try { return (await c.query(q)).rows } finally { await c.end() }
}

const tableHash = "SELECT count(*)::text || ':' || md5(string_agg(id::text || v, ',' ORDER BY id)) AS h FROM t"

interface Variant { name: string, scram: boolean, rewindRole: boolean, restoreAndConfigDir: boolean, pgRewind: 'wrapper' | 'symlink' }
const variants: Variant[] = [
  { name: 'Patroni\'s rewind role, SCRAM and its password file, restore_command, config_dir outside the data directory', scram: true, rewindRole: true, restoreAndConfigDir: true, pgRewind: 'wrapper' },
  { name: 'the superuser over trust, pg_rewind a symbolic link to pgrewind', scram: false, rewindRole: false, restoreAndConfigDir: false, pgRewind: 'symlink' }
]

for (const v of variants) {
  t.test(`split brain, the old leader rewound by pgrewind: ${v.name}`, async t => {
    const dir = makeTempRoot('pgrewind-patroni-')
    t.teardown(() => { if (process.env.PGREWIND_KEEP === undefined) removeTree(dir) })
    const password = 'Sup3r-s3cret'
    // bin_dir: Debian's PostgreSQL 15, and pgrewind as its pg_rewind
    const binDir = makeDir(join(dir, 'bin'), 0o755)
    for (const p of ['postgres', 'pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'pg_waldump', 'pg_isready']) symlinkSync(join(DEBIAN15, p), join(binDir, p))
    const rewindLog = join(dir, 'pg_rewind.calls')
    if (v.pgRewind === 'wrapper') pgRewindWrapper(binDir, rewindLog)
    else symlinkSync(runtime().launcher, join(binDir, 'pg_rewind'))
    const archive = makeDir(join(dir, 'archive'))

    const [etcdClient, etcdPeer] = [await freePort(), await freePort()]
    daemon(t, '/usr/bin/etcd', ['--name', 'e1', '--data-dir', makeDir(join(dir, 'etcd')),
      '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `e1=http://127.0.0.1:${etcdPeer}`, '--enable-v2=true'], join(dir, 'etcd.log'))
    await until('etcd', 60_000, async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok)

    const auth = v.scram ? 'scram-sha-256' : 'trust'
    const hba = ['local all all trust', `host all all 127.0.0.1/32 ${auth}`, `host replication replicator 127.0.0.1/32 ${auth}`]
    const members: Member[] = []
    for (const name of ['m1', 'm2']) {
      const m: Member = { name, pgPort: await freePort(), apiPort: await freePort(), dataDir: join(dir, name), log: join(dir, `${name}.log`) }
      const postgresql: Record<string, unknown> = {
        listen: `127.0.0.1:${m.pgPort}`,
        connect_address: `127.0.0.1:${m.pgPort}`,
        data_dir: m.dataDir,
        bin_dir: binDir,
        pgpass: join(dir, `${name}.pgpass`),
        authentication: {
          superuser: { username: 'postgres', password },
          replication: { username: 'replicator', password },
          ...(v.rewindRole ? { rewind: { username: 'rewinder', password } } : {})
        },
        // written by Patroni on every member (a config_dir has no pg_hba.conf of its own)
        pg_hba: hba,
        parameters: { unix_socket_directories: dir }
      }
      if (v.restoreAndConfigDir) {
        // Debian's layout: the configuration in its own directory (Patroni renames this file to
        // postgresql.base.conf and includes it); restore_command there is in force on a primary
        // too, so Patroni always finds it (postgres -C) and passes --restore-target-wal
        postgresql.config_dir = makeDir(join(dir, `${name}.conf`))
        writeFileSync(join(dir, `${name}.conf`, 'postgresql.conf'), `# the operator's settings\nrestore_command = 'cp ${archive}/%f %p'\n`)
        chownToRunner(join(dir, `${name}.conf`, 'postgresql.conf'))
      }
      const config = {
        scope: 'pgrewind-test',
        name,
        log: { level: 'INFO' },
        restapi: { listen: `127.0.0.1:${m.apiPort}`, connect_address: `127.0.0.1:${m.apiPort}` },
        // etcd's v2 API: Patroni reads the cluster afresh every loop (its etcd3 client's watch cache
        // can hand a resumed Patroni its own expired leader key back, for a moment)
        etcd: { hosts: `127.0.0.1:${etcdClient}` },
        bootstrap: {
          dcs: {
            // short, for a quick failover, with room for a loaded machine (loop_wait + 2 * retry_timeout < ttl)
            ttl: 20,
            loop_wait: 2,
            retry_timeout: 6,
            maximum_lag_on_failover: 1073741824,
            postgresql: {
              use_pg_rewind: true,
              use_slots: false,
              parameters: {
                wal_keep_size: '512MB',
                max_wal_senders: 10,
                ...(v.restoreAndConfigDir ? { archive_mode: 'on', archive_command: `test ! -f ${archive}/%f && cp %p ${archive}/%f` } : {})
              }
            }
          },
          initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums'],
          pg_hba: hba
        },
        postgresql
      }
      const file = join(dir, `${name}.yml`)
      writeFileSync(file, JSON.stringify(config, null, 2))
      chownToRunner(file)
      members.push(m)
      m.proc = daemon(t, '/usr/bin/patroni', [file], m.log)
      if (name === 'm1') await until('m1 to lead', 60_000, async () => (await rest(m.apiPort, '/primary')).status === 200, m.log)
    }
    const [m1, m2] = members
    t.teardown(async () => {
      // a server whose Patroni could not stop it
      for (const m of members) if (existsSync(join(m.dataDir, 'postmaster.pid'))) await run(join(DEBIAN15, 'pg_ctl'), ['-D', m.dataDir, 'stop', '-m', 'immediate'])
    })
    await until('m2 to stream from m1', 120_000, async () =>
      (await rest(m2.apiPort, '/replica')).status === 200 && (await sql(m2, password, 'SELECT status FROM pg_stat_wal_receiver'))[0]?.status === 'streaming', m2.log)

    await sql(m1, password, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'common' FROM generate_series(1, 5000) g")
    const common = (await sql(m1, password, tableHash))[0].h
    await until('m2 to replay', 60_000, async () => (await sql(m2, password, tableHash))[0].h === common)

    // the split brain: m1's Patroni freezes, its key expires, m2 takes over
    m1.proc!.kill('SIGSTOP')
    await until('m2 to be promoted', 120_000, async () =>
      (await rest(m2.apiPort, '/primary')).status === 200 && (await sql(m2, password, 'SELECT NOT pg_is_in_recovery() AS p'))[0].p === true, m2.log)
    await sql(m2, password, "INSERT INTO t SELECT g, 'new leader' FROM generate_series(5001, 7000) g; UPDATE t SET v = 'new' WHERE id % 5 = 0")
    // m1's postgres is still a primary and takes writes
    await sql(m1, password, "INSERT INTO t SELECT g, 'old leader' FROM generate_series(7001, 30000) g; UPDATE t SET v = 'old' WHERE id % 3 = 0; CHECKPOINT; INSERT INTO t VALUES (99999, 'lost')")
    const pid = Number(readFileSync(join(m1.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    process.kill(pid, 'SIGKILL')
    await until('m1\'s postgres to be gone', 30_000, async () => { try { process.kill(pid, 0); return false } catch { return true } })
    m1.proc!.kill('SIGCONT')

    await until('m1 to come back as a streaming replica of m2', 240_000, async () => {
      const r = await rest(m1.apiPort, '/patroni')
      return r.body?.role === 'replica' && r.body?.state === 'running' && (await sql(m1, password, 'SELECT status FROM pg_stat_wal_receiver'))[0]?.status === 'streaming'
    }, m1.log)
    const patroniLog = readFileSync(m1.log, 'utf8')
    t.match(patroniLog, /running pg_rewind from m2/, 'Patroni chose to rewind')
    t.match(patroniLog, /pg_rewind exit code=0/, 'and pg_rewind exited 0')
    t.ok(existsSync(join(m1.dataDir, 'pgrewind_journal')), 'it was pgrewind (its journal is in the data directory)')
    if (v.pgRewind === 'wrapper') {
      const calls = readFileSync(rewindLog, 'utf8')
      t.match(calls, new RegExp(`args: --restore-target-wal --config-file=${join(dir, 'm1.conf')}/postgresql\\.conf -D ${m1.dataDir} --source-server `), `Patroni's arguments, in: ${calls.split('\n').filter(l => !l.includes('--help') && !l.startsWith('exit')).join(' | ')}`)
      t.match(calls, /user=rewinder/, 'as Patroni\'s rewind role')
      t.notMatch(calls, new RegExp(password), 'the password is in Patroni\'s password file, not in the arguments')
      t.match(calls, /exit: 0/)
      t.match(patroniLog, /pg_rewind: Done!/, 'pgrewind\'s messages, under the name the wrapper was run as')
    } else {
      t.match(patroniLog, /pg_rewind: Done!/, 'pgrewind\'s messages, under the name pg_rewind')
    }
    await sql(m2, password, "INSERT INTO t VALUES (100000, 'after the rejoin')")
    const final = (await sql(m2, password, tableHash))[0].h
    await until('m1 to replay', 60_000, async () => (await sql(m1, password, tableHash))[0].h === final)
    t.equal((await sql(m1, password, tableHash))[0].h, final, 'identical contents')
    t.equal((await sql(m1, password, "SELECT count(*)::int AS n FROM t WHERE v IN ('old', 'old leader', 'lost')"))[0].n, 0, 'the old leader\'s writes are gone')
  })
}

t.test('what rewind.py reads of pg_rewind: --help, the exit status, and the missing-WAL line it parses to fetch a segment and retry', async t => {
  const help = await pgrewind(['--help'])
  t.equal(help.code, 0, 'Patroni\'s can_rewind: `pg_rewind --help` exits 0')
  const pair = await withPair(t, { major: 15 })
  await diverge(pair, { targetStop: 'clean' })
  const args = ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir]
  // the segment of the last common checkpoint goes missing from the target
  const dry = await pgrewind([...args, '-n', '--json'])
  t.equal(dry.code, 0, dry.stderr)
  const summary = JSON.parse(dry.stdout) as { divergence: { lastCommonCheckpoint: { lsn: string } } }
  const ckpt = summary.divergence.lastCommonCheckpoint.lsn
  t.ok(ckpt, 'the last common checkpoint')
  const [hi, lo] = ckpt!.split('/').map(x => parseInt(x, 16))
  const segNo = (hi * 0x100000000 + lo) / (16 * 1024 * 1024)
  const name = `00000001${Math.floor(segNo / 256).toString(16).toUpperCase().padStart(8, '0')}${(Math.floor(segNo) % 256).toString(16).toUpperCase().padStart(8, '0')}`
  const seg = join(pair.target.dataDir, 'pg_wal', name)
  const saved = join(pair.root, name)
  copyFileSync(seg, saved)
  unlinkSync(seg)
  const failed = await pgrewind(args)
  t.equal(failed.code, 1, 'exit status 1: Patroni sees a failure')
  // Patroni's own parser (Rewind._find_missing_wal), on pgrewind's stderr
  const py = [
    'import sys',
    'from patroni.postgresql.rewind import Rewind',
    'class P: wal_name = "wal"',
    'r = Rewind.__new__(Rewind)',
    'r._postgresql = P()',
    'print(r._find_missing_wal(sys.stdin.buffer.read()) or "")'
  ].join('\n')
  const parsed = await run('/usr/bin/python3', ['-c', py], { input: failed.stderr })
  t.equal(parsed.code, 0, parsed.stderr)
  t.equal(parsed.stdout.trim(), name, `Patroni finds the missing segment in: ${failed.stderr.split('\n')[0]}`)
  // what Patroni then does: fetch it (restore_command) and run pg_rewind again
  copyFileSync(saved, seg)
  chownToRunner(seg)
  rmSync(saved)
  const again = await pgrewind(args)
  t.equal(again.code, 0, again.stderr)
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})
