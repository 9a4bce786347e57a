import t from 'tap'
import { parseWalFileName, segNoToLsn, formatLsn, walFileName } from '../lib/format/lsn'
import { versionInfo } from '../lib/format/versions'
import { WalReader } from '../lib/wal/reader'
import { MemoryWalSource } from './helpers/memwal'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../lib/errors'
import { restoreUncompressedImage, XLR_SPECIAL_REL_UPDATE } from '../lib/wal/record'
import {
  dbaseKind, decodeCheckpointRecord, isCheckpointRecord, specialRecordKind, RM_LOGICALMSG_ID, RM_SMGR_ID, RM_XLOG_ID, XLOG_CHECKPOINT_REDO
} from '../lib/wal/payloads'
import { decodeEndOfRecovery, isEndOfRecoveryRecord, isSwitchRecord } from './helpers/waldump'
import { decodeDbaseCreateFileCopy, decodeDbaseCreateWalLog, decodeDbaseDrop } from '../lib/wal/dbase'
import { decodeSmgrCreate, decodeSmgrTruncate } from '../lib/wal/smgr'
import { xactOp } from '../lib/wal/xact'
import { SegmentFiles } from '../lib/wal/segmentfiles'
import { historyEntries, makeWalCluster, segmentFiles } from './helpers/wal-clusters'
import { pglzDecompress } from './helpers/pglz'
import { testMajors } from './harness'

/**
 * Real WAL of every supported major (see helpers/wal-clusters.ts for the workload):
 * the reader walks every record from the first one in pg_wal, across timelines 1 → 2 → 3,
 * to the end of WAL, checking every page header and every CRC, and the decoded content
 * is cross-checked against what the workload did.
 */

const majors = testMajors()

