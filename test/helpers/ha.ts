import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Cluster, chownToRunner, run, RunResult } from '../harness'
import { runtime } from '../../lib/harness/runtime'

/**
 * What the HA tool tests share: Debian's PostgreSQL 15 and the tools' packages
 * (installed by .ci/run; a missing one fails with the apt-get line that brings it),
 * pgrewind as the tools' pg_rewind, and the tools run as the servers' user without
 * the test runner's loader in their environment (their children — pgrewind — would
 * inherit it).
 */

export const DEBIAN15 = '/usr/lib/postgresql/15/bin'

/** Fail with what to install when a program is missing. */
export function requirePackage (path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: apt-get install ${pkg} (.ci/run installs it)`)
}

/** Run a tool as the servers' user, its environment without tap's NODE_OPTIONS. */
export async function runTool (cmd: string, args: string[], opts: { env?: Record<string, string | undefined>, timeoutMs?: number, cwd?: string } = {}): Promise<RunResult> {
  return await run('/usr/bin/env', ['-u', 'NODE_OPTIONS', cmd, ...args], { timeoutMs: opts.timeoutMs ?? 120_000, env: opts.env, cwd: opts.cwd })
}

/**
 * A pg_rewind for the tools: a script that records its arguments and exit status in
 * `log` (the proof that pgrewind, not PostgreSQL's pg_rewind, did the rewind), then
 * runs the pgrewind command (the launcher) under the name pg_rewind.
 */
export function pgRewindWrapper (dir: string, log: string): string {
  const p = join(dir, 'pg_rewind')
  const rt = runtime()
  writeFileSync(p, `#!/bin/sh
echo "args: $*" >> '${log}'
PGREWIND_NODE='${rt.node}' PGREWIND_INVOKED_AS="$0" /usr/bin/env -u NODE_OPTIONS '${rt.launcher}' "$@"
rc=$?
echo "exit: $rc" >> '${log}'
exit $rc
`)
  chmodSync(p, 0o755)
  chownToRunner(p)
  return p
}

/** After a tool started a cluster the harness had stopped: let the harness stop it at the end. */
export function startedByTool (c: Cluster): void {
  c.running = true
}

export function scalarText (r: RunResult): string {
  return r.stdout.trim()
}
