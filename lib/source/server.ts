import type { Client } from 'pg'
import { PgRewindError } from '../errors'
import { ControlFile, DBState, dbStateName } from '../format/controlfile'
import { Lsn, parseLsn } from '../format/lsn'
import { BLCKSZ, versionInfo, VersionInfo } from '../format/versions'
import { connectAgain, Connected, connectPg } from '../libpq/connect'
import { formatConnString } from '../libpq/conninfo'
import { describeConnInfo, ResolvedConnInfo, resolveConnInfo, standbyConnPairs } from '../libpq/resolve'
import { redactPairs } from '../libpq/secrets'
import { PgServerError, readBufferSocket, RowHandlers, WireSession } from './pgwire'
import { ChunkSink, FetchRequest, RewindSource } from './types'
import { FileList } from '../datadir/filelist'

/**
 * A running source server read over an ordinary SQL connection, as pg_rewind's
 * libpq_source.c does: the file list from pg_ls_dir/pg_stat_file (tablespace links
 * from pg_tablespace_location), whole small files with pg_read_binary_file, and
 * file contents in batches of ≤1 MiB chunks through one prepared unnest() query with
 * binary results. Unlike pg_rewind, batches are pipelined and spread over a few
 * connections, so neither the round trip nor one backend's reads bound the speed.
 *
 * The source keeps running while we read it: files that vanish are removed on the
 * target, files that shrank are copied as they are now, small files that grew are
 * copied whole (up to 1 MiB) — WAL replay from the last common checkpoint fixes
 * what changed in relation files (full_page_writes must be on: checked).
 */

const MAX_CHUNK_SIZE = 1024 * 1024
const MAX_CHUNKS_PER_QUERY = 1000
/** bytes expected per batch: small enough that a big file is spread over every connection */
const MAX_BYTES_PER_QUERY = 8 * 1024 * 1024
/** batches in flight per connection: one streaming, one queued behind it, so no round trip is idle */
const PIPELINE_DEPTH = 2
/**
 * Connections fetching at once by default. A backend reads one chunk at a time, so the
 * changed blocks' random reads on the source's disk are as many in flight as there are
 * connections: 8 instead of 4 took the block phase of a scale-300 rewind from about
 * 2.1 to 1.4 s, the whole rewind 7.07 → 5.71 s (medians of 3, bench/RESULTS.md).
 */
const DEFAULT_CONNECTIONS = 8
const FETCH_STMT = 'fetch_chunks_stmt'
// multi-argument unnest is FROM-clause syntax, not a function: it cannot be schema-qualified
const FETCH_SQL = 'SELECT path, begin, pg_catalog.pg_read_binary_file(path, begin, len, true) AS chunk\n' +
  'FROM unnest($1::text[], $2::int8[], $3::int4[]) AS x(path, begin, len)'
const TEXTOID = 25
const INT8OID = 20
const BYTEAOID = 17

// The recursive listing of the whole data directory; the second part gets the
// targets of the tablespace links (pg_stat_file follows links, so other symlinks
// look like the files or directories they point to).
const LIST_SQL = `WITH RECURSIVE files (path, filename, size, isdir) AS (
  SELECT '' AS path, filename, size, isdir FROM
  (SELECT pg_catalog.pg_ls_dir('.', true, false) AS filename) AS fn,
        pg_catalog.pg_stat_file(fn.filename, true) AS this
  UNION ALL
  SELECT parent.path || parent.filename || '/' AS path,
         fn, this.size, this.isdir
  FROM files AS parent,
       pg_catalog.pg_ls_dir(parent.path || parent.filename, true, false) AS fn,
       pg_catalog.pg_stat_file(parent.path || parent.filename || '/' || fn, true) AS this
       WHERE parent.isdir = 't'
)
SELECT files.path || files.filename AS path, files.size::text AS size, files.isdir,
       pg_catalog.pg_tablespace_location(pg_tablespace.oid) AS link_target
FROM files
LEFT OUTER JOIN pg_catalog.pg_tablespace ON files.path = 'pg_tblspc/'
                                        AND pg_tablespace.oid::text = files.filename`

/** Rows fetched from the listing's cursor at a time (a fresh cluster has more: every listing reads several batches). */
const LIST_BATCH = 1000

