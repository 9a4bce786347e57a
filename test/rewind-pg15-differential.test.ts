import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { isRelationDataFile } from '../lib/format/relpath'
import { versionInfo } from '../lib/format/versions'
import { compareContents, debianPg15, diverge, pgrewind, rejoinAndCompare, run, withPair } from './harness'

/**
 * Differential against PostgreSQL's own pg_rewind (Debian's 15, installed by
 * .ci/run): on the same diverged PostgreSQL 15 pair, the file maps must agree for
 * every relation file, and both tools' results must rejoin with identical contents.
 */

type FileMap = Map<string, { action: string, blocks: number[] }>

function parseDebugMap (stderr: string, prefix: string): FileMap {
  const map: FileMap = new Map()
  let cur: { action: string, blocks: number[] } | null = null
  const re = new RegExp(`^${prefix}: (.*)$`)
  for (const line of stderr.split('\n')) {
    const m = re.exec(line)
    if (m === null) continue
    const body = m[1]
    const b = /^block (\d+)$/.exec(body)
    if (b !== null && cur !== null) { cur.blocks.push(Number(b[1])); continue }
    const e = /^(.+) \((COPY|COPY_TAIL|NONE|TRUNCATE|REMOVE|CREATE)\)$/.exec(body)
    if (e !== null) {
      cur = { action: e[2], blocks: [] }
      map.set(e[1], cur)
    } else cur = null
  }
  return map
}

const bin = debianPg15()
t.ok(bin !== null, 'Debian\'s PostgreSQL 15 client tools are installed (.ci/run installs postgresql-15)')

if (bin !== null) {
  t.test('file maps and rewound results equal C pg_rewind 15', async t => {
    const pgRewindC = join(bin!, 'pg_rewind')
    t.ok(existsSync(pgRewindC))
    const pair = await withPair(t, { major: 15, tablespace: true })
    await diverge(pair, { targetStop: 'crash', heavy: true })
    // C pg_rewind refuses a dry run on a crashed target; recover it once for both tools.
    await pair.target.start()
    await pair.target.stop()

    const args = ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '--dry-run', '--debug']
    const c = await run(pgRewindC, args)
    t.equal(c.code, 0, c.stderr.slice(-500))
    const ours = await pgrewind(args)
    t.equal(ours.code, 0, ours.stderr.slice(-500))
    const cMap = parseDebugMap(c.stderr, 'pg_rewind')
    const oMap = parseDebugMap(ours.stderr, 'pgrewind')
    const v = versionInfo(15)
    const rel = (m: FileMap): string[] => [...m.keys()].filter(p => isRelationDataFile(p, v)).sort()
    t.ok(rel(cMap).length > 10, `pg_rewind's map has relation files (${rel(cMap).length})`)
    t.same(rel(oMap), rel(cMap), 'the same relation files need work')
    let blocks = 0
    for (const p of rel(cMap)) {
      t.same(oMap.get(p), cMap.get(p), `${p}: same action and blocks`, { diagnostic: false })
      blocks += cMap.get(p)!.blocks.length
    }
    t.ok(blocks > 100, `many changed blocks compared (${blocks})`)
    t.match(ours.stderr, new RegExp(/servers diverged at WAL location (\S+) on timeline 1/.exec(c.stderr)![0].replace(/[()/]/g, '\\$&')), 'same divergence point')
    t.match(ours.stderr, new RegExp(/rewinding from last common checkpoint at \S+ on timeline 1/.exec(c.stderr)![0].replace(/[()/]/g, '\\$&')), 'same common checkpoint')

    // Both tools rewind copies of the same pair; both results rejoin with identical contents.
    const targetC = pair.target.clone('target_c')
    const sourceC = pair.source.clone('source_c')
    t.teardown(async () => { await targetC.destroy(); await sourceC.destroy() })
    const rc = await run(pgRewindC, ['-D', targetC.dataDir, '--source-pgdata', sourceC.dataDir])
    t.equal(rc.code, 0, rc.stderr.slice(-500))
    const ro = await pgrewind(['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir])
    t.equal(ro.code, 0, ro.stderr.slice(-500))
    t.same(await rejoinAndCompare(targetC, sourceC), [], 'C pg_rewind\'s result rejoins')
    t.same(await rejoinAndCompare(pair.target, pair.source), [], 'our result rejoins')
    t.same(await compareContents(pair.target, targetC), [], 'both rewound nodes have identical contents')
  })
}
