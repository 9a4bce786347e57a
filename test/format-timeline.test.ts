import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  type TimelineHistoryEntry,
  findCommonAncestor,
  formatHistoryEntry,
  historyForTli,
  historyIndexForSegment,
  minHistoryLsn,
  parseTimelineHistory,
  timelineForLsn,
  timelineForSegment
} from '../lib/format/timeline'
import { parseControlFile } from '../lib/format/controlfile'
import { formatLsn, historyFileName, lsnToSegNo, parseLsn, walFileName } from '../lib/format/lsn'
import { VERSIONS, type Major } from '../lib/format/versions'
import { PgRewindError } from '../lib/errors'
import { type RealData, PG_REWIND_15, buildRealData, destroyRealData, walFiles } from './helpers/realdata'
import { run, testMajors } from './harness'
import { xorshift32 } from './helpers/rng'

const e = (tli: number, begin: bigint, end: bigint): TimelineHistoryEntry => ({ tli, begin, end })

function expectError (t: tap.Test, fn: () => unknown, code: string, message: string, detail?: string): PgRewindError | null {
  try {
    fn()
  } catch (err) {
    t.type(err, PgRewindError)
    const pe = err as PgRewindError
    t.equal(pe.code, code)
    t.equal(pe.message, message)
    if (detail !== undefined) t.equal(pe.detail, detail)
    return pe
  }
  t.fail(`expected ${code}: ${message}`)
  return null
}

// A real PG15 history file (note the blank line).
const PG15_TLI3 = '1\t0/2000B48\tno recovery target specified\n\n2\t0/2019988\tno recovery target specified\n'

t.test('parse: the documented real file', async t => {
  t.same(parseTimelineHistory(PG15_TLI3, 3), [
    e(1, 0n, 0x2000B48n),
    e(2, 0x2000B48n, 0x2019988n),
    e(3, 0x2019988n, 0n)
  ])
  t.same(parseTimelineHistory(Buffer.from(PG15_TLI3), 3), parseTimelineHistory(PG15_TLI3, 3), 'Buffer and string agree')
  t.same(parseTimelineHistory(new Uint8Array(Buffer.from(PG15_TLI3)), 4)[2], e(4, 0x2019988n, 0n), 'the tip is the TLI asked for')
})

t.test('parse: what the C parser tolerates', async t => {
  const cases: Array<[string, string, TimelineHistoryEntry[]]> = [
    ['empty file: only the tip', '', [e(5, 0n, 0n)]],
    ['comments and blank lines', '# comment\n\n   \n\t# indented comment\n1\t0/10\tr\n', [e(1, 0n, 0x10n), e(5, 0x10n, 0n)]],
    ['no trailing newline, no reason', '1\t0/10', [e(1, 0n, 0x10n), e(5, 0x10n, 0n)]],
    ['CRLF line ends', '1\t0/10\treason\r\n2\tA/B\r\n', [e(1, 0n, 0x10n), e(2, 0x10n, 0xA0000000Bn), e(5, 0xA0000000Bn, 0n)]],
    ['a space instead of the tab, leading blanks', '  1 0/10\n', [e(1, 0n, 0x10n), e(5, 0x10n, 0n)]],
    ['lower-case hex and 0x prefixes', '1\t0xa/0XfF\n', [e(1, 0n, 0xA000000FFn), e(5, 0xA000000FFn, 0n)]],
    ['plus signs', '+1\t+0/+10\n', [e(1, 0n, 0x10n), e(5, 0x10n, 0n)]],
    ['full 32-bit halves', '4294967294\tFFFFFFFF/FFFFFFFF\n', [e(4294967294, 0n, 0xFFFFFFFFFFFFFFFFn), e(4294967295, 0xFFFFFFFFFFFFFFFFn, 0n)]],
    ['switch points are not checked for order', '1\t0/100\n2\t0/50\n', [e(1, 0n, 0x100n), e(2, 0x100n, 0x50n), e(5, 0x50n, 0n)]],
    ['TLI gaps are fine', '1\t0/10\n4\t0/20\n', [e(1, 0n, 0x10n), e(4, 0x10n, 0x20n), e(5, 0x20n, 0n)]],
    ['a NUL ends the text, as in the C string', '1\t0/10\n\0garbage that would not parse\n', [e(1, 0n, 0x10n), e(5, 0x10n, 0n)]],
    ['timeline 0 is not rejected by the parser', '0\t0/10\n', [e(0, 0n, 0x10n), e(5, 0x10n, 0n)]],
    ['trailing junk after the location is the ignored reason', '1\t0/10garbage\n', [e(1, 0n, 0x10n), e(5, 0x10n, 0n)]]
  ]
  for (const [name, text, want] of cases) {
    const tip = want[want.length - 1].tli
    t.same(parseTimelineHistory(text, tip), want, name)
  }
})

