import { PgRewindError } from '../errors'
import { BLCKSZ, RELSEG_SIZE, type VersionInfo, tablespaceVersionDir } from './versions'

/**
 * Relation file paths (relative to the data directory), as PostgreSQL's
 * GetRelationPath builds them, and pg_rewind's test for "relation data file"
 * (filemap.c isRelDataFile); src/common/relpath.c.
 *
 * Only the tablespace directory name (`PG_<major>_<catversion>`) differs between
 * versions, so every function that may see a tablespace path takes the version.
 */

export enum ForkNumber {
  MAIN = 0,
  FSM = 1,
  VISIBILITYMAP = 2,
  INIT = 3
}

/** Fork names as they appear in file names (`_fsm`, `_vm`, `_init`; main has no suffix). */
export const FORK_NAMES: readonly string[] = ['main', 'fsm', 'vm', 'init']
export const MAX_FORKNUM = ForkNumber.INIT

export const DEFAULTTABLESPACE_OID = 1663
export const GLOBALTABLESPACE_OID = 1664

/** RelFileNode (13–15) / RelFileLocator (16+): the same 12 bytes, our name is the newer one. */
export interface RelFileLocator {
  spcOid: number
  dbOid: number
  relNumber: number
}

/** What a tablespace path needs from the version table. */
export type RelPathVersion = Pick<VersionInfo, 'major' | 'catalogVersion'>

export interface RelationFile extends RelFileLocator {
  fork: ForkNumber
  /** segment number: 0 for the first file, N for the `.N` suffix */
  segNo: number
  /**
   * Temporary relation (`t<N>_<relNumber>`): the backend id (13–16, 1-based) or
   * proc number (17+, 0-based) of the session that owns it; null for permanent ones.
   */
  tempProcNumber: number | null
}

const MAX_U32 = 0xFFFFFFFF

function checkU32 (value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new PgRewindError('RELPATH', `invalid ${what} ${value}`, { data: { [what]: value } })
  }
}

/** `global`, `base/<db>` or `pg_tblspc/<spc>/PG_<major>_<catversion>/<db>` (GetDatabasePath). */
export function databasePath (spcOid: number, dbOid: number, v: RelPathVersion): string {
  checkU32(spcOid, 'spcOid')
  checkU32(dbOid, 'dbOid')
  if (spcOid === GLOBALTABLESPACE_OID) return 'global'
  if (spcOid === DEFAULTTABLESPACE_OID) return `base/${dbOid}`
  return `pg_tblspc/${spcOid}/${tablespaceVersionDir(v)}/${dbOid}`
}

export interface RelationPathOptions {
  fork?: ForkNumber
  segNo?: number
  tempProcNumber?: number | null
}

/**
 * The path of one relation file: GetRelationPath plus pg_rewind's segment suffix
 * (`.N` only for N > 0). Shared relations are never temporary and have no database,
 * so asking for one is an error rather than a path PostgreSQL would never create.
 */
export function relationPath (loc: RelFileLocator, v: RelPathVersion, options: RelationPathOptions = {}): string {
  const fork = options.fork ?? ForkNumber.MAIN
  const segNo = options.segNo ?? 0
  const temp = options.tempProcNumber ?? null
  checkU32(loc.relNumber, 'relNumber')
  checkU32(segNo, 'segNo')
  if (!Number.isInteger(fork) || fork < 0 || fork > MAX_FORKNUM) {
    throw new PgRewindError('RELPATH', `invalid fork number ${fork}`, { data: { fork } })
  }
  if (temp !== null && (!Number.isInteger(temp) || temp < 0 || temp > 0x7FFFFFFF)) {
    throw new PgRewindError('RELPATH', `invalid temporary relation proc number ${temp}`, { data: { tempProcNumber: temp } })
  }
  if (loc.spcOid === GLOBALTABLESPACE_OID && (loc.dbOid !== 0 || temp !== null)) {
    throw new PgRewindError('RELPATH', 'shared relations have database OID 0 and are never temporary', { data: { ...loc, tempProcNumber: temp } })
  }
  const dir = databasePath(loc.spcOid, loc.dbOid, v)
  const name = (temp === null ? '' : `t${temp}_`) + String(loc.relNumber) +
    (fork === ForkNumber.MAIN ? '' : `_${FORK_NAMES[fork]}`) +
    (segNo > 0 ? `.${segNo}` : '')
  return `${dir}/${name}`
}

// Digits only: the canonical re-generation below rejects leading zeros, `+`, `.0`
// and the like, so the patterns themselves may stay permissive about values.
const NUM = '(\\d{1,10})'
const FILE_RE = new RegExp(`^(?:t${NUM}_)?${NUM}(?:_(fsm|vm|init))?(?:\\.${NUM})?$`)
const GLOBAL_RE = /^global\/([^/]+)$/
const BASE_RE = new RegExp(`^base/${NUM}/([^/]+)$`)
const TBLSPC_RE = new RegExp(`^pg_tblspc/${NUM}/([^/]+)/${NUM}/([^/]+)$`)

function u32 (text: string | undefined): number | null {
  if (text === undefined) return null
  const n = Number(text)
  return n <= MAX_U32 ? n : null
}

/**
 * Parse any relation file path (all forks, segments, temporary relations).
 * Returns null for anything else, including paths that are not exactly what
 * PostgreSQL itself would generate (leading zeros, `.0`, a tablespace directory of
 * another version, `pg_tblspc/1663/…`).
 */
