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
import { SUPPORTED_MAJORS } from '../../lib/format/versions'
import { makeWalCluster } from '../helpers/wal-clusters'
import { loadFuzzCorpus, runWalFuzz } from '../helpers/walfuzz'

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
      const { corpus } = loadFuzzCorpus(w, major)
      const res = runWalFuzz(corpus, { seed: seed + major, durationMs: seconds * 1000 / majors.length })
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