t.test('parse errors carry pg_rewind\'s messages', async t => {
  const syntax: Array<[string, string, string]> = [
    ['abc\n', 'abc', 'Expected a numeric timeline ID.'],
    ['\t/1\n', '\t/1', 'Expected a numeric timeline ID.'],
    ['1\n', '1', 'Expected a write-ahead log switchpoint location.'],
    ['1\t\n', '1\t', 'Expected a write-ahead log switchpoint location.'],
    ['1\t0\n', '1\t0', 'Expected a write-ahead log switchpoint location.'],
    ['1\t0/\n', '1\t0/', 'Expected a write-ahead log switchpoint location.'],
    ['1\t0 /10\n', '1\t0 /10', 'Expected a write-ahead log switchpoint location.'],
    ['1\tZ/10\n', '1\tZ/10', 'Expected a write-ahead log switchpoint location.'],
    ['1\t0-10\n', '1\t0-10', 'Expected a write-ahead log switchpoint location.'],
    ['1\t0/10\nfoo\n', 'foo', 'Expected a numeric timeline ID.'],
    // Deliberately stricter than glibc sscanf, which would wrap or truncate these:
    ['-1\t0/10\n', '-1\t0/10', 'Expected a numeric timeline ID.'],
    ['4294967296\t0/10\n', '4294967296\t0/10', 'Expected a numeric timeline ID.'],
    ['1\t100000000/10\n', '1\t100000000/10', 'Expected a write-ahead log switchpoint location.'],
    ['1\t0/100000000\n', '1\t0/100000000', 'Expected a write-ahead log switchpoint location.']
  ]
  for (const [text, line, detail] of syntax) {
    const err = expectError(t, () => parseTimelineHistory(text, 9), 'HISTORY_SYNTAX', `syntax error in history file: ${line}`, detail)
    t.equal(err?.data?.line, line)
  }
  const err = expectError(t, () => parseTimelineHistory('1\t0/10\n\n# c\n1\t0/20\n', 3), 'HISTORY_INVALID',
    'invalid data in history file: 1\t0/20', 'Timeline IDs must be in increasing sequence.')
  t.equal(err?.data?.lineNumber, 4, 'the line number counts every line')
  expectError(t, () => parseTimelineHistory('2\t0/10\n1\t0/20\n', 3), 'HISTORY_INVALID',
    'invalid data in history file: 1\t0/20', 'Timeline IDs must be in increasing sequence.')
  expectError(t, () => parseTimelineHistory('1\t0/10\n2\t0/20\n', 2), 'HISTORY_INVALID',
    'invalid data in history file', "Timeline IDs must be less than child timeline's ID.")
  expectError(t, () => parseTimelineHistory('1\t0/10\n3\t0/20\n', 2), 'HISTORY_INVALID',
    'invalid data in history file', "Timeline IDs must be less than child timeline's ID.")
})

t.test('historyForTli', async t => {
  t.same(historyForTli(1), [e(1, 0n, 0n)], 'timeline 1 has no file: 0 to infinity')
  t.same(historyForTli(1, 'garbage'), [e(1, 0n, 0n)], 'timeline 1 never reads a file (as pg_rewind)')
  t.same(historyForTli(3, PG15_TLI3), parseTimelineHistory(PG15_TLI3, 3))
  expectError(t, () => historyForTli(2), 'HISTORY_INVALID', 'timeline history file "pg_wal/00000002.history" is required for timeline 2')
  for (const bad of [0, -1, 1.5, 2 ** 32]) expectError(t, () => historyForTli(bad), 'HISTORY_INVALID', `invalid timeline ID ${bad}`)
})

t.test('formatting and LSN helpers', async t => {
  const h = parseTimelineHistory(PG15_TLI3, 3)
  t.same(h.map(formatHistoryEntry), ['1: 0/0 - 0/2000B48', '2: 0/2000B48 - 0/2019988', '3: 0/2019988 - 0/0'])
  t.equal(minHistoryLsn(0n, 5n), 5n)
  t.equal(minHistoryLsn(5n, 0n), 5n)
  t.equal(minHistoryLsn(0n, 0n), 0n)
  t.equal(minHistoryLsn(7n, 5n), 5n)
  t.equal(minHistoryLsn(5n, 7n), 5n)
  t.same([0n, 0x2000B47n, 0x2000B48n, 0x2019987n, 0x2019988n, 0xFFFFFFFFFn].map(l => timelineForLsn(h, l)), [1, 1, 2, 2, 3, 3])
})

