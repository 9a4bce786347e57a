import tap, { Test } from 'tap'
const t = tap
import { PgRewindError } from '../../lib/errors'
import { versionInfo } from '../../lib/format/versions'
import { crc32c, crc32cFinish, crc32cUpdateBytes, CRC32C_INIT } from '../../lib/format/crc32c'
import {
  decodeRecord, recordCrc, restoreUncompressedImage, validateRecordHeader, WalRecord, isValidRmid,
  BKPBLOCK_WILL_INIT
} from '../../lib/wal/record'
import { encodeRecord, fixCrc } from '../helpers/synthwal'

const V13 = versionInfo(13)
const V14 = versionInfo(14)
const V15 = versionInfo(15)
const V18 = versionInfo(18)

// a real PG15 Heap INSERT at 0/2000028 (as pg_waldump shows it)
const WORKED = Buffer.from(
  '3d000000e7020000c8c0c90100000000000a0000237e2df4' +
  '00200c00' + '7f060000050000000140000000000000' + 'ff03' +
  '020002081800a0860100057a' + '040008', 'hex')

function expectErr (t: Test, fn: () => unknown, code: string, re: RegExp, reason?: string): void {
  try {
    fn()
    t.fail(`expected ${code}`)
  } catch (e) {
    t.type(e, PgRewindError)
    const err = e as PgRewindError
    t.equal(err.code, code, `code ${code}`)
    t.match(err.message, re)
    t.ok(typeof err.data?.lsn === 'string', 'names the LSN')
    if (reason !== undefined) t.equal(err.data?.reason, reason)
  }
}

t.test('worked example: a real PG15 heap insert', async t => {
  t.equal(WORKED.length, 61)
  t.equal(recordCrc(WORKED, 0, 61), 0xF42D7E23, 'CRC over body then header[0,20)')
  const rec = decodeRecord(WORKED, 0, 0x2000028n, V15)
  t.equal(rec.totLen, 61)
  t.equal(rec.xid, 743)
  t.equal(rec.prev, 0x1C9C0C8n)
  t.equal(rec.rmid, 10)
  t.equal(rec.info, 0)
  t.equal(rec.crc, 0xF42D7E23)
  t.equal(rec.lsn, 0x2000028n)
  t.equal(rec.end, 0x2000068n, 'end is MAXALIGNed')
  t.equal(rec.blocks.length, 1)
  const b = rec.blocks[0]
  t.equal(b.id, 0)
  t.equal(b.forkNumber, 0)
  t.equal(b.forkName, 'main')
  t.equal(b.hasData, true)
  t.equal(b.hasImage, false)
  t.same([b.spcOid, b.dbOid, b.relNumber, b.blockNumber], [1663, 5, 16385, 0])
  t.same(b.data, Buffer.from('020002081800a0860100057a', 'hex'))
  t.same(rec.mainData, Buffer.from('040008', 'hex'))
  t.equal(rec.maxBlockId, 0)
  t.equal(rec.fpiLength, 0)
  t.equal(rec.origin, 0)
  t.equal(rec.toplevelXid, 0)
  t.same(rec.toJSON(), {
    lsn: '0/2000028',
    end: '0/2000068',
    totLen: 61,
    xid: 743,
    prev: '0/1C9C0C8',
    info: 0,
    rmid: 10,
    origin: 0,
    toplevelXid: 0,
    mainDataLength: 3,
    blocks: [{ id: 0, fork: 0, rel: { spcOid: 1663, dbOid: 5, relNumber: 16385 }, block: 0, flags: 0x20, dataLength: 12 }]
  })
  t.equal(rec.mainData.buffer, WORKED.buffer, 'main data is a view, not a copy')
  // decoding at an offset inside a larger buffer
  const big = Buffer.concat([Buffer.alloc(100, 0xEE), WORKED, Buffer.alloc(7)])
  const r2 = decodeRecord(big, 100, 0x2000028n, V15, new WalRecord())
  t.same(r2.mainData, Buffer.from('040008', 'hex'))
  t.same(r2.bytes, WORKED)
})

