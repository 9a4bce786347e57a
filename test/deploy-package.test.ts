import t from 'tap'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unprivilegedUser } from '../lib/harness/runas'
import { diverge, makeTempRoot, rejoinAndCompare, removeTree, run, withPair } from './harness'
import { notOwnedBy, ROOT, runSelf } from './helpers/deploy'

/**
 * Install like a tool (README, "Set up"): the npm tarball installed into a fresh
 * prefix without devDependencies, and the single executable copied alone to a host
 * directory — each answers --version, --help and JSON-RPC and rewinds real clusters.
 */
const major = 15
const user = unprivilegedUser()

/** JSON-RPC requests in, the answers by id (one JSON message per line on stdout). */
function answers (stdout: string): Map<number, Record<string, any>> {
  const m = new Map<number, Record<string, any>>()
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue
    const msg = JSON.parse(line) as Record<string, any>
    if (typeof msg.id === 'number') m.set(msg.id, msg)
  }
  return m
}
const rpcInput = (msgs: object[]): string => msgs.map(m => JSON.stringify({ jsonrpc: '2.0', ...m })).join('\n') + '\n'

t.test('npm pack, then npm install -g of the tarball into a fresh prefix', async t => {
  const work = mkdtempSync(join(tmpdir(), 'pgrewind-pack-'))
  t.teardown(() => removeTree(work))
  // npm test has just built dist/: pack it as it is
  const pack = await runSelf('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, timeoutMs: 120_000 })
  t.equal(pack.code, 0, pack.stderr)
  const info = JSON.parse(pack.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = info[0].files.map(f => f.path)
  for (const f of ['package.json', 'README.md', 'dist/lib/cli/pgrewind', 'dist/lib/cli/main.js', 'dist/lib/rpc/worker.js', 'dist/lib/contract/schemas.js', 'schemas/applyPlan.params.json']) {
    t.ok(files.includes(f), `the package holds ${f}`)
  }
  t.equal(files.filter(f => f.startsWith('test/') || f.startsWith('node_modules/') || f.startsWith('lib/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))).length, 0, 'no sources, tests or modules')

  const prefix = join(work, 'prefix')
  const inst = await runSelf('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, info[0].filename)], { cwd: work, timeoutMs: 300_000 })
  t.equal(inst.code, 0, inst.stdout + inst.stderr)
  const pkg = join(prefix, 'lib', 'node_modules', 'pgrewind')
  const mods = readdirSync(join(pkg, 'node_modules'))
  t.ok(mods.includes('pg') && mods.includes('ajv') && mods.includes('json-rpc-2.0') && mods.includes('split2'), 'its dependencies')
  t.same(mods.filter(m => ['typescript', 'tap', 'esbuild', 'pg15', 'pg18', 'eslint'].includes(m)), [], 'no devDependencies')
  const bin = join(prefix, 'bin', 'pgrewind')
  t.ok(existsSync(bin), 'pgrewind on the prefix\'s PATH')
  t.equal(realpathSync(bin), realpathSync(join(pkg, 'dist', 'lib', 'cli', 'pgrewind')), 'the command is the launcher (its malloc settings)')

  const v = await runSelf(bin, ['--version'])
  t.equal(v.code, 0, v.stderr)
  t.match(v.stdout, /^pgrewind \(PostgreSQL 13-18\) \d+\.\d+\.\d+\n$/)
  const h = await runSelf(bin, ['--help'])
  t.equal(h.code, 0)
  t.match(h.stdout, /--source-server=CONNSTR/)
  // the schemas and the OpenRPC document, from the installed package
  const rpc = await runSelf(bin, ['rpc'], { input: rpcInput([{ id: 1, method: 'rpc.discover' }, { id: 2, method: 'inspect', params: { pgdata: 42 } }]) })
  const a = answers(rpc.stdout)
  t.equal(a.get(1)?.result?.openrpc, '1.3.2', 'rpc.discover answers')
  t.ok((a.get(1)?.result?.methods as unknown[]).length >= 10)
  t.equal(a.get(2)?.error?.code, -32602, 'a validation error')
  t.match(a.get(2)?.error?.data?.errors?.[0], { instancePath: '/pgdata', message: 'must be string' })

  // a real rewind by the installed CLI (as root: as the target's owner)
  const pair = await withPair(t, { major })
  await diverge(pair, { targetStop: 'clean' })
  const rw = await runSelf(bin, ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '-P'])
  t.equal(rw.code, 0, rw.stderr)
  t.match(rw.stderr, /pgrewind: Done!/)
  if (user !== null) t.same(notOwnedBy(pair.target.dataDir, user.uid), [])
  t.same(await rejoinAndCompare(pair.target, pair.source), [])
})

t.test('the single executable, alone in an empty directory, PATH without node', async t => {
  const work = mkdtempSync(join(tmpdir(), 'pgrewind-sea-'))
  t.teardown(() => removeTree(work))
  const built = join(work, 'pgrewind-linux-x64')
  const t0 = Date.now()
  const pkg = await runSelf(process.execPath, [join(ROOT, 'scripts', 'package.js'), '--out', built], { cwd: ROOT, timeoutMs: 300_000 })
  t.equal(pkg.code, 0, pkg.stderr)
  t.comment(`npm run package: ${Date.now() - t0} ms, ${(statSync(built).size / 1048576).toFixed(1)} MiB`)

  // a host directory of the servers' user holding nothing else
  const hostDir = makeTempRoot('pgrewind-host-')
  t.teardown(() => removeTree(hostDir))
  const bin = join(hostDir, 'bin', 'pgrewind')
  mkdirSync(join(hostDir, 'bin'), { mode: 0o755 })
  copyFileSync(built, bin)
  t.same(readdirSync(join(hostDir, 'bin')), ['pgrewind'])
  const noNode = join(hostDir, 'empty-path')
  mkdirSync(noNode)
  // as the servers' user, nothing but the executable: no node on PATH, no NODE_OPTIONS
  const host = async (args: string[], input?: string): ReturnType<typeof run> =>
    await run('/usr/bin/env', ['-i', `PATH=${noNode}`, `HOME=${hostDir}`, bin, ...args], { input, timeoutMs: 300_000 })

  const which = await run('/usr/bin/env', ['-i', `PATH=${noNode}`, '/bin/sh', '-c', 'command -v node || echo none'])
  t.equal(which.stdout.trim(), 'none', 'no node on that PATH')
  const v = await host(['--version'])
  t.equal(v.code, 0, v.stderr)
  t.match(v.stdout, /^pgrewind \(PostgreSQL 13-18\) \d+\.\d+\.\d+\n$/)
  const s0 = Date.now()
  for (let i = 0; i < 5; i++) await host(['--version'])
  t.comment(`start to exit (--version): ${Math.round((Date.now() - s0) / 5)} ms`)
  const h = await host(['--help'])
  t.match(h.stdout, /--source-server=CONNSTR/)
  const d = await host(['drill'])
  t.equal(d.code, 1)
  t.match(d.stderr, /error: the drill is not part of the single executable/)

  // plan and apply from a local source
  const a = await withPair(t, { major })
  await diverge(a, { targetStop: 'clean' })
  const planFile = join(hostDir, 'plan.json')
  const p = await host(['plan', '-D', a.target.dataDir, '--source-pgdata', a.source.dataDir, '--out', planFile])
  t.equal(p.code, 0, p.stderr)
  const ap = await host(['apply', planFile, '-P'])
  t.equal(ap.code, 0, ap.stderr)
  t.same(await rejoinAndCompare(a.target, a.source), [], 'plan + apply: rejoined')

  // the JSON-RPC server (its steps in worker threads, its params under the schemas) rewinding from a source server
  const b = await withPair(t, { major })
  await diverge(b, { targetStop: 'clean', sourceStop: 'running' })
  const rpc = await host(['rpc', '--check-results'], rpcInput([
    { id: 1, method: 'inspect', params: { pgdata: 'relative/dir' } },
    { id: 2, method: 'rewind', params: { target: { pgdata: b.target.dataDir }, source: { connstr: b.source.connstr() }, writeRecoveryConf: true } }
  ]))
  t.equal(rpc.code, 0, rpc.stderr)
  const ans = answers(rpc.stdout)
  t.equal(ans.get(1)?.error?.code, -32602, 'schema validation inside the executable')
  t.equal(ans.get(2)?.error, undefined, JSON.stringify(ans.get(2)?.error))
  t.equal(ans.get(2)?.result?.plan?.rewindNeeded, true)
  t.same(await rejoinAndCompare(b.target, b.source, { configured: true }), [], 'rpc rewind from a server: rejoined')
})
