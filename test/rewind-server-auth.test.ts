import t from 'tap'
import { spawn } from 'node:child_process'
import { copyFileSync, lstatSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { join } from 'node:path'
import { childEnv, spawnIdentity } from '../lib/harness/runas'
import { cliCommand } from '../lib/harness/runtime'
import { chownToRunner, Cluster, diverge, pgrewind, rejoinAndCompare, snapshotTree, testMajors, treeDiff, withPair } from './harness'

/**
 * A least-privileged role with SCRAM authentication over TLS (verify-full), and
 * what happens to its password: kept out of every argv, log, message, plan and
 * result, and out of the target's files unless the user put it in the connection
 * string (then -R writes it, as pg_rewind does, and the standby can use it).
 */

const majors = testMajors()

// quotes, a backslash and spaces: every quoting layer (SQL, libpq, postgresql.conf) is exercised
const PW = "pw with 'quote', \\backslash and spaces"
const sqlLit = (s: string): string => `'${s.replace(/'/g, "''")}'`
/** libpq keyword/value quoting */
const connLit = (s: string): string => `'${s.replace(/[\\']/g, c => `\\${c}`)}'`
/** .pgpass field escaping */
const passLit = (s: string): string => s.replace(/[\\:]/g, c => `\\${c}`)

const FIXTURES = join(__dirname, 'fixtures', 'tls')

/** Every file under `root` (following nothing) that contains `needle`. */
function filesContaining (root: string, needle: string): string[] {
  const hits: string[] = []
  const n = Buffer.from(needle)
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile() && readFileSync(p).includes(n)) hits.push(p)
    }
  }
  walk(root)
  return hits
}

function writeOwned (path: string, content: string, mode: number): void {
  writeFileSync(path, content)
  chmodSync(path, mode)
  chownToRunner(path)
}

