import t, { Test } from 'tap'

type Tap = Test
import { PgRewindError } from '../../lib/errors'
import { formatLsn, walFileName } from '../../lib/format/lsn'
import { versionInfo } from '../../lib/format/versions'
import { WalReader, type WalPageSource } from '../../lib/wal/reader'
import { MemoryWalSource } from '../helpers/memwal'
import type { TimelineHistoryEntry } from '../../lib/format/timeline'
import { recordCrc, type WalRecord } from '../../lib/wal/record'
import { SynthWal, type SynthRecord } from '../helpers/synthwal'

const V = versionInfo(16)
const SEG = 1024 * 1024
const PAGE = 8192

function reader (files: Map<string, Buffer>, opts: { timelines?: TimelineHistoryEntry[], tli?: number, tliIndex?: number, sysid?: bigint | null } = {}): { r: WalReader, src: MemoryWalSource } {
  const src = new MemoryWalSource(SEG, files)
  return { r: new WalReader(src, { version: V, segSize: SEG, sysid: opts.sysid === undefined ? 0x1234567890ABCDEFn : opts.sysid, ...opts }), src }
}

function heap (n: number, xid = 700): SynthRecord {
  return { rmid: 10, info: 0, xid, blocks: [{ id: 0, rel: [1663, 5, 16384], blk: n, data: Buffer.alloc(20 + (n % 50), n & 0xFF) }], main: Buffer.from([n & 0xFF, 0, 8]) }
}

function checkpoint (redo: bigint, tli: number): SynthRecord {
  const m = Buffer.alloc(88)
  m.writeBigUInt64LE(redo, 0)
  m.writeUInt32LE(tli, 8)
  m.writeUInt32LE(tli, 12)
  return { rmid: 0, info: 0x10, main: m }
}

/** append a record so that the NEXT record starts at `off` within a page */
function positionAt (w: SynthWal, off: number): void {
  let cur = w.pos
  if (cur % BigInt(PAGE) === 0n) cur += BigInt(cur % BigInt(SEG) === 0n ? 40 : 24)
  const inPage = Number(cur % BigInt(PAGE))
  let len = (off - inPage + PAGE) % PAGE
  if (len < 40) len += PAGE
  if (inPage + len > PAGE) {
    const nextPage = cur - cur % BigInt(PAGE) + BigInt(PAGE)
    len -= nextPage % BigInt(SEG) === 0n ? 40 : 24
  }
  const m = len - 26 < 256 ? len - 26 : len - 29
  w.append({ rmid: 21, main: Buffer.alloc(m, 0x61), longMain: len - 26 >= 256 })
  if (Number(w.pos % BigInt(PAGE)) !== off) throw new Error(`positionAt: got ${w.pos % BigInt(PAGE)}, wanted ${off}`)
}

function collect (r: WalReader, start: bigint): { lsns: bigint[], ends: bigint[], stop: PgRewindError, clean: boolean, end: bigint } {
  const lsns: bigint[] = []
  const ends: bigint[] = []
  const res = r.scanToEnd(start, rec => { lsns.push(rec.lsn); ends.push(rec.end) })
  return { lsns, ends, stop: res.stop, clean: res.clean, end: res.end }
}

function expectErr (t: Tap, fn: () => unknown, code: string, re: RegExp, extra: Record<string, unknown> = {}): PgRewindError {
  try {
    fn()
  } catch (e) {
    t.type(e, PgRewindError)
    const err = e as PgRewindError
    t.equal(err.code, code, `code ${code}`)
    t.match(err.message, re)
    for (const [k, v] of Object.entries(extra)) t.equal(err.data?.[k], v, `data.${k} = ${String(v)}`)
    return err
  }
  t.fail(`expected ${code} ${String(re)}`)
  return new PgRewindError('INTERNAL', 'unreachable')
}

