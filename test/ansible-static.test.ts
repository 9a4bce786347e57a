import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { COLLECTION, COLLECTIONS, PLAYBOOKS, PYTHON, removeTree, runAsSelf, scratchDir } from './helpers/ansible'

/**
 * The collection's static checks, all offline: ansible-test sanity (the tests that
 * need no download), validate-modules run directly (ansible-test's own copy needs a
 * venv from the internet), pycodestyle with ansible-test's pep8 settings, the Python
 * unit tests (the JSON-RPC client against children that die, print garbage or hang;
 * the modules' error paths) through ansible-test units, ansible-doc, a galaxy build,
 * and a syntax check of the example playbooks.
 */

const ANSIBLE_TEST_DATA = '/usr/lib/python3/dist-packages/ansible_test'
const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C.UTF-8', ANSIBLE_COLLECTIONS_PATH: COLLECTIONS, ANSIBLE_NOCOLOR: '1' }
  delete e.NODE_OPTIONS
  for (const k of Object.keys(e)) if (k.startsWith('TAP') || k.startsWith('_TAPJS')) delete e[k]
  return e
}

let pyVersion = ''

t.before(async () => {
  const r = await runAsSelf(PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'])
  pyVersion = r.stdout.trim()
})

/** The ignore entries (ansible-test's format), which the direct validate-modules run applies too. */
function ignores (): Array<{ path: string, test: string, code: string }> {
  const f = join(COLLECTION, 'tests', 'sanity', 'ignore-2.14.txt')
  return readFileSync(f, 'utf8').split('\n').filter(l => l.trim() !== '' && !l.startsWith('#')).map(l => {
    const [path, rule] = l.split(/\s+/)
    const [test, code] = rule.split(':')
    return { path, test, code }
  })
}

t.test('the sanity ignore file only excuses the license header', async t => {
  const list = ignores()
  t.ok(list.length > 0)
  t.same([...new Set(list.map(i => `${i.test}:${i.code}`))], ['validate-modules:missing-gplv3-license'])
})

t.test('ansible-test sanity (the offline tests) passes', async t => {
  const skip = ['ansible-doc', 'import', 'pep8', 'pylint', 'runtime-metadata', 'validate-modules', 'yamllint']
  const r = await runAsSelf('ansible-test', ['sanity', '--local', '--python', pyVersion, ...skip.flatMap(s => ['--skip-test', s])], { cwd: COLLECTION, env: env() })
  t.equal(r.code, 0, `ansible-test sanity: ${r.stdout.slice(-3000)}${r.stderr.slice(-3000)}`)
  for (const test of ['compile', 'future-import-boilerplate', 'metaclass-boilerplate', 'shebang', 'use-argspec-type-path', 'no-assert']) {
    t.match(r.stdout, new RegExp(`Running sanity test "${test}"`), `${test} ran`)
  }
})

t.test('validate-modules (run directly) finds nothing but the excused', async t => {
  const modules = readdirSync(join(COLLECTION, 'plugins', 'modules')).filter(f => f.endsWith('.py')).map(f => `plugins/modules/${f}`)
  t.same(modules.sort(), ['plugins/modules/rewind.py', 'plugins/modules/rewind_info.py'])
  const validate = join(ANSIBLE_TEST_DATA, '_util', 'controller', 'sanity', 'validate-modules', 'validate.py')
  const r = await runAsSelf(PYTHON, [validate, '--format', 'json', '--arg-spec', '--collection', 'ansible_collections/pgrewind/rewind',
    '--collection-version', '0.1.0', ...modules], { cwd: COLLECTION, env: env() })
  t.ok(r.code === 0 || r.code === 3, `validate-modules ran (exit ${r.code}): ${r.stderr.slice(-2000)}`)
  const report: Record<string, { errors: Array<{ code: string, msg: string }>, warnings: unknown[] }> = JSON.parse(r.stdout)
  const excused = new Set(ignores().filter(i => i.test === 'validate-modules').map(i => `${i.path}:${i.code}`))
  const left: string[] = []
  for (const [path, res] of Object.entries(report)) {
    for (const e of res.errors) if (!excused.has(`${path}:${e.code}`)) left.push(`${path}: ${e.code}: ${e.msg}`)
    for (const w of res.warnings) left.push(`${path}: warning: ${JSON.stringify(w)}`)
  }
  t.same(left, [], 'no errors or warnings')
})

t.test('pycodestyle with ansible-test\'s pep8 settings', async t => {
  const ignore = readFileSync(join(ANSIBLE_TEST_DATA, '_util', 'controller', 'sanity', 'pep8', 'current-ignore.txt'), 'utf8').split('\n').filter(Boolean)
  const r = await runAsSelf('pycodestyle', ['--max-line-length', '160', '--ignore', ignore.join(','), 'plugins', 'tests'], { cwd: COLLECTION, env: env() })
  t.equal(r.code, 0, r.stdout)
})

t.test('Python unit tests: the JSON-RPC client and the modules\' error paths (ansible-test units)', async t => {
  const r = await runAsSelf('ansible-test', ['units', '--local', '--python', pyVersion], { cwd: COLLECTION, env: env() })
  t.equal(r.code, 0, `${r.stdout.slice(-4000)}${r.stderr.slice(-2000)}`)
  const passed = [...r.stdout.matchAll(/=+ (\d+) passed/g)].reduce((n, m) => n + Number(m[1]), 0)
  t.notMatch(r.stdout, /failed|error/i, 'nothing failed')
  const tests = ['module_utils/test_rpc_client.py', 'module_utils/test_rewind_common.py', 'modules/test_rewind.py']
    .map(f => readFileSync(join(COLLECTION, 'tests', 'unit', 'plugins', f), 'utf8'))
  const declared = tests.reduce((n, s) => n + (s.match(/^def test_/gm)?.length ?? 0), 0)
  t.ok(passed >= declared && declared >= 20, `${passed} passed, ${declared} test functions declared`)
})

t.test('ansible-doc renders the modules and the role', async t => {
  for (const m of ['rewind', 'rewind_info']) {
    const r = await runAsSelf('ansible-doc', ['--json', `pgrewind.rewind.${m}`], { env: env() })
    t.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout)[`pgrewind.rewind.${m}`]
    for (const o of ['target_pgdata', 'source_pgdata', 'source_server', 'source_password', 'pgrewind_bin', 'timeout', 'plan_dir']) {
      t.ok(o in doc.doc.options, `${m}: option ${o} documented`)
    }
    t.ok(doc.return !== undefined && 'plan_digest' in doc.return, `${m}: returns documented`)
  }
  const role = await runAsSelf('ansible-doc', ['-t', 'role', '--json', 'pgrewind.rewind.install'], { env: env() })
  t.equal(role.code, 0, role.stderr)
  t.ok('pgrewind_install_method' in JSON.parse(role.stdout)['pgrewind.rewind.install'].entry_points.main.options)
})

