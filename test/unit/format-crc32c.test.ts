import t from 'tap'
import { randomBytes } from 'node:crypto'
import { crc32c, crc32cFinish, crc32cIsNative, crc32cUpdate, crc32cUpdateBytes, CRC32C_INIT } from '../../lib/format/crc32c'

t.test('the check value, and the same CRC whichever path computes it', async t => {
  t.equal(crc32c(Buffer.from('123456789')), 0xE3069283, 'CRC-32C of "123456789"')
  t.ok(typeof crc32cIsNative === 'boolean')
  const buf = randomBytes(70000)
  for (const len of [0, 1, 7, 63, 64, 511, 512, 513, 4096, 8192 + 3, 65536]) {
    for (const start of [0, 1, 5]) {
      const end = start + len
      const whole = crc32cFinish(crc32cUpdate(CRC32C_INIT, buf, start, end))
      const bytes = crc32cFinish(crc32cUpdateBytes(CRC32C_INIT, buf, start, end))
      const mid = start + (len >> 1)
      const split = crc32cFinish(crc32cUpdate(crc32cUpdate(CRC32C_INIT, buf, start, mid), buf, mid, end))
      if (whole !== bytes || split !== bytes) {
        t.fail(`length ${len} at ${start}: word ${whole}, split ${split}, bytes ${bytes}`)
        return
      }
    }
  }
  t.pass('word-wise (or native), split and byte-wise CRCs agree on every length and alignment')
  // a Uint8Array that is not a Buffer takes the TypeScript path
  const u8 = new Uint8Array(buf.buffer, buf.byteOffset, 4096)
  t.equal(crc32c(u8), crc32c(buf.subarray(0, 4096)))
})
