import { PgRewindError } from '../errors'

/**
 * Every per-major-version fact of PostgreSQL 13–18 lives in this one table.
 * Supporting PostgreSQL 19 should be one new row (plus any new field), not a hunt
 * through the code for `if (major >= …)`.
 *
 * Sources: each major's src/include (catalog/catversion.h, catalog/pg_control.h,
 * access/rmgrlist.h, access/xlog_internal.h), verified on real data of all six.
 */

export type Major = 13 | 14 | 15 | 16 | 17 | 18

/** Meaning of the bits of bimg_info in a block image header. */
export interface BimgBits {
  hasHole: number
  apply: number
  /** bit → compression method; an image is compressed when any of these is set */
  compression: ReadonlyArray<{ bit: number, method: 'pglz' | 'lz4' | 'zstd' }>
}

export interface DbaseInfo {
  /** whole-directory copy (13/14 CREATE, 15+ CREATE_FILE_COPY) */
  createFileCopy: number
  /** 15+: WAL-logged strategy; files follow as FPI records */
  createWalLog: number | null
  drop: number
}

/**
 * Storage of a catalog column we read: fixed-width types only (typlen, typalign of
 * pg_type): we read the fixed-width prefix of a catalog row, never a varlena.
 */
export type CatalogColumnType = 'oid' | 'xid' | 'int4' | 'float4' | 'int2' | 'bool' | 'char' | 'name'
export type CatalogColumn = readonly [name: string, type: CatalogColumnType]

/**
 * The leading fixed-width columns of the system catalogs whose files we read for the
 * names in the discard report (and pg_index for the hint rule), in attribute order, as each
 * major's postgres.bki declares them (src/include/catalog/pg_class.h, pg_namespace.h,
 * pg_database.h, pg_index.h),
 * up to the last one we need.
 */
export interface CatalogLayouts {
  pgClass: readonly CatalogColumn[]
  pgNamespace: readonly CatalogColumn[]
  pgDatabase: readonly CatalogColumn[]
  /** pg_index: which relation an index belongs to (the hint rule's indexes of a heap) */
  pgIndex: readonly CatalogColumn[]
}

/** The relation mapper's pg_filenode.map (src/backend/utils/cache/relmapper.c RelMapFile). */
export interface RelMapLayout {
  /** MAX_MAPPINGS; the CRC-32C follows the mappings and covers everything before it */
  maxMappings: number
  /** the file's size (13–15 padded it to 512 bytes) */
  fileSize: number
}

export interface VersionInfo {
  major: Major
  walPageMagic: number
  pgControlVersion: number
  catalogVersion: number
  /** offset of the crc field in pg_control (CRC covers [0, crcOffset)) */
  controlCrcOffset: number
  /** 18+: default_char_signedness byte at 256, nonce shifted by one */
  controlHasCharSignedness: boolean
  /** 17+: CheckPoint.wal_level at +20 (was padding) */
  checkpointHasWalLevel: boolean
  bimg: BimgBits
  /** XLR_BLOCK_ID_TOPLEVEL_XID (252) may occur */
  hasToplevelXidBlock: boolean
  /** rmgr ids 128..255 are accepted as custom resource managers */
  customRmgrs: boolean
  dbase: DbaseInfo
  /** XLOG CHECKPOINT_REDO (0xE0) exists */
  hasCheckpointRedo: boolean
  /** XACT INVALIDATIONS (0x60) exists */
  hasXactInvalidations: boolean
  /**
   * XACT commit/abort records that drop relations carry XLR_SPECIAL_REL_UPDATE (14+;
   * observed absent on 13 — pg_rewind ignores these records either way).
   */
  xactDropsFlagged: boolean
  endOfRecoverySize: number
  /** a hot standby may be a --source-server */
  standbySourceAllowed: boolean
  /** pg_rewind sets transaction_timeout = 0 on the source session */
  hasTransactionTimeout: boolean
  /**
   * sizeof(xl_xact_stats_item) in commit/abort/prepare records (XACT_XINFO_HAS_DROPPED_STATS,
   * 15+: kind, dboid, objoid; 18 widened objid to two uint32); null: no such part (13/14)
   */
  xactStatsItemSize: number | null
  /** sizeof(xl_xact_prepare), the header of a PREPARE record (15 added ncommitstats, nabortstats) */
  twoPhaseHeaderSize: number
  relmap: RelMapLayout
  catalogs: CatalogLayouts
}

const OLD_BIMG: BimgBits = { hasHole: 0x01, apply: 0x04, compression: [{ bit: 0x02, method: 'pglz' }] }
const NEW_BIMG: BimgBits = {
  hasHole: 0x01,
  apply: 0x02,
  compression: [{ bit: 0x04, method: 'pglz' }, { bit: 0x08, method: 'lz4' }, { bit: 0x10, method: 'zstd' }]
}
const OLD_RELMAP: RelMapLayout = { maxMappings: 62, fileSize: 512 }
const NEW_RELMAP: RelMapLayout = { maxMappings: 64, fileSize: 524 }

