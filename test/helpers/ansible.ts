import { spawn } from 'node:child_process'
import { chmodSync, Dirent, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { CLI, chownToRunner, removeTree } from '../harness'
import { runtime } from '../../lib/harness/runtime'

/**
 * Running the Ansible collection (ansible/ansible_collections/pgrewind/rewind) the
 * way users do: ansible-playbook from Debian's ansible-core on localhost, the
 * modules run as the data directories' owner through `become` (su, as we are root),
 * results read from the ansible.posix.json callback.
 */

function projectRoot (): string {
  let d = __dirname
  while (!existsSync(join(d, 'package.json'))) d = dirname(d)
  return d
}

export const ROOT = projectRoot()
export const COLLECTIONS = join(ROOT, 'ansible')
export const COLLECTION = join(COLLECTIONS, 'ansible_collections', 'pgrewind', 'rewind')
export const PLAYBOOKS = join(ROOT, 'ansible', 'playbooks')
/** Debian's Python, which has ansible and psycopg2 (the one on PATH may be a pyenv one without them). */
export const PYTHON = '/usr/bin/python3'

export const majors = process.env.PGREWIND_TEST_MAJORS !== undefined
  ? process.env.PGREWIND_TEST_MAJORS.split(',').map(Number)
  : [13, 18]

export interface Run { code: number | null, stdout: string, stderr: string, ms: number }

/** Environment for ansible tools: ours without tap's loaders (they would follow into the node children). */
export function ansibleEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.NODE_OPTIONS
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAPJS') || k.startsWith('ANSIBLE_')) delete env[k]
  return {
    ...env,
    LC_ALL: 'C.UTF-8',
    ANSIBLE_COLLECTIONS_PATH: COLLECTIONS,
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_RETRY_FILES_ENABLED: '0',
    ANSIBLE_HOST_KEY_CHECKING: '0',
    ANSIBLE_DEPRECATION_WARNINGS: '0',
    ANSIBLE_LOCALHOST_WARNING: '0',
    ANSIBLE_INVENTORY_UNPARSED_WARNING: '0',
    ...extra
  }
}

/** Run a program as ourselves (root in CI), collecting its output. */
export async function runAsSelf (cmd: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv, onSpawn?: (pid: number) => void, timeoutMs?: number } = {}): Promise<Run> {
  const t0 = Date.now()
  return await new Promise((resolve, reject) => {
    // tap puts its loader back into every child's NODE_OPTIONS; the modules' user cannot read
    // it in a checkout only root can read (lib/harness/runtime.ts), so keep it from their node
    const [c, a] = runtime().staged ? ['/usr/bin/env', ['-u', 'NODE_OPTIONS', cmd, ...args]] : [cmd, args]
    const child = spawn(c, a, { cwd: opts.cwd ?? ROOT, env: opts.env ?? ansibleEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 900_000)
    child.on('error', reject)
    if (child.pid !== undefined) opts.onSpawn?.(child.pid)
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - t0 }) })
  })
}

export interface PlaybookOptions {
  inventory: string
  extraVars?: Record<string, unknown>
  /** other ansible-playbook arguments (-vvv, --check, --diff, --forks N) */
  args?: string[]
  /** use the default (human) callback instead of JSON */
  human?: boolean
  env?: Record<string, string>
  onSpawn?: (pid: number) => void
}

/** One task's result per host, from the ansible.posix.json callback. */
export interface PlaybookRun extends Run {
  json: any
  /** results of the task with this name, by host */
  task: (name: string) => Record<string, any>
  /** the one host's result of a task */
  result: (name: string, host?: string) => any
  /** every failed task, as `host: task: msg` */
  failures: () => string[]
  stats: Record<string, { ok: number, changed: number, failures: number, unreachable: number, skipped: number, ignored?: number }>
}

