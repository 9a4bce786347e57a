import { PgRewindError } from '../errors'
import { crc32c } from './crc32c'
import { isValidSegmentSize, type Lsn } from './lsn'
import {
  type Major,
  type VersionInfo,
  PG_CONTROL_FILE_SIZE,
  SUPPORTED_MAJORS,
  VERSIONS,
  majorFromCatalogVersion,
  versionInfo
} from './versions'

/**
 * global/pg_control (ControlFileData) for PostgreSQL 13–18.
 *
 * The parser returns every field, not only the ones pg_rewind reads, because the
 * same object is what `inspect` shows and what we write back after a rewind; a
 * field we dropped here would silently be lost on that write. The layout is
 * src/include/catalog/pg_control.h's ControlFileData (verified against pg_controldata
 * on real files of all six majors);
 * the only per-version switches are the flags in versions.ts.
 */

/** DBState. Numbering is the same in 13–18. */
export enum DBState {
  STARTUP = 0,
  SHUTDOWNED = 1,
  SHUTDOWNED_IN_RECOVERY = 2,
  SHUTDOWNING = 3,
  IN_CRASH_RECOVERY = 4,
  IN_ARCHIVE_RECOVERY = 5,
  IN_PRODUCTION = 6
}

// Exactly the words pg_controldata prints, so users can grep either tool's output.
const DB_STATE_NAMES: Readonly<Record<number, string>> = {
  [DBState.STARTUP]: 'starting up',
  [DBState.SHUTDOWNED]: 'shut down',
  [DBState.SHUTDOWNED_IN_RECOVERY]: 'shut down in recovery',
  [DBState.SHUTDOWNING]: 'shutting down',
  [DBState.IN_CRASH_RECOVERY]: 'in crash recovery',
  [DBState.IN_ARCHIVE_RECOVERY]: 'in archive recovery',
  [DBState.IN_PRODUCTION]: 'in production'
}

/** The state as pg_controldata prints it ("Database cluster state"). */
export function dbStateName (state: number): string {
  return DB_STATE_NAMES[state] ?? 'unrecognized status code'
}

/** A clean shutdown: the only states pg_rewind accepts for a target (and a local source). */
export function isCleanShutdown (state: number): boolean {
  return state === DBState.SHUTDOWNED || state === DBState.SHUTDOWNED_IN_RECOVERY
}

export enum WalLevel {
  MINIMAL = 0,
  REPLICA = 1,
  LOGICAL = 2
}

/** wal_level as pg_controldata prints it ("wal_level setting"). */
export function walLevelName (level: number): string {
  switch (level) {
    case WalLevel.MINIMAL: return 'minimal'
    case WalLevel.REPLICA: return 'replica'
    case WalLevel.LOGICAL: return 'logical'
    default: return 'unrecognized wal_level'
  }
}

/** pg_control's data_checksum_version when checksums are on (PG_DATA_CHECKSUM_VERSION). */
export const PG_DATA_CHECKSUM_VERSION = 1
/** The architecture check value stored in floatFormat. */
export const FLOATFORMAT_VALUE = 1234567.0
export const MOCK_AUTH_NONCE_LEN = 32

/** Size of the CheckPoint struct in 13–18. */
export const SIZE_OF_CHECKPOINT = 88

/** Copy of the latest checkpoint record's main data (CheckPoint, 88 bytes). */
export interface CheckPoint {
  redo: Lsn
  thisTimeLineID: number
  prevTimeLineID: number
  fullPageWrites: boolean
  /** 17+ only (was padding before): wal_level when the checkpoint was written */
  walLevel: number | null
  /** FullTransactionId: epoch in the high 32 bits (pg_controldata prints `epoch:xid`) */
  nextXid: bigint
  nextOid: number
  nextMulti: number
  nextMultiOffset: number
  oldestXid: number
  oldestXidDB: number
  oldestMulti: number
  oldestMultiDB: number
  /** pg_time_t, Unix seconds (bigint: int64 on disk, kept exact for byte-identical rewrite) */
  time: bigint
  oldestCommitTsXid: number
  newestCommitTsXid: number
  oldestActiveXid: number
}

