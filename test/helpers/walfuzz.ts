import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isPgRewindError } from '../../lib/errors'
import { formatLsn, parseWalFileName, segNoToLsn, walFileName } from '../../lib/format/lsn'
import { versionInfo, type VersionInfo } from '../../lib/format/versions'
import { WalReader } from '../../lib/wal/reader'
import { MemoryWalSource } from './memwal'
import type { TimelineHistoryEntry } from '../../lib/format/timeline'
import { decodeRecord, recordCrc, type WalRecord } from '../../lib/wal/record'
import { specialRecordKind } from '../../lib/wal/payloads'
import { xorshift32 } from './rng'
import { historyEntries, segmentFiles, type WalCluster } from './wal-clusters'

/**
 * Mutation fuzzing of the WAL decoders over real WAL held in memory. Each iteration
 * mutates a few bytes near a random record (record header, block headers, page
 * header fields, lengths, whole pages zeroed, segment truncated, segment removed),
 * reads around it sequentially and at random positions, and undoes the mutation.
 * Every failure must be a PgRewindError; every record returned must be internally
 * consistent. Anything else is a finding (returned, with the seed and iteration).
 */

export interface FuzzCorpus {
  vi: VersionInfo
  segSize: number
  sysid: bigint | null
  files: Map<string, Buffer>
  timelines: TimelineHistoryEntry[]
  /** record start LSNs of the clean WAL */
  records: bigint[]
}

/**
 * A cluster's WAL (timelines 1→2→3) loaded into memory, with the start of every record
 * of the clean WAL; `clean` tells whether that unmutated WAL read to a clean end.
 */
export function loadFuzzCorpus (w: WalCluster, major: number): { corpus: FuzzCorpus, clean: boolean } {
  const vi = versionInfo(major)
  const files = new Map<string, Buffer>()
  for (const f of segmentFiles(w.walDir)) files.set(f, readFileSync(join(w.walDir, f)))
  const timelines = historyEntries(w.history3, 3)
  const reader = new WalReader(new MemoryWalSource(w.segSize, files), { version: vi, segSize: w.segSize, sysid: w.sysid, timelines })
  const first = parseWalFileName(segmentFiles(w.walDir)[0], w.segSize)
  if (first === null) throw new Error('no WAL')
  const records: bigint[] = []
  const end = reader.scanToEnd(reader.findNextRecord(segNoToLsn(first.segNo, w.segSize)), rec => { records.push(rec.lsn) })
  return { corpus: { vi, segSize: w.segSize, sysid: w.sysid, files, timelines, records }, clean: end.clean }
}

export interface FuzzResult {
  iterations: number
  readRecords: number
  errorsByCode: Record<string, number>
  findings: string[]
  seed: number
}

/** Uniform in [0, 1), reproducible from the printed seed. */
export function rng (seed: number): () => number {
  const next = xorshift32((seed >>> 0) || 0x9E3779B9)
  return () => next() / 0x100000000
}

function checkRecord (rec: WalRecord, vi: VersionInfo): string | null {
  const end = rec.start + rec.totLen
  if (rec.totLen < 24) return `totLen ${rec.totLen}`
  if (end > rec.buf.length) return 'record beyond its buffer'
  if (rec.mainDataOffset + rec.mainDataLength !== end) return 'main data does not end the record'
  let prevId = -1
  for (const b of rec.blocks) {
    if (b.id <= prevId || b.id > 32) return `block id order ${b.id}`
    prevId = b.id
    if (b.dataOffset < rec.start + 24 || b.dataOffset + b.dataLength > end) return 'block data outside the record'
    if (b.hasImage && (b.imageOffset < rec.start + 24 || b.imageOffset + b.imageLength > end)) return 'image outside the record'
    if (b.hasImage && b.holeOffset + b.holeLength > 8192 && b.compression === 'none') return 'hole beyond the page'
  }
  if (rec.end <= rec.lsn) return 'end before start'
  specialRecordKind(rec, vi)
  return null
}

