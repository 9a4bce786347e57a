import t from 'tap'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { PgRewindError } from '../../lib/errors'
import { formatConnString, parseConnString, quoteConnValue } from '../../lib/libpq/conninfo'
import { passwordFor } from '../../lib/libpq/passfile'
import { describeConnInfo, resolveConnInfo, standbyConnPairs } from '../../lib/libpq/resolve'
import { connStringHasSecret, redactPairs } from '../../lib/libpq/secrets'

/** libpq's connection string rules (fe-connect.c), on strings alone. */

const code = (f: () => unknown): string => {
  try { f() } catch (e) { return e instanceof PgRewindError ? `${e.code}: ${e.message}` : String(e) }
  return 'no error'
}
const obj = (m: Map<string, string>): Record<string, string> => Object.fromEntries(m)
const noEnv = { HOME: '/nonexistent-home' }

t.test('keyword/value strings: quoting and escapes as libpq reads them', async t => {
  t.same(obj(parseConnString('host=db1 port=5433 dbname=app')), { host: 'db1', port: '5433', dbname: 'app' })
  t.same(obj(parseConnString("  host = 'a b'   user=\\'x password='it\\'s \\\\ here' ")), { host: 'a b', user: "'x", password: "it's \\ here" })
  t.same(obj(parseConnString("options='-c search_path=s' application_name=")), { options: '-c search_path=s', application_name: '' })
  t.same(obj(parseConnString('dbname=a dbname=b')), { dbname: 'b' }, 'the last occurrence wins')
  t.same(obj(parseConnString('requiressl=1')), { sslmode: 'require' }, 'the old spelling of sslmode=require')
  t.same(obj(parseConnString('')), {})
  t.equal(code(() => parseConnString('host')), 'CONNSTR_INVALID: missing "=" after "host" in connection info string')
  t.equal(code(() => parseConnString("host='abc")), 'CONNSTR_INVALID: unterminated quoted string in connection info string')
  t.equal(code(() => parseConnString('hots=x')), 'CONNSTR_INVALID: invalid connection option "hots"')
})

t.test('URIs', async t => {
  t.same(obj(parseConnString('postgresql://')), {})
  t.same(obj(parseConnString('postgres://u%40x:p%3Ass@h1:5433,[::1]:5434,h3/my%20db?sslmode=require&application_name=a%26b')), {
    user: 'u@x', password: 'p:ss', host: 'h1,::1,h3', port: '5433,5434,', dbname: 'my db', sslmode: 'require', application_name: 'a&b'
  })
  t.same(obj(parseConnString('postgresql://%2Fvar%2Frun%2Fpostgresql/db')), { host: '/var/run/postgresql', dbname: 'db' }, 'a socket directory, percent-encoded')
  t.same(obj(parseConnString('postgresql://h?ssl=true')), { host: 'h', sslmode: 'require' })
  t.equal(code(() => parseConnString('postgresql://h?foo=1')), 'CONNSTR_INVALID: invalid URI query parameter: "foo"')
  t.equal(code(() => parseConnString('postgresql://h?sslmode')), 'CONNSTR_INVALID: missing key/value separator "=" in URI query parameter: "sslmode"')
  t.equal(code(() => parseConnString('postgresql://h/db%zz')), 'CONNSTR_INVALID: invalid percent-encoded token: "db%zz"')
  t.equal(code(() => parseConnString('postgresql://h/db%00')), 'CONNSTR_INVALID: forbidden value %00 in percent-encoded value: "db%00"')
  t.match(code(() => parseConnString('postgresql://[::1')), /matching "\]" in IPv6 host address/)
})

t.test('error messages never quote a password', async t => {
  const msg = (s: string): string => code(() => parseConnString(s))
  t.equal(msg('host=h password=first second'), 'CONNSTR_INVALID: missing "=" after the text after a password value in connection info string',
    'an unquoted password with a space: its second word is not echoed')
  t.equal(msg('password=first second=x'), 'CONNSTR_INVALID: invalid connection option the text after a password value')
  t.notMatch(msg('postgresql://u:p%zzsecret@h/db'), /secret/)
  t.notMatch(msg('postgresql://u:secret@[::1'), /secret/)
  t.notMatch(msg('postgresql://h/db?password=se=cret'), /cret/)
  t.notMatch(msg('postgresql://h/db?password=se%zzcret'), /cret/)
})

