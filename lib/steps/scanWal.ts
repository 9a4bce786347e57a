import { formatLsn, parseLsn } from '../format/lsn'
import { relationPath } from '../format/relpath'
import { isParameterChange, specialRecordKind, unrecognizedSpecialRecordError } from '../wal/payloads'
import { WalRecord } from '../wal/record'
import { ChangedBlocks, RelFileIndex, SlotBlocks } from '../rewind/relfiles'
import type { TimelineHistoryEntry } from '../format/timeline'
import { checkTargetUnchanged, ClusterInfo, readClusterInfo, readHistory } from '../rewind/clusterinfo'
import { localReader } from '../datadir/files'
import { HintScan, Ports, ScanResult, ScanWalInput } from './types'
import type { VersionInfo } from '../format/versions'
import type { WalReader } from '../wal/reader'
import { openTargetWal } from '../wal/targetwal'
import { DiscardCollector, RawDiscards } from '../rewind/discardcollector'
import { buildDiscardReport } from '../rewind/discardreport'
import { emptyDiscardReport } from '../rewind/discards'
import { FileNameLookup } from '../catalog/names'
import { indexesOfHeaps } from '../catalog/indexes'
import { HintCollector, hintRuleWhy, oldestXid as oldestOf, RelationBlocks, searchBack } from '../rewind/hintrule'
import { ForkNumber } from '../format/relpath'
import { settleHeap } from '../heap'

/** Relation files named after the fork from which the heap's growth is bounded before naming them (lib/heap.ts). */
const MANY_FILES = 10000

/**
 * Step 2: read the target's WAL from the last common checkpoint to its end and
 * collect every main-fork block it changed (pg_rewind's extractPageMap). Those
 * blocks must be fetched back from the source. On the way, what the records after
 * the divergence point did (transactions, rows, relations, databases) becomes the
 * report of what the rewind discards, named from the target's catalog files.
 */
export async function scanWal (input: ScanWalInput, ports: Ports): Promise<ScanResult> {
  const d = input.divergence
  const pgdata = input.target.pgdata
  const readTarget = localReader(pgdata, 'target')
  const target = await readClusterInfo(readTarget, 'target')
  checkTargetUnchanged(target, d.target.controlDigest, 'the divergence')
  if (!d.rewindNeeded || d.lastCommonCheckpoint === null) {
    return { from: d.targetWalEnd, to: d.targetWalEnd, records: 0, walBytes: 0, changedBlocks: ChangedBlocks.none(), blocks: 0, parameterChangeAfterFork: null, hints: null, discards: emptyDiscardReport(d.targetWalEnd, d.targetWalEnd) }
  }
  const history = await readHistory(readTarget, target.tli)
  const vi = target.version
  const from = parseLsn(d.lastCommonCheckpoint.lsn)
  const to = parseLsn(d.targetWalEnd)
  const read = await readTargetWal(input, target, history, from, to, ports)
  // naming many files reads whole catalogs: the biggest spike of a plan of many files (lib/heap.ts)
  settleHeap(read.raw.files.length >= MANY_FILES)
  ports.log.debug('reading the target\'s catalog for the names of what the rewind discards')
  const report = await buildDiscardReport(read.raw, new FileNameLookup(pgdata, 'target', vi))
  const { changedBlocks, blocks, records, parameterChange, hints } = read
  return { from: formatLsn(from), to: formatLsn(to), records, walBytes: Number(to - from), changedBlocks, blocks, parameterChangeAfterFork: parameterChange === null ? null : formatLsn(parameterChange), hints, discards: report }
}

/**
 * The WAL read: every changed block, what the records after the fork did, the hint
 * rule's blocks. Its own function so that what it collects in (the files' slots and
 * block maps, the hint collector) is gone before the catalog is read for names.
 */