t.test('images: hole, compression methods per version', async t => {
  const page = Buffer.alloc(8192)
  page.writeUInt16LE(100, 12) // pd_lower
  page.writeUInt16LE(8000, 14) // pd_upper
  page.fill(0x11, 24, 100)
  page.fill(0x22, 8000, 8192)
  const withHole = Buffer.concat([page.subarray(0, 100), page.subarray(8000)])
  // uncompressed with hole (PG15 bits: hole 0x01, apply 0x02)
  let rec = decodeRecord(encodeRecord({ rmid: 0, info: 0xB0, blocks: [{ id: 0, rel: [1663, 5, 1259], blk: 7, image: { bytes: withHole, holeOffset: 100, bimgInfo: 0x03 } }] }, 0x100n), 0, 0x1000028n, V15)
  let b = rec.blocks[0]
  t.equal(b.hasImage, true)
  t.equal(b.imageLength, withHole.length)
  t.equal(b.holeOffset, 100)
  t.equal(b.holeLength, 8192 - withHole.length, 'uncompressed: hole = BLCKSZ − bimg_len')
  t.equal(b.applyImage, true)
  t.equal(b.compression, 'none')
  t.equal(rec.fpiLength, withHole.length)
  t.same(b.image, withHole)
  t.same(restoreUncompressedImage(b), page, 'page rebuilt with a zero hole')

  // full page, no hole, not applied (wal_consistency_checking): PG15 0x00
  rec = decodeRecord(encodeRecord({ rmid: 0, info: 0xB0, xid: 5, blocks: [{ id: 0, rel: [1663, 5, 1259], blk: 7, image: { bytes: page, bimgInfo: 0x00 } }] }, 0x100n), 0, 0x1000028n, V15)
  b = rec.blocks[0]
  t.equal(b.holeLength, 0)
  t.equal(b.applyImage, false)
  t.same(restoreUncompressedImage(b), page)

  // compressed with hole: explicit hole length follows the image header
  const cases: Array<[typeof V13, number, string]> = [
    [V13, 0x07, 'pglz'], [V14, 0x07, 'pglz'], [V15, 0x07, 'pglz'], [V15, 0x0B, 'lz4'], [V18, 0x13, 'zstd']
  ]
  for (const [vi, bits, method] of cases) {
    const r = decodeRecord(encodeRecord({ rmid: 0, info: 0xB0, blocks: [{ id: 0, rel: [1663, 5, 1259], blk: 1, image: { bytes: Buffer.alloc(300, 1), holeOffset: 200, holeLength: 5000, bimgInfo: bits } }] }, 0x100n), 0, 0x1000028n, vi)
    const bb = r.blocks[0]
    t.equal(bb.compression, method, `PG${vi.major} bimg_info 0x${bits.toString(16)} → ${method}`)
    t.equal(bb.holeLength, 5000)
    t.equal(bb.holeOffset, 200)
    t.equal(bb.applyImage, true)
    t.equal(restoreUncompressedImage(bb), null, 'compressed images are not rebuilt')
    t.same(bb.toJSON().image, { length: 300, holeOffset: 200, holeLength: 5000, bimgInfo: bits, apply: true, compression: method })
  }
  // compressed without hole → hole length 0 (no extra header bytes)
  rec = decodeRecord(encodeRecord({ rmid: 0, info: 0xB0, blocks: [{ id: 0, rel: [1663, 5, 1259], blk: 1, image: { bytes: Buffer.alloc(300, 1), bimgInfo: 0x06 } }] }, 0x100n), 0, 0x1000028n, V13)
  t.equal(rec.blocks[0].compression, 'pglz', 'PG13: 0x02 = compressed')
  t.equal(rec.blocks[0].holeLength, 0)
  t.equal(rec.blocks[0].applyImage, true, 'PG13: 0x04 = apply')
  // the trap: 0x02 is APPLY on 15+, COMPRESSED on 13/14
  const full = encodeRecord({ rmid: 0, info: 0xB0, blocks: [{ id: 0, rel: [1663, 5, 1259], blk: 1, image: { bytes: page, bimgInfo: 0x02 } }] }, 0x100n)
  t.equal(decodeRecord(full, 0, 0x1000028n, V15).blocks[0].applyImage, true)
  expectErr(t, () => decodeRecord(full, 0, 0x1000028n, V14), 'WAL_INVALID_RECORD', /BKPIMAGE_COMPRESSED set, but block image length 8192/, 'bad-compressed-length')
})