t.test('sequential reading, page and segment spanning, clean end', async t => {
  const w = new SynthWal(V, SEG)
  for (let i = 0; i < 300; i++) w.append(heap(i))
  // a record whose 24-byte header is split by a page boundary (8 bytes on the first page)
  positionAt(w, PAGE - 8)
  const split = w.append(heap(1000))
  positionAt(w, PAGE - 16)
  const split16 = w.append(heap(1001))
  // a record ending exactly at a page boundary
  positionAt(w, PAGE - 200)
  const exact = w.append({ rmid: 21, main: Buffer.alloc(200 - 26, 1) })
  t.equal(w.pos % BigInt(PAGE), 0n, 'next record starts at a page boundary')
  const afterExact = w.append(heap(1002))
  // multi-page and multi-segment records (3 MB over 1 MB segments)
  const big = w.append({ rmid: 21, main: Buffer.alloc(3 * 1024 * 1024 + 17, 0x42) })
  const mid = w.append({ rmid: 21, main: Buffer.alloc(100000, 0x43) })
  // a record crossing a segment boundary exactly at the long header
  const s = BigInt(SEG)
  while ((w.pos + 200n) / s === w.pos / s) w.append(heap(5))
  const crossSeg = w.append({ rmid: 21, main: Buffer.alloc(5000, 0x44) })
  t.ok(crossSeg / s < w.pos / s, 'record crosses a segment boundary')
  for (let i = 0; i < 50; i++) w.append(heap(i + 2000))

  const { r, src } = reader(w.files())
  const got = collect(r, w.records[0])
  t.same(got.lsns, w.records, `all ${w.records.length} records, in order`)
  t.equal(got.clean, true, 'zero-filled space is a clean end')
  t.equal(got.stop.code, 'WAL_END')
  t.match(got.stop.message, /invalid record length at .*: expected at least 24, got 0/)
  t.equal(got.end, w.pos, 'end = insert position')
  t.ok(got.lsns.includes(split) && got.lsns.includes(split16) && got.lsns.includes(exact))
  t.equal(got.ends[got.lsns.indexOf(exact)], afterExact - 24n, 'EndRecPtr of a record ending on a page boundary is the page start')
  const lastSeg = (w.pos - 1n) / s
  const expectSegs: string[] = []
  for (let n = 1n; n <= lastSeg; n++) expectSegs.push(walFileName(1, n, SEG))
  t.same(src.opened, expectSegs, 'every segment opened, in order')

  // random access into the middle of each, and the payloads of assembled records
  const rec = r.readRecord(big)
  t.equal(rec.mainDataLength, 3 * 1024 * 1024 + 17)
  t.ok(rec.mainData.every(b => b === 0x42), 'payload reassembled across 4 segments')
  t.equal(r.readRecord(mid).mainData.length, 100000)
  t.equal(r.readRecord(split).blocks[0].blockNumber, 1000)
  t.equal(r.readRecord(crossSeg).mainData.length, 5000)
  t.equal(r.readRecPtr, crossSeg)
  // sequential after random access
  const nxt = r.next()
  t.equal(nxt.prev, crossSeg)
  t.equal(r.readOneRecordEnd(w.records[0]), w.records[1])
})

t.test('random access: page-start positions, prev-link rules', async t => {
  const w = new SynthWal(V, SEG)
  positionAt(w, 0)
  const atPage = w.append(heap(1))
  const b = w.append(heap(2))
  const { r } = reader(w.files())
  t.equal(atPage % BigInt(PAGE), 24n)
  t.equal(r.readRecord(atPage - 24n).lsn, atPage, 'a page-start LSN skips the page header')
  t.equal(r.readRecord(BigInt(SEG)).lsn, BigInt(SEG) + 40n, 'a segment-start LSN skips the long header')
  expectErr(t, () => r.readRecord(atPage - 16n), 'WAL_INVALID_RECORD', /invalid record offset at .*: expected at least 24, got 8/)
  expectErr(t, () => r.beginRead(b + 3n), 'INVALID_LSN', /not a valid record start/)
  expectErr(t, () => r.beginRead(0n), 'INVALID_LSN', /not a valid record start/)
  expectErr(t, () => { const x = reader(w.files()).r; x.next() }, 'INTERNAL', /not positioned/)
  // a record pointing forward (xl_prev >= own LSN) is rejected in random access
  const w2 = new SynthWal(V, SEG)
  w2.append(heap(1))
  const bad = w2.append({ ...heap(2), prev: 0x7FFFFFFFn })
  expectErr(t, () => reader(w2.files()).r.readRecord(bad), 'WAL_INVALID_RECORD', new RegExp(`record with incorrect prev-link 0/7FFFFFFF at ${formatLsn(bad)}`), { reason: 'bad-prev-link' })
})

