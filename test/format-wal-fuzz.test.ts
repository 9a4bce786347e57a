import t from 'tap'
import { WalReader } from '../lib/wal/reader'
import { MemoryWalSource } from './helpers/memwal'
import { makeWalCluster } from './helpers/wal-clusters'
import { loadFuzzCorpus, runWalFuzz } from './helpers/walfuzz'
import { testMajors } from './harness'

/**
 * Bounded mutation fuzzing (a few seconds) over real WAL of one major (the newest in
 * PGREWIND_TEST_MAJORS, default 18): every corruption must end in a typed
 * PgRewindError, never a crash, a hang, or an inconsistent record. The longer run is
 * bench/fuzz-wal.ts.
 */

const majors = testMajors()
const major = majors[majors.length - 1]
const seed = Number(process.env.PGREWIND_FUZZ_SEED ?? (Date.now() % 0x7FFFFFFF))
const durationMs = Number(process.env.PGREWIND_FUZZ_MS ?? 3000)

t.test(`fuzz the WAL reader on mutated real PG${major} WAL (seed ${seed})`, async t => {
  const w = await makeWalCluster(major, { bigMessage: false })
  t.teardown(w.destroy)
  const { corpus, clean } = loadFuzzCorpus(w, major)
  t.equal(clean, true, 'the unmutated WAL reads cleanly')

  const res = runWalFuzz(corpus, { seed, durationMs })
  t.comment(`${res.iterations} mutations, ${res.readRecords} records read, errors: ${JSON.stringify(res.errorsByCode)}`)
  t.same(res.findings, [], `no crash, no untyped error, no inconsistent record (seed ${seed})`)
  t.ok(res.iterations > 50, 'enough iterations ran')
  for (const code of ['WAL_CRC', 'WAL_INVALID_RECORD', 'WAL_INVALID_PAGE', 'WAL_END']) t.ok((res.errorsByCode[code] ?? 0) > 0, `mutations were detected as ${code}`)

  // the undo is exact: the corpus still reads cleanly afterwards
  const again: bigint[] = []
  const r2 = new WalReader(new MemoryWalSource(corpus.segSize, corpus.files), { version: corpus.vi, segSize: corpus.segSize, sysid: corpus.sysid, timelines: corpus.timelines })
  r2.scanToEnd(corpus.records[0], rec => { again.push(rec.lsn) })
  t.same(again, corpus.records, 'mutations were undone')
})
