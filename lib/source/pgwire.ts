import { OnReadOpts, Socket, SocketConstructorOpts } from 'node:net'
import { Duplex } from 'node:stream'
import type { Client } from 'pg'
import { PgRewindError } from '../errors'

/**
 * The extended query protocol, pipelined, with binary results, over a connection
 * `pg` opened. Why not `pg` itself: pg 8.23 decodes every DataRow field as UTF-8
 * text even when the result is binary (pg-protocol's parser), which corrupts bytea,
 * and it waits for each query to finish before sending the next, so a second batch
 * cannot be in flight while the first streams. pg_rewind reads file chunks in
 * binary. So `pg` does what it is good at (TCP/Unix socket, TLS, SCRAM/MD5
 * authentication), and once the session is set up we take over its socket for the
 * one prepared statement we run. Nothing else uses pg's Client afterwards.
 */

export class PgServerError extends Error {
  constructor (message: string, readonly code?: string, readonly detail?: string, readonly hint?: string, readonly severity?: string) {
    super(message)
  }
}

export interface FieldDesc { name: string, typeOid: number, format: number }

/**
 * A data row as it arrives: every field but the last (small: a path, an offset) at
 * once, then the last one's bytes in pieces, `at` bytes into it, as the socket reads
 * them (none when it is null or empty). A 1 MiB file chunk is never assembled.
 */
export interface RowHandlers {
  onRowHead: (fields: Array<Buffer | null>, lastLength: number) => void
  onRowData: (piece: Buffer, at: number) => void
}

interface Op extends Partial<RowHandlers> {
  onDescribe?: (fields: FieldDesc[]) => void
  rows: number
  error: Error | null
  resolve: (rows: number) => void
  reject: (e: Error) => void
}

function message (type: string, ...parts: Buffer[]): Buffer {
  const len = parts.reduce((a, p) => a + p.length, 0)
  const head = Buffer.allocUnsafe(5)
  head[0] = type.charCodeAt(0)
  head.writeInt32BE(len + 4, 1)
  return Buffer.concat([head, ...parts], len + 5)
}
const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)])
const int16 = (n: number): Buffer => { const b = Buffer.allocUnsafe(2); b.writeInt16BE(n); return b }
const int32 = (n: number): Buffer => { const b = Buffer.allocUnsafe(4); b.writeInt32BE(n); return b }

function parseError (body: Buffer): PgServerError {
  const f = new Map<string, string>()
  let i = 0
  while (i < body.length && body[i] !== 0) {
    const t = String.fromCharCode(body[i])
    const end = body.indexOf(0, i + 1)
    f.set(t, body.toString('utf8', i + 1, end < 0 ? body.length : end))
    i = end < 0 ? body.length : end + 1
  }
  return new PgServerError(f.get('M') ?? 'unknown server error', f.get('C'), f.get('D'), f.get('H'), f.get('V') ?? f.get('S'))
}

/** Messages of one type passed on in pieces as they arrive, instead of assembled. */
export interface StreamedMessages {
  type: number
  start: (length: number) => void
  part: (piece: Buffer) => void
  end: () => void
}

/**
 * Splits the byte stream into messages without copying the payload when a message
 * arrives in one piece. A message body is only valid during onMessage: a split one
 * is assembled in one reused buffer. Messages of the `streamed` type (the fetch's
 * data rows, 1 MiB each) are not assembled at all but passed on piece by piece:
 * eight connections' assembly buffers were 8-16 MB at a rewind's peak, and every
 * fetched byte one more copy.
 */
export class Framer {
  private readonly hdr = Buffer.alloc(5)
  private hdrFill = 0
  private body: Buffer | null = null
  private bodyFill = 0
  private type = 0
  private scratch = Buffer.allocUnsafe(0)
  /** bytes of the streamed message still to come (-1: none being streamed) */
  private streamLeft = -1

  constructor (private readonly onMessage: (type: number, body: Buffer) => void, private readonly streamed?: StreamedMessages) {}

