import t from 'tap'
import { spawnSync } from 'node:child_process'
import { formatLsn, parseLsn, parseWalFileName, segNoToLsn } from '../lib/format/lsn'
import { versionInfo } from '../lib/format/versions'
import { WalReader } from '../lib/wal/reader'
import { rmgrName } from '../lib/wal/payloads'
import { FORK_NAMES } from '../lib/format/relpath'
import type { WalRecord } from '../lib/wal/record'
import { SegmentFiles } from '../lib/wal/segmentfiles'
import { debianPg15 } from './harness'
import { historyEntries, makeWalCluster, segmentFiles } from './helpers/wal-clusters'

/**
 * Differential oracle: Debian's pg_waldump 15 (-b: every block reference with fork,
 * image, hole and compression) against our decoder, record by record, on WAL written by
 * Debian's PostgreSQL 15 server (which supports wal_compression lz4 and zstd) over
 * timelines 1 → 2 → 3. pg_waldump reads one timeline at a time; we follow the history.
 */

const bin = debianPg15()
if (bin === null) throw new Error('Debian PostgreSQL 15 (/usr/lib/postgresql/15/bin/pg_waldump) is required for this test; install postgresql-15')

interface Line { rec: string, blocks: string[] }

function ours (rec: WalRecord): Line {
  const vi = versionInfo(15)
  const blocks = rec.blocks.map(b => {
    let s = `#${b.id} rel ${b.spcOid}/${b.dbOid}/${b.relNumber} fork ${FORK_NAMES[b.forkNumber]} blk ${b.blockNumber}`
    if (b.hasImage) {
      s += ` FPW${b.applyImage ? '' : ' for WAL verification'} hole ${b.holeOffset}/${b.holeLength}`
      if (b.compression !== 'none') s += ` saved ${8192 - b.holeLength - b.imageLength} ${b.compression}`
    }
    return s
  })
  return { rec: `${formatLsn(rec.lsn)} ${rmgrName(rec.rmid, vi)} ${rec.totLen - rec.fpiLength}/${rec.totLen} tx ${rec.xid} prev ${formatLsn(rec.prev)}`, blocks }
}

const REC = /^rmgr: (\S+)\s+len \(rec\/tot\):\s*(\d+)\/\s*(\d+), tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev ([0-9A-F]+\/[0-9A-F]+), desc: /
const BLK = /^\tblkref #(\d+): rel (\d+)\/(\d+)\/(\d+) (?:fork (\w+) )?blk (\d+)(?: \(FPW( for WAL verification)?\); hole: offset: (\d+), length: (\d+)(?:, compression saved: (\d+), method: (\w+))?)?$/

function waldump (walDir: string, tli: number, start: bigint, end: bigint | null): { lines: Line[], unparsed: string[], stderr: string } {
  const args = ['-b', '-p', walDir, '-t', String(tli), '-s', formatLsn(start)]
  if (end !== null) args.push('-e', formatLsn(end))
  const r = spawnSync(`${bin as string}/pg_waldump`, args, { encoding: 'utf8', maxBuffer: 1 << 30 })
  const lines: Line[] = []
  const unparsed: string[] = []
  for (const l of r.stdout.split('\n')) {
    if (l === '') continue
    const m = REC.exec(l)
    if (m !== null) {
      lines.push({ rec: `${formatLsn(parseLsn(m[5]))} ${m[1]} ${m[2]}/${m[3]} tx ${m[4]} prev ${formatLsn(parseLsn(m[6]))}`, blocks: [] })
      continue
    }
    const b = BLK.exec(l)
    if (b !== null && lines.length > 0) {
      let s = `#${b[1]} rel ${b[2]}/${b[3]}/${b[4]} fork ${b[5] ?? 'main'} blk ${b[6]}`
      if (b[8] !== undefined) {
        s += ` FPW${b[7] ?? ''} hole ${b[8]}/${b[9]}`
        if (b[10] !== undefined) s += ` saved ${b[10]} ${b[11]}`
      }
      lines[lines.length - 1].blocks.push(s)
      continue
    }
    unparsed.push(l)
  }
  return { lines, unparsed, stderr: r.stderr }
}

t.test('pg_waldump 15 and our decoder agree on every record and block reference', async t => {
  const w = await makeWalCluster(15, { bin: 'system' })
  t.teardown(w.destroy)
  t.ok(w.compressions.includes('lz4') && w.compressions.includes('zstd'), `Debian's PG15 accepts lz4 and zstd (${w.compressions.join(', ')})`)
  const vi = versionInfo(15)
  const hist = historyEntries(w.history3, 3)
  const files = new SegmentFiles(w.walDir, w.segSize)
  t.teardown(() => files.close())
  const reader = new WalReader(files, { version: vi, segSize: w.segSize, sysid: w.sysid, timelines: hist })
  const first = parseWalFileName(segmentFiles(w.walDir)[0], w.segSize)
  if (first === null) throw new Error('no WAL')
  const segStart = segNoToLsn(first.segNo, w.segSize)
  const start = reader.findNextRecord(segStart)

  const mine: Line[][] = [[], [], []]
  const methods = new Set<string>()
  const res = reader.scanToEnd(start, rec => {
    const tl = rec.lsn < w.switchPoints[0] ? 0 : rec.lsn < w.switchPoints[1] ? 1 : 2
    mine[tl].push(ours(rec))
    for (const b of rec.blocks) if (b.hasImage) methods.add(b.compression)
  })
  t.equal(res.clean, true, res.stop.message)
  t.same([...methods].sort(), ['lz4', 'none', 'pglz', 'zstd'], 'images of every compression method are present')

  const ranges: Array<[number, bigint, bigint | null]> = [[1, segStart, w.switchPoints[0]], [2, w.switchPoints[0], w.switchPoints[1]], [3, w.switchPoints[1], null]]
  let total = 0
  let totalBlocks = 0
  for (const [i, [tli, s, e]] of ranges.entries()) {
    const d = waldump(w.walDir, tli, s, e)
    t.same(d.unparsed.slice(0, 5), [], `TLI ${tli}: every pg_waldump output line understood`)
    t.equal(d.lines.length, mine[i].length, `TLI ${tli}: same number of records`)
    const theirs = d.lines.map(l => [l.rec, ...l.blocks].join('\n'))
    const ourl = mine[i].map(l => [l.rec, ...l.blocks].join('\n'))
    // compare as one list, but report only the first difference (a full diff of 60k lines is useless)
    const firstDiff = theirs.findIndex((x, k) => x !== ourl[k])
    t.equal(firstDiff, -1, `TLI ${tli}: identical records and block references${firstDiff >= 0 ? `; first difference:\npg_waldump: ${theirs[firstDiff]}\nours:       ${ourl[firstDiff]}` : ''}`)
    const blocks = d.lines.reduce((a, l) => a + l.blocks.length, 0)
    t.comment(`TLI ${tli}: ${d.lines.length} records, ${blocks} block references`)
    total += d.lines.length
    totalBlocks += blocks
    if (e === null) {
      t.match(d.stderr, new RegExp(`invalid record length at ${formatLsn(res.end)}: wanted 24, got 0`), 'pg_waldump stops where we found the end of WAL')
    }
  }
  t.comment(`total: ${total} records, ${totalBlocks} block references compared`)
  t.ok(total > 50000)
})
