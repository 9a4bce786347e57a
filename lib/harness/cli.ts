import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { run, RunResult } from './proc'
import { cliCommand, projectRoot, runtime } from './runtime'

/**
 * The compiled CLI (npm test builds first), run as the unprivileged user when root:
 * this checkout's, or the copy staged for that user (runtime.ts). Run it with
 * process.execPath through run(), or with cliCommand().
 */
export const CLI = runtime().cli
/** The checkout's own compiled CLI: what a user runs (as root, too). */
export const PROJECT_CLI = join(projectRoot(), 'dist', 'lib', 'cli', 'main.js')

export async function pgrewind (args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const c = cliCommand(args)
  return await run(c.cmd, c.args, { env, timeoutMs: 600_000 })
}

/**
 * Every entry of a directory tree with its type, mode and content hash (symlink
 * targets, not followed): two equal snapshots mean byte-identical trees.
 */
export function snapshotTree (root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (rel: string): void => {
    const full = rel === '' ? root : join(root, rel)
    for (const name of readdirSync(full).sort()) {
      const p = rel === '' ? name : `${rel}/${name}`
      const st = lstatSync(join(root, p))
      const mode = (st.mode & 0o7777).toString(8)
      if (st.isSymbolicLink()) out.set(p, `link ${readlinkSync(join(root, p))}`)
      else if (st.isDirectory()) { out.set(p, `dir ${mode}`); walk(p) } else out.set(p, `file ${mode} ${st.size} ${createHash('sha256').update(readFileSync(join(root, p))).digest('hex')}`)
    }
  }
  walk('')
  return out
}

export function treeDiff (a: Map<string, string>, b: Map<string, string>): string[] {
  const d: string[] = []
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) d.push(`${k}: ${a.get(k) ?? '-'} -> ${b.get(k) ?? '-'}`)
  return d
}
