import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PgRewindError } from '../errors'
import { rangesCount } from './blockranges'
import { replacedWhole } from './filemap'
import { BLCKSZ } from '../format/versions'
import { Plan } from '../steps/types'

/**
 * Before the first change: will the apply fit, may it write where it must, and does
 * the target keep the WAL its recovery will need? A failure here changes nothing and
 * says what to do — better than a full disk or EACCES halfway through.
 */

export interface PreflightReport {
  /** per file system: where, what the apply and the journal will add, what is free */
  space: Array<{ path: string, needBytes: number, freeBytes: number }>
  /** bytes the journal will hold (old ranges, tails, files copied in from other file systems) */
  journalBytes: number
}

/** Headroom kept free on every file system (PostgreSQL must still start there). */
const MARGIN = 16 * 1024 * 1024

export interface PreflightOptions {
  /** the journal's directory, or null when the apply runs without one */
  journalDir: string | null
  /** restore_command can bring missing WAL at startup (-c) */
  restoreTargetWal: boolean
}

export function preflight (pgdata: string, plan: Plan, o: PreflightOptions): PreflightReport {
  const problems: string[] = []
  const byDev = new Map<number, { path: string, needBytes: number }>()
  const devOf = new Map<string, number>()
  const dev = (dir: string): number => {
    let d = devOf.get(dir)
    if (d === undefined) {
      d = existsSync(dir) ? statSync(dir).dev : dev(dirname(dir))
      devOf.set(dir, d)
    }
    return d
  }
  const need = (dir: string, bytes: number): void => {
    if (bytes <= 0) return
    const d = dev(dir)
    const cur = byDev.get(d) ?? { path: dir, needBytes: 0 }
    cur.needBytes += bytes
    byDev.set(d, cur)
  }
  const journalDev = o.journalDir !== null ? dev(o.journalDir) : null
  let journalBytes = 0
  /** bytes the journal will keep */
  const keep = (bytes: number): void => {
    if (o.journalDir === null || bytes <= 0) return
    journalBytes += bytes
    need(o.journalDir, bytes)
  }
  const unwritable = new Set<string>()
  const writable = (p: string): void => {
    if (unwritable.has(p)) return
    try { accessSync(p, constants.W_OK) } catch { unwritable.add(p) }
  }

  for (const e of plan.entries) {
    const full = join(pgdata, e.path)
    const parent = dirname(full)
    if (replacedWhole(e)) {
      // the new file is written beside the old one, which the journal keeps; a file
      // made read-only is refused as if its blocks were written into it
      writable(parent)
      writable(full)
      need(parent, e.sourceSize ?? 0)
      if (journalDev !== null && dev(parent) !== journalDev) keep(e.targetSize ?? 0)
      continue
    }
    const blockBytes = e.blocks !== undefined && e.action !== 'remove' ? rangesCount(e.blocks) * BLCKSZ : 0
    switch (e.action) {
      case 'create':
      case 'copy':
        if (existsSync(parent)) writable(parent)
        if (e.action === 'copy') need(parent, e.sourceSize ?? 0)
        // a replaced file from another file system than the journal's is copied into it
        if (e.targetSize !== undefined && journalDev !== null && dev(parent) !== journalDev) keep(e.targetSize)
        break
      case 'copy_tail':
        writable(full)
        need(parent, (e.sourceSize ?? 0) - (e.targetSize ?? 0))
        break
      case 'truncate':
        writable(full)
        keep((e.targetSize ?? 0) - (e.sourceSize ?? 0))
        break
      case 'remove':
        writable(parent)
        if (e.type === 'file' && journalDev !== null && dev(parent) !== journalDev) keep(e.targetSize ?? 0)
        break
      default:
        if (blockBytes > 0) writable(full)
    }
    keep(blockBytes)
  }
  if (unwritable.size > 0) {
    const list = [...unwritable].slice(0, 10)
    problems.push(`Not writable by this user: ${list.map(p => `"${p}"`).join(', ')}${unwritable.size > list.length ? ` and ${unwritable.size - list.length} more` : ''}; run pgrewind as the data directory's owner.`)
  }

  const space: PreflightReport['space'] = []
  for (const { path, needBytes } of byDev.values()) {
    const fs = statfsSync(existsSync(path) ? path : pgdata)
    const freeBytes = Number(fs.bavail) * Number(fs.bsize)
    space.push({ path, needBytes, freeBytes })
    if (needBytes + MARGIN > freeBytes) {
      problems.push(`The file system of "${path}" has ${mib(freeBytes)} free; the rewind needs ${mib(needBytes)} there${o.journalDir !== null ? ' (its journal included)' : ''}, plus ${mib(MARGIN)} of headroom.`)
    }
  }

  const absent = new Set(plan.requiredWal.filter(f => !existsSync(join(pgdata, f))))
  for (let i = 0; i < plan.entries.length && absent.size > 0; i++) if (plan.entries.action(i) === 'copy') absent.delete(plan.entries.path(i))
  const missing = [...absent]
  if (missing.length > 0 && !o.restoreTargetWal) {
    problems.push(`Recovery after the rewind needs these WAL files of the target, which are missing: ${missing.join(', ')}. Put them back into pg_wal, or use --restore-target-wal (options.restoreTargetWal) so that restore_command supplies them.`)
  }

  if (problems.length > 0) {
    throw new PgRewindError('PREFLIGHT', problems.length === 1 ? 'the target is not ready for the rewind' : `the target is not ready for the rewind (${problems.length} problems)`, {
      detail: problems.join('\n'),
      hint: 'Nothing was changed. Fix the above and run again.',
      data: { space, missingWal: missing, unwritable: [...unwritable] }
    })
  }
  return { space, journalBytes }
}

function mib (n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`
}