t.test('findCommonAncestor', async t => {
  const tli1 = historyForTli(1)
  const tli2 = parseTimelineHistory('1\t0/3000060\n', 2)
  const tli3 = parseTimelineHistory('1\t0/3000060\n2\t0/5000000\n', 3)
  const sibling3 = parseTimelineHistory('1\t0/3000100\n', 3)

  t.same(findCommonAncestor(tli2, tli1), { index: 0, tli: 1, divergeLsn: 0x3000060n }, 'classic failover: source promoted, target stayed on 1')
  t.same(findCommonAncestor(tli1, tli2), { index: 0, tli: 1, divergeLsn: 0x3000060n }, 'symmetric in the LSN')
  t.same(findCommonAncestor(tli1, tli1), { index: 0, tli: 1, divergeLsn: 0n }, 'same timeline: nothing diverged (0 = infinity)')
  t.same(findCommonAncestor(tli3, tli2), { index: 1, tli: 2, divergeLsn: 0x5000000n }, 'source two promotions ahead')
  t.same(findCommonAncestor(tli2, tli3), { index: 1, tli: 2, divergeLsn: 0x5000000n })
  t.same(findCommonAncestor(sibling3, tli2), { index: 0, tli: 1, divergeLsn: 0x3000060n }, 'sibling timelines: the earlier switch')
  t.same(findCommonAncestor(tli2, sibling3), { index: 0, tli: 1, divergeLsn: 0x3000060n })

  // Same TLI number, different start: TLI 2 is not really common.
  const a = parseTimelineHistory('1\t0/3000060\n2\t0/5000000\n', 3)
  const b = parseTimelineHistory('1\t0/4000000\n', 2)
  t.same(findCommonAncestor(a, b), { index: 0, tli: 1, divergeLsn: 0x3000060n }, 'begin is compared, not only the TLI')
  t.same(findCommonAncestor(b, a), { index: 0, tli: 1, divergeLsn: 0x3000060n })

  const err = expectError(t, () => findCommonAncestor([e(2, 0n, 0n)], tli1), 'NO_COMMON_ANCESTOR',
    "could not find common ancestor of the source and target cluster's timelines")
  t.same(err?.data, { sourceTimeline: 2, targetTimeline: 1 })
  expectError(t, () => findCommonAncestor([e(1, 5n, 0n)], tli1), 'NO_COMMON_ANCESTOR',
    "could not find common ancestor of the source and target cluster's timelines")
  expectError(t, () => findCommonAncestor([], tli1), 'NO_COMMON_ANCESTOR',
    "could not find common ancestor of the source and target cluster's timelines")
})

/**
 * pg_rewind's SimpleXLogPageRead, literally: a cursor that moves up while the
 * entry ends before the segment's end and down while it begins at or after it.
 */
function pgRewindCursor (history: TimelineHistoryEntry[], start: number, segNo: bigint, segSize: number): number {
  const segEnd = (segNo + 1n) * BigInt(segSize)
  let i = start
  while (i < history.length - 1 && history[i].end < segEnd) i++
  while (i > 0 && history[i].begin >= segEnd) i--
  return i
}

t.test('timelineForSegment', async t => {
  const seg = 16 * 1024 * 1024
  const h = parseTimelineHistory(PG15_TLI3, 3)
  t.equal(timelineForSegment(h, 1n, seg), 1, 'segment 1 ends before the first switch')
  t.equal(timelineForSegment(h, 2n, seg), 3, 'segment 2 holds both switches: read the newest timeline')
  t.equal(timelineForSegment(h, 3n, seg), 3)
  t.equal(timelineForSegment(h, 0n, seg), 1)

  // A switch exactly at a segment boundary: the old timeline has the whole segment.
  const edge = parseTimelineHistory('1\t0/3000000\n', 2)
  t.equal(timelineForSegment(edge, 2n, seg), 1, 'segment ending at the switch comes from the old timeline')
  t.equal(timelineForSegment(edge, 3n, seg), 2)
  t.equal(historyIndexForSegment(edge, 2n, seg), 0)
  t.equal(timelineForSegment(historyForTli(1), 12345n, seg), 1)
  t.throws(() => historyIndexForSegment([], 0n, seg), { code: 'INTERNAL' })

  // Property: on increasing histories the stateless rule equals pg_rewind's cursor,
  // whatever timeline the cursor starts on (the scan goes forwards and backwards).
  const rand = xorshift32(42)
  let checked = 0
  for (let round = 0; round < 300; round++) {
    const segSize = 2 ** (20 + rand() % 11)
    const n = 1 + rand() % 6
    let lsn = 0n
    let text = ''
    for (let i = 1; i < n; i++) {
      lsn += BigInt(rand() % 4) * BigInt(segSize) + BigInt(rand() % 3 === 0 ? 0 : rand() % segSize)
      text += `${i}\t${formatLsn(lsn)}\n`
    }
    const hist = parseTimelineHistory(text, n)
    const maxSeg = lsn / BigInt(segSize) + 3n
    for (let s = 0n; s <= maxSeg; s++) {
      const ours = historyIndexForSegment(hist, s, segSize)
      for (let start = 0; start < hist.length; start++) {
        if (pgRewindCursor(hist, start, s, segSize) !== ours) {
          t.fail(`history ${JSON.stringify(text)} seg ${s} start ${start}: ours ${ours}, pg_rewind ${pgRewindCursor(hist, start, s, segSize)}`)
          return
        }
        checked++
      }
    }
  }
  t.ok(checked > 1000, `agrees with pg_rewind's cursor on ${checked} (history, segment, start) cases`)
})