t.test('XLOG SWITCH jumps to the next segment', async t => {
  const w = new SynthWal(V, SEG)
  w.append(heap(1))
  const sw = w.append({ rmid: 0, info: 0x40 })
  const after = w.append(heap(2))
  t.equal(after, 2n * BigInt(SEG) + 40n)
  const { r } = reader(w.files())
  const got = collect(r, w.records[0])
  t.same(got.lsns, w.records)
  t.equal(got.ends[1], 2n * BigInt(SEG), 'the switch record ends at the segment end')
  t.equal(r.readOneRecordEnd(sw), 2n * BigInt(SEG))
  // reading until the segment end is a valid end point
  const seen: bigint[] = []
  r.readUntil(w.records[0], 2n * BigInt(SEG), rec => seen.push(rec.lsn))
  t.same(seen, [w.records[0], sw])
  // a switch whose next segment does not exist: clean end
  const files = w.files()
  files.delete(walFileName(1, 2n, SEG))
  const g2 = collect(reader(files).r, w.records[0])
  t.equal(g2.lsns.length, 2)
  t.equal(g2.clean, true)
  t.equal(g2.stop.code, 'WAL_MISSING')
  t.match(g2.stop.message, /could not open file "000000010000000000000002"/)
  t.equal(g2.stop.data?.lsn, '0/200000')
})

t.test('timelines: per-segment file choice', async t => {
  const w1 = new SynthWal(V, SEG)
  for (let i = 0; i < 100; i++) w1.append(heap(i))
  while (w1.pos < BigInt(SEG) + 600000n) w1.append(heap(7))
  const sw1 = w1.pos
  const w2 = w1.fork(2)
  // the old primary keeps writing on timeline 1 after the switch (diverged WAL)
  for (let i = 0; i < 400; i++) w1.append(heap(i, 801))
  // the new timeline writes into the next segment, switches again (TLI 3) in the same segment
  while (w2.pos < 2n * BigInt(SEG) + 300000n) w2.append(heap(9, 802))
  const sw2 = w2.pos
  const w3 = w2.fork(3)
  for (let i = 0; i < 50; i++) w2.append(heap(i, 803))
  for (let i = 0; i < 300; i++) w3.append(heap(i, 804))
  const files = w3.files(w2.files(w1.files()))
  const hist: TimelineHistoryEntry[] = [{ tli: 1, begin: 0n, end: sw1 }, { tli: 2, begin: sw1, end: sw2 }, { tli: 3, begin: sw2, end: 0n }]

  const { r, src } = reader(files, { timelines: hist })
  const got = collect(r, w1.records[0])
  t.same(got.lsns, w3.records, 'follows the history: TLI1 up to the switch, then 2, then 3')
  t.equal(got.clean, true)
  t.same(src.opened, ['000000020000000000000001', '000000030000000000000002'], 'segment 1 from TLI 2 (its end is on TLI 2), segment 2 from TLI 3')
  t.equal(r.currentTli, 3)

  // the old timeline alone
  const old = collect(reader(files, { tli: 1 }).r, w1.records[0])
  t.same(old.lsns, w1.records, 'TLI 1 file holds the diverged records')
  // pg_rewind's moving index: starting from the oldest entry works the same
  const fromOld = collect(reader(files, { timelines: hist, tliIndex: 0 }).r, w1.records[0])
  t.same(fromOld.lsns, w3.records)
  // history with an old-ending entry, walked backwards from the newest
  const { r: rb } = reader(files, { timelines: hist })
  const seen: bigint[] = []
  rb.walkBackward(w3.records[w3.records.length - 1], (rec, lsn) => { seen.push(lsn); return lsn === w1.records[0] })
  t.same(seen.reverse(), w3.records, 'backward walk across timelines')
  expectErr(t, () => new WalReader(new MemoryWalSource(SEG, files), { version: V, segSize: SEG, timelines: hist, tliIndex: 5 }), 'INTERNAL', /out of range/)
  // a page from a lower timeline after a higher one: out-of-sequence
  const bad = new Map(files)
  const seg2 = Buffer.from(bad.get('000000030000000000000002')!)
  const lastPage = Number(((w3.pos - 1n) % BigInt(SEG)) / BigInt(PAGE)) * PAGE
  seg2.writeUInt32LE(1, lastPage + 4)
  bad.set('000000030000000000000002', seg2)
  const g = collect(reader(bad, { timelines: hist }).r, w1.records[0])
  t.equal(g.stop.code, 'WAL_INVALID_PAGE')
  t.match(g.stop.message, /out-of-sequence timeline ID 1 \(after 3\) in WAL segment 000000030000000000000002/)
})

