import { makeWalCluster, segmentFiles } from './helpers/wal-clusters'
import { spawnSync } from 'node:child_process'
async function main () {
  const w = await makeWalCluster(15, { bin: 'system' })
  console.log(w.compressions, segmentFiles(w.walDir), w.history3)
  const r = spawnSync('/usr/lib/postgresql/15/bin/pg_waldump', ['-p', w.walDir, '-t', '1', '-s', '0/1000000', '-e', '0/1100000'], { encoding: 'utf8', maxBuffer: 1 << 30 })
  const lines = r.stdout.split('\n')
  console.log(lines.slice(0, 5).join('\n'))
  console.log(lines.filter(l => l.includes('FPW')).slice(0, 5).join('\n'))
  const r2 = spawnSync('/usr/lib/postgresql/15/bin/pg_waldump', ['-b', '-p', w.walDir, '-t', '1', '-s', '0/1000000', '-e', '0/1100000'], { encoding: 'utf8', maxBuffer: 1 << 30 })
  const l2 = r2.stdout.split('\n')
  console.log(l2.slice(0, 8).join('\n'))
  const i = l2.findIndex(l => l.includes('FPW'))
  console.log(l2.slice(i - 2, i + 4).join('\n'))
  console.log(l2.filter(l => /compression/.test(l)).slice(0,3).join('\n'))
  console.log(r.stderr)
  await w.destroy()
}
main().catch(e => { console.error(e); process.exit(1) })