  push (chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length) {
      if (this.streamLeft >= 0) {
        const take = Math.min(this.streamLeft, chunk.length - pos)
        this.streamLeft -= take
        this.streamed?.part(chunk.subarray(pos, pos + take))
        pos += take
        if (this.streamLeft === 0) this.endStream()
        continue
      }
      if (this.body === null) {
        const take = Math.min(5 - this.hdrFill, chunk.length - pos)
        chunk.copy(this.hdr, this.hdrFill, pos, pos + take)
        this.hdrFill += take
        pos += take
        if (this.hdrFill < 5) return
        this.hdrFill = 0
        this.type = this.hdr[0]
        const len = this.hdr.readInt32BE(1) - 4
        if (len < 0 || len > 0x40000000) throw new PgRewindError('SOURCE_PROTOCOL', `invalid message length ${len + 4} from the source server`)
        if (this.type === this.streamed?.type) {
          this.streamLeft = len
          this.streamed.start(len)
          if (len === 0) this.endStream()
          continue
        }
        if (chunk.length - pos >= len) {
          const b = chunk.subarray(pos, pos + len)
          pos += len
          this.onMessage(this.type, b)
          continue
        }
        if (this.scratch.length < len) this.scratch = Buffer.allocUnsafe(Math.max(len, 2 * this.scratch.length))
        this.body = this.scratch.subarray(0, len)
        this.bodyFill = 0
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - pos)
      chunk.copy(this.body, this.bodyFill, pos, pos + take)
      this.bodyFill += take
      pos += take
      if (this.bodyFill === this.body.length) {
        const b = this.body
        this.body = null
        this.onMessage(this.type, b)
      }
    }
  }

  private endStream (): void {
    this.streamLeft = -1
    this.streamed?.end()
  }
}

const truncatedRow = (): PgRewindError => new PgRewindError('SOURCE_PROTOCOL', 'malformed data row from the source server')

/**
 * One data row parsed as its pieces arrive (see RowHandlers): the fields before the
 * last are assembled in a small buffer of its own, the last one's bytes passed on.
 * A length that runs past the message is a protocol error, never a wait.
 */
export class RowParser {
  private head = Buffer.allocUnsafe(512)
  private fill = 0
  /** head bytes needed before the next step */
  private want = 0
  private length = 0
  private count = -1
  private index = 0
  private inField = false
  private readonly spans: Array<[number, number]> = []
  /** bytes of the last field still to come, once the head is read (-1 before) */
  private dataLeft = -1
  private dataAt = 0
  private to: RowHandlers = { onRowHead: () => {}, onRowData: () => {} }

  /** A row of `length` bytes begins, its fields for `to`. */
  start (length: number, to: RowHandlers): void {
    this.to = to
    this.length = length
    this.fill = 0
    this.want = 2
    this.count = -1
    this.index = 0
    this.inField = false
    this.spans.length = 0
    this.dataLeft = -1
    this.dataAt = 0
    if (length < 2) throw truncatedRow()
  }

  part (piece: Buffer): void {
    let pos = 0
    while (pos < piece.length) {
      if (this.dataLeft >= 0) {
        const take = Math.min(this.dataLeft, piece.length - pos)
        if (take === 0) throw truncatedRow()
        this.to.onRowData(piece.subarray(pos, pos + take), this.dataAt)
        this.dataAt += take
        this.dataLeft -= take
        pos += take
        continue
      }
      const take = Math.min(this.want - this.fill, piece.length - pos)
      piece.copy(this.head, this.fill, pos, pos + take)
      this.fill += take
      pos += take
      if (this.fill === this.want) this.step()
    }
  }

  /** The message has ended: it must have been the whole row. */
  end (): void {
    if (this.dataLeft !== 0) throw truncatedRow()
  }

  /** The head bytes asked for are in: the field count, a field's length, or a field's bytes. */
  private step (): void {
    if (this.count < 0) {
      this.count = this.head.readInt16BE(0)
      if (this.count < 0) throw truncatedRow()
      return this.nextField()
    }
    if (this.inField) {
      this.inField = false
      this.index++
      return this.nextField()
    }
    const len = this.head.readInt32BE(this.fill - 4)
    if (this.index === this.count - 1) return this.headDone(len)
    this.spans.push([this.fill, len])
    if (len > 0) {
      this.inField = true
      this.need(len)
      return
    }
    this.index++
    this.nextField()
  }

  private nextField (): void {
    if (this.index === this.count) this.headDone(-1)
    else this.need(4)
  }

