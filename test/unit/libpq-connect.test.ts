import t, { Test } from 'tap'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPg } from '../../lib/libpq/connect'
import { resolveConnInfo } from '../../lib/libpq/resolve'

/**
 * One password lookup: ours (libpq's rules over the resolved environment). A fake
 * server that asks for a cleartext password records what arrives: pg's own
 * fallback (process.env.PGPASSWORD, its bundled pgpass reading PGPASSFILE or
 * ~/.pgpass) must never supply one that libpq would not.
 */
async function passwordServer (t: Test): Promise<{ port: number, received: string[] }> {
  const received: string[] = []
  const server: Server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0)
    let started = false
    sock.on('data', d => {
      buf = Buffer.concat([buf, d])
      if (!started) {
        if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return
        buf = buf.subarray(buf.readInt32BE(0))
        started = true
        // AuthenticationCleartextPassword
        const r = Buffer.alloc(9)
        r.write('R')
        r.writeInt32BE(8, 1)
        r.writeInt32BE(3, 5)
        sock.write(r)
      }
      if (buf.length >= 5 && buf[0] === 0x70 /* 'p' */ && buf.length >= 1 + buf.readInt32BE(1)) {
        received.push(buf.toString('utf8', 5, buf.readInt32BE(1)).replace(/\0$/, ''))
        buf = Buffer.alloc(0)
        const m = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed\0\0')
        const e = Buffer.alloc(5)
        e.write('E')
        e.writeInt32BE(m.length + 4, 1)
        sock.end(Buffer.concat([e, m]))
      }
    })
    sock.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const addr = server.address()
  return { port: typeof addr === 'object' && addr !== null ? addr.port : 0, received }
}

t.test('a password libpq would not use is not used', async t => {
  const { port, received } = await passwordServer(t)
  const dir = mkdtempSync(join(tmpdir(), 'pgrewind-pw-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // an entry that matches, in a file libpq is not told to read (passfile= names another)
  const other = join(dir, 'other.pgpass')
  writeFileSync(other, `127.0.0.1:${port}:db:u:from-pgpassfile\n`)
  chmodSync(other, 0o600)
  const empty = join(dir, 'empty.pgpass')
  writeFileSync(empty, '')
  chmodSync(empty, 0o600)
  const saved = { PGPASSWORD: process.env.PGPASSWORD, PGPASSFILE: process.env.PGPASSFILE }
  // what pg would fall back to: this process's environment
  process.env.PGPASSWORD = 'from-process-env'
  process.env.PGPASSFILE = other
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v }
  })
  const ri = resolveConnInfo(`host=127.0.0.1 port=${port} user=u dbname=db sslmode=disable passfile=${empty}`, { HOME: dir })
  await t.rejects(connectPg(ri), { code: 'SOURCE_CONNECTION', message: /fe_sendauth: no password supplied/ })
  t.same(received, [], 'no password was sent')

  // the one lookup does find what libpq would: the password file named by passfile=
  const ri2 = resolveConnInfo(`host=127.0.0.1 port=${port} user=u dbname=db sslmode=disable passfile=${other}`, { HOME: dir })
  await t.rejects(connectPg(ri2), { code: 'SOURCE_CONNECTION', message: /password authentication failed/ })
  t.same(received, ['from-pgpassfile'], 'the password file\'s entry was sent')
})