t.test('parser fuzz: typed errors or well-formed histories', async t => {
  const alphabet = ['0', '1', '2', '9', 'A', 'f', '/', '/', '\t', '\t', ' ', '\n', '\n', '#', 'x', '+', '-', '\r', 'z', '\0']
  const rand = xorshift32(7)
  const outcomes = new Map<string, number>()
  for (let i = 0; i < 20000; i++) {
    let s = ''
    const len = rand() % 40
    for (let j = 0; j < len; j++) s += alphabet[rand() % alphabet.length]
    const tli = 1 + rand() % 40
    let r: string
    try {
      const h = parseTimelineHistory(s, tli)
      const tip = h[h.length - 1]
      const ok = tip.tli === tli && tip.end === 0n && h.every((x, k) => k === 0 ? x.begin === 0n : x.begin === h[k - 1].end) &&
        h.every((x, k) => k === 0 || x.tli > h[k - 1].tli)
      r = ok ? (h.length > 1 ? 'entries' : 'tip only') : `MALFORMED ${JSON.stringify(s)}`
    } catch (err) {
      r = err instanceof PgRewindError && (err.code === 'HISTORY_SYNTAX' || err.code === 'HISTORY_INVALID') ? err.code : `UNTYPED ${String(err)}`
    }
    outcomes.set(r, (outcomes.get(r) ?? 0) + 1)
  }
  t.same([...outcomes.keys()].filter(k => !['entries', 'tip only', 'HISTORY_SYNTAX', 'HISTORY_INVALID'].includes(k)), [])
  for (const k of ['entries', 'tip only', 'HISTORY_SYNTAX', 'HISTORY_INVALID']) t.ok((outcomes.get(k) ?? 0) > 0, `fuzz reached ${k}`)
})

// ---------------------------------------------------------------------------------
// Real history files: failover (TLI 2) and a second promotion (TLI 3), every major
// ---------------------------------------------------------------------------------

const majors = testMajors()

function control (dir: string): ReturnType<typeof parseControlFile> {
  return parseControlFile(readFileSync(join(dir, 'global', 'pg_control')))
}

/** pg_rewind 15 --dry-run --debug on a real pair: its history dump and divergence line. */
async function pgRewind15 (targetDir: string, sourceDir: string): Promise<{ source: string[], target: string[], diverged: string | null, out: string }> {
  const r = await run(PG_REWIND_15, ['--dry-run', '--debug', '-D', targetDir, '--source-pgdata', sourceDir])
  const lines = r.stderr.split('\n').map(l => l.replace(/^pg_rewind: (debug: )?/, ''))
  const block = (title: string): string[] => {
    const i = lines.indexOf(title)
    const out: string[] = []
    if (i < 0) return out
    for (let k = i + 1; k < lines.length && /^\d+: /.test(lines[k]); k++) out.push(lines[k])
    return out
  }
  const d = lines.find(l => l.startsWith('servers diverged at WAL location'))
  return { source: block('Source timeline history:'), target: block('Target timeline history:'), diverged: d ?? null, out: r.stderr }
}

