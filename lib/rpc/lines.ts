import { Readable, Transform, TransformCallback } from 'node:stream'
import split2 from 'split2'

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024

/**
 * Byte-level guard in front of split2. split2 re-splits its whole pending text on
 * every chunk, so a long line arriving in 64 kB pipe reads costs quadratic time (a
 * 16 MB line took 3 s, 70 MB a minute), and its maxLength either kills the stream
 * or silently skips the line. This gate passes split2 only complete lines (so its
 * remainder stays empty and splitting is linear), drops a line longer than
 * `maxBytes` as it arrives — never holding more than that in memory — and reports
 * it, so that the server can answer it with an error and go on with the next line.
 */
export class LineGate extends Transform {
  private pending: Buffer[] = []
  private pendingBytes = 0
  private discarding = false

  constructor (private readonly maxBytes: number, private readonly onOversized: () => void) {
    super()
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let start = 0
    const out: Buffer[] = []
    for (;;) {
      const nl = chunk.indexOf(10, start)
      if (nl < 0) break
      const piece = chunk.subarray(start, nl + 1)
      if (this.discarding) {
        this.discarding = false // the oversized line ends here
      } else if (this.pendingBytes + piece.length - 1 > this.maxBytes) {
        this.onOversized()
      } else {
        out.push(...this.pending, piece)
      }
      this.pending = []
      this.pendingBytes = 0
      start = nl + 1
    }
    if (start < chunk.length && !this.discarding) {
      const rest = chunk.subarray(start)
      this.pending.push(rest)
      this.pendingBytes += rest.length
      if (this.pendingBytes > this.maxBytes) {
        this.onOversized()
        this.pending = []
        this.pendingBytes = 0
        this.discarding = true
      }
    }
    if (out.length > 0) this.push(Buffer.concat(out))
    cb()
  }

  override _flush (cb: TransformCallback): void {
    // a last line without its newline still counts
    if (!this.discarding && this.pendingBytes > 0) this.push(Buffer.concat(this.pending))
    cb()
  }
}

export interface LineHandlers {
  line: (line: string) => void
  oversized: () => void
  end: () => void
}

/** Read NDJSON lines from `input`: each line once, oversized lines reported, then end. */
export function readLines (input: Readable, maxBytes: number, h: LineHandlers): void {
  const lines = input.pipe(new LineGate(maxBytes, h.oversized)).pipe(split2())
  lines.on('data', (line: string) => h.line(line))
  lines.on('end', () => h.end())
  // a read error on stdin ends the session like EOF does: in-flight work still finishes
  input.on('error', () => lines.end())
}
