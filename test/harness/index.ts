import { existsSync } from 'node:fs'
import type { Test } from 'tap'
import { SUPPORTED_MAJORS } from '../../lib/format/versions'
import { destroyPair, Pair, PairOptions, setupPair } from '../../lib/harness/scenario'
import { chownToRunner, makeDir } from '../../lib/harness/proc'
import { unprivilegedUser } from '../../lib/harness/runas'

// tap records coverage and process info of every node child it sees spawned,
// including the CLI we run as the unprivileged user: let that user own tap's
// output dirs (root writes there regardless), instead of opening them to everyone.
if (unprivilegedUser() !== null && existsSync('.tap')) {
  for (const d of ['.tap', '.tap/processinfo', '.tap/coverage']) {
    makeDir(d, 0o755)
    chownToRunner(d)
  }
}

export * from '../../lib/harness/cluster'
export * from '../../lib/harness/proc'
export * from '../../lib/harness/scenario'

/** The majors a test runs on: PGREWIND_TEST_MAJORS (e.g. "13,18"), else `fallback` (default: all). */
export function testMajors (fallback: readonly number[] = SUPPORTED_MAJORS): number[] {
  const env = process.env.PGREWIND_TEST_MAJORS
  return env !== undefined && env !== '' ? env.split(',').map(Number) : [...fallback]
}

/** A primary with a streaming standby (setupPair), destroyed when the test ends. */
export async function withPair (t: Test, opts: PairOptions): Promise<Pair> {
  const pair = await setupPair(opts)
  t.teardown(async () => { await destroyPair(pair) })
  return pair
}

export * from '../../lib/harness/cli'
export * from '../../lib/harness/workload'