interface FileRow extends Record<string, unknown> { path: string, size: string | null, isdir: boolean, link_target: string | null }

/** A row of LIST_SQL into the listing. */
function addFileRow (out: FileList, r: FileRow): void {
  // removed while the query ran
  if (r.size === null) return
  const base = r.path.slice(r.path.lastIndexOf('/') + 1)
  // a Unix socket in the data directory reads as an empty regular file here: it is not data
  if (/^\.s\.PGSQL\.\d+$/.test(base)) return
  const link = r.link_target ?? ''
  if (link !== '') {
    // an in-place tablespace (allow_in_place_tablespaces) reports a relative
    // location: it is a plain directory under pg_tblspc/, not a link
    if (link.startsWith('/')) out.add(r.path, 'symlink', 0, link)
    else out.add(r.path, 'dir', 0)
  } else if (r.isdir) {
    out.add(r.path, 'dir', 0)
  } else {
    out.add(r.path, 'file', Number(r.size))
  }
}

/**
 * What the role needs: EXECUTE on these (the first four are not granted to PUBLIC;
 * the others are, unless an administrator revoked them).
 */
export const REQUIRED_FUNCTIONS: readonly string[] = [
  'pg_catalog.pg_ls_dir(text, boolean, boolean)',
  'pg_catalog.pg_stat_file(text, boolean)',
  'pg_catalog.pg_read_binary_file(text)',
  'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
  'pg_catalog.pg_tablespace_location(oid)',
  'pg_catalog.pg_current_wal_insert_lsn()',
  'pg_catalog.pg_is_in_recovery()'
]

export interface ServerSourceOptions {
  env?: NodeJS.ProcessEnv
  /** most connections used at once to fetch file contents (default 8) */
  connections?: number
  debug?: (msg: string) => void
  warn?: (msg: string) => void
}

export interface Chunk {
  path: string
  offset: number
  length: number
  /** bytes we expect back (a whole-file request asks for more than the listed size) */
  expected: number
  req: FetchRequest
}

function lostError (what: string): (why: string) => PgRewindError {
  return why => new PgRewindError('SOURCE_CONNECTION', `connection to the source server was lost while ${what}: ${why}`, {
    hint: 'The target\'s pg_control has not been replaced, so it is not marked as rewound: once the source server is reachable again, run the rewind again from the start.'
  })
}

/** A failed query: a server error (permissions, a missing file) or a lost connection. */
function queryError (e: unknown, message: string, what: string): PgRewindError {
  if (e instanceof PgRewindError) return e
  const err = e as Error & { code?: string, detail?: string, hint?: string }
  if (typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) {
    return new PgRewindError('SOURCE_QUERY', `${message}: ${err.message}`, { detail: err.detail, hint: err.hint, data: { sqlstate: err.code } })
  }
  return lostError(what)(err.message ?? String(e))
}

/** libpq's text array element quoting: "…" with \ and " backslash-escaped. */
function arrayLiteral (items: string[]): string {
  return `{${items.map(s => `"${s.replace(/["\\]/g, c => `\\${c}`)}"`).join(',')}}`
}

/** Split a request into ≤1 MiB chunks (merged with the previous one when contiguous, as pg_rewind does). */
export function * chunksOf (req: FetchRequest, prev: Chunk | undefined): Generator<Chunk> {
  let off = req.offset
  // A whole small file is asked for with a full chunk, so that a file that grew
  // since it was listed still arrives whole (pg_rewind 14+); shorter answers are
  // fine (a file that shrank: WAL replay fixes relation files).
  let len = req.wholeFile === true ? Math.max(req.length, MAX_CHUNK_SIZE) : req.length
  const listedEnd = req.offset + req.length
  const expect = (o: number, l: number): number => req.wholeFile === true ? Math.max(0, Math.min(l, listedEnd - o)) : l
  if (prev !== undefined && req.wholeFile !== true && prev.req.wholeFile !== true && prev.path === req.path &&
      prev.offset + prev.length === off && prev.length < MAX_CHUNK_SIZE) {
    const add = Math.min(len, MAX_CHUNK_SIZE - prev.length)
    prev.length += add
    prev.expected += add
    off += add
    len -= add
  }
  while (len > 0) {
    const l = Math.min(len, MAX_CHUNK_SIZE)
    yield { path: req.path, offset: off, length: l, expected: expect(off, l), req }
    off += l
    len -= l
  }
}

