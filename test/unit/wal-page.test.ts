import t, { Test } from 'tap'

type Tap = Test
import { PgRewindError } from '../../lib/errors'
import { versionInfo } from '../../lib/format/versions'
import {
  decodePageHeader, newPageSequenceState, pageHeaderSize, validatePageHeader, type PageCheckContext
} from '../../lib/wal/page'

// first 40 bytes of a real PG15 segment 000000010000000000000002
const REAL_LONG = Buffer.from('10d10600010000000000000200000000000000000000000008' + '3fa68d3d44016b' + '0000000100200000', 'hex')
const SYSID = REAL_LONG.readBigUInt64LE(24)
const SEG = 16 * 1024 * 1024
const PAGE_OF = (lsn: bigint): number => Number(lsn / 8192n)

function ctx (over: Partial<PageCheckContext> = {}): PageCheckContext {
  return { magic: 0xD110, segSize: SEG, sysid: SYSID, fileTli: 1, ...over }
}

function shortHeader (magic: number, info: number, tli: number, addr: bigint, rem = 0): Buffer {
  const b = Buffer.alloc(8192)
  b.writeUInt16LE(magic, 0)
  b.writeUInt16LE(info, 2)
  b.writeUInt32LE(tli, 4)
  b.writeBigUInt64LE(addr, 8)
  b.writeUInt32LE(rem, 16)
  return b
}

function expectErr (t: Tap, fn: () => unknown, code: string, re: RegExp, reason: string, cleanEnd: boolean): void {
  try {
    fn()
    t.fail('expected an error')
  } catch (e) {
    t.type(e, PgRewindError)
    const err = e as PgRewindError
    t.equal(err.code, code)
    t.match(err.message, re)
    t.equal(err.data?.reason, reason)
    t.equal(err.data?.cleanEnd, cleanEnd, `cleanEnd ${cleanEnd}`)
  }
}

t.test('decode the real long header', async t => {
  const h = decodePageHeader(REAL_LONG)
  t.equal(h.magic, 0xD110)
  t.equal(h.info, 0x0006)
  t.equal(h.tli, 1)
  t.equal(h.pageAddr, 0x2000000n)
  t.equal(h.remLen, 0)
  t.equal(h.isLong, true)
  t.equal(h.headerSize, 40)
  t.equal(h.sysid, SYSID)
  t.equal(h.segSize, SEG)
  t.equal(h.xlogBlcksz, 8192)
  t.equal(pageHeaderSize(REAL_LONG), 40)
  t.equal(validatePageHeader(REAL_LONG, 0, PAGE_OF(0x2000000n), ctx(), newPageSequenceState()), 40)
  t.equal(validatePageHeader(REAL_LONG, 0, PAGE_OF(0x2000000n), ctx({ sysid: null }), null), 40, 'sysid not checked when unknown')
  const s = decodePageHeader(shortHeader(0xD110, 0x0005, 2, 0x2002000n, 77))
  t.equal(s.isLong, false)
  t.equal(s.headerSize, 24)
  t.equal(s.sysid, null)
  t.equal(s.remLen, 77)
  t.throws(() => decodePageHeader(Buffer.alloc(10)), { code: 'WAL_INVALID_PAGE' })
  t.throws(() => decodePageHeader(REAL_LONG.subarray(0, 30)), { code: 'WAL_INVALID_PAGE' })
})

