import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseWalFileName, segNoToLsn } from '../lib/format/lsn'
import { SUPPORTED_MAJORS, versionInfo } from '../lib/format/versions'
import { MemoryWalSource, WalReader } from '../lib/format/walreader'
import { historyEntries, makeWalCluster, segmentFiles } from './helpers/wal-clusters'
import { runWalFuzz, type FuzzCorpus } from './helpers/walfuzz'

/**
 * Bounded mutation fuzzing (a few seconds) over real WAL of one major (the newest in
 * PGREWIND_TEST_MAJORS, default 18): every corruption must end in a typed
 * PgRewindError, never a crash, a hang, or an inconsistent record. The longer run is
 * bench/fuzz-wal.ts.
 */

const majors = process.env.PGREWIND_TEST_MAJORS !== undefined
  ? process.env.PGREWIND_TEST_MAJORS.split(',').map(Number)
  : [...SUPPORTED_MAJORS]
const major = majors[majors.length - 1]
const seed = Number(process.env.PGREWIND_FUZZ_SEED ?? (Date.now() % 0x7FFFFFFF))
const durationMs = Number(process.env.PGREWIND_FUZZ_MS ?? 3000)

t.test(`fuzz the WAL reader on mutated real PG${major} WAL (seed ${seed})`, async t => {
  const w = await makeWalCluster(major, { bigMessage: false })
  t.teardown(w.destroy)
  const vi = versionInfo(major)
  const files = new Map<string, Buffer>()
  for (const f of segmentFiles(w.walDir)) files.set(f, readFileSync(join(w.walDir, f)))
  const timelines = historyEntries(w.history3, 3)
  const reader = new WalReader(new MemoryWalSource(w.segSize, files), { version: vi, segSize: w.segSize, sysid: w.sysid, timelines })
  const first = parseWalFileName(segmentFiles(w.walDir)[0], w.segSize)
  if (first === null) throw new Error('no WAL')
  const records: bigint[] = []
  const clean = reader.scanToEnd(reader.findNextRecord(segNoToLsn(first.segNo, w.segSize)), rec => { records.push(rec.lsn) })
  t.equal(clean.clean, true, 'the unmutated WAL reads cleanly')
  const corpus: FuzzCorpus = { vi, segSize: w.segSize, sysid: w.sysid, files, timelines, records }

  const res = runWalFuzz(corpus, { seed, durationMs })
  t.comment(`${res.iterations} mutations, ${res.readRecords} records read, errors: ${JSON.stringify(res.errorsByCode)}`)
  t.same(res.findings, [], `no crash, no untyped error, no inconsistent record (seed ${seed})`)
  t.ok(res.iterations > 50, 'enough iterations ran')
  for (const code of ['WAL_CRC', 'WAL_INVALID_RECORD', 'WAL_INVALID_PAGE', 'WAL_END']) t.ok((res.errorsByCode[code] ?? 0) > 0, `mutations were detected as ${code}`)

  // the undo is exact: the corpus still reads cleanly afterwards
  const again: bigint[] = []
  const r2 = new WalReader(new MemoryWalSource(w.segSize, files), { version: vi, segSize: w.segSize, sysid: w.sysid, timelines })
  r2.scanToEnd(records[0], rec => { again.push(rec.lsn) })
  t.same(again, records, 'mutations were undone')
})
