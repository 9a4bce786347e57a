import t, { Test } from 'tap'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  CLI, Cluster, diverge, Pair, pgrewind, rejoinAndCompare, run, snapshotTree, testMajors, treeDiff, withPair
} from './harness'
import { RunResult } from '../lib/harness/proc'

/**
 * Fault injection: a rewind killed with SIGKILL at points spread through the apply
 * (by the writer's own count of changes, and by the clock), on a local source and a
 * source server. Every time, the half-rewound target refuses to start, and either
 * the same command run again completes the rewind (the node rejoins with identical
 * contents) or `pgrewind rollback` puts it back byte for byte.
 */

const majors = testMajors([13, 18])

/** From a server, with -R: its recovery configuration is journaled (and rolled back) too. */
function args (pair: Pair, kind: 'local' | 'server'): string[] {
  return ['-D', pair.target.dataDir, ...(kind === 'local' ? ['--source-pgdata', pair.source.dataDir] : ['--source-server', `host=127.0.0.1 port=${pair.source.port} user=postgres dbname=postgres`, '-R'])]
}

/** The target's data directory back as it was before any rewind (cp -a of the saved copy). */
async function restore (pair: Pair, pristine: string): Promise<void> {
  rmSync(pair.target.dataDir, { recursive: true, force: true })
  const r = await run('cp', ['-a', pristine, pair.target.dataDir])
  if (r.code !== 0) throw new Error(`restore: ${r.stderr}`)
}

/** pg_ctl start must refuse, and the server log must say what to run. */
async function refusesToStart (t: Test, target: Cluster, why: string): Promise<void> {
  const err = await target.start().then(() => null, (e: Error) => e)
  t.ok(err !== null, `${why}: pg_ctl start refuses the half-rewound target`)
  if (err === null) {
    await target.stop('immediate')
    return
  }
  t.match(readFileSync(target.logFile, 'utf8'), /REWIND IN PROGRESS - run the same pgrewind command again to complete it, or pgrewind rollback -D/, `${why}: the server log says what to do`)
}

function killedBy (r: RunResult): boolean {
  return r.signal === 'SIGKILL' || r.code === 137
}

for (const major of majors) {
  for (const kind of ['local', 'server'] as const) {
    t.test(`PostgreSQL ${major}, ${kind} source: SIGKILL anywhere in the apply, then resume or rollback`, async t => {
      const pair = await withPair(t, { major, tcp: kind === 'server' })
      await diverge(pair, { sourceStop: kind === 'local' ? 'clean' : 'running', heavy: true })
      const pristine = join(pair.root, 'pristine')
      const cp = await run('cp', ['-a', pair.target.dataDir, pristine])
      t.equal(cp.code, 0, 'saved a copy of the target')
      const before = snapshotTree(pair.target.dataDir)

      // how many changes a whole rewind makes: the kill points are spread over them
      const t0 = Date.now()
      const counted = await pgrewind(args(pair, kind), { PGREWIND_FAILPOINT: 'count' })
      const wholeMs = Date.now() - t0
      t.equal(counted.code, 0, counted.stderr.slice(-500))
      const total = Number(/failpoint: (\d+) changes/.exec(counted.stderr)?.[1] ?? '0')
      t.ok(total > 20, `a rewind makes many changes (${total})`)

      // spread over the run by the count of changes, and the last steps by name
      const spread = major === 18 ? 8 : 5
      const kills = [
        ...Array.from({ length: spread }, (_, i) => `kill:${Math.max(3, Math.round(total * (i + 1) / (spread + 1)))}`),
        'kill-at:finish', 'kill-at:pg_control', 'kill-at:marker'
      ]
      for (let i = 1; i <= kills.length; i++) {
        const why = `${kills[i - 1]} of ${total} changes`
        await restore(pair, pristine)
        const r = await pgrewind(args(pair, kind), { PGREWIND_FAILPOINT: kills[i - 1] })
        t.ok(killedBy(r), `${why}: the run died (${r.signal ?? r.code})`)
        await refusesToStart(t, pair.target, why)
        if (i % 2 === 1) {
          const rb = await pgrewind(['rollback', '-D', pair.target.dataDir])
          t.equal(rb.code, 0, `${why}: rollback succeeds ${rb.stderr.slice(-300)}`)
          t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], `${why}: rolled back byte for byte`)
        } else {
          const again = await pgrewind(args(pair, kind))
          t.equal(again.code, 0, `${why}: the same command completes the rewind ${again.stderr.slice(-500)}`)
          t.match(again.stderr, /rolling back an interrupted rewind/, `${why}: it says it redoes the interrupted one`)
          t.same(await rejoinAndCompare(pair.target, pair.source, { configured: kind === 'server' }), [], `${why}: the node rejoins with identical contents`)
          await pair.target.stop()
          if (kind === 'local') await pair.source.stop()
        }
      }

      // killed while the journal's header is written: nothing in the target changed yet
      // (so it may even start); the unfinished journal is removed by a rollback, and by the next run
      for (const then of ['rollback', 'rewind'] as const) {
        await restore(pair, pristine)
        const k = await pgrewind(args(pair, kind), { PGREWIND_FAILPOINT: 'kill-at:journal_header' })
        t.ok(killedBy(k), `killed in the journal's begin (${then} next): the run died`)
        const left = treeDiff(before, snapshotTree(pair.target.dataDir))
        t.ok(left.length > 0 && left.every(l => l.startsWith('pgrewind_journal')), `only the unfinished journal is left: ${left.join('; ')}`)
        if (then === 'rollback') {
          const rb = await pgrewind(['rollback', '-D', pair.target.dataDir])
          t.equal(rb.code, 0, rb.stderr)
          t.match(rb.stderr, /removed the journal of a rewind interrupted before it changed anything/)
          t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], 'rolled back: byte for byte as before')
        } else {
          const again = await pgrewind(args(pair, kind))
          t.equal(again.code, 0, `the same command completes the rewind ${again.stderr.slice(-500)}`)
          t.match(again.stderr, /removed the journal of a rewind interrupted before it changed anything/)
          t.same(await rejoinAndCompare(pair.target, pair.source, { configured: kind === 'server' }), [], 'the node rejoins with identical contents')
          await pair.target.stop()
          if (kind === 'local') await pair.source.stop()
        }
      }

      if (kind === 'local') {
        // by the clock: killed while it runs, whatever it is doing
        for (const ms of [Math.round(wholeMs * 0.5), Math.round(wholeMs * 0.8)]) {
          await restore(pair, pristine)
          const r = await run(process.execPath, [CLI, ...args(pair, kind)], { timeoutMs: ms })
          const died = killedBy(r)
          const rb = await pgrewind(['rollback', '-D', pair.target.dataDir])
          t.equal(rb.code, 0, `killed after ${ms} ms (${died ? 'killed' : 'finished'}): rollback succeeds`)
          t.same(treeDiff(before, snapshotTree(pair.target.dataDir)), [], `killed after ${ms} ms: rolled back byte for byte`)
        }
      }
    })
  }
}