for (const major of majors) {
  t.test(`real history files of PostgreSQL ${major}`, async t => {
    let data: RealData | undefined
    t.teardown(async () => { await destroyRealData(data) })
    data = await buildRealData(major, { tli3: true })
    const X = parseLsn(data.switchLsn)

    // TLI 2: one line, the switch point is where the standby stopped replaying.
    t.match(data.history2.toString(), /^1\t[0-9A-F]+\/[0-9A-F]+\t[^\n]*\n$/, 'one line: parent TLI, switch point, reason')
    const h2 = historyForTli(2, data.history2)
    t.same(h2, [e(1, 0n, X), e(2, X, 0n)], `switch point ${formatLsn(X)} = last replayed end before promotion`)

    // TLI 3: the parent's lines, a blank line, then the new one.
    const text3 = (data.history3 as Buffer).toString()
    t.ok(text3.startsWith(data.history2.toString() + '\n'), 'TLI 3 file = TLI 2 file + blank line + new line')
    const h3 = historyForTli(3, data.history3 as Buffer)
    t.equal(h3.length, 3)
    t.same(h3.slice(0, 1), h2.slice(0, 1))
    t.equal(h3[1].tli, 2)
    t.ok(h3[1].end > X, 'second switch after the first')

    // The control files agree with the histories.
    const primary = control(data.primaryDir)
    const promoted = control(data.promotedDir)
    const third = control(data.tli3Dir as string)
    t.equal(primary.checkPointCopy.thisTimeLineID, 1)
    t.equal(promoted.checkPointCopy.thisTimeLineID, 2)
    t.equal(third.checkPointCopy.thisTimeLineID, 3)
    t.equal(timelineForLsn(h2, promoted.checkPoint), 2, 'the promoted node\'s checkpoint lies on timeline 2')
    t.equal(timelineForLsn(h3, third.checkPoint), 3)
    t.ok(existsSync(join(data.tli3Dir as string, 'pg_wal', historyFileName(2))), 'a child keeps its ancestors\' history files')

    const failover = findCommonAncestor(h2, historyForTli(1))
    t.same(failover, { index: 0, tli: 1, divergeLsn: X }, 'failover pair diverged at the switch point on timeline 1')
    const second = findCommonAncestor(h3, h2)
    t.same(second, { index: 1, tli: 2, divergeLsn: h3[1].end })

    // Which file to read for each segment: it must exist on the promoted node, and
    // the segment holding the switch point must come from the new timeline.
    const seg = promoted.xlogSegSize
    const files = new Set(walFiles(data.promotedDir))
    const segs = [...files].map(f => BigInt('0x' + f.slice(8, 16)) * (0x100000000n / BigInt(seg)) + BigInt('0x' + f.slice(16)))
    const first = segs.reduce((a, b) => a < b ? a : b)
    const last = lsnToSegNo(promoted.checkPoint, seg)
    for (let s = first; s <= last; s++) {
      const name = walFileName(timelineForSegment(h2, s, seg), s, seg)
      t.ok(files.has(name), `segment ${s}: ${name} exists`)
    }
    const switchSeg = lsnToSegNo(X, seg)
    t.equal(timelineForSegment(h2, switchSeg, seg), 2, 'the switch segment is read from timeline 2')
    const newFile = readFileSync(join(data.promotedDir, 'pg_wal', walFileName(2, switchSeg, seg)))
    t.equal(newFile.readUInt16LE(0), VERSIONS[major as Major].walPageMagic)
    t.equal(newFile.readUInt32LE(4), 1, 'its first page still says timeline 1: the old timeline\'s bytes were copied')
    if (switchSeg > first) t.equal(timelineForSegment(h2, switchSeg - 1n, seg), 1)

    // Differential: pg_rewind 15 itself on the same pairs (15 only: it refuses other majors).
    if (major === 15 && existsSync(PG_REWIND_15)) {
      const r1 = await pgRewind15(data.primaryDir, data.promotedDir)
      t.same(r1.source, h2.map(formatHistoryEntry), 'pg_rewind prints the same source history')
      t.same(r1.target, historyForTli(1).map(formatHistoryEntry), 'and the same target history')
      t.equal(r1.diverged, `servers diverged at WAL location ${formatLsn(failover.divergeLsn)} on timeline ${failover.tli}`, r1.out)
      const r2 = await pgRewind15(data.promotedDir, data.tli3Dir as string)
      t.same(r2.source, h3.map(formatHistoryEntry))
      t.same(r2.target, h2.map(formatHistoryEntry))
      t.equal(r2.diverged, `servers diverged at WAL location ${formatLsn(second.divergeLsn)} on timeline ${second.tli}`, r2.out)
    }
    t.same(readdirSync(join(data.primaryDir, 'pg_wal')).filter(n => n.endsWith('.history')), [], 'timeline 1 has no history file')
  })
}