const PG_CLASS_PREFIX: readonly CatalogColumn[] = [
  ['oid', 'oid'], ['relname', 'name'], ['relnamespace', 'oid'], ['reltype', 'oid'], ['reloftype', 'oid'], ['relowner', 'oid'],
  ['relam', 'oid'], ['relfilenode', 'oid'], ['reltablespace', 'oid'], ['relpages', 'int4'], ['reltuples', 'float4'], ['relallvisible', 'int4']
]
const PG_CLASS_SUFFIX: readonly CatalogColumn[] = [
  ['reltoastrelid', 'oid'], ['relhasindex', 'bool'], ['relisshared', 'bool'], ['relpersistence', 'char'], ['relkind', 'char']
]
const PG_NAMESPACE: readonly CatalogColumn[] = [['oid', 'oid'], ['nspname', 'name'], ['nspowner', 'oid']]
const CATALOGS_13: CatalogLayouts = {
  pgClass: [...PG_CLASS_PREFIX, ...PG_CLASS_SUFFIX],
  pgNamespace: PG_NAMESPACE,
  pgIndex: [['indexrelid', 'oid'], ['indrelid', 'oid']],
  pgDatabase: [
    ['oid', 'oid'], ['datname', 'name'], ['datdba', 'oid'], ['encoding', 'int4'], ['datcollate', 'name'], ['datctype', 'name'],
    ['datistemplate', 'bool'], ['datallowconn', 'bool'], ['datconnlimit', 'int4'], ['datlastsysoid', 'oid'], ['datfrozenxid', 'xid'],
    ['datminmxid', 'xid'], ['dattablespace', 'oid']
  ]
}
const CATALOGS_15: CatalogLayouts = {
  ...CATALOGS_13,
  pgDatabase: [
    ['oid', 'oid'], ['datname', 'name'], ['datdba', 'oid'], ['encoding', 'int4'], ['datlocprovider', 'char'], ['datistemplate', 'bool'],
    ['datallowconn', 'bool'], ['datconnlimit', 'int4'], ['datfrozenxid', 'xid'], ['datminmxid', 'xid'], ['dattablespace', 'oid']
  ]
}
const CATALOGS_17: CatalogLayouts = {
  ...CATALOGS_15,
  pgDatabase: [
    ['oid', 'oid'], ['datname', 'name'], ['datdba', 'oid'], ['encoding', 'int4'], ['datlocprovider', 'char'], ['datistemplate', 'bool'],
    ['datallowconn', 'bool'], ['dathasloginevt', 'bool'], ['datconnlimit', 'int4'], ['datfrozenxid', 'xid'], ['datminmxid', 'xid'],
    ['dattablespace', 'oid']
  ]
}
const CATALOGS_18: CatalogLayouts = {
  ...CATALOGS_17,
  pgClass: [...PG_CLASS_PREFIX, ['relallfrozen', 'int4'], ...PG_CLASS_SUFFIX]
}

const OLD_DBASE: DbaseInfo = { createFileCopy: 0x00, createWalLog: null, drop: 0x10 }
const NEW_DBASE: DbaseInfo = { createFileCopy: 0x00, createWalLog: 0x10, drop: 0x20 }

