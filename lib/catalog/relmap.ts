import { PgRewindError } from '../errors'
import { crc32c } from '../format/crc32c'
import type { VersionInfo } from '../format/versions'

/**
 * The relation mapper's file, pg_filenode.map (src/backend/utils/cache/relmapper.c):
 * for the "mapped" catalogs, whose pg_class.relfilenode is 0 (pg_class itself,
 * pg_attribute, pg_proc, pg_type, the shared catalogs, their indexes and TOAST
 * tables), which file holds them. One in `global/` for the shared catalogs, one in
 * each database's directory. Layout: int32 magic, int32 num_mappings,
 * {oid, filenumber}[MAX_MAPPINGS], CRC-32C of all that; MAX_MAPPINGS and the file
 * size are per version (versions.ts relmap).
 */

export const RELMAPPER_FILENAME = 'pg_filenode.map'
export const RELMAPPER_FILEMAGIC = 0x592717

/** relation OID → file number */
export type RelMap = Map<number, number>

export function parseRelMap (buf: Buffer, vi: Pick<VersionInfo, 'relmap'>, path: string): RelMap {
  const { maxMappings, fileSize } = vi.relmap
  const bad = (detail: string): PgRewindError => new PgRewindError('CATALOG_INVALID', `invalid relation map file "${path}"`, { detail, data: { path } })
  if (buf.length !== fileSize) throw bad(`It is ${buf.length} bytes, not ${fileSize}.`)
  const magic = buf.readInt32LE(0)
  if (magic !== RELMAPPER_FILEMAGIC) throw bad(`Its magic number is 0x${magic.toString(16)}, not 0x${RELMAPPER_FILEMAGIC.toString(16)}.`)
  const n = buf.readInt32LE(4)
  if (n < 0 || n > maxMappings) throw bad(`It claims ${n} mappings (at most ${maxMappings}).`)
  const crcAt = 8 + 8 * maxMappings
  const crc = crc32c(buf.subarray(0, crcAt))
  if (crc !== buf.readUInt32LE(crcAt)) throw bad(`Its CRC is 0x${buf.readUInt32LE(crcAt).toString(16)}, computed 0x${crc.toString(16)}.`)
  const map: RelMap = new Map()
  for (let i = 0; i < n; i++) map.set(buf.readUInt32LE(8 + 8 * i), buf.readUInt32LE(12 + 8 * i))
  return map
}