t.test('overwrite-contrecord: an aborted record is skipped', async t => {
  const w = new SynthWal(V, SEG)
  for (let i = 0; i < 20; i++) w.append(heap(i))
  const lastGood = w.lastRecord
  const aborted = w.appendAborted({ rmid: 21, main: Buffer.alloc(20000, 1) })
  const m = Buffer.alloc(16)
  m.writeBigUInt64LE(aborted, 0)
  const oc = w.append({ rmid: 0, info: 0xD0, main: m })
  t.equal(oc % BigInt(PAGE), 24n)
  for (let i = 0; i < 5; i++) w.append(heap(i))
  const { r } = reader(w.files())
  const got = collect(r, w.records[0])
  t.same(got.lsns, w.records, 'the aborted record is not returned; reading continues at the overwrite page')
  t.equal(got.clean, true)
  // reading sequentially into the aborted record reports what was overwritten
  r.beginRead(lastGood)
  r.next()
  const rec = r.next()
  t.equal(rec.lsn, oc)
  t.equal(rec.prev, lastGood, 'the new record links to the last complete one')
  t.equal(r.overwrittenRecPtr, aborted)
  r.next()
  t.equal(r.overwrittenRecPtr, null)
  // random access at the aborted record restarts at the overwrite page as well
  t.equal(r.readRecord(aborted).lsn, oc)
  // without the overwrite flag, the same bytes are an error (no contrecord flag)
  const files = w.files()
  const seg = Buffer.from(files.get('000000010000000000000001')!)
  const pageOff = Number((oc - 24n) % BigInt(SEG))
  seg.writeUInt16LE(seg.readUInt16LE(pageOff + 2) & ~0x0008, pageOff + 2)
  files.set('000000010000000000000001', seg)
  const g2 = collect(reader(files).r, w.records[0])
  t.equal(g2.stop.code, 'WAL_INVALID_RECORD')
  t.match(g2.stop.message, new RegExp(`there is no contrecord flag at ${formatLsn(aborted)}`))
  t.equal(g2.clean, false)
  t.equal(g2.end, aborted, 'the scan ends before the torn record')
})

