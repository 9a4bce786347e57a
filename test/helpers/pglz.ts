/**
 * pglz decompression (PostgreSQL's common/pg_lzcompress.c format), for tests only: it
 * lets the real-WAL tests check that a compressed full-page image expands to exactly
 * BLCKSZ − hole_length bytes, i.e. that our hole computation for compressed images is
 * right. Returns null when the input is not a complete, valid pglz stream of that size.
 */
export function pglzDecompress (src: Uint8Array, rawSize: number): Buffer | null {
  const out = Buffer.alloc(rawSize)
  let sp = 0
  let dp = 0
  while (sp < src.length && dp < rawSize) {
    let ctrl = src[sp++]
    for (let i = 0; i < 8 && sp < src.length && dp < rawSize; i++) {
      if ((ctrl & 1) !== 0) {
        if (sp + 1 >= src.length) return null
        let len = (src[sp] & 0x0F) + 3
        const off = ((src[sp] & 0xF0) << 4) | src[sp + 1]
        sp += 2
        if (len === 18) {
          if (sp >= src.length) return null
          len += src[sp++]
        }
        if (off === 0 || off > dp) return null
        len = Math.min(len, rawSize - dp)
        for (let k = 0; k < len; k++, dp++) out[dp] = out[dp - off]
      } else {
        out[dp++] = src[sp++]
      }
      ctrl >>= 1
    }
  }
  return sp === src.length && dp === rawSize ? out : null
}
