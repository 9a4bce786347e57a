import { BLCKSZ } from './versions'

/**
 * Data-page checksums (src/include/storage/checksum_impl.h, pg_checksum_page): the
 * page as a 32-column array of uint32, one FNV-1a-style sum per column, two rounds
 * of zeros, the sums xor-folded, the block number mixed in, reduced to 16 bits.
 */

const N_SUMS = 32
const FNV_PRIME = 16777619
const BASE_OFFSETS = Uint32Array.of(
  0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
  0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
  0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
  0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756
)
/** pd_checksum in PageHeaderData */
export const PD_CHECKSUM_OFFSET = 8
const PD_UPPER_OFFSET = 14

const sums = new Uint32Array(N_SUMS)

function comp (j: number, value: number): void {
  const tmp = (sums[j] ^ value) >>> 0
  sums[j] = (Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17)) >>> 0
}

/** The checksum PostgreSQL stores in a page at block `blkno` of its relation (pd_checksum treated as 0). */
export function pageChecksum (page: Buffer, blkno: number): number {
  sums.set(BASE_OFFSETS)
  const rows = BLCKSZ / (4 * N_SUMS)
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < N_SUMS; j++) {
      const off = (i * N_SUMS + j) * 4
      // the word holding pd_checksum counts with the checksum bytes zeroed
      const v = off === PD_CHECKSUM_OFFSET ? page.readUInt16LE(off + 2) << 16 : page.readUInt32LE(off)
      comp(j, v >>> 0)
    }
  }
  for (let i = 0; i < 2; i++) for (let j = 0; j < N_SUMS; j++) comp(j, 0)
  let result = 0
  for (let j = 0; j < N_SUMS; j++) result = (result ^ sums[j]) >>> 0
  result = (result ^ blkno) >>> 0
  return (result % 65535) + 1
}

export function storedChecksum (page: Buffer): number {
  return page.readUInt16LE(PD_CHECKSUM_OFFSET)
}

/** A page never initialized (pd_upper 0) carries no checksum. */
export function pageIsNew (page: Buffer): boolean {
  return page.readUInt16LE(PD_UPPER_OFFSET) === 0
}
