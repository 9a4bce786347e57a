import { spawn, spawnSync, SpawnOptions } from 'node:child_process'
import { chownSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { childEnv, spawnIdentity, unprivilegedUser, clusterError } from './runas'
import { runtime } from './runtime'

export interface RunResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Run a program as the unprivileged user (when root), collecting its output. */
export function run (cmd: string, args: string[], opts: { cwd?: string, env?: Record<string, string | undefined>, input?: string, timeoutMs?: number } = {}): Promise<RunResult> {
  ;[cmd, args] = nodeAsRunner(cmd, args)
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { cwd: opts.cwd ?? '/', env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'], ...spawnIdentity() }
    const child = spawn(cmd, args, so)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin?.on('error', () => { /* the child may exit without reading its input */ })
    child.stdin?.end(opts.input ?? '')
  })
}

export async function runOk (cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw clusterError(`${cmd} ${args.join(' ')} failed (exit ${r.code ?? r.signal}):\n${r.stderr}${r.stdout}`)
  return r
}

/**
 * `node …` for the unprivileged user: the node it can run, and — from a copy staged
 * for it (runtime.ts) — without the test runner's loader in NODE_OPTIONS.
 */
function nodeAsRunner (cmd: string, args: string[]): [string, string[]] {
  if (cmd !== process.execPath || unprivilegedUser() === null) return [cmd, args]
  const rt = runtime()
  return rt.staged ? ['/usr/bin/env', ['-u', 'NODE_OPTIONS', rt.node, ...args]] : [cmd, args]
}

export function runSync (cmd: string, args: string[]): RunResult {
  ;[cmd, args] = nodeAsRunner(cmd, args)
  const r = spawnSync(cmd, args, { cwd: '/', env: childEnv(), encoding: 'utf8', timeout: 60000, ...spawnIdentity() })
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

/** Give a path to the unprivileged user (no-op when not root). */
export function chownToRunner (path: string): void {
  const u = unprivilegedUser()
  if (u !== null) chownSync(path, u.uid, u.gid)
}

/** A private temp directory owned by the user servers run as (mode 0700). */
export function makeTempRoot (prefix = 'pgrewind-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chownToRunner(dir)
  return dir
}

export function makeDir (path: string, mode = 0o700): string {
  mkdirSync(path, { recursive: true, mode })
  chownToRunner(path)
  return path
}

export function removeTree (path: string): void {
  rmSync(path, { recursive: true, force: true })
}
