import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { METHODS } from '../lib/rpc/methods'
import { schemaErrors } from '../lib/contract/validate'
import { planRewind } from '../lib/steps/rewind'
import { planJson, scanJson, silentLogger } from '../lib/steps/types'
import { openSource } from '../lib/source/open'
import { pgrewind, snapshotTree, testMajors, treeDiff } from './harness'
import { discardScenario } from './helpers/discard-scenario'
import { checkReport } from './helpers/discard-check'

/**
 * The report of what a rewind discards, on real clusters: the counts of the
 * scenario (helpers/discard-scenario.ts) exactly, named from the target's catalog
 * files and, for the relation of the database the target dropped, from the source —
 * its files when it is a local data directory, SQL when it is a server — the same in
 * scanWal's result, the plan, `pgrewind plan` and a dry run with and without --json;
 * and nothing changes on either side.
 */

for (const major of testMajors()) {
  t.test(`PostgreSQL ${major}: what the rewind discards, counted and named`, async t => {
    const s = await discardScenario(t, major)
    const { target, source, root } = s.pair
    const before = snapshotTree(target.dataDir)
    const srcBefore = snapshotTree(source.dataDir)
    const local = ['-D', target.dataDir, '--source-pgdata', source.dataDir]

    // the steps: scanWal names what the target's catalog knows, the plan what the source adds
    const steps = await planRewind({ target: { pgdata: target.dataDir }, source: { pgdata: source.dataDir }, options: { dryRun: true } },
      { log: silentLogger, openSource: async spec => await openSource(spec) })
    const d1 = steps.scan.discards.relations.find(r => r.files[0]?.path.startsWith(`base/${steps.scan.discards.databases.find(d => d.name === 'db_drop_on_target')?.oid ?? '?'}/`))
    t.match(d1, { name: null, nameSource: null, dropped: true, unresolved: /^the target has no directory base\/\d+ for database "db_drop_on_target" \(it was dropped\)$/ },
      'scanWal: the target cannot name a table of the database it dropped')
    checkReport(t, steps.plan.discards, s, 'buildPlan')
    t.equal(schemaErrors(METHODS.scanWal.result, scanJson(steps.scan)), null, 'scanWal\'s result (its JSON form) fits its schema')
    t.equal(schemaErrors(METHODS.buildPlan.result, planJson(steps.plan)), null, 'the plan (its JSON form) fits its schema')

    // dry run, --json: the complete report; without: the short text
    const dry = await pgrewind([...local, '-n', '--json'])
    t.equal(dry.code, 0, dry.stderr)
    const summary = JSON.parse(dry.stdout)
    checkReport(t, summary.discards, s, 'dry run --json')
    t.equal(summary.scan.discards, undefined, 'the report once, the plan\'s')
    const text = await pgrewind([...local, '-n'])
    t.equal(text.code, 0, text.stderr)
    t.equal(text.stdout, '')
    const lines = text.stderr.split('\n').filter(l => / discards |^pgrewind: databases: |^pgrewind: (postgres|db_lost|db_drop_on_target): /.test(l))
    t.same(lines, [
      `pgrewind: discards 15 committed transactions (${s.firstCommit} … ${s.lastCommit}), 2 aborted, 1 prepared (lost_gid); 1 of them began before the divergence point`,
      'pgrewind: databases: db_lost created; db_drop_on_target dropped',
      'pgrewind: postgres: public.t_common: 22 rows inserted, 10 updated, 10 deleted (prepared: 3 inserted, 2 updated); public.lost_here (created): 38 rows inserted; public.toasty: 1 row updated; public.t_drop_on_target (dropped); 1 more',
      'pgrewind: db_lost: public.in_lost_db (created): 20 rows inserted',
      'pgrewind: db_drop_on_target: public.d1 (dropped): 7 rows deleted'
    ], 'the dry run says it in a few lines')

    // pgrewind plan: the same lines in its summary, the report in the plan file
    const planFile = join(root, 'plan.json')
    const p = await pgrewind(['plan', ...local, '--out', planFile])
    t.equal(p.code, 0, p.stderr)
    t.same(p.stdout.split('\n').filter(l => lines.map(x => x.slice('pgrewind: '.length)).includes(l)).length, lines.length, 'pgrewind plan shows the same lines')
    const file = JSON.parse(readFileSync(planFile, 'utf8'))
    t.same(file.plan.discards, summary.discards, 'the plan file carries the same report')
    t.same(treeDiff(before, snapshotTree(target.dataDir)), [], 'nothing changed on the target')
    t.same(treeDiff(srcBefore, snapshotTree(source.dataDir)), [], 'nothing changed on the source')

    // a source server: the table of the dropped database is named by SQL in that database
    await source.start()
    const serverPlan = join(root, 'plan-server.json')
    const ps = await pgrewind(['plan', '-D', target.dataDir, '--source-server', source.connstr(), '--out', serverPlan])
    t.equal(ps.code, 0, ps.stderr)
    const fromServer = JSON.parse(readFileSync(serverPlan, 'utf8')).plan.discards
    t.same(fromServer.relations.filter((r: { unresolved: string | null }) => r.unresolved !== null), [], 'the source server names what the target cannot')
    checkReport(t, fromServer, s, 'source server')
    t.same(fromServer, summary.discards, 'the same report as from the local source')
    t.same(treeDiff(before, snapshotTree(target.dataDir)), [], 'nothing changed on the target')
  })
}
