import { PgRewindError } from '../errors'
import { formatLsn, historyFileName, type Lsn } from './lsn'

/**
 * Timeline history files (`pg_wal/<TLI>.history`) and the timeline arithmetic
 * pg_rewind does with them. Parsing follows pg_rewind's own copy of the backend
 * parser (src/bin/pg_rewind/timeline.c), including its error texts, because HA
 * tools match those texts; findCommonAncestor is pg_rewind.c's findCommonAncestorTimeline.
 */

/**
 * One timeline of a history: WAL in [begin, end) belongs to `tli`. As in
 * PostgreSQL, 0n means "invalid": `begin` 0n for the first timeline, `end` 0n for
 * the tip (the timeline the history was read for), which has no end yet.
 */
export interface TimelineHistoryEntry {
  tli: number
  begin: Lsn
  end: Lsn
}

const MAX_U32 = 0xFFFFFFFF

/** C isspace() in the "C" locale. */
function isSpace (ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f'
}

/**
 * A tiny `sscanf(line, "%u\t%X/%X")`: returns the fields it could convert, like
 * sscanf's count. Whitespace before each conversion is skipped and the `\t` in the
 * format matches any run of whitespace, which is why "1 0/100" is accepted.
 *
 * Deliberate differences from glibc: a number that does not fit in 32 bits (which
 * glibc silently truncates) and a minus sign (which glibc wraps around) end the
 * conversion there, so such a line is a syntax error instead of a wrong timeline.
 */
function scanHistoryLine (line: string): number[] {
  let i = 0
  const fields: number[] = []
  const skipSpace = (): void => { while (i < line.length && isSpace(line[i])) i++ }
  const scanNumber = (hex: boolean): number | null => {
    skipSpace()
    if (line[i] === '+') i++
    if (hex && line[i] === '0' && (line[i + 1] === 'x' || line[i + 1] === 'X') && /[0-9A-Fa-f]/.test(line[i + 2] ?? '')) i += 2
    const re = hex ? /[0-9A-Fa-f]/ : /[0-9]/
    const start = i
    while (i < line.length && re.test(line[i])) i++
    if (i === start) return null
    const value = parseInt(line.slice(start, i), hex ? 16 : 10)
    return value > MAX_U32 ? null : value
  }

  const tli = scanNumber(false)
  if (tli === null) return fields
  fields.push(tli)
  const hi = scanNumber(true) // the format's \t: whitespace is skipped by scanNumber
  if (hi === null) return fields
  fields.push(hi)
  if (line[i] !== '/') return fields
  i++
  const lo = scanNumber(true)
  if (lo === null) return fields
  fields.push(lo)
  return fields
}

function historyError (code: 'HISTORY_SYNTAX' | 'HISTORY_INVALID', message: string, detail: string, data: Record<string, unknown>): PgRewindError {
  return new PgRewindError(code, message, { detail, data })
}

/**
 * Parse the text of the history file of timeline `tli` into its entries, oldest
 * first, ending with the tip entry {tli, begin: last switch point, end: 0n}.
 *
 * Blank lines, whitespace-only lines and `#` comments are skipped; the reason text
 * after the switch point is ignored. Like pg_rewind, the text stops at a NUL byte
 * (it reads the file into a C string) and switch points are not checked for order:
 * only timeline IDs are.
 */
export function parseTimelineHistory (content: string | Uint8Array, tli: number): TimelineHistoryEntry[] {
  let text = typeof content === 'string' ? content : Buffer.from(content).toString('utf8')
  const nul = text.indexOf('\0')
  if (nul >= 0) text = text.slice(0, nul)

  const entries: TimelineHistoryEntry[] = []
  let lastTli = 0
  let prevEnd: Lsn = 0n
  const lines = text.split('\n')
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]
    let p = 0
    while (p < line.length && isSpace(line[p])) p++
    if (p === line.length || line[p] === '#') continue

    const fields = scanHistoryLine(line)
    const where = { lineNumber: n + 1, line, timeline: tli }
    if (fields.length < 1) {
      throw historyError('HISTORY_SYNTAX', `syntax error in history file: ${line}`, 'Expected a numeric timeline ID.', where)
    }
    if (fields.length !== 3) {
      throw historyError('HISTORY_SYNTAX', `syntax error in history file: ${line}`, 'Expected a write-ahead log switchpoint location.', where)
    }
    const [lineTli, hi, lo] = fields
    if (entries.length > 0 && lineTli <= lastTli) {
      throw historyError('HISTORY_INVALID', `invalid data in history file: ${line}`, 'Timeline IDs must be in increasing sequence.', where)
    }
    lastTli = lineTli
    const end = (BigInt(hi) << 32n) | BigInt(lo)
    entries.push({ tli: lineTli, begin: prevEnd, end })
    prevEnd = end
  }

  if (entries.length > 0 && tli <= lastTli) {
    throw historyError('HISTORY_INVALID', 'invalid data in history file', "Timeline IDs must be less than child timeline's ID.",
      { timeline: tli, lastTimeline: lastTli })
  }
  entries.push({ tli, begin: prevEnd, end: 0n })
  return entries
}

