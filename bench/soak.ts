/**
 * The soak: hundreds of SIGKILLs at random points of a rewind, each followed by a
 * resume (the same command again) or a rollback, alternately; counts how many ended
 * well. A resume counts when the run completes and `pgrewind verify` finds the
 * target equal to the source (every 10th is also rejoined as a standby and compared
 * table by table); a rollback counts when every file of the target is byte for byte
 * as before.
 *
 *   npm run soak -- [--points 200] [--major 18] [--source local|server] [--seed 1]
 */
import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pgrewind } from '../lib/harness/cli'
import { run } from '../lib/harness/proc'
import { destroyPair, diverge, rejoinAndCompare, setupPair } from '../lib/harness/scenario'

function arg (name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : def
}

function snapshot (root: string): string {
  const h = createHash('sha256')
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = rel === '' ? name : `${rel}/${name}`
      const st = lstatSync(join(root, p))
      h.update(`${p}\0${(st.mode & 0o7777).toString(8)}\0`)
      if (st.isSymbolicLink()) h.update(readlinkSync(join(root, p)))
      else if (st.isDirectory()) walk(p)
      else h.update(readFileSync(join(root, p)))
    }
  }
  walk('')
  return h.digest('hex')
}

async function main (): Promise<void> {
  const points = Number(arg('points', '200'))
  const major = Number(arg('major', '18'))
  const kind = arg('source', 'local')
  let seed = Number(arg('seed', '1'))
  const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }

  const pair = await setupPair({ major, tcp: kind === 'server' })
  try {
    await diverge(pair, { sourceStop: kind === 'local' ? 'clean' : 'running', heavy: true })
    const args = ['-D', pair.target.dataDir, ...(kind === 'local' ? ['--source-pgdata', pair.source.dataDir] : ['--source-server', `host=127.0.0.1 port=${pair.source.port} user=postgres dbname=postgres`])]
    const pristine = join(pair.root, 'pristine')
    await run('cp', ['-a', pair.target.dataDir, pristine])
    const before = snapshot(pair.target.dataDir)
    const restore = async (): Promise<void> => {
      rmSync(pair.target.dataDir, { recursive: true, force: true })
      await run('cp', ['-a', pristine, pair.target.dataDir])
    }
    const counted = await pgrewind(args, { PGREWIND_FAILPOINT: 'count' })
    const total = Number(/failpoint: (\d+) changes/.exec(counted.stderr)?.[1] ?? '0')
    if (counted.code !== 0 || total === 0) throw new Error(`the counting run failed: ${counted.stderr}`)
    process.stdout.write(`soak: PostgreSQL ${major}, ${kind} source, ${total} changes per rewind, ${points} kill points\n`)

    let resumed = 0
    let rolledBack = 0
    const failures: string[] = []
    for (let i = 0; i < points; i++) {
      const k = 1 + Math.floor(rand() * total)
      await restore()
      const r = await pgrewind(args, { PGREWIND_FAILPOINT: `kill:${k}` })
      if (r.signal !== 'SIGKILL' && r.code !== 137) failures.push(`kill:${k}: not killed (${r.code})`)
      if (i % 2 === 0) {
        const rb = await pgrewind(['rollback', '-D', pair.target.dataDir])
        if (rb.code === 0 && snapshot(pair.target.dataDir) === before) rolledBack++
        else failures.push(`kill:${k}: rollback ${rb.code !== 0 ? `failed: ${rb.stderr.trim().split('\n').pop() ?? ''}` : 'left a different tree'}`)
      } else {
        const again = await pgrewind(args)
        // a running source server moves on: only a stopped local source can be compared byte for byte
        const v = again.code === 0 && kind === 'local' ? await pgrewind(['verify', ...args]) : again
        let ok = again.code === 0 && v.code === 0
        if (ok && i % 10 === 1) {
          const diffs = await rejoinAndCompare(pair.target, pair.source)
          await pair.target.stop()
          if (kind === 'local') await pair.source.stop()
          ok = diffs.length === 0
        }
        if (ok) resumed++
        else failures.push(`kill:${k}: resume ${again.code !== 0 ? `failed: ${again.stderr.trim().split('\n').pop() ?? ''}` : `verify: ${v.stdout.trim().split('\n')[0] ?? ''}`}`)
      }
      if ((i + 1) % 20 === 0) process.stdout.write(`  ${i + 1}/${points}: ${resumed + rolledBack} recovered\n`)
    }
    process.stdout.write(`soak: ${resumed + rolledBack} of ${points} recovered (${resumed} resumed, ${rolledBack} rolled back)\n`)
    for (const f of failures) process.stdout.write(`  FAILED ${f}\n`)
    process.exitCode = failures.length === 0 ? 0 : 1
  } finally {
    await destroyPair(pair)
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`)
  process.exitCode = 1
})
