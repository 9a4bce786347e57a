import { spawn, spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../../lib/harness/runtime'
import { removeTree } from '../harness'

/**
 * Helpers of the deployment tests: a copy of this project where only root can read
 * it, commands run as ourselves (root in CI) with tap's loaders kept out of them.
 */

export const ROOT = projectRoot()

/** A copy of the project (dist and node_modules included) under a new mode-0700 temp dir. */
export function rootOnlyCopy (): { dir: string, project: string, remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pgrewind-rootonly-'))
  const project = join(dir, 'pgrewind')
  const tar = spawnSync('/bin/sh', ['-c', 'mkdir "$2" && tar -C "$1" --exclude=./node_modules --exclude=./.tap -cf - . | tar -C "$2" -xf -', 'sh', ROOT, project], { encoding: 'utf8' })
  if (tar.status !== 0) throw new Error(`copying the project: ${tar.stderr}`)
  // node_modules: hard links when the file system allows (fast), else a copy
  let cp = spawnSync('cp', ['-al', join(ROOT, 'node_modules'), join(project, 'node_modules')], { encoding: 'utf8' })
  if (cp.status !== 0) {
    removeTree(join(project, 'node_modules'))
    cp = spawnSync('cp', ['-a', join(ROOT, 'node_modules'), join(project, 'node_modules')], { encoding: 'utf8' })
    if (cp.status !== 0) throw new Error(`copying node_modules: ${cp.stderr}`)
  }
  return { dir, project, remove: () => removeTree(dir) }
}

export interface SelfRun { code: number | null, stdout: string, stderr: string }

/** Run a command as ourselves, without tap's loaders and variables in its environment. */
export async function runSelf (cmd: string, args: string[], opts: { cwd?: string, env?: Record<string, string | undefined>, input?: string, timeoutMs?: number } = {}): Promise<SelfRun> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAPJS') || k === 'NODE_OPTIONS') delete env[k]
  for (const [k, v] of Object.entries(opts.env ?? {})) { if (v === undefined) delete env[k]; else env[k] = v }
  return await new Promise((resolve, reject) => {
    // env -u: tap puts its loader back into every child's NODE_OPTIONS
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', cmd, ...args], { cwd: opts.cwd ?? '/', env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000)
    child.on('error', reject)
    child.stdin.on('error', () => { /* it may exit without reading */ })
    child.stdin.end(opts.input ?? '')
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** Every entry under `root` (symlinks not followed) whose owner is not `uid`. */
export function notOwnedBy (root: string, uid: number): string[] {
  const bad: string[] = []
  const walk = (p: string): void => {
    const st = lstatSync(p)
    if (st.uid !== uid) bad.push(p)
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n))
  }
  walk(root)
  return bad
}

export function isDir (p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory()
}
