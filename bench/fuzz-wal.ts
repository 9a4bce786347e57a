/**
 * Longer mutation fuzzing of the WAL reader over real WAL (see test/helpers/walfuzz.ts;
 * the test suite runs a few seconds of the same, test/format-wal-fuzz.test.ts).
 *
 *   npx ts-node --transpile-only bench/fuzz-wal.ts [--seconds 60] [--majors 13,15,18] [--seed N]
 *
 * For each major: a real cluster with the WAL workload (timelines 1→2→3), all segments
 * loaded in memory, then mutations for the given time. Exits 1 on any finding (a crash,
 * an untyped error, an inconsistent record), printing the seed to reproduce it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseWalFileName, segNoToLsn } from '../lib/format/lsn'
import { SUPPORTED_MAJORS, versionInfo } from '../lib/format/versions'
import { MemoryWalSource, WalReader } from '../lib/format/walreader'
import { historyEntries, makeWalCluster, segmentFiles } from '../test/helpers/wal-clusters'
import { runWalFuzz } from '../test/helpers/walfuzz'

function arg (name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : def
}

async function main (): Promise<number> {
  const seconds = Number(arg('seconds', '60'))
  const majors = arg('majors', SUPPORTED_MAJORS.join(',')).split(',').map(Number)
  const seed = Number(arg('seed', String(Date.now() % 0x7FFFFFFF)))
  let findings = 0
  for (const major of majors) {
    const w = await makeWalCluster(major, { bigMessage: false })
    try {
      const vi = versionInfo(major)
      const files = new Map<string, Buffer>()
      for (const f of segmentFiles(w.walDir)) files.set(f, readFileSync(join(w.walDir, f)))
      const timelines = historyEntries(w.history3, 3)
      const reader = new WalReader(new MemoryWalSource(w.segSize, files), { version: vi, segSize: w.segSize, sysid: w.sysid, timelines })
      const first = parseWalFileName(segmentFiles(w.walDir)[0], w.segSize)
      if (first === null) throw new Error('no WAL')
      const records: bigint[] = []
      reader.scanToEnd(reader.findNextRecord(segNoToLsn(first.segNo, w.segSize)), rec => { records.push(rec.lsn) })
      const res = runWalFuzz({ vi, segSize: w.segSize, sysid: w.sysid, files, timelines, records }, { seed: seed + major, durationMs: seconds * 1000 / majors.length })
      console.log(`PG${major} seed ${seed + major}: ${res.iterations} mutations, ${res.readRecords} records read, errors ${JSON.stringify(res.errorsByCode)}, findings ${res.findings.length}`)
      for (const f of res.findings.slice(0, 20)) console.log('  ' + f)
      findings += res.findings.length
    } finally {
      await w.destroy()
    }
  }
  return findings === 0 ? 0 : 1
}

main().then(code => process.exit(code), e => { console.error(e); process.exit(1) })
