import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chownToRunner, Cluster, compareContents, makeDir, makeTempRoot, removeTree } from './harness'
import { DEBIAN15, pgRewindWrapper, requirePackage, runTool, startedByTool } from './helpers/ha'

/**
 * pgrewind as repmgr's pg_rewind (Debian's postgresql-15-repmgr, repmgr 5.3): a
 * primary and a standby registered with repmgr, the primary stopped and the standby
 * promoted by `repmgr standby promote`, the old primary started again and written to
 * (a split brain), then stopped — cleanly, or immediately — and brought back by
 * `repmgr node rejoin --force-rewind=<pgrewind>`: it must stream from the new primary
 * with identical contents.
 */
const REPMGR = join(DEBIAN15, 'repmgr')
requirePackage(REPMGR, 'postgresql-15-repmgr')
requirePackage(join(DEBIAN15, 'postgres'), 'postgresql-15')

function repmgrConf (dir: string, c: Cluster, id: number): string {
  const conf = join(dir, `${c.name}.repmgr.conf`)
  const pgCtl = `${DEBIAN15}/pg_ctl -D ${c.dataDir} -l ${c.logFile} -w -t 120`
  writeFileSync(conf, [
    `node_id=${id}`,
    `node_name='${c.name}'`,
    `conninfo='host=127.0.0.1 port=${c.port} user=postgres dbname=repmgr connect_timeout=5'`,
    `data_directory='${c.dataDir}'`,
    `pg_bindir='${DEBIAN15}'`,
    'use_replication_slots=no',
    'log_level=INFO',
    `service_start_command='${pgCtl} start'`,
    `service_stop_command='${pgCtl} -m fast stop'`,
    `service_restart_command='${pgCtl} -m fast restart'`,
    `service_reload_command='${pgCtl} reload'`
  ].join('\n') + '\n')
  chownToRunner(conf)
  return conf
}

async function repmgr (conf: string, args: string[]): Promise<string> {
  const r = await runTool(REPMGR, ['-f', conf, ...args], { timeoutMs: 180_000 })
  if (r.code !== 0) throw new Error(`repmgr ${args.join(' ')} failed (${r.code}):\n${r.stdout}${r.stderr}`)
  return r.stdout + r.stderr
}

for (const stop of ['clean', 'immediate'] as const) {
  t.test(`repmgr node rejoin --force-rewind=pgrewind, old primary stopped ${stop === 'clean' ? 'cleanly' : 'immediately'}`, async t => {
    const dir = makeTempRoot('pgrewind-repmgr-')
    const node1 = await Cluster.init({ major: 15, bin: 'system', name: 'node1', root: dir, tcp: true, conf: { shared_preload_libraries: 'repmgr', wal_keep_size: '256MB' } })
    let node2: Cluster | null = null
    t.teardown(async () => {
      await node2?.destroy()
      await node1.destroy()
      removeTree(dir)
    })
    await node1.start()
    await node1.query('CREATE DATABASE repmgr')
    const conf1 = repmgrConf(dir, node1, 1)
    await repmgr(conf1, ['primary', 'register'])
    await node1.query('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, \'common\' FROM generate_series(1, 5000) g')
    node2 = await node1.createStandby('node2')
    const conf2 = repmgrConf(dir, node2, 2)
    await node1.waitForReplay(node2)
    await repmgr(conf2, ['standby', 'register'])

    // failover: the primary goes away, repmgr promotes the standby
    await node1.stop()
    await repmgr(conf2, ['standby', 'promote'])
    t.equal(await node2.isInRecovery(), false, 'node2 promoted by repmgr')
    await node2.query("INSERT INTO t SELECT g, 'new primary' FROM generate_series(5001, 8000) g; UPDATE t SET v = 'new' WHERE id % 5 = 0")
    // the old primary comes back on its own and takes writes: a split brain
    await node1.start()
    await node1.query("INSERT INTO t SELECT g, 'old primary' FROM generate_series(8001, 20000) g; UPDATE t SET v = 'old' WHERE id % 3 = 0; CREATE TABLE lost (x int); INSERT INTO lost SELECT generate_series(1, 1000)")
    await node1.checkpoint()
    await node1.query("INSERT INTO t VALUES (99999, 'after checkpoint')")
    await node1.stop(stop === 'clean' ? 'fast' : 'immediate')

    const log = join(dir, 'pg_rewind.log')
    const wrapper = pgRewindWrapper(dir, log)
    const out = await repmgr(conf1, ['node', 'rejoin', '-d', `host=127.0.0.1 port=${node2.port} user=postgres dbname=repmgr`,
      `--force-rewind=${wrapper}`, '--config-files=postgresql.conf', `--config-archive-dir=${makeDir(join(dir, 'config-archive'))}`, '--verbose'])
    startedByTool(node1)
    t.match(out, /pg_rewind command is ".*pg_rewind -D .*--source-server=/, 'repmgr ran its pg_rewind')
    const calls = readFileSync(log, 'utf8')
    t.match(calls, new RegExp(`args: -D ${node1.dataDir} --source-server=host=127\\.0\\.0\\.1 port=${node2.port}`), 'with -D and --source-server')
    t.match(calls, /exit: 0/, 'pgrewind did the rewind and exited 0')
    t.match(out, /NOTICE: NODE REJOIN successful/)

    // streaming from the new primary, with identical contents
    await node2.query('INSERT INTO t VALUES (100000, \'after rejoin\')')
    await node2.waitForReplay(node1, 120_000)
    const rx = await node1.query<{ status: string }>('SELECT status FROM pg_stat_wal_receiver')
    t.equal(rx[0]?.status, 'streaming', 'node1 streams from node2')
    t.equal(await node1.isInRecovery(), true)
    t.same(await compareContents(node1, node2), [], 'identical contents')
    t.equal(await node1.scalar('SELECT count(*)::int FROM t WHERE v = \'old\''), 0, 'the old primary\'s writes are gone')
    const shown = await repmgr(conf2, ['cluster', 'show'])
    t.match(shown, /node1\s*\|\s*standby\s*\|\s*running/, 'repmgr sees node1 as a running standby')
  })
}