t.test('origin, top-level xid, long main data, SAME_REL, forks, gaps in block ids', async t => {
  const main = Buffer.alloc(300, 7)
  const enc = encodeRecord({
    rmid: 11,
    info: 0x10,
    xid: 900,
    blocks: [
      { id: 0, fork: 0, rel: [1663, 16384, 2619], blk: 3, data: Buffer.from([1, 2, 3]) },
      { id: 2, fork: 2, blk: 0, extraFlags: BKPBLOCK_WILL_INIT },
      { id: 32, fork: 1, rel: [1664, 0, 1262], blk: 4294967294 }
    ],
    origin: 7,
    toplevelXid: 899,
    main
  }, 0x500n)
  const rec = decodeRecord(enc, 0, 0x1000000n + 40n, V14)
  t.equal(rec.origin, 7)
  t.equal(rec.toplevelXid, 899)
  t.equal(rec.mainDataLength, 300)
  t.same(rec.mainData, main)
  t.same(rec.blocks.map(b => b.id), [0, 2, 32])
  t.equal(rec.maxBlockId, 32)
  t.same(rec.blocks.map(b => [b.spcOid, b.dbOid, b.relNumber, b.forkNumber, b.blockNumber]),
    [[1663, 16384, 2619, 0, 3], [1663, 16384, 2619, 2, 0], [1664, 0, 1262, 1, 4294967294]])
  t.equal(rec.blocks[1].sameRel, true)
  t.equal(rec.blocks[1].willInit, true)
  t.equal(rec.blocks[1].forkName, 'vm')
  t.equal(rec.block(2), rec.blocks[1])
  t.equal(rec.block(1), null)
  t.same(rec.blocks[0].data, Buffer.from([1, 2, 3]))
  t.equal(rec.blocks[1].dataLength, 0)
  // long main-data header with a short length is valid too
  const lm = decodeRecord(encodeRecord({ main: Buffer.from([9, 9]), longMain: true }, 0x500n), 0, 0x1000028n, V15)
  t.same(lm.mainData, Buffer.from([9, 9]))
  // a record with no main data and no blocks (e.g. XLOG SWITCH)
  const sw = decodeRecord(encodeRecord({ rmid: 0, info: 0x40 }, 0x500n), 0, 0x1000028n, V15)
  t.equal(sw.totLen, 24)
  t.equal(sw.mainDataLength, 0)
  t.equal(sw.blocks.length, 0)
  // decoding into the same object reuses it and resets everything
  const reused = new WalRecord()
  decodeRecord(enc, 0, 0x1000028n, V14, reused)
  decodeRecord(WORKED, 0, 0x2000028n, V14, reused)
  t.equal(reused.blocks.length, 1)
  t.equal(reused.origin, 0)
  t.equal(reused.toplevelXid, 0)
})

