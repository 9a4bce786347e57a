import { readFileSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PgRewindError } from '../errors'
import { DBState, dbStateName } from '../format/controlfile'
import { formatLsn } from '../format/lsn'
import { pageChecksum, pageIsNew, storedChecksum } from '../format/pagechecksum'
import { parseRelationPath } from '../format/relpath'
import { BLCKSZ } from '../format/versions'
import { FetchRequest } from '../source/types'
import { checkRelativePath } from '../target/pathsafety'
import { localReader, lstatOrNull, RangeReader } from '../datadir/files'
import { ClusterInfo, readClusterInfo } from '../rewind/clusterinfo'
import { PlanEntry } from '../rewind/filemap'
import { checkNotRunning, openSourceChecked, planOf } from '../rewind/preconditions'
import { BackupLabelInfo, Plan, PlanInput, Ports } from './types'

export interface VerifyMismatch { path: string, problem: string }

export interface VerifyResult {
  ok: boolean
  /** plan entries checked */
  checked: number
  bytesCompared: number
  /** relation pages whose data-page checksum was checked (clusters with checksums on) */
  pagesChecksummed: number
  mismatches: VerifyMismatch[]
  /** mismatches beyond the first MAX_LISTED */
  mismatchesOmitted: number
}

const MAX_LISTED = 100
// Written by writeBackupLabel and writeRecoveryConf after applyPlan: checked by
// their own rules below, not against the source's bytes.
const WRITTEN_LATER = new Set(['backup_label', 'global/pg_control', 'standby.signal'])
// writeRecoveryConf appends to it: the source's bytes must be its beginning.
const APPENDED_LATER = 'postgresql.auto.conf'

class Findings {
  readonly listed: VerifyMismatch[] = []
  omitted = 0
  private readonly paths = new Set<string>()

  /** One finding per path: the first difference says enough. */
  add (path: string, problem: string): void {
    if (this.paths.has(path)) return
    this.paths.add(path)
    if (this.listed.length < MAX_LISTED) this.listed.push({ path, problem })
    else this.omitted++
  }
}

function checkControl (target: ClusterInfo, plan: Plan, found: Findings): void {
  const c = target.control
  if (c.state !== DBState.IN_ARCHIVE_RECOVERY) {
    found.add('global/pg_control', `state is "${dbStateName(c.state)}", expected "in archive recovery"`)
  }
  if (c.systemIdentifier.toString() !== plan.source.systemIdentifier) {
    found.add('global/pg_control', `system identifier is ${c.systemIdentifier}, the source's is ${plan.source.systemIdentifier}`)
  }
  // A stopped local source cannot have moved on: the target's pg_control is its copy.
  if (plan.source.kind === 'local' && formatLsn(c.checkPoint) !== plan.source.checkpoint) {
    found.add('global/pg_control', `latest checkpoint is ${formatLsn(c.checkPoint)}, the source's is ${plan.source.checkpoint}`)
  }
}

function checkBackupLabel (pgdata: string, b: BackupLabelInfo, found: Findings): void {
  let text: string
  try { text = readFileSync(join(pgdata, 'backup_label'), 'utf8') } catch {
    found.add('backup_label', 'missing')
    return
  }
  const start = /^START WAL LOCATION: (\S+)/m.exec(text)?.[1]
  const ckpt = /^CHECKPOINT LOCATION: (\S+)/m.exec(text)?.[1]
  if (start !== b.redo) found.add('backup_label', `START WAL LOCATION is ${start ?? 'missing'}, the plan says ${b.redo}`)
  else if (ckpt !== b.checkpoint) found.add('backup_label', `CHECKPOINT LOCATION is ${ckpt ?? 'missing'}, the plan says ${b.checkpoint}`)
}

/** The byte ranges of one entry that must now equal the source's. */
function rangesToCompare (e: PlanEntry): FetchRequest[] {
  const reqs: FetchRequest[] = []
  if (e.action === 'copy') reqs.push({ path: e.path, offset: 0, length: e.sourceSize ?? 0 })
  if (e.action === 'copy_tail') {
    const from = e.targetSize ?? 0
    reqs.push({ path: e.path, offset: from, length: (e.sourceSize ?? 0) - from })
  }
  for (const [a, b] of e.blocks ?? []) reqs.push({ path: e.path, offset: a * BLCKSZ, length: (b - a) * BLCKSZ })
  return reqs.filter(r => r.length > 0)
}

