import { PgRewindError } from '../errors'

/**
 * LSNs are 64-bit WAL byte positions. We keep them as bigint everywhere so no
 * arithmetic silently loses precision above 2^53; they are printed `X/X` like
 * PostgreSQL 13–18 does (upper-case hex, no zero padding).
 */
export type Lsn = bigint

export const INVALID_LSN: Lsn = 0n
const MASK32 = 0xFFFFFFFFn

export function parseLsn (text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim())
  if (m === null) throw new PgRewindError('INVALID_LSN', `invalid WAL location "${text}"`, { hint: 'A WAL location looks like 0/3000060.' })
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2])
}

export function formatLsn (lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & MASK32).toString(16).toUpperCase()}`
}

/** Read an LSN stored as a little-endian u64. */
export function readLsn (buf: Buffer, offset: number): Lsn {
  return buf.readBigUInt64LE(offset)
}

export function writeLsn (buf: Buffer, offset: number, lsn: Lsn): void {
  buf.writeBigUInt64LE(lsn, offset)
}

/** Segment number containing `lsn`. */
export function lsnToSegNo (lsn: Lsn, segSize: number): bigint {
  return lsn / BigInt(segSize)
}

/** Segment number containing the byte just before `lsn` (XLByteToPrevSeg): for end pointers. */
export function lsnToPrevSegNo (lsn: Lsn, segSize: number): bigint {
  return (lsn - 1n) / BigInt(segSize)
}

export function segNoToLsn (segNo: bigint, segSize: number, offset = 0): Lsn {
  return segNo * BigInt(segSize) + BigInt(offset)
}

export function segmentOffset (lsn: Lsn, segSize: number): number {
  return Number(lsn % BigInt(segSize))
}

export function pageStart (lsn: Lsn, pageSize: number): Lsn {
  return lsn - (lsn % BigInt(pageSize))
}

export function maxAlign (lsn: Lsn, align = 8): Lsn {
  const a = BigInt(align)
  return (lsn + a - 1n) / a * a
}

function hex8 (n: bigint): string {
  return n.toString(16).toUpperCase().padStart(8, '0')
}

/** `TTTTTTTTLLLLLLLLSSSSSSSS` — timeline, log id, segment within log id. */
export function walFileName (tli: number, segNo: bigint, segSize: number): string {
  const segsPerId = 0x100000000n / BigInt(segSize)
  return hex8(BigInt(tli)) + hex8(segNo / segsPerId) + hex8(segNo % segsPerId)
}

export const WAL_FILE_NAME_RE = /^[0-9A-F]{24}$/

export function parseWalFileName (name: string, segSize: number): { tli: number, segNo: bigint } | null {
  if (!WAL_FILE_NAME_RE.test(name)) return null
  const segsPerId = 0x100000000n / BigInt(segSize)
  const tli = parseInt(name.slice(0, 8), 16)
  const log = BigInt('0x' + name.slice(8, 16))
  const seg = BigInt('0x' + name.slice(16, 24))
  if (seg >= segsPerId) return null
  return { tli, segNo: log * segsPerId + seg }
}

export function historyFileName (tli: number): string {
  return hex8(BigInt(tli)) + '.history'
}

export function isValidSegmentSize (size: number): boolean {
  return Number.isInteger(size) && size >= 1024 * 1024 && size <= 1024 * 1024 * 1024 && (size & (size - 1)) === 0
}
