import t, { Test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectAgain, connectPg } from '../lib/libpq/connect'
import { resolveConnInfo } from '../lib/libpq/resolve'
import { readBufferSocket, WireSession } from '../lib/source/pgwire'
import { ServerSource } from '../lib/source/server'
import { FetchRequest } from '../lib/source/types'
import { BLCKSZ } from '../lib/format/versions'
import { Cluster, testMajors } from './harness'

/**
 * A fetch connection reads into one buffer of its socket's own, reused for every read
 * (lib/source/pgwire.ts readBufferSocket): pg connects and authenticates through it,
 * then the session takes it over. On a real server: file chunks of 1 MiB, each arriving
 * in many reads into that one buffer, byte for byte what the file holds, over the Unix
 * socket and TCP. (Every rewind from a source server goes this way too: test/rewind-server*.)
 */

const FETCH = 'SELECT path, pg_catalog.pg_read_binary_file(path, begin, len, true) AS chunk FROM unnest($1::text[], $2::int8[], $3::int4[]) AS x(path, begin, len)'

/** A running cluster with table `big` of `rows` rows (i, v = `value`), checkpointed: its file's path and bytes. */
async function clusterWithTable (t: Test, major: number, tcp: boolean, value: string, rows: number): Promise<{ c: Cluster, path: string, want: Buffer }> {
  const c = await Cluster.init({ major, tcp })
  t.teardown(async () => { await c.destroy() })
  await c.start()
  await c.query(`CREATE TABLE big AS SELECT i, ${value} AS v FROM generate_series(1, ${rows}) i`)
  await c.query('CHECKPOINT')
  const path = await c.scalar<string>("SELECT pg_relation_filepath('big')")
  return { c, path, want: readFileSync(join(c.dataDir, path)) }
}

for (const major of [testMajors()[0], testMajors()[testMajors().length - 1]].filter((m, i, a) => a.indexOf(m) === i)) {
  t.test(`PostgreSQL ${major}: file chunks read through the reused buffer are the file's bytes`, async t => {
    // listening on 127.0.0.1 too, at a free port (the Unix socket has the same port
    // number); a table of about 6 MB that do not compress
    const { c, path, want } = await clusterWithTable(t, major, true, 'md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text)', 50000)
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
      let pieces = 0
      const done = batches.map(async offs => {
        const lens = offs.map(o => Math.min(chunk, want.length - o))
        let row = -1
        return await w.execute('f', [`{${offs.map(() => path).join(',')}}`, `{${offs.join(',')}}`, `{${lens.join(',')}}`], {
          onRowHead: (head, len) => {
            row++
            if (head.length !== 1 || head[0]?.toString() !== path || len !== lens[row]) throw new Error(`row ${row}: ${String(head[0])}, ${len} bytes`)
          },
          onRowData: (piece, at) => { pieces++; piece.copy(got, offs[row] + at) }
        })
      })
      t.same(await Promise.all(done), batches.map(b => b.length))
      t.ok(got.equals(want), `${host}: every byte as in the file`)
      // a chunk is passed on as the socket reads it, never assembled whole
      t.ok(pieces >= 2 * offsets.length, `${host}: ${offsets.length} chunks came in ${pieces} pieces`)
    }
  })

  t.test(`PostgreSQL ${major}: a fetch passes each chunk on in pieces cut at the file's page boundaries`, async t => {
    const { c, path, want } = await clusterWithTable(t, major, false, 'md5(i::text) || md5((i * 7)::text)', 30000)
    const source = await ServerSource.open(c.connstr())
    t.teardown(async () => { await source.close() })
    // a whole file, block ranges, a range that starts and ends inside pages
    const reqs: FetchRequest[] = [
      { path, offset: 0, length: want.length, wholeFile: true },
      { path: 'PG_VERSION', offset: 0, length: 3, wholeFile: true },
      { path, offset: 3 * BLCKSZ, length: 40 * BLCKSZ },
      { path, offset: 100, length: 5 * BLCKSZ + 77 }
    ]
    const got = reqs.map(r => Buffer.alloc(r.wholeFile === true ? readFileSync(join(c.dataDir, r.path)).length : r.length))
    const cuts: string[] = []
    let pieces = 0
    await source.fetch(reqs, (req, off, data) => {
      pieces++
      const r = reqs.indexOf(req)
      data.copy(got[r], off - req.offset)
      const end = off + data.length
      // inside the request, a piece starts and ends on a page boundary
      if ((off % BLCKSZ !== 0 && off !== req.offset) || (end % BLCKSZ !== 0 && end !== req.offset + got[r].length)) cuts.push(`${req.path} ${off}+${data.length}`)
    })
    t.same(cuts, [], 'no piece cut inside a page, but at a request\'s ends')
    t.ok(got[0].equals(want), 'the whole file as it is')
    t.equal(got[1].toString().trim(), String(major), 'a small file')
    t.ok(got[2].equals(want.subarray(3 * BLCKSZ, 43 * BLCKSZ)), 'the block range')
    t.ok(got[3].equals(want.subarray(100, 100 + 5 * BLCKSZ + 77)), 'the range inside pages')
    t.ok(pieces > Math.ceil(want.length / (1024 * 1024)) + 3, `${pieces} pieces`)
  })
}