/** The SET commands pg_rewind runs on its session (no timeouts, read-only, a safe search_path). */
export function sessionSetup (v: VersionInfo): string {
  const sets = ['SET statement_timeout = 0', 'SET lock_timeout = 0', 'SET idle_in_transaction_session_timeout = 0']
  if (v.hasTransactionTimeout) sets.push('SET transaction_timeout = 0')
  sets.push('SET default_transaction_read_only = on', "SELECT pg_catalog.set_config('search_path', '', false)")
  return sets.join('; ')
}

async function setUpSession (client: Client, v: VersionInfo): Promise<void> {
  try {
    await client.query(sessionSetup(v))
  } catch (e) {
    throw queryError(e, 'could not set up the session on the source server', 'setting up the session')
  }
}

export class ServerSource implements RewindSource {
  readonly kind = 'server' as const
  readonly description: string
  private readonly fetchers: WireSession[] = []
  private maxConnections: number

  private constructor (
    private readonly conn: Connected,
    private readonly ri: ResolvedConnInfo,
    readonly version: VersionInfo,
    readonly inRecovery: boolean,
    private readonly opts: ServerSourceOptions
  ) {
    this.description = `source server "${describeConnInfo(ri)}"`
    this.maxConnections = Math.max(1, opts.connections ?? DEFAULT_CONNECTIONS)
  }

  /**
   * Connect, set the session up as pg_rewind does, and check before anything else
   * happens that the server can be a source: the role's privileges (all missing
   * GRANTs listed at once), a standby only from PostgreSQL 14 on, full_page_writes.
   */
  static async open (connstr: string, opts: ServerSourceOptions = {}): Promise<ServerSource> {
    const ri = resolveConnInfo(connstr, opts.env)
    const conn = await connectPg(ri, { warn: opts.warn })
    const client = conn.client
    try {
      // one round trip for everything we must know before using the session (a
      // function whose EXECUTE was revoked is not called, only reported)
      let s: { v: string, role: string, missing: string[] | null, rec: boolean | null, fpw: string }
      try {
        s = (await client.query(
          "SELECT pg_catalog.current_setting('server_version_num') AS v, pg_catalog.quote_ident(current_user) AS role,\n" +
          '  (SELECT pg_catalog.array_agg(f ORDER BY o) FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS u(f, o)\n' +
          "    WHERE NOT pg_catalog.has_function_privilege(f, 'EXECUTE')) AS missing,\n" +
          "  CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_is_in_recovery()', 'EXECUTE') THEN pg_catalog.pg_is_in_recovery() END AS rec,\n" +
          "  pg_catalog.current_setting('full_page_writes') AS fpw", [REQUIRED_FUNCTIONS])).rows[0]
      } catch (e) {
        throw queryError(e, 'could not read the state of the source server', 'connecting')
      }
      const version = versionInfo(Math.floor(Number(s.v) / 10000))
      const { role, missing } = s
      if (missing !== null && missing.length > 0) {
        const grants = missing.map(f => `GRANT EXECUTE ON FUNCTION ${f} TO ${role};`)
        throw new PgRewindError('SOURCE_PRIVILEGES', `role ${role} on the source server lacks privileges needed to read its files`, {
          detail: `Missing: EXECUTE on ${missing.join(', ')}.`,
          hint: `As a superuser on the source, run:\n${grants.join('\n')}`,
          data: { role, grants }
        })
      }
      if (s.rec === true && !version.standbySourceAllowed) {
        throw new PgRewindError('SOURCE_IN_RECOVERY', 'source server must not be in recovery mode', {
          detail: `The source is a standby; on PostgreSQL ${version.major} only a primary can be the source (a standby can from PostgreSQL 14 on).`,
          hint: 'Use the primary as the source, or promote this standby first.'
        })
      }
      if (s.fpw !== 'on') {
        throw new PgRewindError('SOURCE_SETTINGS', '"full_page_writes" must be enabled in the source server', {
          hint: 'Pages copied from a running server may be torn; only full-page images in its WAL repair them.'
        })
      }
      await setUpSession(client, version)
      return new ServerSource(conn, ri, version, s.rec === true, opts)
    } catch (e) {
      await client.end().catch(() => {})
      throw e
    }
  }