export interface ControlFile {
  /** major version the layout was read as (from catalog_version_no) */
  major: Major
  systemIdentifier: bigint
  pgControlVersion: number
  catalogVersionNo: number
  /** DBState; a plain number because a damaged file may hold anything */
  state: number
  /** last update of pg_control, Unix seconds */
  time: bigint
  /** LSN of the latest checkpoint record */
  checkPoint: Lsn
  checkPointCopy: CheckPoint
  unloggedLSN: Lsn
  minRecoveryPoint: Lsn
  minRecoveryPointTLI: number
  backupStartPoint: Lsn
  backupEndPoint: Lsn
  backupEndRequired: boolean
  walLevel: number
  walLogHints: boolean
  maxConnections: number
  maxWorkerProcesses: number
  maxWalSenders: number
  maxPreparedXacts: number
  maxLocksPerXact: number
  trackCommitTimestamp: boolean
  maxAlign: number
  floatFormat: number
  blcksz: number
  relsegSize: number
  xlogBlcksz: number
  xlogSegSize: number
  nameDataLen: number
  indexMaxKeys: number
  toastMaxChunkSize: number
  loblksize: number
  float8ByVal: boolean
  dataChecksumVersion: number
  /** 18+ only: whether `char` was signed on the platform that ran initdb */
  defaultCharSignedness: boolean | null
  /** 32 random bytes (SCRAM mock authentication) */
  mockAuthenticationNonce: Buffer
  /** CRC as stored in the file (verified at parse; recomputed by the writer) */
  crc: number
  /**
   * The 8192 bytes this object was parsed from (a private copy). The writer starts
   * from it so padding and anything we do not model survive a rewrite unchanged.
   */
  raw?: Buffer
}

// ---- layout ---------------------------------------------------------------------

/** Offsets that are the same in every supported version (pg_control.h). */
const OFF = {
  systemIdentifier: 0,
  pgControlVersion: 8,
  catalogVersionNo: 12,
  state: 16,
  time: 24,
  checkPoint: 32,
  checkPointCopy: 40,
  unloggedLSN: 128,
  minRecoveryPoint: 136,
  minRecoveryPointTLI: 144,
  backupStartPoint: 152,
  backupEndPoint: 160,
  backupEndRequired: 168,
  walLevel: 172,
  walLogHints: 176,
  maxConnections: 180,
  maxWorkerProcesses: 184,
  maxWalSenders: 188,
  maxPreparedXacts: 192,
  maxLocksPerXact: 196,
  trackCommitTimestamp: 200,
  maxAlign: 204,
  floatFormat: 208,
  blcksz: 216,
  relsegSize: 220,
  xlogBlcksz: 224,
  xlogSegSize: 228,
  nameDataLen: 232,
  indexMaxKeys: 236,
  toastMaxChunkSize: 240,
  loblksize: 244,
  float8ByVal: 248,
  dataChecksumVersion: 252,
  /** first byte after data_checksum_version: nonce (13–17) or char signedness (18) */
  tail: 256
} as const

/** Offsets inside CheckPoint (relative to checkPointCopy). */
const CKPT = {
  redo: 0,
  thisTimeLineID: 8,
  prevTimeLineID: 12,
  fullPageWrites: 16,
  walLevel: 20,
  nextXid: 24,
  nextOid: 32,
  nextMulti: 36,
  nextMultiOffset: 40,
  oldestXid: 44,
  oldestXidDB: 48,
  oldestMulti: 52,
  oldestMultiDB: 56,
  time: 64,
  oldestCommitTsXid: 72,
  newestCommitTsXid: 76,
  oldestActiveXid: 80
} as const

interface TailLayout {
  charSignedness: number | null
  nonce: number
  crc: number
}

function tailLayout (v: VersionInfo): TailLayout {
  // 18 inserted one bool in front of the nonce; the crc moved from 288 to 292.
  const charSignedness = v.controlHasCharSignedness ? OFF.tail : null
  return { charSignedness, nonce: OFF.tail + (charSignedness === null ? 0 : 1), crc: v.controlCrcOffset }
}