t.test('end of WAL vs corruption', async t => {
  const base = (): SynthWal => {
    const w = new SynthWal(V, SEG)
    for (let i = 0; i < 200; i++) w.append(heap(i))
    return w
  }
  const segName = '000000010000000000000001'
  const mutate = (w: SynthWal, f: (seg: Buffer) => void, name = segName): Map<string, Buffer> => {
    const files = w.files()
    const b = Buffer.from(files.get(name)!)
    f(b)
    files.set(name, b)
    return files
  }

  // recycled next segment: valid magic, stale page address
  {
    const w = base()
    w.append({ rmid: 0, info: 0x40 })
    const files = w.files()
    const stale = Buffer.from(files.get(segName)!) // an old segment's bytes under the next name
    files.set('000000010000000000000002', stale)
    const g = collect(reader(files).r, w.records[0])
    t.equal(g.lsns.length, w.records.length)
    t.equal(g.clean, true, 'a recycled segment is a clean end')
    t.equal(g.stop.data?.reason, 'stale-pageaddr')
    t.match(g.stop.message, /unexpected pageaddr 0\/100000 in WAL segment 000000010000000000000002, LSN 0\/200000, offset 0/)
  }
  // a record start on a never-written page (zero page)
  {
    const w = base()
    positionAt(w, 0)
    const g = collect(reader(w.files()).r, w.records[0])
    t.equal(g.clean, true)
    t.equal(g.stop.code, 'WAL_END')
    t.equal(g.stop.data?.reason, 'zero-page')
  }
  // CRC error in the middle
  {
    const w = base()
    const victim = w.records[120]
    const files = mutate(w, b => { b[Number(victim % BigInt(SEG)) + 30] ^= 0x10 })
    const g = collect(reader(files).r, w.records[0])
    t.equal(g.lsns.length, 120)
    t.equal(g.clean, false)
    t.equal(g.stop.code, 'WAL_CRC')
    t.equal(g.stop.data?.lsn, formatLsn(victim))
    t.equal(g.end, victim, 'end = last good record end')
  }
  // broken prev-link in sequence
  {
    const w = base()
    const victim = w.records[50]
    const files = mutate(w, b => {
      const o = Number(victim % BigInt(SEG))
      b.writeBigUInt64LE(w.records[48], o + 8)
      // keep the CRC valid so that only the link is wrong
      const len = b.readUInt32LE(o)
      const rec = Buffer.from(b.subarray(o, o + len))
      b.writeUInt32LE(recordCrc(rec, 0, len), o + 20)
    })
    const g = collect(reader(files).r, w.records[0])
    t.equal(g.lsns.length, 50)
    t.equal(g.stop.data?.reason, 'bad-prev-link')
    t.match(g.stop.message, new RegExp(`record with incorrect prev-link ${formatLsn(w.records[48])} at ${formatLsn(victim)}`))
    t.equal(g.clean, false)
  }
  // torn multi-page record: the continuation page was never written
  {
    const w = base()
    const big = w.append({ rmid: 21, main: Buffer.alloc(30000, 3) })
    const contPage = Number((big - big % BigInt(PAGE) + BigInt(PAGE)) % BigInt(SEG))
    const files = mutate(w, b => b.fill(0, contPage, contPage + PAGE))
    const g = collect(reader(files).r, w.records[0])
    t.equal(g.lsns.length, 200)
    t.equal(g.clean, false, 'an incomplete record is not a clean end')
    t.equal(g.stop.code, 'WAL_END')
    t.equal(g.stop.data?.reason, 'zero-page')
  }
  // continuation with a wrong rem_len, and a zero rem_len
  for (const rem of [12345, 0]) {
    const w = base()
    const big = w.append({ rmid: 21, main: Buffer.alloc(30000, 3) })
    const contPage = Number((big - big % BigInt(PAGE) + BigInt(PAGE)) % BigInt(SEG))
    const files = mutate(w, b => b.writeUInt32LE(rem, contPage + 16))
    const g = collect(reader(files).r, w.records[0])
    t.equal(g.stop.code, 'WAL_INVALID_RECORD')
    t.match(g.stop.message, new RegExp(`invalid contrecord length ${rem} \\(expected \\d+\\) at ${formatLsn(big)}`))
  }
  // a page header that claims a continuation where a record must start
  {
    const w = base()
    positionAt(w, 0)
    const next = w.append(heap(3))
    const files = mutate(w, b => { const o = Number((next - 24n) % BigInt(SEG)); b.writeUInt16LE(b.readUInt16LE(o + 2) | 1, o + 2) })
    const g = collect(reader(files).r, w.records[0])
    t.match(g.stop.message, new RegExp(`contrecord is requested by ${formatLsn(next)}`))
  }
  // wrong magic (another major's WAL), garbage info bits, bad long header
  {
    const w = base()
    const f1 = mutate(w, b => b.writeUInt16LE(versionInfo(15).walPageMagic, 8192))
    const g = collect(reader(f1).r, w.records[0])
    t.equal(g.stop.code, 'WAL_INVALID_PAGE')
    t.match(g.stop.message, /invalid magic number D110 in WAL segment 000000010000000000000001, LSN 0\/102000, offset 8192/)
    t.equal(g.clean, false)
    expectErr(t, () => reader(w.files(), { sysid: 42n }).r.readRecord(w.records[150]), 'WAL_INVALID_PAGE',
      /WAL file is from different database system: WAL file database system identifier is 1311768467294899695, pg_control database system identifier is 42/,
      { reason: 'sysid-mismatch' })
    t.equal(reader(w.files(), { sysid: null }).r.readRecord(w.records[150]).lsn, w.records[150], 'sysid not checked when unknown')
    const f2 = mutate(w, b => b.writeUInt32LE(SEG * 2, 32))
    expectErr(t, () => reader(f2).r.readRecord(w.records[150]), 'WAL_INVALID_PAGE', /incorrect segment size in page header/, { reason: 'segsize-mismatch' })
  }
  // truncated segment file
  {
    const w = base()
    const files = w.files()
    files.set(segName, files.get(segName)!.subarray(0, 20000))
    const g = collect(reader(files).r, w.records[0])
    t.equal(g.stop.code, 'WAL_READ')
    t.match(g.stop.message, /could not read file "000000010000000000000001": read \d+ of 8192/)
    t.equal(g.clean, false)
  }
  // a missing first segment
  expectErr(t, () => reader(new Map()).r.readRecord(BigInt(SEG) + 40n), 'WAL_MISSING', /could not open file "000000010000000000000001"/, { cleanEnd: true })
  // a source that throws something untyped
  const weird: WalPageSource = { readPage: () => { throw new Error('EIO boom') } }
  expectErr(t, () => new WalReader(weird, { version: V, segSize: SEG }).readRecord(BigInt(SEG) + 40n), 'WAL_READ', /could not read file "000000010000000000000001": EIO boom/)
  expectErr(t, () => new WalReader(weird, { version: V, segSize: 12345 }), 'INVALID_SEGMENT_SIZE', /invalid WAL segment size 12345/)
})

