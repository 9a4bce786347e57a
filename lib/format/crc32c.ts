/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as PostgreSQL uses it for
 * WAL records and pg_control. Slicing-by-8 tables: every WAL record's CRC is checked,
 * so this must not be the bottleneck of a WAL scan (see bench/).
 *
 * Use: `crc32cFinish(crc32cUpdate(crc32cUpdate(CRC32C_INIT, a), b))`.
 */

const POLY = 0x82F63B78

function makeTables (): Uint32Array[] {
  const t: Uint32Array[] = []
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256))
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let j = 0; j < 8; j++) c = (c & 1) !== 0 ? (c >>> 1) ^ POLY : c >>> 1
    t[0][i] = c >>> 0
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) t[k][i] = ((t[k - 1][i] >>> 8) ^ t[0][t[k - 1][i] & 0xFF]) >>> 0
  }
  return t
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables()

export const CRC32C_INIT = 0xFFFFFFFF

/** Feed bytes [start, end) of buf into a running (not yet finished) CRC. */
export function crc32cUpdate (crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  let c = crc >>> 0
  let i = start
  // Align nothing: Buffer reads are byte-wise; process 8 bytes per step.
  const stop8 = end - ((end - i) & 7)
  while (i < stop8) {
    const lo = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ c
    c = T7[lo & 0xFF] ^ T6[(lo >>> 8) & 0xFF] ^ T5[(lo >>> 16) & 0xFF] ^ T4[lo >>> 24] ^
      T3[buf[i + 4]] ^ T2[buf[i + 5]] ^ T1[buf[i + 6]] ^ T0[buf[i + 7]]
    i += 8
  }
  while (i < end) c = T0[(c ^ buf[i++]) & 0xFF] ^ (c >>> 8)
  return c >>> 0
}

export function crc32cFinish (crc: number): number {
  return (crc ^ 0xFFFFFFFF) >>> 0
}

/** CRC-32C of one buffer range, finished. */
export function crc32c (buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32cFinish(crc32cUpdate(CRC32C_INIT, buf, start, end))
}
