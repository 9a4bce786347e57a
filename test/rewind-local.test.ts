import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { diverge, pgrewind, rejoinAndCompare, snapshotTree, testMajors, treeDiff, withPair } from './harness'

const majors = testMajors()

for (const major of majors) {
  t.test(`PostgreSQL ${major}: clean target, dry run first, then the rewind`, async t => {
    const pair = await withPair(t, { major, tablespace: true })
    await diverge(pair, { targetStop: 'clean' })
    const args = ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir]

    const before = snapshotTree(pair.target.dataDir)
    const srcBefore = snapshotTree(pair.source.dataDir)
    const dry = await pgrewind([...args, '--dry-run', '--debug'])
    t.equal(dry.code, 0, `dry run succeeds: ${dry.stderr.slice(-500)}`)
    t.match(dry.stderr, /servers diverged at WAL location [0-9A-F]+\/[0-9A-F]+ on timeline 1/)
    t.match(dry.stderr, /rewinding from last common checkpoint at [0-9A-F]+\/[0-9A-F]+ on timeline 1/)
    t.match(dry.stderr, /pgrewind: base\/\d+\/\d+ \((COPY_TAIL|TRUNCATE|NONE|COPY)\)\npgrewind: block \d+/, 'debug map lists relation files with their blocks')
    t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'dry run leaves the target byte-identical')
    t.same(treeDiff(srcBefore, snapshotTree(pair.source.dataDir)), [], 'the source is never changed')

    const r = await pgrewind([...args, '-P', '--json'])
    t.equal(r.code, 0, `rewind succeeds: ${r.stderr.slice(-800)}`)
    t.match(r.stderr, /need to copy \d+ MB \(total source directory size is \d+ MB\)/)
    t.match(r.stderr, /\d+\/\d+ kB \(100%\) copied/)
    t.match(r.stderr, /Done!/)
    const summary = JSON.parse(r.stdout)
    t.equal(summary.rewindNeeded, true)
    t.ok(summary.scan.blocks > 0, 'changed blocks were found in the target WAL')
    t.ok(existsSync(join(pair.target.dataDir, 'backup_label')), 'backup_label written')
    t.match(readFileSync(join(pair.target.dataDir, 'backup_label'), 'utf8'), /^START WAL LOCATION: [0-9A-F]+\/[0-9A-F]+ \(file [0-9A-F]{24}\)\nCHECKPOINT LOCATION: .*\nBACKUP METHOD: pg_rewind\nBACKUP FROM: standby\n/)
    t.same(treeDiff(srcBefore, snapshotTree(pair.source.dataDir)), [], 'the source is still unchanged')
    t.same(await rejoinAndCompare(pair.target, pair.source), [], 'the rewound node rejoins with identical contents')
    t.equal(Number(await pair.target.scalar('SELECT received_tli FROM pg_stat_wal_receiver')), 2, 'the rewound node streams the new timeline')
  })

  t.test(`PostgreSQL ${major}: crash-stopped target is recovered first`, async t => {
    const pair = await withPair(t, { major })
    await diverge(pair, { targetStop: 'crash' })
    const args = ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir, '--pg-bindir', pair.target.binDir]
    const before = snapshotTree(pair.target.dataDir)
    const dry = await pgrewind([...args, '--dry-run'])
    t.equal(dry.code, 1, 'a dry run does not crash-recover')
    t.match(dry.stderr, /target server must be shut down cleanly/)
    t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'the failed dry run changed nothing')
    const nes = await pgrewind([...args, '--no-ensure-shutdown'])
    t.equal(nes.code, 1)
    t.match(nes.stderr, /target server must be shut down cleanly/)
    const r = await pgrewind(args)
    t.equal(r.code, 0, r.stderr.slice(-800))
    t.match(r.stderr, /executing ".*postgres" for target server to complete crash recovery/)
    t.same(await rejoinAndCompare(pair.target, pair.source), [], 'rejoins with identical contents')
  })

  t.test(`PostgreSQL ${major}: running target or running local source is refused`, async t => {
    const pair = await withPair(t, { major })
    await diverge(pair, { targetStop: 'running', sourceStop: 'running' })
    const args = ['-D', pair.target.dataDir, '--source-pgdata', pair.source.dataDir]
    await pair.source.stop()
    const before = snapshotTree(pair.target.dataDir)
    const r = await pgrewind(args)
    t.equal(r.code, 1)
    t.match(r.stderr, /error: target server must be shut down cleanly\n.*detail: A server \(PID \d+\) is running/)
    await pair.target.stop()
    await pair.source.start()
    const before2 = snapshotTree(pair.target.dataDir)
    const r2 = await pgrewind(args)
    t.equal(r2.code, 1)
    t.match(r2.stderr, /error: source data directory must be shut down cleanly/)
    t.same(treeDiff(before2, snapshotTree(pair.target.dataDir)), [], 'nothing changed on the target')
    void before
  })
}
