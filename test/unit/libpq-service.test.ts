import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConnInfo, standbyConnPairs } from '../../lib/libpq/resolve'
import { parseServiceFile } from '../../lib/libpq/service'

/** libpq's connection service file: where it is looked up, what wins, and libpq's messages. */
const dir = mkdtempSync(join(tmpdir(), 'pgservice-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const home = join(dir, 'home')
const sysconf = join(dir, 'etc')
mkdirSync(home)
mkdirSync(sysconf)
const userFile = join(dir, 'user.conf')
writeFileSync(userFile, [
  '# the user\'s services',
  '',
  '[src]',
  'host=user-host',
  'port=6001',
  '  user=svcuser   ',
  'password=svc-secret',
  'dbname=svcdb',
  'port=9999',
  '[trailing]junk',
  'host=trailing-host',
  '[other]',
  'host=other-host'
].join('\n') + '\n')
writeFileSync(join(sysconf, 'pg_service.conf'), '[src]\nhost=system-host\n[sysonly]\nhost=sys-host\nsslmode=require\n')
writeFileSync(join(home, '.pg_service.conf'), '[src]\nhost=home-host\n')
const env = (e: Record<string, string> = {}): NodeJS.ProcessEnv => ({ HOME: home, PGSYSCONFDIR: sysconf, ...e })
const code = (f: () => unknown): string => {
  try { f(); return 'no error' } catch (e) { return `${(e as { code: string }).code}: ${(e as Error).message}` }
}

t.test('service= and PGSERVICE, from PGSERVICEFILE; the connection string wins, the service beats the environment', async t => {
  const ri = resolveConnInfo('service=src port=7000', env({ PGSERVICEFILE: userFile, PGHOST: 'env-host', PGUSER: 'envuser', PGAPPNAME: 'envapp' }))
  t.equal(ri.hosts[0].host, 'user-host', 'the service beats PGHOST')
  t.equal(ri.hosts[0].port, 7000, 'the connection string beats the service')
  t.equal(ri.user, 'svcuser', 'whitespace around a line is not part of it')
  t.equal(ri.dbname, 'svcdb')
  t.equal(ri.values.get('application_name'), 'envapp', 'what the service leaves unset comes from the environment')
  t.equal(ri.origin.get('host'), 'service')
  t.equal(ri.origin.get('password'), 'service')
  t.equal(ri.serviceFile, userFile)
  const viaEnv = resolveConnInfo('', env({ PGSERVICE: 'src', PGSERVICEFILE: userFile }))
  t.equal(viaEnv.hosts[0].host, 'user-host', 'PGSERVICE names the service')
  t.equal(viaEnv.hosts[0].port, 6001, 'the first value of a keyword in the group wins')
  t.equal(resolveConnInfo('service=trailing', env({ PGSERVICEFILE: userFile })).hosts[0].host, 'trailing-host', '"[name]" followed by anything is the group (libpq)')
})

t.test('where the file is: servicefile=, PGSERVICEFILE, ~/.pg_service.conf, then PGSYSCONFDIR/pg_service.conf', async t => {
  t.equal(resolveConnInfo('service=src', env()).hosts[0].host, 'home-host', '~/.pg_service.conf without PGSERVICEFILE')
  t.equal(resolveConnInfo(`service=src servicefile=${userFile}`, env({ PGSERVICEFILE: join(dir, 'none') })).hosts[0].host, 'user-host', 'servicefile= beats PGSERVICEFILE (libpq 18)')
  const sys = resolveConnInfo('service=sysonly', env({ PGSERVICEFILE: userFile }))
  t.equal(sys.hosts[0].host, 'sys-host', 'a service the user\'s file lacks comes from the system file')
  t.equal(sys.values.get('sslmode'), 'require')
  t.equal(sys.serviceFile, join(sysconf, 'pg_service.conf'))
  t.equal(resolveConnInfo('service=src', env({ PGSERVICEFILE: userFile })).hosts[0].host, 'user-host', 'the user\'s file hides the system file\'s group')
  rmSync(join(home, '.pg_service.conf'))
  t.equal(resolveConnInfo('service=src', env()).hosts[0].host, 'system-host', 'no user file: the system file')
  writeFileSync(join(home, '.pg_service.conf'), '[src]\nhost=home-host\n')
})

t.test('libpq\'s messages', async t => {
  t.equal(code(() => resolveConnInfo('service=nosuch', env({ PGSERVICEFILE: userFile }))), 'CONNSTR_INVALID: definition of service "nosuch" not found')
  t.equal(code(() => resolveConnInfo('service=src', env({ PGSERVICEFILE: join(dir, 'missing.conf') }))), `CONNSTR_INVALID: service file "${join(dir, 'missing.conf')}" not found`)
  const bad = (name: string, text: string): string => { const f = join(dir, name); writeFileSync(f, text); return f }
  const noEq = bad('noeq.conf', '[s]\nhost=h\nhost h2\n')
  t.equal(code(() => parseServiceFile(noEq, 's')), `CONNSTR_INVALID: syntax error in service file "${noEq}", line 3`)
  const unknown = bad('unknown.conf', '# c\n[s]\nhots=h\n')
  t.equal(code(() => parseServiceFile(unknown, 's')), `CONNSTR_INVALID: syntax error in service file "${unknown}", line 3`)
  const spaced = bad('spaced.conf', '[s]\nhost = h\n')
  t.equal(code(() => parseServiceFile(spaced, 's')), `CONNSTR_INVALID: syntax error in service file "${spaced}", line 2`, 'no spaces around "=" (libpq)')
  const nested = bad('nested.conf', '[s]\nservice=t\n')
  t.equal(code(() => parseServiceFile(nested, 's')), `CONNSTR_INVALID: nested service specifications not supported in service file "${nested}", line 2`)
  const long = bad('long.conf', `[s]\nhost=${'h'.repeat(1100)}\n`)
  t.equal(code(() => parseServiceFile(long, 's')), `CONNSTR_INVALID: line 2 too long in service file "${long}"`)
  const ldap = bad('ldap.conf', '[s]\nldap://ldap.example.net/dc=example?uniqueMember?one?(cn=s)\n')
  t.match(code(() => parseServiceFile(ldap, 's')), /^CONNSTR_INVALID: LDAP lookup of connection options is not supported/)
  t.equal(parseServiceFile(noEq, 'other'), null, 'errors only in the group looked up count')
})

t.test('-R writes the service\'s values, never the service, and never its password', async t => {
  const ri = resolveConnInfo('service=src', env({ PGSERVICEFILE: userFile }))
  const pairs = Object.fromEntries(standbyConnPairs(ri))
  t.equal(pairs.host, 'user-host')
  t.equal(pairs.port, '6001')
  t.equal(pairs.user, 'svcuser')
  t.equal(pairs.dbname, 'svcdb')
  t.notOk('service' in pairs || 'servicefile' in pairs, 'the standby\'s host may not have the file')
  t.notOk('password' in pairs, 'a password from a service file stays there')
})
