import { spawnSync } from 'node:child_process'
import {
  chmodSync, chownSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync,
  readFileSync, readlinkSync, rmSync, symlinkSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { childEnv, clusterError, RunAs, unprivilegedUser } from './runas'

/**
 * As root, the drill and the tests run PostgreSQL, the pgrewind CLI and its JSON-RPC
 * server as an unprivileged user (runas.ts). That user must be able to read what it
 * runs: node, pgrewind's compiled code and its modules, the embedded PostgreSQL
 * builds. A checkout that only root can read (a clone in /root, under `mktemp -d`)
 * is out of its reach, and opening the checkout to everyone is not ours to do.
 *
 * So, only in that case, we stage a runtime copy that user can read: a new directory
 * under the temp dir (mkdtemp, so nobody else's), owned by root with the user's group,
 * mode 0750, holding package.json, dist/lib and the production modules (plus the
 * embedded PostgreSQL majors asked for, and node itself when the user cannot run the
 * one we run on). Files are hard links where they are already readable by others and
 * on the same file system, copies (group-readable) otherwise; nothing in it is
 * writable by that user. It is checked by running the staged CLI as that user, and
 * removed when this process exits. Where even that cannot work, the failure names the
 * path, the user and what to do, before anything else happens.
 */

export interface Runtime {
  /** the project root the unprivileged user runs from (the checkout, or the staged copy) */
  root: string
  /** the node it runs */
  node: string
  /** the compiled CLI */
  cli: string
  /** the command users run (npm's bin): the launcher that runs node on the CLI */
  launcher: string
  staged: boolean
}

/** The project root: this file runs from lib/harness (ts-node) or dist/lib/harness. */
export function projectRoot (): string {
  let d = __dirname
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d)
    if (up === d) throw clusterError(`no package.json above ${__dirname}`)
    d = up
  }
  return d
}

const cliOf = (root: string): string => join(root, 'dist', 'lib', 'cli', 'main.js')
const launcherOf = (root: string): string => join(root, 'dist', 'lib', 'cli', 'pgrewind')

/** Can `user` read (or, with exec, run) `path`? Asked of the system, as that user. */
export function userCan (user: RunAs, path: string, exec = false): boolean {
  const r = spawnSync('/usr/bin/test', [exec ? '-x' : '-r', path], { uid: user.uid, gid: user.gid, env: { PATH: '/usr/bin:/bin' }, cwd: '/' })
  return r.status === 0
}

let current: Runtime | null = null
let stageRoot: string | null = null
const stagedMajors = new Set<number>()

/**
 * Where the unprivileged user runs pgrewind from. Not root, or a checkout that user
 * can read: the checkout itself. Otherwise the staged copy (made on first use).
 */
export function runtime (): Runtime {
  if (current !== null) return current
  const root = projectRoot()
  const user = unprivilegedUser()
  if (user === null || (userCan(user, join(root, 'package.json')) && userCan(user, process.execPath, true))) {
    current = { root, node: process.execPath, cli: cliOf(root), launcher: launcherOf(root), staged: false }
    return current
  }
  current = stage(root, user)
  return current
}

/**
 * The command that runs the compiled CLI as the unprivileged user. From a staged copy
 * the test runner's NODE_OPTIONS (its coverage loader, in the unreadable checkout,
 * put back into every child's environment) is dropped on the way.
 */
export function cliCommand (args: string[]): { cmd: string, args: string[] } {
  const rt = runtime()
  if (!rt.staged) return { cmd: rt.node, args: [rt.cli, ...args] }
  return { cmd: '/usr/bin/env', args: ['-u', 'NODE_OPTIONS', rt.node, rt.cli, ...args] }
}

/** The embedded PostgreSQL package of `major` as the unprivileged user sees it (staged on demand). */
export function runnerPackageDir (major: number, projectPackage: string): string {
  const rt = runtime()
  if (!rt.staged) return projectPackage
  const dest = join(rt.root, 'node_modules', `pg${major}`)
  if (!stagedMajors.has(major)) {
    const user = unprivilegedUser()!
    copyTree(projectPackage, dest, user.gid, lstatSync(rt.root).dev)
    stagedMajors.add(major)
  }
  return dest
}