  private need (n: number): void {
    this.want += n
    if (this.want > this.length) throw truncatedRow()
    if (this.want > this.head.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.want, 2 * this.head.length))
      this.head.copy(bigger, 0, 0, this.fill)
      this.head = bigger
    }
  }

  private headDone (lastLength: number): void {
    const rest = Math.max(0, lastLength)
    if (this.fill + rest !== this.length) throw truncatedRow()
    this.dataLeft = rest
    this.to.onRowHead(this.spans.map(([at, len]) => len < 0 ? null : this.head.subarray(at, at + len)), lastLength)
  }
}

/** Our read-buffer sockets, and whom each hands its reads to once a session took it over. */
const readers = new WeakMap<Socket, { take: ((chunk: Buffer) => void) | null }>()
const READ_BUFFER_SIZE = 64 * 1024

/**
 * A socket (for `pg`'s `stream` option) that reads into one buffer of its own, reused
 * for every read (net.Socket's onread). A fetch moves hundreds of MB; node's default, a
 * fresh buffer per read, left tens of MB of dead buffers waiting for V8 to collect them
 * at a rewind's peak (malloc's heap 4 MB with a local source, 40 MB from a server).
 * Until a WireSession takes the socket over, `pg` (connecting, authenticating) gets
 * each read as a 'data' event, copied. Not for TLS: its socket reads for itself.
 */
export function readBufferSocket (): Socket {
  const reader: { take: ((chunk: Buffer) => void) | null } = { take: null }
  const onread: OnReadOpts = {
    buffer: Buffer.allocUnsafe(READ_BUFFER_SIZE),
    callback: (n, buf) => {
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, n)
      if (reader.take !== null) reader.take(chunk)
      else socket.emit('data', Buffer.from(chunk))
      return true
    }
  }
  // node's Socket constructor takes onread (documented); @types/node lists it for connect() only
  const socket = new Socket({ onread } as SocketConstructorOpts)
  readers.set(socket, reader)
  return socket
}

export class WireSession {
  private readonly ops: Op[] = []
  private dead: Error | null = null
  /** a FATAL the server sent outside any query (e.g. shutdown), to explain the disconnect */
  private lastServerError: PgServerError | null = null
  private readonly framer = new Framer((t, b) => this.onMessage(t, b), {
    type: 'D'.charCodeAt(0),
    start: length => this.rowStart(length),
    part: piece => { if (this.rowWanted) this.row.part(piece) },
    end: () => { if (this.rowWanted) this.row.end() }
  })

  /** the data row arriving, parsed for the query it belongs to unless that query wants no rows */
  private readonly row = new RowParser()
  private rowWanted = false
  /** reading into its socket's own buffer (readBufferSocket), not a new one per read */
  readonly readsInPlace: boolean

  private constructor (private readonly client: Client, private readonly stream: Duplex, private readonly lostMessage: (why: string) => Error) {
    // a read-buffer socket's reads are valid only until the next: the Framer copies what it keeps
    const reader = stream instanceof Socket ? readers.get(stream) : undefined
    this.readsInPlace = reader !== undefined
    if (reader !== undefined) reader.take = chunk => this.received(chunk)
    else stream.on('data', (chunk: Buffer) => this.received(chunk))
    stream.on('error', (e: Error) => this.fail(e.message))
    stream.on('close', () => this.fail('the connection was closed'))
  }

  /** Take over an idle, set-up `pg` client's connection. */
  static takeOver (client: Client, lostMessage: (why: string) => Error): WireSession {
    const stream = (client as unknown as { connection?: { stream?: Duplex } }).connection?.stream
    if (stream === undefined || typeof stream.write !== 'function') {
      throw new PgRewindError('INTERNAL', 'cannot use the connection opened by pg for binary reads (unexpected pg internals)')
    }
    stream.removeAllListeners('data')
    return new WireSession(client, stream, lostMessage)
  }

  private received (chunk: Buffer): void {
    if (this.dead !== null) return
    try {
      this.framer.push(chunk)
    } catch (e) {
      this.destroy(e as Error)
    }
  }

  get inFlight (): number { return this.ops.length }

  get isDead (): boolean { return this.dead !== null }

  private fail (why: string): void {
    if (this.dead !== null) return
    // the server usually says why it hangs up (shutdown, terminated backend)
    const head = this.ops[0]?.error
    const said = this.lastServerError ?? (head instanceof PgServerError ? head : null)
    const server = said !== null ? `${said.message}; ` : ''
    this.dead = this.lostMessage(`${server}${why}`)
    for (const op of this.ops.splice(0)) op.reject(this.dead)
  }