  private async query<T extends Record<string, unknown>> (sql: string, params: unknown[], message: string, what: string): Promise<T[]> {
    try {
      return (await this.conn.client.query<T>(sql, params)).rows
    } catch (e) {
      throw queryError(e, message, what)
    }
  }

  /**
   * The source's files, read from a cursor a batch at a time: the 400,000 rows of a
   * cluster of 100,000 tables, read as one result, were some 30 MB of row objects on
   * top of the listing they became (buildPlan's peak from a server 157 MB).
   */
  async listFiles (): Promise<FileList> {
    const out = new FileList()
    const q = async (sql: string): Promise<FileRow[]> => await this.query<FileRow>(sql, [], 'could not fetch file list', 'reading the file list')
    await q('BEGIN')
    try {
      await q(`DECLARE pgrewind_files NO SCROLL CURSOR FOR ${LIST_SQL}`)
      for (;;) {
        const rows = await q(`FETCH ${LIST_BATCH} FROM pgrewind_files`)
        for (const r of rows) addFileRow(out, r)
        if (rows.length < LIST_BATCH) break
      }
    } catch (e) {
      // the error that ended the listing is the one to report, not the rollback's
      await this.conn.client.query('ROLLBACK').catch(() => {})
      throw e
    }
    await q('COMMIT')
    return out.finish('source')
  }

  async readFile (path: string): Promise<Buffer> {
    const rows = await this.query<{ content: Buffer | null }>('SELECT pg_catalog.pg_read_binary_file($1) AS content', [path],
      `could not fetch remote file "${path}"`, `fetching file "${path}"`)
    if (rows.length !== 1 || rows[0].content === null) {
      throw new PgRewindError('SOURCE_PROTOCOL', `unexpected result set while fetching remote file "${path}"`)
    }
    this.opts.debug?.(`fetched file "${path}", length ${rows[0].content.length}`)
    return rows[0].content
  }

  async rangeHashes (path: string, offset: number, length: number, unit: number): Promise<Array<string | null>> {
    const n = Math.ceil(length / unit)
    const rows = await this.query<{ i: string, h: string | null }>(
      'SELECT i, pg_catalog.md5(pg_catalog.pg_read_binary_file($1, $2 + i * $4, LEAST($4::bigint, $3 - i * $4), true)) AS h ' +
      'FROM pg_catalog.generate_series(0::bigint, $5::bigint - 1) AS i ORDER BY i',
      [path, offset, length, unit, n], `could not hash remote file "${path}"`, `hashing file "${path}"`)
    const out: Array<string | null> = new Array(n).fill(null)
    for (const r of rows) out[Number(r.i)] = r.h
    return out
  }