/**
 * The layout of a pg_control_version. Several majors share one (1300 = 13…16); any
 * of them gives the same offsets, which is why a layout can be chosen (and the CRC
 * checked) before the catalog version says which major it really is.
 */
function versionForControlVersion (pgControlVersion: number): VersionInfo | null {
  for (const m of SUPPORTED_MAJORS) if (VERSIONS[m].pgControlVersion === pgControlVersion) return VERSIONS[m]
  return null
}

// ---- parse ----------------------------------------------------------------------

export interface ParseControlFileOptions {
  /**
   * Major version the caller expects (e.g. from the data directory's PG_VERSION).
   * A control file that says otherwise is refused: mixing up majors would make us
   * decode WAL and tablespace paths with the wrong table.
   */
  expectedMajor?: number
}

function controlVersionError (pgControlVersion: number): PgRewindError {
  const known = [...new Set(SUPPORTED_MAJORS.map(m => VERSIONS[m].pgControlVersion))].join(', ')
  // Same heuristic as PostgreSQL's readers: a version with only high bits set was
  // almost certainly written on a machine of the other byte order.
  const swapped = pgControlVersion % 65536 === 0 && pgControlVersion / 65536 !== 0
  return new PgRewindError('CONTROL_FILE_VERSION', `unsupported pg_control version ${pgControlVersion}`, {
    detail: swapped
      ? 'The control file looks like it was written with the other byte ordering.'
      : `Supported pg_control versions are ${known} (PostgreSQL ${SUPPORTED_MAJORS.join(', ')}).`,
    data: { pgControlVersion }
  })
}

/** pg_rewind's wording; %d of an int, so a huge u32 prints negative there too. */
function segmentSizeError (raw: number): PgRewindError {
  const n = raw | 0
  return new PgRewindError('INVALID_SEGMENT_SIZE',
    `invalid WAL segment size in control file (${n} ${n === 1 ? 'byte' : 'bytes'})`, {
      detail: 'The WAL segment size must be a power of two between 1 MB and 1 GB.',
      data: { xlogSegSize: raw }
    })
}

/** CRC-32C the way PostgreSQL computes it for pg_control: everything before the crc field. */
export function computeControlFileCrc (buf: Uint8Array, major: Major): number {
  return crc32c(buf, 0, VERSIONS[major].controlCrcOffset)
}

/**
 * Parse and verify a pg_control file.
 *
 * Order of checks: size, layout (pg_control_version), segment size, CRC, then the
 * catalog version. Segment size before CRC is pg_rewind's order; the layout has to
 * come first because it decides where the CRC is; the catalog version comes after
 * the CRC so a bit flip reports as corruption, not as "unsupported version".
 */
export function parseControlFile (buf: Uint8Array, options: ParseControlFileOptions = {}): ControlFile {
  if (buf.length !== PG_CONTROL_FILE_SIZE) {
    throw new PgRewindError('CONTROL_FILE_SIZE',
      `unexpected control file size ${buf.length}, expected ${PG_CONTROL_FILE_SIZE}`, { data: { size: buf.length } })
  }
  const raw = Buffer.from(buf) // private copy: callers may reuse their buffer

  const pgControlVersion = raw.readUInt32LE(OFF.pgControlVersion)
  const layoutVersion = versionForControlVersion(pgControlVersion)
  if (layoutVersion === null) throw controlVersionError(pgControlVersion)

  const xlogSegSize = raw.readUInt32LE(OFF.xlogSegSize)
  if (!isValidSegmentSize(xlogSegSize)) throw segmentSizeError(xlogSegSize)

  const tail = tailLayout(layoutVersion)
  const storedCrc = raw.readUInt32LE(tail.crc)
  const computedCrc = crc32c(raw, 0, tail.crc)
  if (storedCrc !== computedCrc) {
    throw new PgRewindError('CONTROL_FILE_CRC', 'unexpected control file CRC', {
      data: { stored: storedCrc, computed: computedCrc }
    })
  }

  const catalogVersionNo = raw.readUInt32LE(OFF.catalogVersionNo)
  const major = majorFromCatalogVersion(catalogVersionNo)
  if (major === null) {
    throw new PgRewindError('UNSUPPORTED_VERSION', `unsupported catalog version ${catalogVersionNo} in control file`, {
      detail: `pg_control version ${pgControlVersion}; supported are the release catalog versions of PostgreSQL ${SUPPORTED_MAJORS.join(', ')}.`,
      hint: 'Development and beta builds have catalog versions of their own and are not supported.',
      data: { pgControlVersion, catalogVersionNo }
    })
  }
  const v = VERSIONS[major]
  if (v.pgControlVersion !== pgControlVersion) {
    throw new PgRewindError('CONTROL_FILE_VERSION',
      `control file has pg_control version ${pgControlVersion}, but its catalog version ${catalogVersionNo} belongs to PostgreSQL ${major} (pg_control version ${v.pgControlVersion})`,
      { data: { pgControlVersion, catalogVersionNo } })
  }
  if (options.expectedMajor !== undefined) {
    versionInfo(options.expectedMajor) // UNSUPPORTED_VERSION for e.g. PG_VERSION = 12
    if (options.expectedMajor !== major) {
      throw new PgRewindError('CONTROL_FILE_VERSION',
        `control file is from PostgreSQL ${major}, but the data directory is PostgreSQL ${options.expectedMajor}`, {
          detail: `Catalog version ${catalogVersionNo} belongs to PostgreSQL ${major}.`,
          data: { major, expectedMajor: options.expectedMajor, catalogVersionNo }
        })
    }
  }

  return decode(raw, v, storedCrc)
}