/** The packages `npm ci --omit=dev` would install, from the lock file. */
function productionPackages (root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  return Object.entries(lock.packages)
    .filter(([p, info]) => p !== '' && info.dev !== true && existsSync(join(root, p)))
    .map(([p]) => p)
}

function stage (root: string, user: RunAs): Runtime {
  let dir: string
  try {
    dir = mkdtempSync(join(tmpdir(), 'pgrewind-runtime-'))
  } catch (e) {
    throw clusterError(`could not create a runtime directory under ${tmpdir()}: ${(e as Error).message}`)
  }
  stageRoot = dir
  process.on('exit', removeStage)
  const dev = lstatSync(dir).dev
  for (const p of ['package.json', join('dist', 'lib'), ...productionPackages(root)]) {
    if (existsSync(join(root, p))) copyTree(join(root, p), join(dir, p), user.gid, dev)
  }
  let node = process.execPath
  if (!userCan(user, node, true)) {
    node = join(dir, 'bin', 'node')
    copyTree(process.execPath, node, user.gid, dev)
  }
  chownSync(dir, 0, user.gid)
  chmodSync(dir, 0o750)
  const rt: Runtime = { root: dir, node, cli: cliOf(dir), launcher: launcherOf(dir), staged: true }
  // the proof: the unprivileged user runs the staged CLI through the command's launcher (node, main.js and the launcher at once)
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', rt.launcher, '--version'],
    { uid: user.uid, gid: user.gid, env: childEnv({ PGREWIND_NODE: node }), cwd: '/', encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) {
    throw clusterError(`user "${user.name}" cannot run pgrewind from ${dir}, the copy staged for it because it cannot read ${root}: ` +
      `${(r.stderr ?? '').trim().split('\n')[0] ?? r.error?.message}. ` +
      `Set TMPDIR to a directory "${user.name}" can reach (every directory above it searchable by it), or run from a clone "${user.name}" can read.`)
  }
  return rt
}

function removeStage (): void {
  if (stageRoot !== null) rmSync(stageRoot, { recursive: true, force: true })
  stageRoot = null
}

/**
 * Copy a tree for the unprivileged user: directories 0750 root:gid, files hard-linked
 * when others may already read them (and on the same device), else copied and made
 * readable (and, where the owner may run them, runnable) by the group; symlinks as they are.
 */
function copyTree (src: string, dst: string, gid: number, dev: number): void {
  const st = lstatSync(src)
  mkdirSync(dirname(dst), { recursive: true, mode: 0o750 })
  fixParents(dirname(dst), gid)
  if (st.isSymbolicLink()) {
    if (!existsSync(dst)) symlinkSync(readlinkSync(src), dst)
    return
  }
  if (st.isDirectory()) {
    mkdirSync(dst, { recursive: true, mode: 0o750 })
    chownSync(dst, 0, gid)
    chmodSync(dst, 0o750)
    for (const name of readdirSync(src)) copyTree(join(src, name), join(dst, name), gid, dev)
    return
  }
  if (!st.isFile()) return
  if ((st.mode & 0o004) !== 0 && st.dev === dev) {
    try {
      linkSync(src, dst)
      return
    } catch { /* another file system after all, or links refused: copy */ }
  }
  copyFileSync(src, dst)
  chownSync(dst, 0, gid)
  chmodSync(dst, 0o640 | ((st.mode & 0o100) !== 0 ? 0o110 : 0))
}

const fixed = new Set<string>()
function fixParents (dir: string, gid: number): void {
  if (stageRoot === null) return
  for (let d = dir; d.startsWith(stageRoot) && !fixed.has(d); d = dirname(d)) {
    chownSync(d, 0, gid)
    chmodSync(d, 0o750)
    fixed.add(d)
    if (d === stageRoot) break
  }
}
