import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectAgain, connectPg } from '../lib/libpq/connect'
import { resolveConnInfo } from '../lib/libpq/resolve'
import { readBufferSocket, WireSession } from '../lib/source/pgwire'
import { Cluster, testMajors } from './harness'

/**
 * A fetch connection reads into one buffer of its socket's own, reused for every read
 * (lib/source/pgwire.ts readBufferSocket): pg connects and authenticates through it,
 * then the session takes it over. On a real server: file chunks of 1 MiB, each arriving
 * in many reads into that one buffer, byte for byte what the file holds, over the Unix
 * socket and TCP. (Every rewind from a source server goes this way too: test/rewind-server*.)
 */

const FETCH = 'SELECT path, pg_catalog.pg_read_binary_file(path, begin, len, true) AS chunk FROM unnest($1::text[], $2::int8[], $3::int4[]) AS x(path, begin, len)'

for (const major of [testMajors()[0], testMajors()[testMajors().length - 1]].filter((m, i, a) => a.indexOf(m) === i)) {
  t.test(`PostgreSQL ${major}: file chunks read through the reused buffer are the file's bytes`, async t => {
    // tcp: also on 127.0.0.1, at a free port (the Unix socket has the same port number)
    const c = await Cluster.init({ major, tcp: true })
    t.teardown(async () => { await c.destroy() })
    await c.start()
    // about 6 MB that do not compress
    await c.query('CREATE TABLE big AS SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) AS v FROM generate_series(1, 50000) i')
    await c.query('CHECKPOINT')
    const path = await c.scalar<string>("SELECT pg_relation_filepath('big')")
    const want = readFileSync(join(c.dataDir, path))
    t.ok(want.length > 4 * 1024 * 1024, `a file of ${want.length} bytes`)

    for (const host of [c.socketDir, '127.0.0.1']) {
      const conn = await connectPg(resolveConnInfo(`host=${host} port=${c.port} user=postgres dbname=postgres sslmode=disable`))
      t.teardown(async () => { await conn.client.end().catch(() => {}) })
      const client = await connectAgain(conn, { plainSocket: readBufferSocket })
      const w = WireSession.takeOver(client, why => new Error(why))
      t.teardown(() => w.destroy())
      t.equal(w.readsInPlace, true, `${host}: the session reads into its socket's buffer`)
      await w.prepare('f', FETCH, [])
      const got = Buffer.alloc(want.length)
      const chunk = 1024 * 1024
      const offsets = Array.from({ length: Math.ceil(want.length / chunk) }, (_, i) => i * chunk)
      // two batches in flight on the one connection, as a fetch pipelines them
      const batches = [offsets.filter((_, k) => k % 2 === 0), offsets.filter((_, k) => k % 2 === 1)]
      const done = batches.map(async offs => {
        const lens = offs.map(o => Math.min(chunk, want.length - o))
        let row = 0
        return await w.execute('f', [`{${offs.map(() => path).join(',')}}`, `{${offs.join(',')}}`, `{${lens.join(',')}}`], {
          onRow: f => { f[1]!.copy(got, offs[row++]) }
        })
      })
      t.same(await Promise.all(done), batches.map(b => b.length))
      t.ok(got.equals(want), `${host}: every byte as in the file`)
    }
  })
}