export function runWalFuzz (c: FuzzCorpus, opts: { seed: number, durationMs?: number, iterations?: number, recordsPerRead?: number }): FuzzResult {
  const rand = rng(opts.seed)
  const ri = (n: number): number => Math.floor(rand() * n)
  const names = [...c.files.keys()]
  const res: FuzzResult = { iterations: 0, readRecords: 0, errorsByCode: {}, findings: [], seed: opts.seed }
  const deadline = Date.now() + (opts.durationMs ?? 3000)
  const maxIter = opts.iterations ?? Number.POSITIVE_INFINITY
  const perRead = opts.recordsPerRead ?? 40
  const seg = BigInt(c.segSize)
  const fileOf = (lsn: bigint): string | null => {
    const segNo = lsn / seg
    for (let i = c.timelines.length - 1; i >= 0; i--) {
      const n = walFileName(c.timelines[i].tli, segNo, c.segSize)
      if (c.files.has(n)) return n
    }
    return null
  }

  while (res.iterations < maxIter && Date.now() < deadline) {
    res.iterations++
    const idx = ri(c.records.length)
    const lsn = c.records[idx]
    const name = fileOf(lsn) ?? names[ri(names.length)]
    const file = c.files.get(name) as Buffer
    const off = Number(lsn % seg)
    const undo: Array<[number, number]> = []
    const set = (pos: number, v: number): void => {
      if (pos < 0 || pos >= file.length) return
      undo.push([pos, file[pos]])
      file[pos] = v & 0xFF
    }
    let removed: Buffer | null = null
    let truncatedName: string | null = null
    const op = ri(13)
    switch (op) {
      case 10: // structure fuzzing: mutate a one-page record's body or header and fix its CRC,
      case 11: // so that the fragment decoder (not the CRC) has to reject or accept it
      case 12: {
        const len = file.readUInt32LE(off)
        if (len < 24 || (off % 8192) + len > 8192) break
        const n = 1 + ri(3)
        for (let k = 0; k < n; k++) {
          const p = op === 12 ? off + 16 + ri(2) : off + 24 + ri(Math.max(1, len - 24))
          set(p, ri(4) === 0 ? ri(256) : file[p] ^ (1 << ri(8)))
        }
        const crc = recordCrc(file, off, len)
        for (let k = 0; k < 4; k++) set(off + 20 + k, (crc >>> (8 * k)) & 0xFF)
        break
      }
      case 0: // random bit flips in the record area
      case 1:
        for (let k = 1 + ri(4); k > 0; k--) { const p = off + ri(256); set(p, file[p] ^ (1 << ri(8))) }
        break
      case 2: // random bytes in the record header (length, prev, info, rmid)
        for (let k = 1 + ri(3); k > 0; k--) set(off + ri(24), ri(256))
        break
      case 3: { // a plausible but wrong total length
        const v = [0, 1, 23, 24, 25, 8192, 16384, 0x7FFFFFFF, 0xFFFFFFFF, ri(70000)][ri(10)]
        for (let k = 0; k < 4; k++) set(off + k, (v >>> (8 * k)) & 0xFF)
        break
      }
      case 4: { // page header fields of a nearby page
        const page = off - (off % 8192) + 8192 * ri(3)
        const field = [0, 1, 2, 3, 4, 8, 9, 12, 16, 17, 19, 24, 32, 36][ri(14)]
        set(page + field, ri(256))
        break
      }
      case 5: { // zero a whole page
        const page = off - (off % 8192) + 8192 * ri(2)
        for (let k = 0; k < 8192; k++) set(page + k, 0)
        break
      }
      case 6: // block header bytes right after the record header
        for (let k = 1 + ri(3); k > 0; k--) set(off + 24 + ri(40), ri(256))
        break
      case 7: { // truncate the segment near the record
        truncatedName = name
        c.files.set(name, file.subarray(0, Math.max(0, off - (off % 8192) + ri(3 * 8192))))
        break
      }
      case 8: { // remove the next segment
        const n = fileOf(lsn + seg)
        if (n !== null) { removed = c.files.get(n) as Buffer; c.files.delete(n); truncatedName = n }
        break
      }
      default: // rem_len of the following page
        set(off - (off % 8192) + 8192 + 16 + ri(4), ri(256))
    }

    try {
      const reader = new WalReader(new MemoryWalSource(c.segSize, c.files), { version: c.vi, segSize: c.segSize, sysid: c.sysid, timelines: c.timelines })
      const from = c.records[Math.max(0, idx - 1 - ri(3))]
      // sequential
      try {
        reader.beginRead(from)
        for (let k = 0; k < perRead; k++) {
          const rec = reader.next()
          res.readRecords++
          const bad = checkRecord(rec, c.vi)
          if (bad !== null) res.findings.push(`iteration ${res.iterations} op ${op}: inconsistent record at ${formatLsn(rec.lsn)}: ${bad}`)
        }
      } catch (e) {
        if (!isPgRewindError(e)) throw e
        res.errorsByCode[e.code] = (res.errorsByCode[e.code] ?? 0) + 1
      }
      // random access at the record and at an arbitrary aligned position nearby
      for (const at of [lsn, lsn + BigInt(8 * ri(2048))]) {
        try {
          const rec = reader.readRecord(at)
          res.readRecords++
          const bad = checkRecord(rec, c.vi)
          if (bad !== null) res.findings.push(`iteration ${res.iterations} op ${op}: inconsistent record at ${formatLsn(rec.lsn)}: ${bad}`)
        } catch (e) {
          if (!isPgRewindError(e)) throw e
          res.errorsByCode[e.code] = (res.errorsByCode[e.code] ?? 0) + 1
        }
      }
      // the record decoder alone on a mutated slice
      try {
        decodeRecord(file, off, lsn, c.vi)
      } catch (e) {
        if (!isPgRewindError(e)) throw e
      }
    } catch (e) {
      res.findings.push(`iteration ${res.iterations} op ${op} at ${formatLsn(lsn)}: untyped ${(e as Error)?.stack ?? String(e)}`)
    } finally {
      for (let k = undo.length - 1; k >= 0; k--) file[undo[k][0]] = undo[k][1]
      if (truncatedName !== null) c.files.set(truncatedName, removed ?? file)
    }
  }
  return res
}