for (const major of majors) {
  t.test(`PostgreSQL ${major}: every record of real WAL`, async t => {
    const w = await makeWalCluster(major)
    t.teardown(w.destroy)
    const vi = versionInfo(major)
    const hist = historyEntries(w.history3, 3)
    t.same(hist.map(h => h.tli), [1, 2, 3])
    t.same(hist.slice(0, 2).map(h => h.end), w.switchPoints, 'history switch points = the replay end before each promotion')
    const files = new SegmentFiles(w.walDir, w.segSize, { chunkSize: 256 * 1024 })
    t.teardown(() => files.close())
    const reader = new WalReader(files, { version: vi, segSize: w.segSize, sysid: w.sysid, timelines: hist })
    const first = parseWalFileName(segmentFiles(w.walDir)[0], w.segSize)
    if (first === null) throw new Error('no WAL')
    const start = reader.findNextRecord(segNoToLsn(first.segNo, w.segSize))

    const n = {
      records: 0,
      bytes: 0,
      multiPage: 0,
      multiSegment: 0,
      switches: 0,
      eor: [] as number[],
      checkpoints: 0,
      ckptRedo: 0,
      imgPlain: 0,
      imgHole: 0,
      imgPglz: 0,
      imgLz4: 0,
      imgZstd: 0,
      holeChecked: 0,
      pglzChecked: 0,
      nonMainFork: 0,
      dbase: new Map<string, number>(),
      smgrCreate: 0,
      smgrTruncate: 0,
      xactSpecial: 0,
      xactOps: new Map<string, number>(),
      toplevel: 0,
      origin: 0,
      unrecognized: 0,
      special: 0,
      bigMessage: 0,
      maxLen: 0,
      lastCkpt: null as null | ReturnType<typeof decodeCheckpointRecord>
    }
    const problems: string[] = []
    const res = reader.scanToEnd(start, rec => {
      n.records++
      n.bytes += rec.totLen
      if (rec.totLen > n.maxLen) n.maxLen = rec.totLen
      const lastByte = rec.end - 1n
      if ((rec.lsn / 8192n) !== (lastByte / 8192n) && rec.totLen > 100) n.multiPage++
      if ((rec.lsn / BigInt(w.segSize)) !== ((rec.lsn + BigInt(rec.totLen)) / BigInt(w.segSize)) && !isSwitchRecord(rec)) n.multiSegment++
      if (isSwitchRecord(rec)) n.switches++
      if (isEndOfRecoveryRecord(rec)) n.eor.push(decodeEndOfRecovery(rec, vi).thisTimeLineId)
      if (isCheckpointRecord(rec)) { n.checkpoints++; n.lastCkpt = decodeCheckpointRecord(rec, vi) }
      if (rec.rmid === RM_XLOG_ID && rec.rmgrInfo === XLOG_CHECKPOINT_REDO) n.ckptRedo++
      const kind = specialRecordKind(rec, vi)
      if (kind === 'unrecognized-special') n.unrecognized++
      if ((rec.info & XLR_SPECIAL_REL_UPDATE) !== 0) n.special++
      const dk = dbaseKind(rec, vi)
      if (dk !== null) {
        n.dbase.set(dk, (n.dbase.get(dk) ?? 0) + 1)
        if (dk === 'create-file-copy') decodeDbaseCreateFileCopy(rec, vi)
        else if (dk === 'create-wal-log') decodeDbaseCreateWalLog(rec, vi)
        else if (decodeDbaseDrop(rec, vi).tablespaceIds.length === 0) problems.push('drop without tablespaces')
      }
      if (rec.rmid === RM_SMGR_ID && rec.rmgrInfo === 0x10) { n.smgrCreate++; decodeSmgrCreate(rec) }
      if (rec.rmid === RM_SMGR_ID && rec.rmgrInfo === 0x20) { n.smgrTruncate++; decodeSmgrTruncate(rec) }
      const op = xactOp(rec, vi)
      if (op !== null) {
        n.xactOps.set(op, (n.xactOps.get(op) ?? 0) + 1)
        if ((rec.info & XLR_SPECIAL_REL_UPDATE) !== 0) n.xactSpecial++
      }
      if (rec.toplevelXid !== 0) n.toplevel++
      if (rec.origin !== 0) n.origin++
      if (rec.rmid === RM_LOGICALMSG_ID && rec.mainDataLength > 17 * 1024 * 1024) n.bigMessage++
      for (const b of rec.blocks) {
        if (b.forkNumber !== 0) n.nonMainFork++
        if (!b.hasImage) continue
        if (b.compression === 'none') {
          if (b.holeLength > 0) {
            n.imgHole++
            // a hole is only cut out of standard pages: [pd_lower, pd_upper)
            const page = restoreUncompressedImage(b)
            if (page === null || page.readUInt16LE(12) !== b.holeOffset || page.readUInt16LE(14) !== b.holeOffset + b.holeLength) {
              problems.push(`hole mismatch at ${formatLsn(rec.lsn)} blk ${b.id}`)
            } else n.holeChecked++
          } else n.imgPlain++
        } else if (b.compression === 'pglz') {
          n.imgPglz++
          const raw = pglzDecompress(b.image!, 8192 - b.holeLength)
          if (raw === null) problems.push(`pglz image does not expand to ${8192 - b.holeLength} bytes at ${formatLsn(rec.lsn)}`)
          else {
            n.pglzChecked++
            if (b.holeLength > 0 && (raw.readUInt16LE(12) !== b.holeOffset || raw.readUInt16LE(14) !== b.holeOffset + b.holeLength)) {
              problems.push(`compressed hole mismatch at ${formatLsn(rec.lsn)}`)
            }
          }
        } else if (b.compression === 'lz4') n.imgLz4++
        else n.imgZstd++
      }
    })
    t.comment(`PG${major}: ${n.records} records, ${(n.bytes / 1048576).toFixed(1)} MiB, compression methods accepted: ${w.compressions.join(', ')}`)

    t.equal(res.clean, true, `WAL ends cleanly (${res.stop.message})`)
    t.equal(res.stop.code, 'WAL_END')
    t.equal(res.end, reader.readOneRecordEnd(w.checkPoint), 'the WAL ends with the final shutdown checkpoint record')
    t.equal(res.lastRecord, w.checkPoint)
    t.same(problems, [], 'images rebuild into pages whose pd_lower/pd_upper match the hole')
    t.equal(n.unrecognized, 0, 'no record pg_rewind would reject')
    t.ok(n.special > 0)

    t.ok(n.imgPlain > 0, 'uncompressed images without hole')
    t.ok(n.holeChecked > 100, `uncompressed images with hole (${n.holeChecked})`)
    t.ok(n.pglzChecked > 10, `pglz-compressed images checked (${n.pglzChecked})`)
    t.equal(n.imgLz4 > 0, w.compressions.includes('lz4'), 'lz4 images iff the build accepts wal_compression=lz4')
    t.equal(n.imgZstd > 0, w.compressions.includes('zstd'), 'zstd images iff the build accepts wal_compression=zstd')
    t.ok(n.nonMainFork > 0, 'block references to non-main forks')
    t.ok(n.multiPage > 10, `records spanning pages (${n.multiPage})`)
    t.ok(n.multiSegment >= 1, `records spanning segments (${n.multiSegment})`)
    t.equal(n.bigMessage, 1, 'the 17 MiB logical message is reassembled')
    t.ok(n.switches >= 1, 'XLOG_SWITCH')
    t.same(n.eor, [2, 3], 'END_OF_RECOVERY records for timelines 2 and 3')
    t.equal(n.lastCkpt?.thisTimeLineID, 3)
    t.ok(n.checkpoints >= 5)
    t.equal(n.ckptRedo > 0, vi.hasCheckpointRedo, 'CHECKPOINT_REDO iff 17+')
    t.ok((n.dbase.get('create-file-copy') ?? 0) >= 1, 'DBASE create (file copy)')
    t.equal((n.dbase.get('create-wal-log') ?? 0) >= 1, major >= 15, 'DBASE CREATE_WAL_LOG iff 15+')
    t.ok((n.dbase.get('drop') ?? 0) >= 1, 'DBASE drop')
    t.ok(n.smgrCreate > 10, 'SMGR create')
    t.ok(n.smgrTruncate >= 1, 'SMGR truncate (VACUUM)')
    t.ok((n.xactOps.get('PREPARE') ?? 0) >= 2 && (n.xactOps.get('COMMIT_PREPARED') ?? 0) >= 1 && (n.xactOps.get('ABORT_PREPARED') ?? 0) >= 1, 'two-phase commit records')
    t.equal(n.xactOps.has('INVALIDATIONS'), vi.hasXactInvalidations, 'XACT INVALIDATIONS iff 14+')
    t.equal(n.xactSpecial >= 1, vi.xactDropsFlagged, 'XACT commit dropping relations carries XLR_SPECIAL_REL_UPDATE iff 14+')
    t.equal(n.toplevel > 0, vi.hasToplevelXidBlock, 'top-level xid block iff 14+')
    t.ok(n.origin >= 1, 'replication origin block')
    t.same(files.openedFiles.filter(f => f.startsWith('00000002')), [], 'no segment needed from timeline 2 (both switches are in one segment)')
    t.ok(files.openedFiles.some(f => f.startsWith('00000003')), 'the switch segment is read from timeline 3')

    // deterministic corruption of the real segments (in memory): typed errors at the right place
    const mem = new Map<string, Buffer>()
    for (const f of segmentFiles(w.walDir)) mem.set(f, readFileSync(join(w.walDir, f)))
    const lsns: bigint[] = []
    new WalReader(new MemoryWalSource(w.segSize, mem), { version: vi, segSize: w.segSize, sysid: w.sysid, timelines: hist }).scanToEnd(start, r => { if (lsns.length < 3000) lsns.push(r.lsn) })
    const victim = lsns[2500]
    const vname = walFileName(1, victim / BigInt(w.segSize), w.segSize)
    const voff = Number(victim % BigInt(w.segSize))
    const scan = (files: Map<string, Buffer>): { stop: PgRewindError, clean: boolean, end: bigint } =>
      new WalReader(new MemoryWalSource(w.segSize, files), { version: vi, segSize: w.segSize, sysid: w.sysid, timelines: hist }).scanToEnd(start)
    const patched = (f: (b: Buffer) => Buffer): Map<string, Buffer> => new Map(mem).set(vname, f(Buffer.from(mem.get(vname)!)))
    let c = scan(patched(b => { b[voff + 24] ^= 0x40; return b }))
    t.same([c.stop.code, c.stop.data?.lsn, c.clean, c.end], ['WAL_CRC', formatLsn(victim), false, victim], 'flipped body byte: CRC error at that record')
    c = scan(patched(b => { b[voff + 17] = 99; return b }))
    t.same([c.stop.code, c.stop.data?.reason], ['WAL_INVALID_RECORD', 'bad-rmid'], 'garbage rmgr id')
    c = scan(patched(b => { const p = voff - (voff % 8192); b.writeUInt16LE(0xD000, p); return b }))
    t.same([c.stop.code, c.stop.data?.reason, c.clean], ['WAL_INVALID_PAGE', 'bad-magic', false], 'wrong page magic')
    c = scan(patched(b => b.subarray(0, voff - (voff % 8192))))
    t.same([c.stop.code, c.clean], ['WAL_READ', false], 'truncated segment')
    const nextSeg = victim / BigInt(w.segSize) + 1n
    c = scan(new Map([...mem].filter(([k]) => k !== walFileName(1, nextSeg, w.segSize))))
    t.equal(c.stop.code, 'WAL_MISSING', 'missing next segment')
    t.ok(c.end <= nextSeg * BigInt(w.segSize), 'the scan ends in the segment before')
    t.equal(c.clean, c.end === nextSeg * BigInt(w.segSize), 'clean only if no record was cut at the segment boundary')

    // pg_rewind's operations on this WAL
    const r2 = new WalReader(new SegmentFiles(w.walDir, w.segSize), { version: vi, segSize: w.segSize, sysid: w.sysid, timelines: hist, tliIndex: 0 })
    const ck = r2.findLastCheckpoint(w.switchPoints[0])
    t.ok(ck.lsn < w.switchPoints[0] && ck.redo <= ck.lsn && ck.tli === 1, `last checkpoint before the first switch: ${formatLsn(ck.lsn)}`)
    let between = 0
    r2.readUntil(ck.lsn, res.end, () => { between++ })
    t.ok(between > 0 && between < n.records, `read from that checkpoint to the end (${between} records)`)
    // backwards along xl_prev from the last record to the first
    let back = 0
    r2.walkBackward(res.lastRecord!, (_rec, lsn) => { back++; return lsn === start })
    t.equal(back, n.records, 'the backward walk visits every record')
  })
}