function readBool (buf: Buffer, off: number): boolean {
  return buf[off] !== 0
}

/** The CheckPoint struct at buf[base..]: pg_control's checkPointCopy and a checkpoint record's main data. */
export function decodeCheckPoint (buf: Buffer, base: number, v: VersionInfo): CheckPoint {
  return {
    redo: buf.readBigUInt64LE(base + CKPT.redo),
    thisTimeLineID: buf.readUInt32LE(base + CKPT.thisTimeLineID),
    prevTimeLineID: buf.readUInt32LE(base + CKPT.prevTimeLineID),
    fullPageWrites: readBool(buf, base + CKPT.fullPageWrites),
    walLevel: v.checkpointHasWalLevel ? buf.readInt32LE(base + CKPT.walLevel) : null,
    nextXid: buf.readBigUInt64LE(base + CKPT.nextXid),
    nextOid: buf.readUInt32LE(base + CKPT.nextOid),
    nextMulti: buf.readUInt32LE(base + CKPT.nextMulti),
    nextMultiOffset: buf.readUInt32LE(base + CKPT.nextMultiOffset),
    oldestXid: buf.readUInt32LE(base + CKPT.oldestXid),
    oldestXidDB: buf.readUInt32LE(base + CKPT.oldestXidDB),
    oldestMulti: buf.readUInt32LE(base + CKPT.oldestMulti),
    oldestMultiDB: buf.readUInt32LE(base + CKPT.oldestMultiDB),
    time: buf.readBigInt64LE(base + CKPT.time),
    oldestCommitTsXid: buf.readUInt32LE(base + CKPT.oldestCommitTsXid),
    newestCommitTsXid: buf.readUInt32LE(base + CKPT.newestCommitTsXid),
    oldestActiveXid: buf.readUInt32LE(base + CKPT.oldestActiveXid)
  }
}