t.test('record header checks', async t => {
  const zero = Buffer.alloc(24)
  expectErr(t, () => decodeRecord(zero, 0, 0x1000028n, V15), 'WAL_END', /invalid record length at 0\/1000028: expected at least 24, got 0/, 'zero-length')
  try { decodeRecord(zero, 0, 0x1000028n, V15) } catch (e) { t.equal((e as PgRewindError).data?.cleanEnd, true, 'zero length is the ordinary end of WAL') }
  const short = Buffer.from(WORKED)
  short.writeUInt32LE(20, 0)
  expectErr(t, () => decodeRecord(short, 0, 0x1000028n, V15), 'WAL_INVALID_RECORD', /expected at least 24, got 20/, 'short-length')

  for (const [vi, rmid, ok] of [[V15, 22, false], [V15, 127, false], [V15, 128, true], [V15, 255, true], [V14, 128, false], [V13, 21, true], [V13, 22, false]] as const) {
    t.equal(isValidRmid(rmid, vi), ok, `PG${vi.major} rmid ${rmid}`)
    const r = fixCrc(Buffer.from(WORKED))
    r[17] = rmid
    fixCrc(r)
    if (ok) t.equal(decodeRecord(r, 0, 0x2000028n, vi).rmid, rmid)
    else expectErr(t, () => decodeRecord(r, 0, 0x2000028n, vi), 'WAL_INVALID_RECORD', new RegExp(`invalid resource manager ID ${rmid} at 0/2000028`), 'bad-rmid')
  }

  // prev-link, random access: must be < own LSN
  expectErr(t, () => decodeRecord(WORKED, 0, 0x1C9C0C8n, V15), 'WAL_INVALID_RECORD', /record with incorrect prev-link 0\/1C9C0C8 at 0\/1C9C0C8/, 'bad-prev-link')
  // sequential: must equal the previous record's start (positions as page index + offset)
  const page = Number(0x2000028n / 8192n)
  t.equal(validateRecordHeader(WORKED, 0, page, 0x28, Number(0x1C9C0C8n / 8192n), 0x1C9C0C8 % 8192, V15), 61)
  expectErr(t, () => validateRecordHeader(WORKED, 0, page, 0x28, Number(0x1C9C0C8n / 8192n), 0xC0, V15), 'WAL_INVALID_RECORD', /incorrect prev-link 0\/1C9C0C8 at 0\/2000028/)

  // CRC: any flipped bit in the body or in the CRC-covered header bytes
  for (const pos of [0x18, 0x30, 60, 4, 8, 16, 18, 19]) {
    const r = Buffer.from(WORKED)
    r[pos] ^= 0x01
    expectErr(t, () => decodeRecord(r, 0, 0x2000028n, V15), 'WAL_CRC', /incorrect resource manager data checksum in record at 0\/2000028/, 'bad-crc')
  }
  const badCrc = Buffer.from(WORKED)
  badCrc[21] ^= 0x80
  expectErr(t, () => decodeRecord(badCrc, 0, 0x2000028n, V15), 'WAL_CRC', /checksum/)

  // truncated buffers
  expectErr(t, () => decodeRecord(WORKED.subarray(0, 40), 0, 0x2000028n, V15), 'WAL_INVALID_RECORD', /truncated: 40 of 61 bytes/)
  expectErr(t, () => decodeRecord(WORKED.subarray(0, 3), 0, 0x2000028n, V15), 'WAL_INVALID_RECORD', /truncated/)
})

