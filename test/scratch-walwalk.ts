import { makeWalCluster, historyEntries, segmentFiles } from './helpers/wal-clusters'
import { WalReader } from '../lib/format/walreader'
import { SegmentFiles } from '../lib/wal/segmentfiles'
import { versionInfo } from '../lib/format/versions'
import { parseWalFileName, segNoToLsn, formatLsn } from '../lib/format/lsn'
import { rmgrName, specialRecordKind } from '../lib/format/walpayloads'

async function main () {
  const major = Number(process.argv[2] ?? 16)
  let t0 = Date.now()
  const w = await makeWalCluster(major)
  console.log('cluster made in', Date.now() - t0, 'ms', w.compressions, segmentFiles(w.walDir), w.history3)
  try {
    const vi = versionInfo(major)
    const hist = historyEntries(w.history3, 3)
    const src = new SegmentFiles(w.walDir, w.segSize)
    const r = new WalReader(src, { version: vi, segSize: w.segSize, sysid: w.sysid, timelines: hist })
    const first = parseWalFileName(segmentFiles(w.walDir)[0], w.segSize)!
    t0 = Date.now()
    const start = r.findNextRecord(segNoToLsn(first.segNo, w.segSize))
    const stats = new Map<string, number>()
    const res = r.scanToEnd(start, rec => {
      const k = rmgrName(rec.rmid, vi) + ':' + rec.rmgrInfo.toString(16) + (rec.info & 1 ? '+S' : '') + ':' + specialRecordKind(rec, vi)
      stats.set(k, (stats.get(k) ?? 0) + 1)
      for (const b of rec.blocks) if (b.hasImage) { const kk = 'img:' + b.compression + ':' + b.bimgInfo.toString(16); stats.set(kk, (stats.get(kk) ?? 0) + 1) }
      if (rec.toplevelXid) stats.set('toplevel', (stats.get('toplevel') ?? 0) + 1)
      if (rec.origin) stats.set('origin', (stats.get('origin') ?? 0) + 1)
      if (rec.totLen > 8192) stats.set('multipage', (stats.get('multipage') ?? 0) + 1)
    })
    console.log('scan', Date.now() - t0, 'ms', res.records, formatLsn(res.end), res.clean, res.stop.message, 'ckpt', formatLsn(w.checkPoint))
    console.log([...stats.entries()].sort())
    console.log(src.openedFiles)
  } finally { await w.destroy() }
}
main().catch(e => { console.error(e); process.exit(1) })