function decode (raw: Buffer, v: VersionInfo, crc: number): ControlFile {
  const tail = tailLayout(v)
  return {
    major: v.major,
    systemIdentifier: raw.readBigUInt64LE(OFF.systemIdentifier),
    pgControlVersion: raw.readUInt32LE(OFF.pgControlVersion),
    catalogVersionNo: raw.readUInt32LE(OFF.catalogVersionNo),
    state: raw.readInt32LE(OFF.state),
    time: raw.readBigInt64LE(OFF.time),
    checkPoint: raw.readBigUInt64LE(OFF.checkPoint),
    checkPointCopy: decodeCheckPoint(raw, OFF.checkPointCopy, v),
    unloggedLSN: raw.readBigUInt64LE(OFF.unloggedLSN),
    minRecoveryPoint: raw.readBigUInt64LE(OFF.minRecoveryPoint),
    minRecoveryPointTLI: raw.readUInt32LE(OFF.minRecoveryPointTLI),
    backupStartPoint: raw.readBigUInt64LE(OFF.backupStartPoint),
    backupEndPoint: raw.readBigUInt64LE(OFF.backupEndPoint),
    backupEndRequired: readBool(raw, OFF.backupEndRequired),
    walLevel: raw.readInt32LE(OFF.walLevel),
    walLogHints: readBool(raw, OFF.walLogHints),
    maxConnections: raw.readInt32LE(OFF.maxConnections),
    maxWorkerProcesses: raw.readInt32LE(OFF.maxWorkerProcesses),
    maxWalSenders: raw.readInt32LE(OFF.maxWalSenders),
    maxPreparedXacts: raw.readInt32LE(OFF.maxPreparedXacts),
    maxLocksPerXact: raw.readInt32LE(OFF.maxLocksPerXact),
    trackCommitTimestamp: readBool(raw, OFF.trackCommitTimestamp),
    maxAlign: raw.readUInt32LE(OFF.maxAlign),
    floatFormat: raw.readDoubleLE(OFF.floatFormat),
    blcksz: raw.readUInt32LE(OFF.blcksz),
    relsegSize: raw.readUInt32LE(OFF.relsegSize),
    xlogBlcksz: raw.readUInt32LE(OFF.xlogBlcksz),
    xlogSegSize: raw.readUInt32LE(OFF.xlogSegSize),
    nameDataLen: raw.readUInt32LE(OFF.nameDataLen),
    indexMaxKeys: raw.readUInt32LE(OFF.indexMaxKeys),
    toastMaxChunkSize: raw.readUInt32LE(OFF.toastMaxChunkSize),
    loblksize: raw.readUInt32LE(OFF.loblksize),
    float8ByVal: readBool(raw, OFF.float8ByVal),
    dataChecksumVersion: raw.readUInt32LE(OFF.dataChecksumVersion),
    defaultCharSignedness: tail.charSignedness === null ? null : readBool(raw, tail.charSignedness),
    mockAuthenticationNonce: Buffer.from(raw.subarray(tail.nonce, tail.nonce + MOCK_AUTH_NONCE_LEN)),
    crc,
    raw
  }
}

// ---- write ----------------------------------------------------------------------

/**
 * A C bool is one byte that may hold any non-zero value; rewriting an unchanged
 * `true` as 1 would break byte-identity, so only touch the byte when the truth
 * value actually changed.
 */
function writeBool (buf: Buffer, off: number, value: boolean): void {
  if ((buf[off] !== 0) !== value) buf[off] = value ? 1 : 0
}

function writeU32 (buf: Buffer, off: number, value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xFFFFFFFF) {
    throw new PgRewindError('INVALID_PARAMS', `control file field ${name} out of range: ${value}`)
  }
  buf.writeUInt32LE(value, off)
}

function writeI32 (buf: Buffer, off: number, value: number, name: string): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7FFFFFFF) {
    throw new PgRewindError('INVALID_PARAMS', `control file field ${name} out of range: ${value}`)
  }
  buf.writeInt32LE(value, off)
}

function writeU64 (buf: Buffer, off: number, value: bigint, name: string): void {
  if (value < 0n || value > 0xFFFFFFFFFFFFFFFFn) {
    throw new PgRewindError('INVALID_PARAMS', `control file field ${name} out of range: ${value}`)
  }
  buf.writeBigUInt64LE(value, off)
}

function writeI64 (buf: Buffer, off: number, value: bigint, name: string): void {
  if (value < -0x8000000000000000n || value > 0x7FFFFFFFFFFFFFFFn) {
    throw new PgRewindError('INVALID_PARAMS', `control file field ${name} out of range: ${value}`)
  }
  buf.writeBigInt64LE(value, off)
}

/**
 * Serialize a (possibly modified) control file to the 8192-byte image PostgreSQL
 * writes, with a freshly computed CRC.
 *
 * Starts from `cf.raw` so bytes we do not model (struct padding, the zero tail) are
 * kept as they were: an unmodified object gives back the exact bytes it was parsed
 * from. Unlike PostgreSQL's update_controlfile this does not stamp `time`; set it
 * yourself if you want that (pg_rewind's own write does).
 */
