/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as PostgreSQL uses it for
 * WAL records and pg_control. Every WAL record's CRC is checked, so this is the hot
 * loop of a WAL scan. Long ranges go to the CPU's CRC instruction through
 * @node-rs/crc32 (3.5-5x the TypeScript path from 1 kB on, measured here); below
 * NATIVE_MIN bytes the call costs more than it saves, and without the package (the
 * single executable, another platform) everything runs here: slicing-by-16 over
 * 32-bit little-endian word loads (one cached Int32Array view per ArrayBuffer), about
 * 1.8x the byte-wise slicing-by-8 path that handles short ranges and unaligned heads
 * and tails.
 *
 * Use: `crc32cFinish(crc32cUpdate(crc32cUpdate(CRC32C_INIT, a), b))`.
 */

type NativeCrc = (input: Buffer, previousFinished?: number) => number
const native: NativeCrc | null = (() => {
  if (process.env.PGREWIND_NO_NATIVE_CRC === '1') return null
  try {
    return (require('@node-rs/crc32') as { crc32c: NativeCrc }).crc32c
  } catch {
    return null
  }
})()
const NATIVE_MIN = 512

/** Whether the CRC instruction is in use (for the benchmark's report). */
export const crc32cIsNative = native !== null

const POLY = 0x82F63B78

const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = []
  for (let k = 0; k < 16; k++) t.push(new Uint32Array(256))
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let j = 0; j < 8; j++) c = (c & 1) !== 0 ? (c >>> 1) ^ POLY : c >>> 1
    t[0][i] = c >>> 0
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 16; k++) t[k][i] = ((t[k - 1][i] >>> 8) ^ t[0][t[k - 1][i] & 0xFF]) >>> 0
  }
  return t
})()
const [C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15] = TABLES
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

export const CRC32C_INIT = 0xFFFFFFFF

/** Byte-wise slicing-by-8: any alignment, any byte order. */
export function crc32cUpdateBytes (crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  let c = crc >>> 0
  let i = start
  const stop8 = end - ((end - i) & 7)
  while (i < stop8) {
    const lo = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ c
    c = C7[lo & 0xFF] ^ C6[(lo >>> 8) & 0xFF] ^ C5[(lo >>> 16) & 0xFF] ^ C4[lo >>> 24] ^
      C3[buf[i + 4]] ^ C2[buf[i + 5]] ^ C1[buf[i + 6]] ^ C0[buf[i + 7]]
    i += 8
  }
  while (i < end) c = C0[(c ^ buf[i++]) & 0xFF] ^ (c >>> 8)
  return c >>> 0
}

let wordsOf: ArrayBufferLike | null = null
let words: Int32Array<ArrayBufferLike> = new Int32Array(0)

/** Feed bytes [start, end) of buf into a running (not yet finished) CRC. */
export function crc32cUpdate (crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  if (native !== null && end - start >= NATIVE_MIN && Buffer.isBuffer(buf)) {
    // the package continues from a finished CRC; ours runs unfinished
    return (native(buf.subarray(start, end), (crc ^ 0xFFFFFFFF) >>> 0) ^ 0xFFFFFFFF) >>> 0
  }
  if (end - start < 64 || !LITTLE_ENDIAN) return crc32cUpdateBytes(crc, buf, start, end)
  let c = crc | 0
  let i = start
  while (((buf.byteOffset + i) & 3) !== 0) c = C0[(c ^ buf[i++]) & 0xFF] ^ (c >>> 8)
  const ab = buf.buffer
  if (ab !== wordsOf) {
    wordsOf = ab
    words = new Int32Array(ab, 0, ab.byteLength >> 2)
  }
  const w = words
  let k = (buf.byteOffset + i) >> 2
  const n16 = (end - i) >> 4
  const stop = k + n16 * 4
  while (k < stop) {
    const a = w[k] ^ c
    const b = w[k + 1]
    const d = w[k + 2]
    const e = w[k + 3]
    c = C15[a & 0xFF] ^ C14[(a >>> 8) & 0xFF] ^ C13[(a >>> 16) & 0xFF] ^ C12[a >>> 24] ^
      C11[b & 0xFF] ^ C10[(b >>> 8) & 0xFF] ^ C9[(b >>> 16) & 0xFF] ^ C8[b >>> 24] ^
      C7[d & 0xFF] ^ C6[(d >>> 8) & 0xFF] ^ C5[(d >>> 16) & 0xFF] ^ C4[d >>> 24] ^
      C3[e & 0xFF] ^ C2[(e >>> 8) & 0xFF] ^ C1[(e >>> 16) & 0xFF] ^ C0[e >>> 24]
    k += 4
  }
  i += n16 * 16
  while (i < end) c = C0[(c ^ buf[i++]) & 0xFF] ^ (c >>> 8)
  return c >>> 0
}

export function crc32cFinish (crc: number): number {
  return (crc ^ 0xFFFFFFFF) >>> 0
}

/** CRC-32C of one buffer range, finished. */
export function crc32c (buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32cFinish(crc32cUpdate(CRC32C_INIT, buf, start, end))
}