t.test('body consistency checks (DecodeXLogRecord)', async t => {
  const L = 0x1000028n
  const cases: Array<[string, Buffer, RegExp, string, typeof V15?]> = [
    ['out-of-order block id', encodeRecord({ blocks: [{ id: 3, rel: [1, 2, 3], blk: 0 }, { id: 1, blk: 0 }] }, 0n), /out-of-order block_id 1 at 0\/1000028/, 'out-of-order-block-id'],
    ['repeated block id', encodeRecord({ blocks: [{ id: 3, rel: [1, 2, 3], blk: 0 }, { id: 3, blk: 1 }] }, 0n), /out-of-order block_id 3/, 'out-of-order-block-id'],
    ['HAS_DATA without data', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, rawHasData: true, rawDataLength: 0 }] }, 0n), /BKPBLOCK_HAS_DATA set, but no data included at 0\/1000028/, 'has-data-no-data'],
    ['data without HAS_DATA', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, data: Buffer.alloc(5), rawHasData: false }] }, 0n), /BKPBLOCK_HAS_DATA not set, but data length is 5 at/, 'data-without-has-data'],
    ['hole flag, hole offset 0', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(8000), holeOffset: 0, bimgInfo: 0x03 } }] }, 0n), /BKPIMAGE_HAS_HOLE set, but hole offset 0 length 192 block image length 8000/, 'bad-hole'],
    ['hole flag, full image', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(8192), holeOffset: 40, bimgInfo: 0x03 } }] }, 0n), /BKPIMAGE_HAS_HOLE set, but hole offset 40 length 0 block image length 8192/, 'bad-hole'],
    ['compressed hole of length 0', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(100), holeOffset: 40, holeLength: 0, bimgInfo: 0x07 } }] }, 0n), /BKPIMAGE_HAS_HOLE set, but hole offset 40 length 0/, 'bad-hole'],
    ['hole offset without hole flag', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(8192), holeOffset: 40, bimgInfo: 0x02 } }] }, 0n), /BKPIMAGE_HAS_HOLE not set, but hole offset 40 length 0/, 'unexpected-hole'],
    ['short uncompressed image without hole', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(8000), bimgInfo: 0x02 } }] }, 0n), /BKPIMAGE_HAS_HOLE not set, but hole offset 0 length 192/, 'unexpected-hole'],
    ['compressed full-size image', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(8192), bimgInfo: 0x06 } }] }, 0n), /BKPIMAGE_COMPRESSED set, but block image length 8192/, 'bad-compressed-length'],
    ['hole beyond the page (uncompressed)', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(100), holeOffset: 8000, bimgInfo: 0x03 } }] }, 0n), /BKPIMAGE_HAS_HOLE set, but hole offset 8000 length 8092 exceeds the block size/, 'hole-beyond-page'],
    ['hole beyond the page (compressed)', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(100), holeOffset: 200, holeLength: 8000, bimgInfo: 0x07 } }] }, 0n), /hole offset 200 length 8000 exceeds the block size/, 'hole-beyond-page'],
    ['SAME_REL first', encodeRecord({ blocks: [{ id: 0, blk: 0 }] }, 0n), /BKPBLOCK_SAME_REL set but no previous rel at 0\/1000028/, 'same-rel-without-rel'],
    ['InvalidBlockNumber', encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0xFFFFFFFF }] }, 0n), /invalid block number 4294967295 in block reference 0 at 0\/1000028/, 'invalid-block-number'],
    ['block id 33', Buffer.from(''), /invalid block_id 33 at/, 'invalid-block-id'],
    ['block id 251', Buffer.from(''), /invalid block_id 251 at/, 'invalid-block-id'],
    ['toplevel xid on 13', encodeRecord({ toplevelXid: 5, main: Buffer.from([1]) }, 0n), /invalid block_id 252 at/, 'invalid-block-id', versionInfo(13)]
  ]
  for (const [id, bad] of [[33, 0], [251, 0]]) {
    const r = encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0 }] }, 0n)
    r[24] = id
    fixCrc(r)
    cases.find(c => c[0] === `block id ${id}`)![1] = r
    void bad
  }
  // the neither-hole-nor-compressed check (image length must then be BLCKSZ) needs a hole
  // offset of 0 and a computed hole length of 0, i.e. a full image: covered by the valid
  // cases; on 13/14 flags, a 0x04 (apply only) image of 8000 bytes trips "not set, but … length 192"
  for (const [name, rec, re, reason, vi] of cases) {
    expectErr(t, () => decodeRecord(rec, 0, L, vi ?? V15), 'WAL_INVALID_RECORD', re, reason)
    t.comment(name)
  }

  // exact length balance: trailing garbage, truncated headers, main data longer than the record
  const good = encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 9, data: Buffer.alloc(10) }], main: Buffer.alloc(20) }, 0n)
  const trailing = Buffer.concat([good, Buffer.alloc(3)])
  trailing.writeUInt32LE(trailing.length, 0)
  fixCrc(trailing)
  expectErr(t, () => decodeRecord(trailing, 0, L, V15), 'WAL_INVALID_RECORD', /record with invalid length at 0\/1000028/, 'length-mismatch')
  const longer = Buffer.from(good)
  longer[good.length - 20 - 10 - 1] = 21 // main data length 21 instead of 20
  fixCrc(longer)
  expectErr(t, () => decodeRecord(longer, 0, L, V15), 'WAL_INVALID_RECORD', /record with invalid length/, 'length-mismatch')
  for (const cut of [25, 26, 27, 28, 30, 35, 40, 43]) {
    // a record whose header area ends in the middle of a fragment header
    const r = Buffer.from(good.subarray(0, cut))
    r.writeUInt32LE(cut, 0)
    fixCrc(r)
    expectErr(t, () => decodeRecord(r, 0, L, V15), 'WAL_INVALID_RECORD', /record with invalid length/, 'length-mismatch')
  }
  for (const [name, rec] of [
    ['origin cut', (() => { const r = Buffer.from([...encodeRecord({}, 0n), 253, 1]); r.writeUInt32LE(r.length, 0); return fixCrc(r) })()],
    ['toplevel cut', (() => { const r = Buffer.from([...encodeRecord({}, 0n), 252, 1, 2]); r.writeUInt32LE(r.length, 0); return fixCrc(r) })()],
    ['long main cut', (() => { const r = Buffer.from([...encodeRecord({}, 0n), 254, 1, 0]); r.writeUInt32LE(r.length, 0); return fixCrc(r) })()],
    ['short main cut', (() => { const r = Buffer.from([...encodeRecord({}, 0n), 255]); r.writeUInt32LE(r.length, 0); return fixCrc(r) })()],
    ['image header cut', (() => { const r = Buffer.from([...encodeRecord({}, 0n), 0, 0x10, 0, 0, 1, 2]); r.writeUInt32LE(r.length, 0); return fixCrc(r) })()],
    ['hole length cut', (() => { const r = Buffer.from([...encodeRecord({}, 0n), 0, 0x10, 0, 0, 100, 0, 40, 0, 0x07, 1]); r.writeUInt32LE(r.length, 0); return fixCrc(r) })()]
  ] as const) {
    expectErr(t, () => decodeRecord(rec, 0, L, V15), 'WAL_INVALID_RECORD', /record with invalid length|BKPIMAGE/)
    t.comment(name)
  }
})