t.test('validation failures', async t => {
  const p = PAGE_OF(0x2002000n)
  expectErr(t, () => validatePageHeader(shortHeader(0xD106, 4, 1, 0x2002000n), 0, p, ctx(), null), 'WAL_INVALID_PAGE',
    /^invalid magic number D106 in WAL segment 000000010000000000000002, LSN 0\/2002000, offset 8192$/, 'bad-magic', false)
  expectErr(t, () => validatePageHeader(Buffer.alloc(8192), 0, p, ctx(), null), 'WAL_END',
    /invalid magic number 0000 in WAL segment 000000010000000000000002/, 'zero-page', true)
  expectErr(t, () => validatePageHeader(shortHeader(0xD110, 0x0014, 1, 0x2002000n), 0, p, ctx(), null), 'WAL_INVALID_PAGE',
    /invalid info bits 0014 in WAL segment/, 'bad-info-bits', false)
  expectErr(t, () => validatePageHeader(shortHeader(0xD110, 0x0004, 1, 0x2000000n), 0, PAGE_OF(0x2000000n), ctx(), null), 'WAL_INVALID_PAGE',
    /invalid info bits 0004 in WAL segment 000000010000000000000002, LSN 0\/2000000, offset 0/, 'missing-long-header', false)
  // recycled segment: an older page address = the ordinary end of WAL
  expectErr(t, () => validatePageHeader(shortHeader(0xD110, 4, 1, 0x1002000n), 0, p, ctx(), null), 'WAL_INVALID_PAGE',
    /unexpected pageaddr 0\/1002000 in WAL segment 000000010000000000000002, LSN 0\/2002000, offset 8192/, 'stale-pageaddr', true)
  expectErr(t, () => validatePageHeader(shortHeader(0xD110, 4, 1, 0x3002000n), 0, p, ctx(), null), 'WAL_INVALID_PAGE',
    /unexpected pageaddr 0\/3002000/, 'bad-pageaddr', false)
  // pageaddr compared in full 64 bits
  expectErr(t, () => validatePageHeader(shortHeader(0xD110, 4, 1, 0x1_02002000n), 0, p, ctx(), null), 'WAL_INVALID_PAGE', /unexpected pageaddr 1\/2002000/, 'bad-pageaddr', false)
  const hi = 0xFFFF_FFFF_FF00_2000n
  t.equal(validatePageHeader(shortHeader(0xD110, 4, 1, hi), 0, PAGE_OF(hi), ctx(), null), 24, 'LSNs near 2^64 are exact')

  const long = Buffer.from(REAL_LONG)
  const mk = (f: (b: Buffer) => void): Buffer => { const b = Buffer.concat([long, Buffer.alloc(8192 - 40)]); f(b); return b }
  t.throws(() => validatePageHeader(mk(b => b.writeBigUInt64LE(5n, 24)), 0, PAGE_OF(0x2000000n), ctx(), null),
    { code: 'WAL_INVALID_PAGE', message: /WAL file is from different database system: WAL file database system identifier is 5, pg_control database system identifier is 7710/ })
  t.throws(() => validatePageHeader(mk(b => b.writeUInt32LE(1 << 20, 32)), 0, PAGE_OF(0x2000000n), ctx(), null),
    { code: 'WAL_INVALID_PAGE', message: 'WAL file is from different database system: incorrect segment size in page header' })
  t.throws(() => validatePageHeader(mk(b => b.writeUInt32LE(4096, 36)), 0, PAGE_OF(0x2000000n), ctx(), null),
    { code: 'WAL_INVALID_PAGE', message: 'WAL file is from different database system: incorrect XLOG_BLCKSZ in page header' })
})

t.test('timeline sequence', async t => {
  const seq = newPageSequenceState()
  t.equal(validatePageHeader(shortHeader(0xD110, 4, 2, 0x2002000n), 0, PAGE_OF(0x2002000n), ctx(), seq), 24)
  t.equal(validatePageHeader(shortHeader(0xD110, 4, 3, 0x2004000n), 0, PAGE_OF(0x2004000n), ctx(), seq), 24)
  // going back (re-reading an earlier page) is not checked
  t.equal(validatePageHeader(shortHeader(0xD110, 4, 1, 0x2000000n + 8192n * 0n + 8192n), 0, PAGE_OF(0x2002000n), ctx(), seq), 24)
  // … but a later page with a lower TLI than the last seen is
  validatePageHeader(shortHeader(0xD110, 4, 3, 0x2004000n), 0, PAGE_OF(0x2004000n), ctx(), seq)
  expectErr(t, () => validatePageHeader(shortHeader(0xD110, 4, 2, 0x2006000n), 0, PAGE_OF(0x2006000n), ctx(), seq), 'WAL_INVALID_PAGE',
    /out-of-sequence timeline ID 2 \(after 3\) in WAL segment 000000010000000000000002, LSN 0\/2006000, offset 24576/, 'tli-out-of-sequence', false)
  // the file TLI in messages is the file we read from
  expectErr(t, () => validatePageHeader(shortHeader(0xD106, 4, 1, 0x2002000n), 0, PAGE_OF(0x2002000n), ctx({ fileTli: 0xA, segSize: 1 << 20 }), null), 'WAL_INVALID_PAGE',
    /WAL segment 0000000A0000000000000020, LSN 0\/2002000, offset 8192/, 'bad-magic', false)
  t.equal(versionInfo(18).walPageMagic, 0xD118)
})
