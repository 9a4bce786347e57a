import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

/**
 * pg is loaded without Node's fetch (lib/libpq/pgmodule.ts): its runtime check would
 * otherwise load undici, 12 MB resident. In a fresh node, as the pgrewind command
 * starts: a client made, undici not loaded, `Response` still Node's own afterwards.
 */
t.test('a pg client made without loading undici; Response as it was', async t => {
  const script = `
    const before = Object.getOwnPropertyDescriptor(globalThis, 'Response')
    const { newClient } = require(${JSON.stringify(join(__dirname, '..', '..', 'lib', 'libpq', 'pgmodule'))})
    const c = newClient({ host: '/nonexistent', port: 1 })
    const after = Object.getOwnPropertyDescriptor(globalThis, 'Response')
    const undici = process.moduleLoadList.some(m => m.includes('undici'))
    const same = after !== undefined && after.get === before.get && after.configurable === before.configurable
    console.log(JSON.stringify({ client: typeof c.connect, undici, same, response: typeof Response }))`
  const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { encoding: 'utf8', cwd: join(__dirname, '..', '..') })
  t.equal(r.status, 0, r.stderr)
  const got = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}')
  t.equal(got.client, 'function', 'a pg client')
  t.equal(got.undici, false, 'undici not loaded')
  t.equal(got.same, true, 'the Response global put back as it was')
  t.equal(got.response, 'function', 'Response still usable')
})
