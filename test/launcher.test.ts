import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, copyFileSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { childEnv, spawnIdentity } from '../lib/harness/runas'
import { runtime } from '../lib/harness/runtime'
import { chownToRunner, makeTempRoot, removeTree, run } from './harness'

/**
 * The `pgrewind` command users run (npm's bin, the Ansible role's command, a link
 * named pg_rewind) is dist/lib/cli/pgrewind, a sh launcher that execs node on
 * main.js with glibc's malloc settings (why: lib/cli/pgrewind.sh, bench/RESULTS.md).
 * Here: what it passes on, through a link, with values given and not; and that the
 * real pgrewind process runs with them.
 */
const rt = runtime()

t.test('the launcher passes its arguments, the name it was started as and the malloc settings, keeping those given', async t => {
  const dir = makeTempRoot('pgrewind-launcher-')
  t.teardown(() => removeTree(dir))
  // in place of node: a script that reports what it was given
  const fakeNode = join(dir, 'report')
  writeFileSync(fakeNode, '#!/bin/sh\nfor a in "$@"; do echo "arg $a"; done\necho "arena $MALLOC_ARENA_MAX"\necho "mmap $MALLOC_MMAP_THRESHOLD_"\necho "set $PGREWIND_LAUNCHER_SET"\necho "as $PGREWIND_INVOKED_AS"\n')
  chmodSync(fakeNode, 0o755)
  chownToRunner(fakeNode)
  const link = join(dir, 'pg_rewind')
  symlinkSync(rt.launcher, link)

  const r = await run(link, ['-D', 'a dir with spaces', '--source-server=host=x'], { env: { PGREWIND_NODE: fakeNode, MALLOC_ARENA_MAX: undefined, MALLOC_MMAP_THRESHOLD_: undefined, PGREWIND_INVOKED_AS: undefined } })
  t.equal(r.code, 0, r.stderr)
  t.same(r.stdout.split('\n').filter(l => l !== ''), [
    `arg ${realpathSync(rt.cli)}`, 'arg -D', 'arg a dir with spaces', 'arg --source-server=host=x',
    'arena 2', 'mmap 131072', 'set MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_', `as ${link}`
  ], 'main.js beside the launcher (the link resolved), every argument as given, what it set, the name it was started as')

  const given = await run(link, ['x'], { env: { PGREWIND_NODE: fakeNode, MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '65536', PGREWIND_INVOKED_AS: '/opt/bin/pg_rewind' } })
  t.same(given.stdout.split('\n').filter(l => /^(arena|mmap|set|as) /.test(l)),
    ['arena 8', 'mmap 65536', 'set ', 'as /opt/bin/pg_rewind'], 'values already in the environment are kept (a wrapper\'s name too), and not named as set here')

  // a copy (not a link) of the launcher has no main.js beside it: said, not node's stack trace
  const copy = join(dir, 'copied')
  copyFileSync(rt.launcher, copy)
  chmodSync(copy, 0o755)
  chownToRunner(copy)
  const copied = await run(copy, ['--version'], { env: { PGREWIND_NODE: fakeNode } })
  t.equal(copied.code, 127)
  t.match(copied.stderr, /main\.js not found: link the pgrewind command where it is wanted, do not copy it/)

  const missing = await run(link, ['x'], { env: { PGREWIND_NODE: join(dir, 'no-such-node') } })
  t.equal(missing.code, 127, 'no node: the shell\'s "not found"')
  t.match(missing.stderr, /no-such-node/)
})

t.test('through the launcher, the pgrewind process runs with the settings and speaks as the name it was started as', async t => {
  const dir = makeTempRoot('pgrewind-launcher-')
  t.teardown(() => removeTree(dir))
  const link = join(dir, 'pg_rewind')
  symlinkSync(rt.launcher, link)
  const env = { PGREWIND_NODE: rt.node, MALLOC_ARENA_MAX: undefined, MALLOC_MMAP_THRESHOLD_: undefined, PGREWIND_INVOKED_AS: undefined }

  // without the test runner's loader in NODE_OPTIONS (it puts it back into every child's; a staged copy cannot read it)
  const launch = async (cmd: string, args: string[]): ReturnType<typeof run> => await run('/usr/bin/env', ['-u', 'NODE_OPTIONS', cmd, ...args], { env })
  const bad = await launch(link, ['-D', '/x'])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^pg_rewind: error: no source specified/, 'linked as pg_rewind: pg_rewind\'s messages')
  const plain = await launch(rt.launcher, ['--version'])
  t.match(plain.stdout, /^pgrewind \(PostgreSQL 13-18\) /)

  // a JSON-RPC server waiting on its input: the exec'd node's own environment and command line
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', rt.launcher, 'rpc'], { cwd: '/', env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'], ...spawnIdentity() })
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'rpc.discover' }) + '\n')
  // its answer comes once node runs main.js: the shell has exec'd it by then (or it died: the checks below fail)
  await new Promise(resolve => { child.stdout.once('data', resolve); child.once('close', resolve) })
  const environ = readFileSync(`/proc/${child.pid!}/environ`, 'utf8').split('\0')
  const cmdline = readFileSync(`/proc/${child.pid!}/cmdline`, 'utf8').split('\0').filter(a => a !== '')
  child.stdin.end()
  t.equal(await exited, 0)
  t.ok(environ.includes('MALLOC_ARENA_MAX=2') && environ.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'the malloc settings are in the process\'s environment')
  t.same(cmdline, [rt.node, realpathSync(rt.cli), 'rpc'], 'one process: node on main.js, env and the shell gone (exec)')
})

t.test('main.js takes the launcher\'s variables out of its environment: the processes it starts get what pgrewind was given', async t => {
  const launched = join(rt.root, 'dist', 'lib', 'cli', 'launched.js')
  const script = `require(${JSON.stringify(launched)}); process.stdout.write(require('child_process').execFileSync('/usr/bin/env'))`
  const childEnvOf = async (env: Record<string, string>): Promise<string[]> =>
    (await run(rt.node, ['-e', script], { env })).stdout.split('\n').filter(l => /^(MALLOC_|PGREWIND_(LAUNCHER_SET|INVOKED_AS|NODE)=)/.test(l)).sort()
  t.same(await childEnvOf({
    PGREWIND_LAUNCHER_SET: 'MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_',
    MALLOC_ARENA_MAX: '2',
    MALLOC_MMAP_THRESHOLD_: '131072',
    MALLOC_TOP_PAD_: '65536',
    PGREWIND_INVOKED_AS: '/x/pg_rewind',
    PGREWIND_NODE: '/usr/bin/node'
  }), ['MALLOC_TOP_PAD_=65536'], 'what the launcher set is gone; a malloc setting of the user\'s stays')
  t.same(await childEnvOf({ PGREWIND_LAUNCHER_SET: 'MALLOC_MMAP_THRESHOLD_', MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '131072' }),
    ['MALLOC_ARENA_MAX=8'], 'the user\'s MALLOC_ARENA_MAX stays')
})