t.test('PG13/14 image bit layout: apply-only image must be full', async t => {
  const r = encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(8000), bimgInfo: 0x04 } }] }, 0n)
  expectErr(t, () => decodeRecord(r, 0, 0x1000028n, V13), 'WAL_INVALID_RECORD', /BKPIMAGE_HAS_HOLE not set, but hole offset 0 length 192/)
  const ok = encodeRecord({ blocks: [{ id: 0, rel: [1, 2, 3], blk: 0, image: { bytes: Buffer.alloc(8192), bimgInfo: 0x04 } }] }, 0n)
  const rec = decodeRecord(ok, 0, 0x1000028n, V13)
  t.equal(rec.blocks[0].applyImage, true)
  t.equal(rec.blocks[0].compression, 'none')
})

t.test('word-wise CRC-32C equals the byte-wise path for every length and alignment', async t => {
  const big = Buffer.alloc(70000)
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761 >>> 13) & 0xFF
  let mismatches = 0
  let checks = 0
  for (const len of [0, 1, 7, 15, 16, 63, 64, 65, 100, 255, 1000, 8191, 8192, 65536]) {
    for (let off = 0; off < 9; off++) {
      checks++
      if (crc32cFinish(crc32cUpdateBytes(CRC32C_INIT, big, off, off + len)) !== crc32c(big, off, off + len)) mismatches++
      // the same bytes in a subarray of another (pooled, unaligned) buffer
      const sub = Buffer.concat([Buffer.alloc(3), big.subarray(off, off + len)]).subarray(3)
      if (crc32cFinish(crc32cUpdateBytes(CRC32C_INIT, sub, 0, len)) !== crc32c(sub, 0, len)) mismatches++
    }
  }
  t.equal(mismatches, 0, `${checks * 2} ranges`)
  t.equal(recordCrc(WORKED, 0, 61), 0xF42D7E23)
})