t.test('environment and defaults', async t => {
  const env = { ...noEnv, PGHOST: 'envhost', PGPORT: '6000', PGUSER: 'envuser', PGDATABASE: 'envdb', PGSSLMODE: 'require', PGPASSWORD: 'envpw' }
  const ri = resolveConnInfo('host=strhost user=struser', env)
  t.equal(ri.user, 'struser', 'the connection string wins over the environment')
  t.same(ri.hosts, [{ host: 'strhost', hostaddr: undefined, port: 6000, socket: false }])
  t.equal(ri.dbname, 'envdb')
  t.equal(ri.origin.get('password'), 'env')
  const d = resolveConnInfo('', noEnv)
  t.equal(d.hosts[0].port, 5432)
  t.ok(d.hosts[0].socket && d.hosts[0].host.startsWith('/'), 'no host: a Unix socket directory')
  t.equal(d.dbname, d.user, 'dbname defaults to the user name')
  t.equal(d.dbnameGiven, undefined)
  const multi = resolveConnInfo('host=a,b,c port=1,2,3 hostaddr=10.0.0.1,10.0.0.2,10.0.0.3', noEnv)
  t.same(multi.hosts.map(h => `${h.host}/${h.hostaddr ?? ''}:${h.port}`), ['a/10.0.0.1:1', 'b/10.0.0.2:2', 'c/10.0.0.3:3'])
  t.same(resolveConnInfo('host=a,b port=7', noEnv).hosts.map(h => h.port), [7, 7], 'one port for every host')
  t.equal(code(() => resolveConnInfo('host=a,b port=1,2,3', noEnv)), 'CONNSTR_INVALID: could not match 3 port numbers to 2 hosts')
  t.equal(code(() => resolveConnInfo('port=99999', noEnv)), 'CONNSTR_INVALID: invalid port number: "99999"')
  t.equal(code(() => resolveConnInfo('sslmode=maybe', noEnv)), 'CONNSTR_INVALID: invalid sslmode value: "maybe"')
  t.equal(code(() => resolveConnInfo('service=x', { ...noEnv, PGSYSCONFDIR: '/nonexistent' })), 'CONNSTR_INVALID: definition of service "x" not found')
  t.equal(code(() => resolveConnInfo('channel_binding=require', noEnv)), 'CONNSTR_INVALID: connection option channel_binding=require is not supported', 'a security demand we cannot honour fails')
  t.equal(code(() => resolveConnInfo('require_auth=scram-sha-256', noEnv)), 'CONNSTR_INVALID: connection option require_auth=scram-sha-256 is not supported')
  t.equal(resolveConnInfo('channel_binding=prefer gssencmode=disable', noEnv).values.get('channel_binding'), 'prefer')
  t.match(code(() => resolveConnInfo('replication=database', noEnv)), /^CONNSTR_INVALID: a replication connection cannot read files/)
})

t.test('the password file, libpq\'s way', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpass-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'pgpass')
  writeFileSync(file, [
    '# comment',
    'other:5432:*:u:nope',
    'db\\:host:5432:*:u:colon host',
    'localhost:5432:app:u:local pw',
    '*:5433:*:u:any\\:host\\\\pw:ignored',
    ''
  ].join('\n'), { mode: 0o600 })
  const pw = (connstr: string): string | undefined => {
    const ri = resolveConnInfo(`${connstr} passfile=${file} user=u`, noEnv)
    return passwordFor(ri, ri.hosts[0])?.value
  }
  t.equal(pw('host=localhost dbname=app'), 'local pw')
  t.equal(pw('host=/tmp dbname=app'), 'local pw', 'the default socket directory counts as localhost')
  t.equal(pw('host=/elsewhere dbname=app'), undefined, 'another socket directory does not')
  t.equal(pw('host=somewhere port=5433 dbname=x'), 'any:host\\pw', 'wildcards, and escapes in the password (which ends at the next colon)')
  t.equal(pw("host='db:host' dbname=x"), 'colon host', 'an escaped colon in the host field')
  t.equal(pw('host=localhost dbname=other'), undefined)
  t.equal(resolveConnInfo(`host=localhost dbname=app user=u passfile=${file} password=given`, noEnv).values.get('password'), 'given')
  const ri = resolveConnInfo(`host=localhost dbname=app user=u passfile=${file}`, noEnv)
  t.equal(passwordFor(ri, ri.hosts[0])?.origin, 'passfile')
  chmodSync(file, 0o640)
  const warnings: string[] = []
  t.equal(passwordFor(ri, ri.hosts[0], w => warnings.push(w)), undefined, 'a group-readable file is ignored')
  t.match(warnings[0], /has group or world access; permissions should be u=rw \(0600\) or less/)
})

t.test('quoting for primary_conninfo, and what -R writes', async t => {
  t.equal(quoteConnValue('abc_1.2'), 'abc_1.2')
  t.equal(quoteConnValue('verify-full'), "'verify-full'")
  t.equal(quoteConnValue("it's \\ x"), "'it\\'s \\\\ x'")
  t.equal(quoteConnValue(''), "''")
  const fromEnv = resolveConnInfo('host=h port=5433 user=u sslmode=require', { ...noEnv, PGPASSWORD: 'envpw', PGAPPNAME: 'app' })
  t.equal(formatConnString(standbyConnPairs(fromEnv)), 'user=u host=h port=5433 application_name=app sslmode=require',
    'libpq\'s keyword order; a password from the environment is not written; no dbname when none was given')
  const inline = resolveConnInfo("host=h user=u password='p w' dbname=db replication=0 fallback_application_name=x", noEnv)
  const pairs = standbyConnPairs(inline)
  t.equal(formatConnString(pairs), "user=u password='p w' host=h port=5432 dbname=db", 'a password given in the string is written; dbname last (pg_rewind 18)')
  t.equal(formatConnString(redactPairs(pairs)), "user=u password='********' host=h port=5432 dbname=db")
  t.equal(describeConnInfo(inline), 'host=h port=5432 user=u dbname=db', 'the description never has the password')
  t.equal(formatConnString(standbyConnPairs(resolveConnInfo('host=h', { ...noEnv, PGDATABASE: 'fromenv' }))), `user=${userInfo().username} host=h port=5432 dbname=fromenv`, 'the OS user by default; PGDATABASE counts as given')
  t.ok(connStringHasSecret('host=h password=x'))
  t.ok(connStringHasSecret('postgresql://u:x@h/db'))
  t.ok(connStringHasSecret('host=h sslpassword=x'))
  t.notOk(connStringHasSecret('host=h user=password'))
  t.ok(connStringHasSecret("host='unterminated password"), 'unparsable: assumed to hold a secret')
})