/**
 * The history of timeline `tli` as pg_rewind builds it: timeline 1 has no history
 * file and is one entry from 0 to infinity; any other timeline needs the text of
 * its history file (the caller reads `pg_wal/<historyFileName(tli)>`).
 */
export function historyForTli (tli: number, content?: string | Uint8Array): TimelineHistoryEntry[] {
  if (!Number.isInteger(tli) || tli < 1 || tli > MAX_U32) {
    throw new PgRewindError('HISTORY_INVALID', `invalid timeline ID ${tli}`, { data: { timeline: tli } })
  }
  if (tli === 1) return [{ tli: 1, begin: 0n, end: 0n }]
  if (content === undefined) {
    throw new PgRewindError('HISTORY_INVALID', `timeline history file "pg_wal/${historyFileName(tli)}" is required for timeline ${tli}`, {
      data: { timeline: tli, file: `pg_wal/${historyFileName(tli)}` }
    })
  }
  return parseTimelineHistory(content, tli)
}

/** One line of pg_rewind's --debug history dump: `tli: begin - end`. */
export function formatHistoryEntry (e: TimelineHistoryEntry): string {
  return `${e.tli}: ${formatLsn(e.begin)} - ${formatLsn(e.end)}`
}

/** min() of two history LSNs where 0n means infinity (pg_rewind's MinXLogRecPtr). */
export function minHistoryLsn (a: Lsn, b: Lsn): Lsn {
  if (a === 0n) return b
  if (b === 0n) return a
  return a < b ? a : b
}

export interface CommonAncestor {
  /** index of the last common timeline, valid in both histories */
  index: number
  /** that timeline's ID */
  tli: number
  /** first LSN that is not the same on both sides; 0n if neither side has left it */
  divergeLsn: Lsn
}

/**
 * pg_rewind's findCommonAncestorTimeline: walk both histories from the oldest
 * entry while they agree on the timeline ID *and* its begin LSN; the last agreeing
 * entry is the common ancestor, and the servers diverged where the first of the two
 * left it. Comparing begin matters when both sides know a timeline number with
 * different start points (each fetched a different history file in an earlier
 * recovery): that timeline is not really shared. Every pg_rewind of 13–18 does this.
 */
export function findCommonAncestor (source: readonly TimelineHistoryEntry[], target: readonly TimelineHistoryEntry[]): CommonAncestor {
  const n = Math.min(source.length, target.length)
  let i = 0
  while (i < n && source[i].tli === target[i].tli && source[i].begin === target[i].begin) i++
  if (i === 0) {
    throw new PgRewindError('NO_COMMON_ANCESTOR', "could not find common ancestor of the source and target cluster's timelines", {
      data: { sourceTimeline: source[source.length - 1]?.tli, targetTimeline: target[target.length - 1]?.tli }
    })
  }
  const index = i - 1
  return { index, tli: target[index].tli, divergeLsn: minHistoryLsn(source[index].end, target[index].end) }
}

/**
 * Index into `history` of the timeline whose WAL file holds segment `segNo`.
 *
 * A segment in which a timeline switch happened exists on both timelines, but
 * only the newer one's copy has the records after the switch (the old one stops,
 * or holds recycled garbage, there). pg_rewind therefore reads each segment from
 * the timeline that was current at the segment's END: the first entry whose end
 * is at or after the end of the segment, the tip if none. pg_rewind gets there by
 * moving a cursor up and down from the previous segment's timeline; for histories
 * with increasing switch points (every real one) that lands on the same entry.
 */
export function historyIndexForSegment (history: readonly TimelineHistoryEntry[], segNo: bigint, segSize: number): number {
  if (history.length === 0) throw new PgRewindError('INTERNAL', 'empty timeline history')
  const segEnd = (segNo + 1n) * BigInt(segSize)
  for (let i = 0; i < history.length - 1; i++) {
    if (history[i].end >= segEnd) return i
  }
  return history.length - 1
}

/** The TLI whose WAL file to read for segment `segNo` (see historyIndexForSegment). */
export function timelineForSegment (history: readonly TimelineHistoryEntry[], segNo: bigint, segSize: number): number {
  return history[historyIndexForSegment(history, segNo, segSize)].tli
}

/** The TLI that a given LSN was written on, per this history (the tip for LSNs past the last switch). */
export function timelineForLsn (history: readonly TimelineHistoryEntry[], lsn: Lsn): number {
  for (let i = 0; i < history.length - 1; i++) {
    if (lsn < history[i].end) return history[i].tli
  }
  return history[history.length - 1].tli
}