/** Type and size of one entry's path in the target; false when it is wrong (already reported). */
function checkShape (pgdata: string, e: PlanEntry, found: Findings): boolean {
  const full = join(pgdata, e.path)
  const st = lstatOrNull(full, 'target')
  if (e.action === 'remove') {
    if (st !== null) found.add(e.path, 'still exists (the plan removes it)')
    return false
  }
  if (st === null) {
    found.add(e.path, 'missing')
    return false
  }
  if (e.type === 'symlink') {
    if (!st.isSymbolicLink()) found.add(e.path, 'is not a symbolic link')
    else if (e.linkTarget !== undefined && readlinkSync(full) !== e.linkTarget) found.add(e.path, `points to "${readlinkSync(full)}", not "${e.linkTarget}"`)
    return false
  }
  if (e.type === 'dir') {
    // pg_wal and tablespaces may be links to directories
    if (!statSync(full).isDirectory()) found.add(e.path, 'is not a directory')
    return false
  }
  if (!st.isFile()) {
    found.add(e.path, 'is not a regular file')
    return false
  }
  if (e.action === 'copy' || e.action === 'copy_tail' || e.action === 'truncate') {
    const want = e.sourceSize ?? 0
    const sizeOk = e.path === APPENDED_LATER ? st.size >= want : st.size === want
    if (!sizeOk) {
      found.add(e.path, `size is ${st.size} bytes, the source's is ${want}`)
      return false
    }
  }
  return true
}

/**
 * Check a finished rewind (applyPlan and writeBackupLabel done, the target not
 * started since) against the source: pg_control in archive recovery with the plan's
 * backup_label, and every path the plan touched — copies, tails, truncations,
 * changed blocks, creations, removals — now as the source has it. Exact for a
 * stopped local source; a running source server keeps writing, so hot files may
 * differ there without anything being wrong. Reads only.
 */
export async function verify (input: PlanInput, ports: Ports): Promise<VerifyResult> {
  const plan = planOf(input)
  const pgdata = input.target.pgdata
  checkNotRunning(pgdata, 'target')
  const found = new Findings()
  const target = await readClusterInfo(localReader(pgdata, 'target'), 'target')
  if (plan.rewindNeeded && plan.backupLabel !== null) {
    checkControl(target, plan, found)
    checkBackupLabel(pgdata, plan.backupLabel, found)
  }

  let checked = 0
  let bytesCompared = 0
  let pagesChecksummed = 0
  const checksums = target.control.dataChecksumVersion !== 0
  const relsegSize = target.control.relsegSize
  const reader = new RangeReader(pgdata, 'target')
  /** Each whole page of a relation file among the bytes just read: its stored checksum must be right. */
  const checkPages = (path: string, off: number, mine: Buffer): void => {
    const rel = parseRelationPath(path, target.version)
    if (rel === null || rel.tempProcNumber !== null) return
    for (let p = Math.ceil(off / BLCKSZ) * BLCKSZ; p + BLCKSZ <= off + mine.length; p += BLCKSZ) {
      const page = mine.subarray(p - off, p - off + BLCKSZ)
      if (pageIsNew(page)) continue
      pagesChecksummed++
      const blkno = rel.segNo * relsegSize + p / BLCKSZ
      const want = pageChecksum(page, blkno)
      if (storedChecksum(page) !== want) found.add(path, `page checksum mismatch in block ${p / BLCKSZ}: stored ${storedChecksum(page)}, computed ${want}`)
    }
  }
  const source = await openSourceChecked(input.source, ports)
  try {
    for (const e of plan.entries) {
      ports.checkCancelled?.()
      if (WRITTEN_LATER.has(e.path)) continue
      // the plan's digest vouches for its paths, but a read outside the data
      // directory is still a read outside it
      checkRelativePath(e.path, 'open')
      checked++
      if (!checkShape(pgdata, e, found)) continue
      const reqs = rangesToCompare(e)
      if (reqs.length === 0) continue
      try {
        await source.fetch(reqs, (req, off, data) => {
          const mine = reader.read(req.path, off, data.length)
          bytesCompared += data.length
          if (!mine.equals(data)) {
            let i = 0
            while (i < mine.length && mine[i] === data[i]) i++
            const at = off + i
            found.add(req.path, `differs from the source at byte ${at} (block ${Math.floor(at / BLCKSZ)})`)
          }
          // a page equal to the source's can still be damaged (on both sides)
          if (checksums) checkPages(req.path, off, mine)
        })
      } catch (err) {
        if (err instanceof PgRewindError && (err.code === 'SOURCE_CHANGED' || err.code === 'SOURCE_IO')) {
          found.add(e.path, `could not be compared: ${err.message}`)
        } else throw err
      }
    }
  } finally {
    reader.close()
    await source.close()
  }
  ports.log.info(found.listed.length === 0
    ? `verified ${checked} plan entries, ${bytesCompared} bytes${checksums ? `, ${pagesChecksummed} page checksums` : ''}: the target matches the source`
    : `verified ${checked} plan entries: ${found.listed.length + found.omitted} differ from the source`)
  return { ok: found.listed.length === 0, checked, bytesCompared, pagesChecksummed, mismatches: found.listed, mismatchesOmitted: found.omitted }
}