for (const major of majors) {
  t.test(`PostgreSQL ${major}: least-privileged role, SCRAM over TLS, the password kept out of everything`, async t => {
    const pair = await withPair(t, { major, tcp: true, conf: { password_encryption: 'scram-sha-256' } })
    const { target, source } = pair
    await diverge(pair, { targetStop: 'crash', sourceStop: 'running' })

    // TLS on the source, with a test certificate for 127.0.0.1 (a throwaway key)
    const crt = join(pair.root, 'server.crt')
    const key = join(pair.root, 'server.key')
    copyFileSync(join(FIXTURES, 'server.crt'), crt)
    copyFileSync(join(FIXTURES, 'server.key'), key)
    for (const f of [crt, key]) { chmodSync(f, 0o600); chownToRunner(f) }
    source.appendConf({ ssl: true, ssl_cert_file: crt, ssl_key_file: key })
    // only postgres is trusted; everyone else needs TLS and SCRAM, also to replicate
    writeOwned(join(source.dataDir, 'pg_hba.conf'), [
      'local all all trust',
      'host all postgres 127.0.0.1/32 trust',
      'host replication postgres 127.0.0.1/32 trust',
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'hostssl replication all 127.0.0.1/32 scram-sha-256', ''
    ].join('\n'), 0o600)
    await source.query('SELECT pg_reload_conf()')
    await source.query(`CREATE ROLE rewinder LOGIN REPLICATION PASSWORD ${sqlLit(PW)};
      GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean), pg_stat_file(text, boolean),
        pg_read_binary_file(text), pg_read_binary_file(text, bigint, bigint, boolean) TO rewinder;
      CREATE ROLE weak LOGIN PASSWORD ${sqlLit(PW)};
      GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean), pg_stat_file(text, boolean) TO weak`)

    // the certificate is checked against the host name (libpq 13 does not match IP
    // addresses in certificates); hostaddr saves the name lookup
    const conn = (user: string): string => `host=localhost hostaddr=127.0.0.1 port=${source.port} user=${user} dbname=postgres sslmode=verify-full sslrootcert=${crt}`
    const base = ['-D', target.dataDir, '--pg-bindir', target.binDir]
    const outputs: string[] = []
    const argvs: string[][] = []
    const run = async (args: string[], env: Record<string, string | undefined> = {}): Promise<Awaited<ReturnType<typeof pgrewind>>> => {
      argvs.push(args)
      const r = await pgrewind(args, env)
      outputs.push(r.stdout, r.stderr)
      return r
    }
    const before = snapshotTree(target.dataDir)

    // full_page_writes off: refused (pages read from a running server may be torn)
    const setFpw = async (v: string): Promise<void> => {
      await source.query(`ALTER SYSTEM SET full_page_writes = ${v}`)
      await source.query('SELECT pg_reload_conf()')
      while (await source.scalar<string>('SHOW full_page_writes') !== v) await new Promise(resolve => setTimeout(resolve, 50))
    }
    await setFpw('off')
    const fpw = await run([...base, '--source-server', conn('rewinder')], { PGPASSWORD: PW })
    t.equal(fpw.code, 1)
    t.match(fpw.stderr, /error: "full_page_writes" must be enabled in the source server/)
    await setFpw('on')

    // a role missing two of the four grants: told exactly which, before anything changes
    const weak = await run([...base, '--source-server', conn('weak')], { PGPASSWORD: PW })
    t.equal(weak.code, 1)
    t.match(weak.stderr, /error: role weak on the source server lacks privileges needed to read its files/)
    const grants = weak.stderr.split('\n').filter(l => l.startsWith('GRANT'))
    t.same(grants, [
      'GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO weak;',
      'GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO weak;'
    ], 'exactly the missing GRANT statements')
    t.same(treeDiff(before, snapshotTree(target.dataDir)), [], 'the crashed target was not even crash-recovered')

    // a password file others can read is ignored, as libpq does
    const passfile = join(pair.root, 'pgpass')
    writeOwned(passfile, `# host:port:database:user:password\nlocalhost:${source.port}:*:rewinder:${passLit(PW)}\n`, 0o644)
    const loose = await run([...base, '--source-server', conn('rewinder')], { PGPASSFILE: passfile })
    t.equal(loose.code, 1)
    t.match(loose.stderr, /warning: password file ".*pgpass" has group or world access; permissions should be u=rw \(0600\) or less/)
    t.match(loose.stderr, /error: connection to server at "localhost" \(127\.0\.0\.1\), port \d+ failed: fe_sendauth: no password supplied/)
    const wrong = await run([...base, '--source-server', conn('rewinder')], { PGPASSWORD: 'not the password' })
    t.equal(wrong.code, 1)
    t.match(wrong.stderr, /password authentication failed for user "rewinder"/)
    const plain = await run([...base, '--source-server', `${conn('rewinder')} sslmode=disable`], { PGPASSWORD: PW })
    t.equal(plain.code, 1, 'without TLS the server refuses the role (hostssl only)')
    t.same(treeDiff(before, snapshotTree(target.dataDir)), [], 'no failed attempt changed the target')

    // the password from a password file; -R points the standby at the same file
    chmodSync(passfile, 0o600)
    const r = await run([...base, '--source-server', conn('rewinder'), '-R', '--json', '-P'], { PGPASSFILE: passfile })
    t.equal(r.code, 0, r.stderr.slice(-1500))
    t.match(r.stderr, /executing ".*postgres" for target server to complete crash recovery/)
    t.match(JSON.parse(r.stdout).plan.source, /user=rewinder/)
    const auto = readFileSync(join(target.dataDir, 'postgresql.auto.conf'), 'utf8')
    const last = auto.split('\n').filter(l => l.startsWith('primary_conninfo')).pop() ?? ''
    t.equal(last, `primary_conninfo = 'user=rewinder passfile=''${passfile}'' host=localhost hostaddr=127.0.0.1 port=${source.port} sslmode=''verify-full'' sslrootcert=''${crt}'' dbname=postgres'`,
      'primary_conninfo: the settings used, the password file but no password')
    t.same(filesContaining(target.dataDir, PW), [], 'the password is nowhere in the target')
    t.same(await rejoinAndCompare(target, source, { configured: true }), [], 'the standby authenticates with the password file over TLS')
    t.equal(await target.scalar("SELECT count(*)::int FROM pg_stat_wal_receiver WHERE conninfo LIKE '%sslmode=verify-full%'"), 1, 'it streams with the written settings')

    // a password in the connection string is the user's choice: -R writes it (as pg_rewind does)
    await target.stop()
    const inline = await run(['-D', target.dataDir, '--source-server', `${conn('rewinder')} password=${connLit(PW)}`, '-R'])
    t.equal(inline.code, 0, inline.stderr.slice(-1500))
    t.match(inline.stderr, /source and target cluster are on the same timeline\n.*no rewind required/)
    const conf = readFileSync(join(target.dataDir, 'postgresql.auto.conf'), 'utf8').split('\n').filter(l => l.startsWith('primary_conninfo')).pop() ?? ''
    t.ok(conf.includes(`password=${connLit(PW)}`.replace(/['\\]/g, c => c + c)), `the password, libpq-quoted and then postgresql.conf-quoted: ${conf.replace(/password=.*spaces/, 'password=…')}`)
    t.notMatch(conf, /passfile/)
    target.reassertLocalConf()
    await target.start()
    await source.query('INSERT INTO rejoin_marker VALUES (2)')
    await source.waitForReplay(target, 60000)
    t.pass('the standby authenticates with the written password')

    for (const [i, o] of outputs.entries()) t.notOk(o.includes(PW), `output ${i} does not contain the password`)
    for (const a of argvs.slice(0, -1)) t.notOk(a.join(' ').includes(PW), 'no argv but the last one (password in the connection string) contains it')
    t.notOk(readFileSync(source.logFile, 'utf8').includes(PW), 'the source server log does not contain it')
  })
}

t.test('a password in --source-server is hidden from our command line while we run', async t => {
  // a server that accepts and never answers: the run waits in connect for seconds
  const sockets: Socket[] = []
  const silent = createServer(s => { sockets.push(s) })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  // a real (stopped) target, so that the run gets as far as connecting
  const target = await Cluster.init({ major: 18, name: 'target' })
  t.teardown(async () => { for (const s of sockets) s.destroy(); silent.close(); await target.destroy() })
  const port = (silent.address() as { port: number }).port
  const secret = 'hunter2-in-the-connstr'
  const c = cliCommand(['-D', target.dataDir, '--source-server', `host=127.0.0.1 port=${port} password=${secret} connect_timeout=4`])
  const child = spawn(c.cmd, c.args,
    { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...spawnIdentity() })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  let cmdline = ''
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    try { cmdline = readFileSync(`/proc/${child.pid ?? 0}/cmdline`, 'latin1').replace(/\0+/g, ' ') } catch { break }
    if (cmdline.includes('<hidden>')) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.match(cmdline, /--source-server <hidden>/, `/proc/<pid>/cmdline masks the connection string: ${cmdline}`)
  t.notOk(cmdline.includes(secret))
  t.equal(await exited, 1)
  t.notOk(stderr.includes(secret), 'nor is it in the error')
})