export async function playbook (path: string, o: PlaybookOptions): Promise<PlaybookRun> {
  const args = ['-i', o.inventory, ...(o.args ?? [])]
  if (o.extraVars !== undefined) args.push('-e', JSON.stringify(o.extraVars))
  args.push(path)
  const env = ansibleEnv({ ...(o.human === true ? {} : { ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.json' }), ...o.env })
  const r = await runAsSelf('ansible-playbook', args, { env, onSpawn: o.onSpawn })
  let json: any = null
  if (o.human !== true) {
    try { json = JSON.parse(r.stdout) } catch { json = null }
  }
  const task = (name: string): Record<string, any> => {
    if (json === null) throw new Error(`no JSON output from ansible-playbook (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`)
    for (const play of json.plays) {
      for (const t of play.tasks) if (t.task.name === name || t.task.name.endsWith(` : ${name}`)) return t.hosts
    }
    throw new Error(`no task "${name}" ran; tasks: ${json.plays.flatMap((p: any) => p.tasks.map((t: any) => t.task.name)).join(', ')}\n${r.stderr.slice(-2000)}`)
  }
  const result = (name: string, host = 'localhost'): any => {
    const hosts = task(name)
    if (!(host in hosts)) throw new Error(`task "${name}" did not run on ${host}`)
    return hosts[host]
  }
  const failures = (): string[] => {
    const out: string[] = []
    for (const play of json?.plays ?? []) {
      for (const t of play.tasks) {
        for (const [host, res] of Object.entries<any>(t.hosts)) {
          if (res.failed === true && res.ignore_errors !== true) out.push(`${host}: ${t.task.name}: ${String(res.msg ?? '').slice(0, 1500)} ${res.stderr ?? ''}${String(res.module_stderr ?? '').slice(-1500)}${String(res.module_stdout ?? '').slice(-1500)}`)
        }
      }
    }
    return out
  }
  return { ...r, json, task, result, failures, stats: json?.stats ?? {} }
}

/** A private scratch directory the unprivileged user can read (and, when `owned`, write). */
export function scratchDir (prefix: string, owned = false): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(d, 0o755)
  if (owned) chownToRunner(d)
  return d
}

/** A `pgrewind` command for the modules: the compiled CLI of this checkout. */
export function pgrewindWrapper (dir: string): string {
  const p = join(dir, 'pgrewind')
  // from a copy staged for the modules' user (lib/harness/runtime.ts): without the test runner's loader
  const rt = runtime()
  writeFileSync(p, `#!/bin/sh\n${rt.staged ? 'unset NODE_OPTIONS\n' : ''}exec "${rt.node}" "${CLI}" "$@"\n`)
  chmodSync(p, 0o755)
  return p
}

/** A YAML inventory of local-connection hosts (JSON is YAML). */
export function writeInventory (dir: string, hosts: Record<string, Record<string, unknown>>, name = 'inventory.yml'): string {
  const p = join(dir, name)
  const all = {
    all: {
      // sudo is not installed here; su works for root
      vars: { ansible_connection: 'local', ansible_python_interpreter: PYTHON, ansible_become_method: 'su' },
      hosts
    }
  }
  writeFileSync(p, JSON.stringify(all, null, 2))
  return p
}

/** Every file under `root` whose content contains `needle` (symlinks not followed). */
export function filesContaining (root: string, needle: string): string[] {
  const hits: string[] = []
  const n = Buffer.from(needle)
  const walk = (dir: string): void => {
    let ents: Dirent[]
    try { ents = readdirSync(dir, { withFileTypes: true }) } catch { return }
    for (const e of ents) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) {
        try { if (readFileSync(p).includes(n)) hits.push(p) } catch { /* vanished */ }
      }
    }
  }
  walk(root)
  return hits
}

/**
 * Sample every process's command line every few ms while `during` runs: the
 * command lines that contain `needle`, and how many samples saw a process
 * matching `witness` (proof that the sampling covered the interesting moment).
 */
export async function watchCmdlines<T> (needle: string, witness: RegExp, during: () => Promise<T>): Promise<{ value: T, leaks: string[], samples: number, witnessed: number }> {
  const leaks = new Set<string>()
  let samples = 0
  let witnessed = 0
  const sampling = { stop: false }
  const n = Buffer.from(needle)
  const sampler = (async () => {
    while (!sampling.stop) {
      samples++
      let seen = false
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue
        let cmd: Buffer
        try { cmd = readFileSync(`/proc/${pid}/cmdline`) } catch { continue }
        if (cmd.includes(n)) leaks.add(cmd.toString().replace(/\0/g, ' '))
        if (witness.test(cmd.toString().replace(/\0/g, ' '))) seen = true
      }
      if (seen) witnessed++
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })()
  try {
    const value = await during()
    return { value, leaks: [...leaks], samples, witnessed }
  } finally {
    sampling.stop = true
    await sampler
  }
}

export { removeTree }