t.test('ansible-galaxy builds the collection', async t => {
  const out = scratchDir('pgrewind-galaxy-')
  t.teardown(() => removeTree(out))
  const r = await runAsSelf('ansible-galaxy', ['collection', 'build', '--output-path', out, COLLECTION], { env: env() })
  t.equal(r.code, 0, r.stderr)
  const tarball = join(out, 'pgrewind-rewind-0.1.0.tar.gz')
  t.ok(existsSync(tarball))
  const list = await runAsSelf('tar', ['-tzf', tarball])
  for (const f of ['plugins/modules/rewind.py', 'plugins/modules/rewind_info.py', 'plugins/module_utils/rpc_client.py', 'roles/install/tasks/main.yml', 'meta/runtime.yml']) {
    t.ok(list.stdout.split('\n').includes(f), `${f} is in the build`)
  }
  t.notMatch(list.stdout, /tests\/output|__pycache__/, 'no test output or bytecode in the build')
})

t.test('the example playbooks pass a syntax check', async t => {
  for (const p of ['install-pgrewind.yml', 'rejoin-old-primary.yml', 'failover-drill.yml']) {
    const r = await runAsSelf('ansible-playbook', ['--syntax-check', '-i', 'localhost,', join(PLAYBOOKS, p)], { env: env() })
    t.equal(r.code, 0, `${p}: ${r.stderr}`)
  }
})