t.test('readUntil (extractPageMap) and its end-point rule', async t => {
  const w = new SynthWal(V, SEG)
  for (let i = 0; i < 100; i++) w.append(heap(i))
  const big = w.append({ rmid: 21, main: Buffer.alloc(20000, 1) })
  for (let i = 0; i < 10; i++) w.append(heap(i))
  const { r } = reader(w.files())
  const seen: WalRecord[] = []
  const lsns: bigint[] = []
  r.readUntil(w.records[10], w.records[105], rec => { seen.push(rec); lsns.push(rec.lsn) })
  t.same(lsns, w.records.slice(10, 105), 'reads up to and including the record ending at the end point')
  t.equal(seen[0], seen[1], 'the reader reuses one record object')
  t.equal(r.endRecPtr, w.records[105])
  // at least one record is read even if start >= end
  const one: bigint[] = []
  expectErr(t, () => r.readUntil(w.records[3], w.records[3], rec => one.push(rec.lsn)), 'WAL_END', new RegExp(`end pointer ${formatLsn(w.records[3])} is not a valid end point; expected ${formatLsn(w.records[4])}`))
  t.same(one, [w.records[3]], 'one record was read')
  // an end point in the middle of a record
  expectErr(t, () => r.readUntil(w.records[0], big + 100n, () => {}), 'WAL_END',
    new RegExp(`end pointer ${formatLsn(big + 100n)} is not a valid end point; expected ${formatLsn(w.records[101])}`), { reason: 'invalid-end-point' })
  // an end point beyond the end of WAL: the read error is reported at the current end
  const end = w.pos
  expectErr(t, () => r.readUntil(w.records[0], end + 800n, () => {}), 'WAL_END',
    new RegExp(`^could not read WAL record at ${formatLsn(end)}: invalid record length at ${formatLsn(end)}: expected at least 24, got 0$`))
  // the first record unreadable: reported at the start point
  expectErr(t, () => r.readUntil(end, end + 800n, () => {}), 'WAL_END', new RegExp(`^could not read WAL record at ${formatLsn(end)}:`))
  expectErr(t, () => r.readOneRecordEnd(end), 'WAL_END', new RegExp(`^could not read WAL record at ${formatLsn(end)}: invalid record length`))
})

t.test('findLastCheckpoint / walkBackward', async t => {
  const w = new SynthWal(V, SEG)
  for (let i = 0; i < 50; i++) w.append(heap(i))
  const ck1 = w.append(checkpoint(w.records[10], 1))
  while (w.pos < 2n * BigInt(SEG) + 5000n) w.append(heap(3))
  const ck2 = w.append(checkpoint(w.records[60], 1))
  for (let i = 0; i < 30; i++) w.append(heap(i))
  const fork = w.records[w.records.length - 10]
  const { r, src } = reader(w.files())
  src.opened.length = 0
  t.same(r.findLastCheckpoint(fork), { lsn: ck2, tli: 1, redo: w.records[60] })
  t.same(src.opened, ['000000010000000000000002'], 'only the segment walked is opened')
  // the record at the fork point itself is never accepted
  t.same(r.findLastCheckpoint(ck2), { lsn: ck1, tli: 1, redo: w.records[10] })
  t.same(src.opened, ['000000010000000000000002', '000000010000000000000001'])
  // the fork point at a page boundary: the page header is skipped
  const w2 = new SynthWal(V, SEG)
  for (let i = 0; i < 5; i++) w2.append(heap(i))
  const c = w2.append(checkpoint(0x100000n, 1))
  positionAt(w2, 0)
  const boundary = w2.pos
  w2.append(heap(9))
  t.same(reader(w2.files()).r.findLastCheckpoint(boundary), { lsn: c, tli: 1, redo: 0x100000n })
  // the earlier segment is gone: pg_rewind's error
  const files = w.files()
  files.delete('000000010000000000000001')
  const e = expectErr(t, () => reader(files).r.findLastCheckpoint(ck2), 'WAL_MISSING', /^could not find previous WAL record at 0\/1FFF[0-9A-F]+: could not open file "000000010000000000000001"/)
  t.ok(typeof e.data?.file === 'string')
  // no checkpoint at all: walks back to the first record, whose prev points nowhere
  const w3 = new SynthWal(V, SEG)
  for (let i = 0; i < 5; i++) w3.append(heap(i))
  expectErr(t, () => reader(w3.files()).r.findLastCheckpoint(w3.records[4]), 'INVALID_LSN', /not a valid record start/)
})