export function serializeControlFile (cf: ControlFile): Buffer {
  const v = versionInfo(cf.major)
  const tail = tailLayout(v)
  const buf = Buffer.alloc(PG_CONTROL_FILE_SIZE)
  if (cf.raw !== undefined && cf.raw.length === PG_CONTROL_FILE_SIZE) cf.raw.copy(buf)

  if (cf.pgControlVersion !== v.pgControlVersion || cf.catalogVersionNo !== v.catalogVersion) {
    // Writing a version that does not match the layout we serialize would produce a
    // file PostgreSQL misreads; refuse rather than guess.
    throw new PgRewindError('CONTROL_FILE_VERSION',
      `cannot write pg_control version ${cf.pgControlVersion} / catalog version ${cf.catalogVersionNo} with the PostgreSQL ${v.major} layout`)
  }
  if (!isValidSegmentSize(cf.xlogSegSize)) throw segmentSizeError(cf.xlogSegSize)

  writeU64(buf, OFF.systemIdentifier, cf.systemIdentifier, 'systemIdentifier')
  writeU32(buf, OFF.pgControlVersion, cf.pgControlVersion, 'pgControlVersion')
  writeU32(buf, OFF.catalogVersionNo, cf.catalogVersionNo, 'catalogVersionNo')
  writeI32(buf, OFF.state, cf.state, 'state')
  writeI64(buf, OFF.time, cf.time, 'time')
  writeU64(buf, OFF.checkPoint, cf.checkPoint, 'checkPoint')

  const c = cf.checkPointCopy
  const b = OFF.checkPointCopy
  writeU64(buf, b + CKPT.redo, c.redo, 'checkPointCopy.redo')
  writeU32(buf, b + CKPT.thisTimeLineID, c.thisTimeLineID, 'checkPointCopy.thisTimeLineID')
  writeU32(buf, b + CKPT.prevTimeLineID, c.prevTimeLineID, 'checkPointCopy.prevTimeLineID')
  writeBool(buf, b + CKPT.fullPageWrites, c.fullPageWrites)
  if (v.checkpointHasWalLevel) {
    writeI32(buf, b + CKPT.walLevel, c.walLevel ?? 0, 'checkPointCopy.walLevel')
  } else if (c.walLevel !== null) {
    throw new PgRewindError('INVALID_PARAMS', `checkPointCopy.walLevel does not exist in PostgreSQL ${v.major}`)
  }
  writeU64(buf, b + CKPT.nextXid, c.nextXid, 'checkPointCopy.nextXid')
  writeU32(buf, b + CKPT.nextOid, c.nextOid, 'checkPointCopy.nextOid')
  writeU32(buf, b + CKPT.nextMulti, c.nextMulti, 'checkPointCopy.nextMulti')
  writeU32(buf, b + CKPT.nextMultiOffset, c.nextMultiOffset, 'checkPointCopy.nextMultiOffset')
  writeU32(buf, b + CKPT.oldestXid, c.oldestXid, 'checkPointCopy.oldestXid')
  writeU32(buf, b + CKPT.oldestXidDB, c.oldestXidDB, 'checkPointCopy.oldestXidDB')
  writeU32(buf, b + CKPT.oldestMulti, c.oldestMulti, 'checkPointCopy.oldestMulti')
  writeU32(buf, b + CKPT.oldestMultiDB, c.oldestMultiDB, 'checkPointCopy.oldestMultiDB')
  writeI64(buf, b + CKPT.time, c.time, 'checkPointCopy.time')
  writeU32(buf, b + CKPT.oldestCommitTsXid, c.oldestCommitTsXid, 'checkPointCopy.oldestCommitTsXid')
  writeU32(buf, b + CKPT.newestCommitTsXid, c.newestCommitTsXid, 'checkPointCopy.newestCommitTsXid')
  writeU32(buf, b + CKPT.oldestActiveXid, c.oldestActiveXid, 'checkPointCopy.oldestActiveXid')

  writeU64(buf, OFF.unloggedLSN, cf.unloggedLSN, 'unloggedLSN')
  writeU64(buf, OFF.minRecoveryPoint, cf.minRecoveryPoint, 'minRecoveryPoint')
  writeU32(buf, OFF.minRecoveryPointTLI, cf.minRecoveryPointTLI, 'minRecoveryPointTLI')
  writeU64(buf, OFF.backupStartPoint, cf.backupStartPoint, 'backupStartPoint')
  writeU64(buf, OFF.backupEndPoint, cf.backupEndPoint, 'backupEndPoint')
  writeBool(buf, OFF.backupEndRequired, cf.backupEndRequired)
  writeI32(buf, OFF.walLevel, cf.walLevel, 'walLevel')
  writeBool(buf, OFF.walLogHints, cf.walLogHints)
  writeI32(buf, OFF.maxConnections, cf.maxConnections, 'maxConnections')
  writeI32(buf, OFF.maxWorkerProcesses, cf.maxWorkerProcesses, 'maxWorkerProcesses')
  writeI32(buf, OFF.maxWalSenders, cf.maxWalSenders, 'maxWalSenders')
  writeI32(buf, OFF.maxPreparedXacts, cf.maxPreparedXacts, 'maxPreparedXacts')
  writeI32(buf, OFF.maxLocksPerXact, cf.maxLocksPerXact, 'maxLocksPerXact')
  writeBool(buf, OFF.trackCommitTimestamp, cf.trackCommitTimestamp)
  writeU32(buf, OFF.maxAlign, cf.maxAlign, 'maxAlign')
  // A NaN read from disk may not survive a JS round trip bit-for-bit; only rewrite
  // the double when the value really changed.
  if (!Object.is(buf.readDoubleLE(OFF.floatFormat), cf.floatFormat)) buf.writeDoubleLE(cf.floatFormat, OFF.floatFormat)
  writeU32(buf, OFF.blcksz, cf.blcksz, 'blcksz')
  writeU32(buf, OFF.relsegSize, cf.relsegSize, 'relsegSize')
  writeU32(buf, OFF.xlogBlcksz, cf.xlogBlcksz, 'xlogBlcksz')
  writeU32(buf, OFF.xlogSegSize, cf.xlogSegSize, 'xlogSegSize')
  writeU32(buf, OFF.nameDataLen, cf.nameDataLen, 'nameDataLen')
  writeU32(buf, OFF.indexMaxKeys, cf.indexMaxKeys, 'indexMaxKeys')
  writeU32(buf, OFF.toastMaxChunkSize, cf.toastMaxChunkSize, 'toastMaxChunkSize')
  writeU32(buf, OFF.loblksize, cf.loblksize, 'loblksize')
  writeBool(buf, OFF.float8ByVal, cf.float8ByVal)
  writeU32(buf, OFF.dataChecksumVersion, cf.dataChecksumVersion, 'dataChecksumVersion')
  if (tail.charSignedness !== null) {
    if (cf.defaultCharSignedness === null) {
      throw new PgRewindError('INVALID_PARAMS', `defaultCharSignedness is required in PostgreSQL ${v.major}`)
    }
    writeBool(buf, tail.charSignedness, cf.defaultCharSignedness)
  } else if (cf.defaultCharSignedness !== null) {
    throw new PgRewindError('INVALID_PARAMS', `defaultCharSignedness does not exist in PostgreSQL ${v.major}`)
  }
  if (cf.mockAuthenticationNonce.length !== MOCK_AUTH_NONCE_LEN) {
    throw new PgRewindError('INVALID_PARAMS', `mockAuthenticationNonce must be ${MOCK_AUTH_NONCE_LEN} bytes`)
  }
  cf.mockAuthenticationNonce.copy(buf, tail.nonce)

  buf.writeUInt32LE(crc32c(buf, 0, tail.crc), tail.crc)
  return buf
}

/** A FullTransactionId the way pg_controldata prints NextXID: `epoch:xid`. */
export function formatFullXid (fxid: bigint): string {
  return `${fxid >> 32n}:${fxid & 0xFFFFFFFFn}`
}