  /**
   * Where the target must replay to before it is consistent (pg_rewind's rule):
   * a standby's minRecoveryPoint, a primary's current WAL insert location.
   */
  async currentEndLsn (control: ControlFile): Promise<{ lsn: Lsn, tli: number }> {
    if (control.state === DBState.IN_ARCHIVE_RECOVERY) return { lsn: control.minRecoveryPoint, tli: control.minRecoveryPointTLI }
    if (control.state !== DBState.IN_PRODUCTION) {
      throw new PgRewindError('SOURCE_STATE', 'source system was in unexpected state at end of rewind', {
        detail: `Its control file says "${dbStateName(control.state)}"; it must be in production or in archive recovery.`
      })
    }
    const rows = await this.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn', [],
      'could not read the current WAL insert location', 'reading the WAL insert location')
    let lsn: Lsn
    try { lsn = parseLsn(rows[0].lsn) } catch {
      throw new PgRewindError('SOURCE_PROTOCOL', `unrecognized result "${rows[0].lsn}" for current WAL insert location`)
    }
    return { lsn, tli: Math.max(control.checkPointCopy.thisTimeLineID, control.minRecoveryPointTLI) }
  }

  /**
   * A read-only query in database `dbname` (null: this session's), for the names in
   * the discard report: another database gets a short-lived session made like this
   * one (same host, TLS, user and password), set up as pg_rewind's.
   */
  async catalogQuery<T extends Record<string, unknown>> (dbname: string | null, sql: string, params: unknown[]): Promise<T[]> {
    if (dbname === null || dbname === this.conn.config.database) return await this.query<T>(sql, params, 'could not read the source\'s catalog', 'reading the catalog')
    const client = await connectAgain(this.conn, { database: dbname })
    try {
      await setUpSession(client, this.version)
      return (await client.query<T>(sql, params)).rows
    } catch (e) {
      throw queryError(e, `could not read the catalog of database "${dbname}"`, 'reading the catalog')
    } finally {
      await client.end().catch(() => {})
    }
  }

  /** -R's primary_conninfo for this connection, and the same with secrets masked (for display). */
  standbyConninfo (): { conninfo: string, redacted: string } {
    const pairs = standbyConnPairs(this.ri)
    return { conninfo: formatConnString(pairs), redacted: formatConnString(redactPairs(pairs)) }
  }

  private async openFetcher (): Promise<WireSession> {
    const client = await connectAgain(this.conn, { plainSocket: readBufferSocket })
    try {
      await setUpSession(client, this.version)
    } catch (e) {
      await client.end().catch(() => {})
      throw e
    }
    const w = WireSession.takeOver(client, lostError('fetching files'))
    try {
      await w.prepare(FETCH_STMT, FETCH_SQL, [])
    } catch (e) {
      w.destroy()
      throw queryError(e, 'could not prepare statement to fetch file contents', 'preparing the fetch')
    }
    this.fetchers.push(w)
    return w
  }

  async fetch (requests: Iterable<FetchRequest>, sink: ChunkSink, onBytes?: (n: number) => void, shouldStop?: () => void,
    onVanished?: (path: string) => void): Promise<void> {
    const vanished = new Set<string>()
    const inflight = new Set<Promise<void>>()
    let failure: Error | null = null
    const fail = (e: unknown): void => {
      if (failure !== null) return
      failure = e instanceof PgServerError
        ? new PgRewindError('SOURCE_QUERY', `unexpected result while fetching remote files: ${e.message}`, { detail: e.detail, hint: e.hint, data: { sqlstate: e.code } })
        : e as Error
      // stop every other batch now: nothing more may be written
      for (const w of this.fetchers.splice(0)) w.destroy(failure)
    }

    // each chunk's row: its head checked against the request, its bytes passed on as
    // they come, cut at page boundaries of the file (the sink's contract): a page split
    // between two socket reads is put together in `page` first
    const rowHandlers = (chunks: Chunk[]): RowHandlers => {
      let i = 0
      let writing: Chunk | null = null
      let dataEnd = 0
      const page = Buffer.allocUnsafe(BLCKSZ)
      let pageFill = 0
      const pass = (c: Chunk, data: Buffer, at: number): void => {
        sink(c.req, c.offset + at, data)
        onBytes?.(data.length)
      }
      return {
        onRowHead: (fields, dataLength) => {
          writing = null
          pageFill = 0
          const c = chunks[i++]
          if (c === undefined) throw new PgRewindError('SOURCE_PROTOCOL', 'received more data chunks than requested')
          if (fields.length !== 2) throw new PgRewindError('SOURCE_PROTOCOL', 'unexpected result set size while fetching remote files')
          const [p, b] = fields
          if (p === null || b === null) throw new PgRewindError('SOURCE_PROTOCOL', 'unexpected null values in result while fetching remote files')
          if (b.length !== 8) throw new PgRewindError('SOURCE_PROTOCOL', 'unexpected result length while fetching remote files')
          const path = p.toString('utf8')
          const begin = Number(b.readBigInt64BE(0))
          if (path !== c.path) throw new PgRewindError('SOURCE_PROTOCOL', `received data for file "${path}", when requested for "${c.path}"`)
          if (dataLength < 0) {
            // removed on the source since it was listed: it must not exist on the target either
            if (!vanished.has(path)) {
              vanished.add(path)
              this.opts.debug?.(`received null value for chunk for file "${path}", file has been deleted`)
              onVanished?.(path)
            }
            return
          }
          if (begin !== c.offset) throw new PgRewindError('SOURCE_PROTOCOL', `received data at offset ${begin} of file "${path}", when requested for offset ${c.offset}`)
          if (dataLength > c.length) throw new PgRewindError('SOURCE_PROTOCOL', `received more than requested for file "${path}"`)
          // a later chunk of a file that vanished (batches finish in any order)
          if (vanished.has(path)) return
          writing = c
          dataEnd = dataLength
        },
        onRowData: (piece, at) => {
          if (writing === null) return
          const from = writing.offset + at
          const last = at + piece.length === dataEnd
          let p = 0
          if (pageFill > 0) {
            p = Math.min(piece.length, BLCKSZ - from % BLCKSZ)
            piece.copy(page, pageFill, 0, p)
            pageFill += p
            if ((from + p) % BLCKSZ !== 0 && !last) return
            pass(writing, page.subarray(0, pageFill), at + p - pageFill)
            pageFill = 0
          }
          const end = last ? piece.length : Math.max(p, Math.floor((from + piece.length) / BLCKSZ) * BLCKSZ - from)
          if (end > p) pass(writing, piece.subarray(p, end), at + p)
          pageFill = piece.copy(page, 0, end)
        }
      }
    }
    const checkFields = (f: Array<{ typeOid: number, format: number }>): void => {
      if (f.length !== 3) throw new PgRewindError('SOURCE_PROTOCOL', 'unexpected result set size while fetching remote files')
      if (f[0].typeOid !== TEXTOID || f[1].typeOid !== INT8OID || f[2].typeOid !== BYTEAOID) {
        throw new PgRewindError('SOURCE_PROTOCOL', `unexpected data types in result set while fetching remote files: ${f[0].typeOid} ${f[1].typeOid} ${f[2].typeOid}`)
      }
      if (f.some(x => x.format !== 1)) throw new PgRewindError('SOURCE_PROTOCOL', 'unexpected result format while fetching remote files')
    }

    const start = (w: WireSession, chunks: Chunk[]): void => {
      this.opts.debug?.(`getting ${chunks.length} file chunks`)
      const params = [arrayLiteral(chunks.map(c => c.path)), `{${chunks.map(c => c.offset).join(',')}}`, `{${chunks.map(c => c.length).join(',')}}`]
      const p: Promise<void> = w.execute(FETCH_STMT, params, { ...rowHandlers(chunks), onDescribe: checkFields })
        .then(rows => {
          if (rows !== chunks.length) throw new PgRewindError('SOURCE_PROTOCOL', 'unexpected number of data chunks received')
        })
        .catch(fail)
        .finally(() => { inflight.delete(p) })
      inflight.add(p)
    }

    // Pipelined dispatch: an idle connection first, a new one while below the
    // limit, else queue behind a running batch, else wait for one to finish.
    const dispatch = async (chunks: Chunk[]): Promise<void> => {
      for (;;) {
        if (failure !== null) return
        shouldStop?.()
        const live = this.fetchers.filter(w => !w.isDead)
        live.sort((a, b) => a.inFlight - b.inFlight)
        let w: WireSession | undefined = live[0]
        if ((w === undefined || w.inFlight > 0) && this.fetchers.length < this.maxConnections) {
          try { w = await this.openFetcher() } catch (e) {
            if (w === undefined) throw e
            // the server takes no more connections (max_connections): make do with these
            this.maxConnections = this.fetchers.length
          }
        }
        if (w !== undefined && w.inFlight < PIPELINE_DEPTH) {
          start(w, chunks)
          return
        }
        await Promise.race(inflight)
      }
    }

    try {
      let batch: Chunk[] = []
      let bytes = 0
      for (const req of requests) {
        if (failure !== null) break
        shouldStop?.()
        for (const c of chunksOf(req, batch[batch.length - 1])) {
          batch.push(c)
          bytes += c.expected
          if (batch.length >= MAX_CHUNKS_PER_QUERY || bytes >= MAX_BYTES_PER_QUERY) {
            await dispatch(batch)
            batch = []
            bytes = 0
          }
        }
      }
      if (batch.length > 0) await dispatch(batch)
      while (inflight.size > 0) await Promise.race(inflight)
    } catch (e) {
      fail(e)
    }
    if (failure !== null) {
      while (inflight.size > 0) await Promise.race(inflight)
      throw failure
    }
  }

  async close (): Promise<void> {
    const all = this.fetchers.splice(0)
    await Promise.all(all.map(async w => await w.close()))
    await this.conn.client.end().catch(() => {})
  }
}