t.test('findNextRecord skips continuation data', async t => {
  const w = new SynthWal(V, SEG)
  w.append(heap(1))
  const big = w.append({ rmid: 21, main: Buffer.alloc(20000, 1) })
  const after = w.append(heap(2))
  w.append(heap(3))
  const { r } = reader(w.files())
  t.equal(r.findNextRecord(BigInt(SEG)), w.records[0])
  t.equal(r.next().lsn, w.records[0], 'positioned at the found record')
  t.equal(r.findNextRecord(big + 8192n), after, 'from inside a multi-page record')
  t.equal(r.findNextRecord(big - (big % 8192n) + 8192n), after)
  t.equal(r.findNextRecord(big), big)
  t.equal(r.findNextRecord(w.records[0] + 8n), big)
})

t.test('64-bit LSNs stay exact', async t => {
  const start = 0xFFFF_FFF0_0000_0000n
  const w = new SynthWal(V, SEG, 1, 0x1234567890ABCDEFn, start)
  for (let i = 0; i < 400; i++) w.append(heap(i))
  w.append({ rmid: 21, main: Buffer.alloc(2 * SEG, 9) })
  w.append(heap(1))
  const got = collect(reader(w.files()).r, w.records[0])
  t.same(got.lsns, w.records)
  t.equal(got.clean, true)
  t.equal(formatLsn(got.lsns[1]), formatLsn(w.records[1]))
  t.ok(got.lsns[0] > 0xFFFF_FFF0_0000_0000n)
})

t.test('a large record does not leave a large buffer behind', async t => {
  const w = new SynthWal(V, SEG)
  const big = w.append({ rmid: 21, main: Buffer.alloc(5 * SEG, 9) })
  const small = w.append({ rmid: 21, main: Buffer.alloc(9000, 1) })
  const { r } = reader(w.files())
  r.readRecord(big)
  t.ok((r as unknown as { asm: Buffer }).asm.length >= 5 * SEG)
  r.next()
  t.ok((r as unknown as { asm: Buffer }).asm.length <= 64 * 1024, 'assembly buffer shrinks back')
  t.equal(r.readRecPtr, small)
})

t.test('record header split by a page boundary: length checks before assembly', async t => {
  const w = new SynthWal(V, SEG)
  for (let i = 0; i < 10; i++) w.append(heap(i))
  positionAt(w, PAGE - 8)
  const at = w.pos
  const raw = Buffer.alloc(100)
  raw.writeUInt32LE(100, 0)
  w.writeRaw(raw)
  const files = w.files()
  const seg = files.get('000000010000000000000001')!
  const off = Number(at % BigInt(SEG))
  const contHdr = off + 8
  // xl_tot_len < 24 with only 8 bytes on the page
  seg.writeUInt32LE(10, off)
  let g = collect(reader(files).r, w.records[0])
  t.equal(g.stop.code, 'WAL_INVALID_RECORD')
  t.match(g.stop.message, new RegExp(`invalid record length at ${formatLsn(at)}: expected at least 24, got 10`))
  // an absurd length whose continuation page agrees: refused before allocating
  seg.writeUInt32LE(0x50000000, off)
  seg.writeUInt32LE(0x50000000 - 8, contHdr + 16)
  g = collect(reader(files).r, w.records[0])
  t.equal(g.stop.code, 'WAL_INVALID_RECORD')
  t.match(g.stop.message, new RegExp(`record length 1342177280 at ${formatLsn(at)} too long`))
  t.equal(g.stop.data?.reason, 'too-long')
})
