import { createHash } from 'node:crypto'
import { RangeReader } from '../datadir/files'
import { PgRewindError } from '../errors'
import { BLCKSZ } from '../format/versions'
import { RewindSource } from '../source/types'
import { BlockBitmap, BlockRanges } from './blockranges'

/**
 * Block comparison: which blocks of a relation file differ between target and
 * source, found by reading them rather than from the WAL. It needs nothing of the
 * WAL, so it is right where the WAL cannot say what changed (hint bits set without
 * wal_log_hints or data checksums, WAL that no longer reaches back) and it doubles
 * as a verifier. A local source is compared byte for byte; a source server hashes
 * its files itself (md5 of 1 MiB chunks, then of the blocks of the chunks that
 * differ), so the network carries hashes and only the verdict, not the cluster.
 */

export interface CompareCandidate {
  path: string
  /** compare blocks [0, blocks): those both copies have */
  blocks: number
}

export interface CompareStats {
  files: number
  blocksCompared: number
  blocksDiffering: number
  /** bytes read from the target's files */
  targetBytesRead: number
  /** bytes the source read (its whole candidate files, locally or on the server) */
  sourceBytesRead: number
  /** bytes received from a source server (hashes); 0 for a local source */
  bytesReceived: number
}

const CHUNK = 1024 * 1024
const BLOCKS_PER_CHUNK = CHUNK / BLCKSZ

export function md5 (b: Buffer): string {
  return createHash('md5').update(b).digest('hex')
}

export async function compareBlocks (pgdata: string, candidates: CompareCandidate[], source: RewindSource,
  o: { checkCancelled?: () => void, progress?: (done: number, total: number) => void } = {}): Promise<{ differing: Map<string, BlockRanges>, stats: CompareStats }> {
  const stats: CompareStats = { files: 0, blocksCompared: 0, blocksDiffering: 0, targetBytesRead: 0, sourceBytesRead: 0, bytesReceived: 0 }
  const differing = new Map<string, BlockRanges>()
  const mine = new RangeReader(pgdata, 'target')
  const theirs = source.kind === 'local' && source.pgdata !== undefined ? new RangeReader(source.pgdata, 'source') : null
  const total = candidates.reduce((n, c) => n + c.blocks, 0)
  let done = 0
  try {
    for (const c of candidates) {
      if (c.blocks <= 0) continue
      o.checkCancelled?.()
      stats.files++
      const bits = new BlockBitmap()
      let any = false
      const mark = (blk: number): void => { bits.mark(blk); any = true; stats.blocksDiffering++ }
      if (theirs !== null) {
        for (let first = 0; first < c.blocks; first += BLOCKS_PER_CHUNK) {
          const n = Math.min(BLOCKS_PER_CHUNK, c.blocks - first)
          const a = mine.read(c.path, first * BLCKSZ, n * BLCKSZ)
          const b = theirs.read(c.path, first * BLCKSZ, n * BLCKSZ)
          stats.targetBytesRead += a.length
          stats.sourceBytesRead += b.length
          if (a.equals(b)) continue
          for (let k = 0; k < n; k++) {
            const x = a.subarray(k * BLCKSZ, (k + 1) * BLCKSZ)
            const y = b.subarray(k * BLCKSZ, (k + 1) * BLCKSZ)
            if (!x.equals(y)) mark(first + k)
          }
        }
      } else {
        if (source.rangeHashes === undefined) throw new PgRewindError('INTERNAL', 'the source cannot hash its files')
        const chunks = Math.ceil(c.blocks / BLOCKS_PER_CHUNK)
        const remote = await source.rangeHashes(c.path, 0, c.blocks * BLCKSZ, CHUNK)
        stats.sourceBytesRead += c.blocks * BLCKSZ
        stats.bytesReceived += remote.length * 32
        for (let i = 0; i < chunks; i++) {
          const first = i * BLOCKS_PER_CHUNK
          const n = Math.min(BLOCKS_PER_CHUNK, c.blocks - first)
          const local = mine.read(c.path, first * BLCKSZ, n * BLCKSZ)
          stats.targetBytesRead += local.length
          if (remote[i] === md5(local)) continue
          // narrow down: the blocks of this chunk
          const localBlocks = Array.from({ length: n }, (_, k) => md5(local.subarray(k * BLCKSZ, (k + 1) * BLCKSZ)))
          const remoteBlocks = await source.rangeHashes(c.path, first * BLCKSZ, n * BLCKSZ, BLCKSZ)
          stats.bytesReceived += remoteBlocks.length * 32
          for (let k = 0; k < n; k++) if (remoteBlocks[k] !== localBlocks[k]) mark(first + k)
        }
      }
      stats.blocksCompared += c.blocks
      if (any) differing.set(c.path, bits.toRanges())
      done += c.blocks
      o.progress?.(done, total)
    }
  } finally {
    mine.close()
    theirs?.close()
  }
  return { differing, stats }
}