async function readTargetWal (input: ScanWalInput, target: ClusterInfo, history: TimelineHistoryEntry[], from: bigint, to: bigint, ports: Ports): Promise<{
  changedBlocks: ChangedBlocks, blocks: number, records: number, parameterChange: bigint | null, hints: HintScan | null, raw: RawDiscards
}> {
  const d = input.divergence
  const pgdata = input.target.pgdata
  const opts = input.options ?? {}
  const vi = target.version
  const relsegSize = target.control.relsegSize
  const files = new RelFileIndex()
  const changed = new SlotBlocks()
  let records = 0
  let lastReport = 0
  const fork = parseLsn(d.divergeLsn)
  let parameterChange: bigint | null = null
  const total = Number(to - from)
  ports.log.progress('reading WAL in target')
  // one index of the files met for both: the collector's files are their segment 0
  const discards = new DiscardCollector(vi, parseLsn(d.divergeLsn), to, files)
  // the hint rule's inputs: unless block comparison is asked for, whatever pg_control says
  // (a PARAMETER_CHANGE record after the fork, seen only on the way, may call for the rule)
  const hintCollector = opts.compareBlocks === true ? null : new HintCollector(vi, fork)
  let hints: HintScan | null = null
  const wal = openTargetWal(pgdata, target, history, opts)
  try {
    wal.reader.readUntil(from, to, (rec: WalRecord) => {
      records++
      discards.onRecord(rec)
      hintCollector?.onRecord(rec)
      if (specialRecordKind(rec, vi) === 'unrecognized-special') throw unrecognizedSpecialRecordError(rec, vi)
      // a restart with other settings after the fork: hint logging may have been off before it
      if (parameterChange === null && isParameterChange(rec) && rec.lsn >= fork) parameterChange = rec.lsn
      for (const b of rec.blocks) {
        if (b.forkNumber !== 0) continue // other forks are copied whole
        const seg = Math.floor(b.blockNumber / relsegSize)
        changed.mark(files.slot(b.spcOid, b.dbOid, b.relNumber, seg), b.blockNumber % relsegSize)
      }
      if ((records & 0x3FFF) === 0) {
        ports.checkCancelled?.()
        const done = Number(rec.end - from)
        if (ports.progress !== undefined && done - lastReport > 0) {
          lastReport = done
          ports.progress({ phase: 'scanWal', done, total })
        }
      }
    })
    const why = hintRuleWhy(d.hintsLogged, parameterChange)
    if (hintCollector !== null && why !== null) hints = await hintRule(hintCollector, why, wal.reader, from, pgdata, vi, relsegSize, ports)
  } finally {
    wal.close()
  }
  ports.progress?.({ phase: 'scanWal', done: total, total })

  const changedBlocks = new ChangedBlocks(files, changed, vi)
  return { changedBlocks, blocks: changedBlocks.count, records, parameterChange, hints, raw: discards.finish() }
}

/**
 * The hint rule (lib/rewind/hintrule.ts): the blocks of the transactions that ended
 * after the divergence, from the WAL before the last common checkpoint, and the
 * indexes of the heaps with tuples deleted or updated by such transactions, named
 * from the target's catalog files.
 */
async function hintRule (c: HintCollector, why: string, reader: WalReader, from: bigint, pgdata: string, vi: VersionInfo,
  relsegSize: number, ports: Ports): Promise<HintScan> {
  c.finish()
  const earlier = new RelationBlocks(relsegSize)
  if (c.ended.size > 0) ports.log.progress(`searching the WAL before ${formatLsn(from)} for the blocks of ${c.transactions} transactions that ended after the divergence`)
  const sb = searchBack(reader, from, c.ended, vi, rec => {
    earlier.addRecord(rec)
    c.onEarlierRecord(rec)
  }, ports.checkCancelled)
  const { blocks, count } = earlier.toRecord(vi)
  const heaps = [...c.heaps.values()]
  ports.log.debug(`hint rule: ${c.transactions} transactions (${c.ended.size} xids), WAL searched back to ${formatLsn(sb.stoppedAt)} (${sb.stop}, ${sb.records} records): ${count} blocks; ${heaps.length} heaps with deleted or updated rows`)
  const idx = await indexesOfHeaps(pgdata, vi, heaps)
  return {
    why,
    transactions: c.transactions,
    xids: c.ended.size,
    oldestXid: oldestOf(c.ended),
    searchedBackTo: formatLsn(sb.stoppedAt),
    searchStop: sb.stop,
    searchRecords: sb.records,
    searchWalBytes: sb.walBytes,
    blocks,
    blockCount: count,
    heaps: heaps.length,
    heapsResolved: idx.heapsResolved,
    indexFiles: idx.indexes.map(l => relationPath(l, vi, { fork: ForkNumber.MAIN })).sort(),
    wholeDatabases: idx.wholeDatabases
  }
}