export const VERSIONS: Readonly<Record<Major, VersionInfo>> = {
  13: {
    major: 13,
    walPageMagic: 0xD106,
    pgControlVersion: 1300,
    catalogVersion: 202007201,
    controlCrcOffset: 288,
    controlHasCharSignedness: false,
    checkpointHasWalLevel: false,
    bimg: OLD_BIMG,
    hasToplevelXidBlock: false,
    customRmgrs: false,
    dbase: OLD_DBASE,
    xactDropsFlagged: false,
    hasXactInvalidations: false,
    hasCheckpointRedo: false,
    endOfRecoverySize: 16,
    standbySourceAllowed: false,
    hasTransactionTimeout: false,
    xactStatsItemSize: null,
    twoPhaseHeaderSize: 64,
    relmap: OLD_RELMAP,
    catalogs: CATALOGS_13
  },
  14: {
    major: 14,
    walPageMagic: 0xD10D,
    pgControlVersion: 1300,
    catalogVersion: 202107181,
    controlCrcOffset: 288,
    controlHasCharSignedness: false,
    checkpointHasWalLevel: false,
    bimg: OLD_BIMG,
    hasToplevelXidBlock: true,
    customRmgrs: false,
    dbase: OLD_DBASE,
    xactDropsFlagged: true,
    hasXactInvalidations: true,
    hasCheckpointRedo: false,
    endOfRecoverySize: 16,
    standbySourceAllowed: true,
    hasTransactionTimeout: false,
    xactStatsItemSize: null,
    twoPhaseHeaderSize: 64,
    relmap: OLD_RELMAP,
    catalogs: CATALOGS_13
  },
  15: {
    major: 15,
    walPageMagic: 0xD110,
    pgControlVersion: 1300,
    catalogVersion: 202209061,
    controlCrcOffset: 288,
    controlHasCharSignedness: false,
    checkpointHasWalLevel: false,
    bimg: NEW_BIMG,
    hasToplevelXidBlock: true,
    customRmgrs: true,
    dbase: NEW_DBASE,
    xactDropsFlagged: true,
    hasXactInvalidations: true,
    hasCheckpointRedo: false,
    endOfRecoverySize: 16,
    standbySourceAllowed: true,
    hasTransactionTimeout: false,
    xactStatsItemSize: 12,
    twoPhaseHeaderSize: 72,
    relmap: OLD_RELMAP,
    catalogs: CATALOGS_15
  },
  16: {
    major: 16,
    walPageMagic: 0xD113,
    pgControlVersion: 1300,
    catalogVersion: 202307071,
    controlCrcOffset: 288,
    controlHasCharSignedness: false,
    checkpointHasWalLevel: false,
    bimg: NEW_BIMG,
    hasToplevelXidBlock: true,
    customRmgrs: true,
    dbase: NEW_DBASE,
    xactDropsFlagged: true,
    hasXactInvalidations: true,
    hasCheckpointRedo: false,
    endOfRecoverySize: 16,
    standbySourceAllowed: true,
    hasTransactionTimeout: false,
    xactStatsItemSize: 12,
    twoPhaseHeaderSize: 72,
    relmap: NEW_RELMAP,
    catalogs: CATALOGS_15
  },
  17: {
    major: 17,
    walPageMagic: 0xD116,
    pgControlVersion: 1700,
    catalogVersion: 202406281,
    controlCrcOffset: 288,
    controlHasCharSignedness: false,
    checkpointHasWalLevel: true,
    bimg: NEW_BIMG,
    hasToplevelXidBlock: true,
    customRmgrs: true,
    dbase: NEW_DBASE,
    xactDropsFlagged: true,
    hasXactInvalidations: true,
    hasCheckpointRedo: true,
    endOfRecoverySize: 24,
    standbySourceAllowed: true,
    hasTransactionTimeout: true,
    xactStatsItemSize: 12,
    twoPhaseHeaderSize: 72,
    relmap: NEW_RELMAP,
    catalogs: CATALOGS_17
  },
  18: {
    major: 18,
    walPageMagic: 0xD118,
    pgControlVersion: 1800,
    catalogVersion: 202506291,
    controlCrcOffset: 292,
    controlHasCharSignedness: true,
    checkpointHasWalLevel: true,
    bimg: NEW_BIMG,
    hasToplevelXidBlock: true,
    customRmgrs: true,
    dbase: NEW_DBASE,
    xactDropsFlagged: true,
    hasXactInvalidations: true,
    hasCheckpointRedo: true,
    endOfRecoverySize: 24,
    standbySourceAllowed: true,
    hasTransactionTimeout: true,
    xactStatsItemSize: 16,
    twoPhaseHeaderSize: 72,
    relmap: NEW_RELMAP,
    catalogs: CATALOGS_18
  }
}

export const SUPPORTED_MAJORS: readonly Major[] = [13, 14, 15, 16, 17, 18]

export function isSupportedMajor (n: number): n is Major {
  return (SUPPORTED_MAJORS as readonly number[]).includes(n)
}

export function versionInfo (major: number): VersionInfo {
  if (!isSupportedMajor(major)) {
    throw new PgRewindError('UNSUPPORTED_VERSION', `PostgreSQL ${major} is not supported`, {
      hint: `Supported major versions: ${SUPPORTED_MAJORS.join(', ')}.`
    })
  }
  return VERSIONS[major]
}

/** Identify the major from the catalog version stored in pg_control. */
export function majorFromCatalogVersion (catalogVersion: number): Major | null {
  for (const m of SUPPORTED_MAJORS) if (VERSIONS[m].catalogVersion === catalogVersion) return m
  return null
}

export function majorFromWalMagic (magic: number): Major | null {
  for (const m of SUPPORTED_MAJORS) if (VERSIONS[m].walPageMagic === magic) return m
  return null
}

/** Parse the text of a PG_VERSION file ("15\n"). */
export function parsePgVersionFile (text: string): number {
  const m = /^(\d+)\s*$/.exec(text)
  if (m === null) throw new PgRewindError('UNSUPPORTED_VERSION', `invalid PG_VERSION contents "${text.trim()}"`)
  return Number(m[1])
}

/** `PG_<major>_<catversion>`: the per-version directory inside a tablespace. */
export function tablespaceVersionDir (v: Pick<VersionInfo, 'major' | 'catalogVersion'>): string {
  return `PG_${v.major}_${v.catalogVersion}`
}

/** Constants identical in 13–18. */
export const XLOG_BLCKSZ = 8192
export const BLCKSZ = 8192
export const RELSEG_SIZE = 131072
export const PG_CONTROL_FILE_SIZE = 8192
export const MAX_BUILTIN_RMID = 21