export function parseRelationPath (path: string, v: RelPathVersion): RelationFile | null {
  let spcOid: number | null
  let dbOid: number | null
  let file: string
  let m: RegExpExecArray | null
  if ((m = GLOBAL_RE.exec(path)) !== null) {
    spcOid = GLOBALTABLESPACE_OID
    dbOid = 0
    file = m[1]
  } else if ((m = BASE_RE.exec(path)) !== null) {
    spcOid = DEFAULTTABLESPACE_OID
    dbOid = u32(m[1])
    file = m[2]
  } else if ((m = TBLSPC_RE.exec(path)) !== null) {
    if (m[2] !== tablespaceVersionDir(v)) return null
    spcOid = u32(m[1])
    dbOid = u32(m[3])
    file = m[4]
  } else {
    return null
  }
  const f = FILE_RE.exec(file)
  if (f === null || spcOid === null || dbOid === null) return null
  const temp = f[1] === undefined ? null : u32(f[1])
  const relNumber = u32(f[2])
  const segNo = f[4] === undefined ? 0 : u32(f[4])
  if (relNumber === null || segNo === null || (f[1] !== undefined && (temp === null || temp > 0x7FFFFFFF))) return null
  if (spcOid === GLOBALTABLESPACE_OID && temp !== null) return null
  const fork = f[3] === undefined ? ForkNumber.MAIN : FORK_NAMES.indexOf(f[3]) as ForkNumber
  const result: RelationFile = { spcOid, dbOid, relNumber, fork, segNo, tempProcNumber: temp }
  let canonical: string
  try {
    canonical = relationPath(result, v, { fork, segNo, tempProcNumber: temp })
  } catch {
    return null
  }
  return canonical === path ? result : null
}

/**
 * pg_rewind's isRelDataFile: a main-fork, permanent relation segment under
 * `global/`, `base/<db>/` or `pg_tblspc/<spc>/PG_<major>_<catversion>/<db>/`, whose
 * path re-generated from the parsed numbers is identical. Only these get block-level
 * treatment; every other fork is copied whole because WAL block references are
 * only tracked for the main fork.
 */
export function isRelationDataFile (path: string, v: RelPathVersion): boolean {
  return relationDataFile(path, v) !== null
}

/** The relation file `path` names when it is a data file (main fork, not temporary), else null. */
export function relationDataFile (path: string, v: RelPathVersion): RelationFile | null {
  const r = parseRelationPath(path, v)
  return r !== null && r.fork === ForkNumber.MAIN && r.tempProcNumber === null ? r : null
}

// ---- blocks and segments --------------------------------------------------------

export interface BlockLocation {
  /** which segment file (`.N` suffix; 0 = no suffix) */
  segNo: number
  /** block number inside that segment file */
  blockInSegment: number
  /** byte offset of the block inside that segment file */
  offset: number
}

function checkGeometry (relsegSize: number, blcksz: number): void {
  if (!Number.isInteger(relsegSize) || relsegSize <= 0 || relsegSize > MAX_U32) {
    throw new PgRewindError('RELPATH', `invalid relation segment size ${relsegSize}`)
  }
  if (!Number.isInteger(blcksz) || blcksz <= 0) throw new PgRewindError('RELPATH', `invalid block size ${blcksz}`)
}

/**
 * Where block `blockNo` of a relation fork lives. Block numbers in WAL count from
 * the start of the fork, not the segment; relsegSize/blcksz come from pg_control
 * (pg_rewind uses its compile-time values, which a foreign build could differ from).
 */
export function blockLocation (blockNo: number, relsegSize: number = RELSEG_SIZE, blcksz: number = BLCKSZ): BlockLocation {
  checkU32(blockNo, 'blockNo')
  checkGeometry(relsegSize, blcksz)
  const blockInSegment = blockNo % relsegSize
  return { segNo: Math.floor(blockNo / relsegSize), blockInSegment, offset: blockInSegment * blcksz }
}

/** Inverse of blockLocation: the fork-wide block number (what data checksums mix in). */
export function absoluteBlockNumber (segNo: number, blockInSegment: number, relsegSize: number = RELSEG_SIZE): number {
  checkGeometry(relsegSize, 1)
  if (!Number.isInteger(segNo) || segNo < 0 || !Number.isInteger(blockInSegment) || blockInSegment < 0 || blockInSegment >= relsegSize) {
    throw new PgRewindError('RELPATH', `invalid block ${blockInSegment} of segment ${segNo}`)
  }
  const n = segNo * relsegSize + blockInSegment
  checkU32(n, 'blockNo')
  return n
}

/** Size in bytes of a full relation segment file. */
export function segmentFileSize (relsegSize: number = RELSEG_SIZE, blcksz: number = BLCKSZ): number {
  checkGeometry(relsegSize, blcksz)
  return relsegSize * blcksz
}

/**
 * The segment file holding block `blockNo` of a fork, and the block's place in it:
 * what pg_rewind computes for every WAL block reference (datasegpath).
 */
export function blockPath (loc: RelFileLocator, fork: ForkNumber, blockNo: number, v: RelPathVersion,
  relsegSize: number = RELSEG_SIZE, blcksz: number = BLCKSZ): BlockLocation & { path: string } {
  const where = blockLocation(blockNo, relsegSize, blcksz)
  return { ...where, path: relationPath(loc, v, { fork, segNo: where.segNo }) }
}