  /** Abort: pending operations fail with `e`. */
  destroy (e?: Error): void {
    if (this.dead === null) {
      this.dead = e ?? this.lostMessage('the fetch was aborted')
      for (const op of this.ops.splice(0)) op.reject(this.dead)
    }
    this.stream.destroy()
  }

  /** A data row begins: a failing handler (a target write) aborts everything (see received). */
  private rowStart (length: number): void {
    const op = this.ops[0]
    if (op === undefined) throw new PgRewindError('SOURCE_PROTOCOL', 'unexpected data row from the source server')
    op.rows++
    this.rowWanted = op.error === null && op.onRowHead !== undefined && op.onRowData !== undefined
    if (this.rowWanted) this.row.start(length, op as RowHandlers)
  }

  private onMessage (type: number, body: Buffer): void {
    const op = this.ops[0]
    switch (String.fromCharCode(type)) {
      case 'T': {
        if (op === undefined || op.onDescribe === undefined) return
        const n = body.readInt16BE(0)
        const fields: FieldDesc[] = []
        let p = 2
        for (let i = 0; i < n; i++) {
          const end = body.indexOf(0, p)
          const name = body.toString('utf8', p, end)
          p = end + 1
          const typeOid = body.readUInt32BE(p + 6)
          const format = body.readInt16BE(p + 16)
          p += 18
          fields.push({ name, typeOid, format })
        }
        try { op.onDescribe(fields) } catch (e) { op.error = e as Error }
        return
      }
      case 'E': {
        const err = parseError(body)
        if (op === undefined) this.lastServerError = err
        else if (op.error === null) op.error = err
        return
      }
      case 'Z': {
        const done = this.ops.shift()
        if (done === undefined) return
        if (done.error !== null) done.reject(done.error)
        else done.resolve(done.rows)
        return
      }
      // ParseComplete, BindComplete, CloseComplete, NoData, ParameterDescription,
      // CommandComplete, notices, parameter status, notifications
      case '1': case '2': case '3': case 'n': case 't': case 'C': case 'N': case 'S': case 'A':
        return
      default:
        throw new PgRewindError('SOURCE_PROTOCOL', `unexpected message type "${String.fromCharCode(type)}" from the source server`)
    }
  }

  private send (op: Omit<Op, 'resolve' | 'reject' | 'rows' | 'error'>, bytes: Buffer): Promise<number> {
    if (this.dead !== null) return Promise.reject(this.dead)
    return new Promise((resolve, reject) => {
      this.ops.push({ ...op, rows: 0, error: null, resolve, reject })
      this.stream.write(bytes)
    })
  }

  /** Parse a named statement (then Sync). */
  async prepare (name: string, text: string, paramTypes: number[]): Promise<void> {
    await this.send({}, Buffer.concat([
      message('P', cstr(name), cstr(text), int16(paramTypes.length), ...paramTypes.map(int32)),
      message('S')
    ]))
  }

  /**
   * Run a prepared statement with text parameters and binary results. Several may
   * be in flight: each ends with its own Sync, and results come back in order.
   */
  async execute (statement: string, params: Array<string | null>, handlers: RowHandlers & { onDescribe?: (f: FieldDesc[]) => void }): Promise<number> {
    const values: Buffer[] = []
    for (const p of params) {
      if (p === null) values.push(int32(-1))
      else {
        const b = Buffer.from(p, 'utf8')
        values.push(int32(b.length), b)
      }
    }
    return await this.send(handlers, Buffer.concat([
      // no parameter format codes (all text), then one result format code: binary for all
      message('B', cstr(''), cstr(statement), int16(0), int16(params.length), ...values, int16(1), int16(1)),
      message('D', Buffer.from('P'), cstr('')),
      message('E', cstr(''), int32(0)),
      message('S')
    ]))
  }

  async close (): Promise<void> {
    if (this.dead !== null) { this.stream.destroy(); return }
    this.dead = this.lostMessage('the session was closed')
    for (const op of this.ops.splice(0)) op.reject(this.dead)
    const timer = setTimeout(() => this.stream.destroy(), 2000)
    try { await this.client.end() } catch { this.stream.destroy() } finally { clearTimeout(timer) }
  }
}
