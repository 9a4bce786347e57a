import { createHash, randomBytes } from 'node:crypto'
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync, rmSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { defs } from '../contract/schemas'
import { PgRewindError } from '../errors'
import { writeJson } from '../jsonstream'
import type { JsonPlan, Plan, TargetSpec } from '../steps/types'
import { replaceFile } from '../target/durable'
import { checkedPlanOf } from './plandigest'

/**
 * A plan kept in a file instead of travelling whole through JSON-RPC: buildPlan
 * writes it (planFile), applyPlan, writeBackupLabel and verify read it back
 * (planFile + digest). The file is the canonical JSON of the plan without its
 * digest — the very text the digest hashes — so its sha256 is the digest, the
 * check costs one pass over the bytes as they are read, and `sha256sum` shows it too.
 */

const planSchemaId = `${defs.$id}#/$defs/plan`
// ajv (some 8 MB of memory) is loaded when a plan file is read, not by every rewind
const schemaValidation = (): typeof import('../contract/validate') => require('../contract/validate') as typeof import('../contract/validate')

/** Load it now: a process about to give up root may not be able to read its own files afterwards (see preloadServerSource). */
export function preloadPlanValidation (): void { schemaValidation() }
const READ_CHUNK = 1024 * 1024

function planFileError (message: string, detail?: string): PgRewindError {
  return new PgRewindError('PLAN_FILE', message, { detail })
}

function realOr (path: string): string {
  try { return realpathSync(path) } catch { return resolve(path) }
}

/** The target's data directory, its pg_wal and its tablespaces, resolved: everything a rewind rewrites. */
export function rewrittenDirs (pgdata: string): string[] {
  const dirs = [realOr(pgdata), realOr(join(pgdata, 'pg_wal'))]
  let spaces: string[] = []
  try { spaces = readdirSync(join(pgdata, 'pg_tblspc')) } catch { /* none (or no data directory: the step says so itself) */ }
  for (const s of spaces) dirs.push(realOr(join(pgdata, 'pg_tblspc', s)))
  return dirs
}

const within = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`)

/**
 * Where a plan file may be: an absolute path whose directory exists, outside
 * everything the rewind rewrites (a plan inside the target could be overwritten or
 * removed by the very rewind it describes), and not something other than a
 * regular file. Returns the path with its directory resolved.
 */
export function checkPlanFilePath (path: string, target: TargetSpec): string {
  if (!isAbsolute(path)) throw planFileError(`plan file "${path}" is not an absolute path`)
  let dir: string
  try { dir = realpathSync(dirname(path)) } catch (e) {
    throw planFileError(`the directory of plan file "${path}" does not exist`, (e as Error).message)
  }
  const full = join(dir, basename(path))
  for (const d of rewrittenDirs(target.pgdata)) {
    if (within(full, d)) {
      throw planFileError(`plan file "${path}" is inside "${d}", which the rewind of "${target.pgdata}" rewrites`)
    }
  }
  let st
  try { st = lstatSync(full) } catch { return full }
  if (!st.isFile()) throw planFileError(`plan file "${path}" is not a regular file`)
  return full
}

/** Write the plan to `path` durably (temporary file, fsync, rename, fsync of the directory), readable by its owner only. */
export function writePlanFile (plan: Plan | JsonPlan, path: string, target: TargetSpec): void {
  const full = checkPlanFilePath(path, target)
  // the text the digest was computed over (plandigest.ts), so the file's sha256 is the
  // digest: readers check that, no need to hash it a second time here
  const { digest: _digest, ...content } = plan
  const tmp = join(dirname(full), `.${basename(full)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    replaceFile(full, write => writeJson(content, write, { sortKeys: true }), { tmp, mode: 0o600 })
  } catch (e) {
    rmSync(tmp, { force: true })
    throw planFileError(`could not write plan file "${path}": ${(e as Error).message}`)
  }
}

/**
 * The plan in `path`, refused unless its bytes hash to `digest` (PLAN_DIGEST) and
 * it is a plan (PLAN_FILE). Read in chunks and hashed as they come; the text is held
 * once, until it is parsed.
 */
export function readPlanFile (path: string, digest: string, target: TargetSpec): Plan {
  const full = checkPlanFilePath(path, target)
  let fd: number
  try { fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW) } catch (e) {
    throw planFileError(`could not open plan file "${path}"`, (e as Error).message)
  }
  const h = createHash('sha256')
  // one buffer of the file's size, filled and hashed a chunk at a time
  let text: Buffer
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw planFileError(`plan file "${path}" is not a regular file`)
    text = Buffer.allocUnsafe(st.size)
    let done = 0
    while (done < text.length) {
      const n = readSync(fd, text, done, Math.min(READ_CHUNK, text.length - done), null)
      if (n === 0) break
      h.update(text.subarray(done, done + n))
      done += n
    }
    if (done < text.length) throw planFileError(`plan file "${path}" shrank while it was read`)
  } catch (e) {
    if (e instanceof PgRewindError) throw e
    throw planFileError(`could not read plan file "${path}"`, (e as Error).message)
  } finally { closeSync(fd) }
  const got = h.digest('hex')
  if (got !== digest) {
    throw new PgRewindError('PLAN_DIGEST', 'the plan does not match its digest', {
      detail: `Plan file "${path}" hashes to ${got}, but its digest was given as ${digest}.`,
      hint: 'The plan file was modified after buildPlan wrote it; build it again.'
    })
  }
  let plan: unknown
  try { plan = { ...JSON.parse(text.toString('utf8')), digest } } catch (e) {
    throw planFileError(`plan file "${path}" is not JSON`, (e as Error).message.split('\n')[0].slice(0, 120))
  }
  const errors = schemaValidation().schemaErrors({ $id: planSchemaId }, plan)
  if (errors !== null) {
    throw planFileError(`plan file "${path}" is not a plan`,
      errors.slice(0, 5).map(e => `${e.instancePath === '' ? '(top)' : e.instancePath}: ${e.message ?? e.keyword}`).join('; '))
  }
  // its bytes are the canonical text the digest hashes: no need to hash it again
  return checkedPlanOf(plan as JsonPlan)
}
