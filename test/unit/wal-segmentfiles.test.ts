import t from 'tap'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PgRewindError } from '../../lib/errors'
import { versionInfo } from '../../lib/format/versions'
import { WalReader } from '../../lib/wal/reader'
import { MemoryWalSource } from '../helpers/memwal'
import { SegmentFiles } from '../../lib/wal/segmentfiles'
import { SynthWal } from '../helpers/synthwal'

const SEG = 1024 * 1024
const V = versionInfo(17)

function tempWal (): string {
  const d = mkdtempSync(join(tmpdir(), 'pgrewind-segfiles-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}

function pattern (seed: number): Buffer {
  const b = Buffer.alloc(SEG)
  for (let i = 0; i < SEG; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i)
  return b
}

function openFds (): number {
  return readdirSync('/proc/self/fd').length
}

t.test('read-ahead: a forward scan reads the same bytes, and the files read ahead are closed once their reads are done', async t => {
  const dir = tempWal()
  const contents = new Map<string, Buffer>()
  for (let s = 1; s <= 5; s++) {
    const name = `00000001000000000000000${s}`
    contents.set(name, pattern(100 + s))
    writeFileSync(join(dir, name), contents.get(name)!)
  }
  const fds = openFds()
  const f = new SegmentFiles(dir, SEG, { chunkSize: 64 * 1024, readAhead: true })
  for (let seg = 1; seg <= 5; seg++) {
    for (let off = 0; off < SEG; off += 64 * 1024) {
      const b = f.readPage(1, BigInt(seg), off, 8192)
      t.same(b.subarray(0, 8192), contents.get(`00000001000000000000000${seg}`)!.subarray(off, off + 8192))
    }
  }
  t.ok(openFds() > fds + 1, 'segments ahead are being read')
  f.close()
  // the read-ahead's reads finish on the pool; their files close in the callbacks
  const deadline = Date.now() + 5000
  while (openFds() > fds && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(openFds(), fds, 'no file left open')
  t.same(f.openedFiles, [1, 2, 3, 4, 5].map(s => `00000001000000000000000${s}`), 'only the segments read count as opened')
})

t.test('reads any range of any segment, in chunks, one file open at a time', async t => {
  const dir = tempWal()
  const contents = new Map<string, Buffer>()
  for (let s = 1; s <= 4; s++) {
    const name = `00000001000000000000000${s}`
    const b = pattern(s)
    contents.set(name, b)
    writeFileSync(join(dir, name), b)
  }
  const f = new SegmentFiles(dir, SEG, { chunkSize: 64 * 1024 })
  const fds = openFds()
  const offsets = [0, 8192, 57344, 65536 - 8192, 65536, 1024 * 1024 - 8192, 123 * 8192, 8192 * 7]
  for (const seg of [1, 2, 1, 4, 3, 3, 2]) {
    for (const off of offsets) {
      const b = f.readPage(1, BigInt(seg), off, 8192)
      t.ok(b.length >= 8192, 'at least the requested length')
      t.ok(b.length <= SEG - off, 'never beyond the segment')
      t.same(b.subarray(0, 8192), contents.get(`00000001000000000000000${seg}`)!.subarray(off, off + 8192))
      t.ok(openFds() <= fds + 1, 'at most one file descriptor')
    }
  }
  // a request larger than the chunk, and one straddling a chunk boundary
  const big = f.readPage(1, 3n, 8192, 200000)
  t.ok(big.length >= 200000)
  t.same(big.subarray(0, 200000), contents.get('000000010000000000000003')!.subarray(8192, 208192))
  const straddle = f.readPage(1, 3n, 65536 - 8192, 16384)
  t.same(straddle.subarray(0, 16384), contents.get('000000010000000000000003')!.subarray(65536 - 8192, 65536 + 8192))
  t.same(f.openedFiles, ['000000010000000000000001', '000000010000000000000002', '000000010000000000000004', '000000010000000000000003'], 'opened files, in order of first opening')
  t.equal(f.openedPaths.get('000000010000000000000002'), join(dir, '000000010000000000000002'))
  f.clearOpened()
  t.same(f.openedFiles, [])
  f.close()
  t.ok(openFds() <= fds, 'closed')
  t.same(f.readPage(1, 1n, 0, 8192).subarray(0, 16), contents.get('000000010000000000000001')!.subarray(0, 16), 'usable again after close')
  f.close()
  t.throws(() => new SegmentFiles(dir, SEG, { chunkSize: 1000 }), { code: 'INTERNAL' })
})

t.test('missing, short and unreadable files; restore hook', async t => {
  const dir = tempWal()
  writeFileSync(join(dir, '000000010000000000000001'), Buffer.alloc(20000, 1))
  mkdirSync(join(dir, '000000010000000000000005'))
  const f = new SegmentFiles(dir, SEG)
  t.equal(f.readPage(1, 1n, 8192, 8192).length, 20000 - 8192, 'a short file returns what it has')
  t.equal(f.readPage(1, 1n, 16384, 8192).length, 20000 - 16384)
  t.equal(f.readPage(1, 1n, 65536, 8192).length, 0)
  try {
    f.readPage(2, 1n, 0, 8192)
    t.fail('expected WAL_MISSING')
  } catch (e) {
    t.type(e, PgRewindError)
    t.equal((e as PgRewindError).code, 'WAL_MISSING')
    t.equal((e as PgRewindError).message, `could not open file "${join(dir, '000000020000000000000001')}": No such file or directory`)
    t.equal((e as PgRewindError).data?.file, '000000020000000000000001')
  }
  t.throws(() => f.readPage(1, 5n, 0, 8192), { code: 'WAL_READ', message: /could not read file .*000000010000000000000005.*EISDIR/ })
  t.same(f.openedFiles, ['000000010000000000000001', '000000010000000000000005'])

  const archive = tempWal()
  writeFileSync(join(archive, 'good'), pattern(9))
  writeFileSync(join(archive, 'short'), Buffer.alloc(1000))
  const asked: string[] = []
  const r = new SegmentFiles(dir, SEG, {
    onMissing: name => {
      asked.push(name)
      if (name === '000000010000000000000002') return join(archive, 'good')
      if (name === '000000010000000000000003') return join(archive, 'short')
      if (name === '000000010000000000000004') return join(archive, 'gone')
      return null
    }
  })
  t.same(r.readPage(1, 2n, 8192, 8192).subarray(0, 8192), pattern(9).subarray(8192, 16384), 'the restored file is read')
  t.equal(r.openedPaths.get('000000010000000000000002'), join(archive, 'good'))
  t.throws(() => r.readPage(1, 3n, 0, 8192), { code: 'RESTORE_COMMAND', message: 'unexpected file size for "000000010000000000000003": 1000 instead of 1048576' })
  t.throws(() => r.readPage(1, 4n, 0, 8192), { code: 'WAL_MISSING', message: /restored from archive/ })
  t.throws(() => r.readPage(1, 6n, 0, 8192), { code: 'WAL_MISSING' })
  t.same(asked, ['000000010000000000000002', '000000010000000000000003', '000000010000000000000004', '000000010000000000000006'])
  r.close()
  f.close()
})

t.test('a WalReader over segment files reads what it reads from memory', async t => {
  const dir = tempWal()
  const w = new SynthWal(V, SEG)
  for (let i = 0; i < 3000; i++) w.append({ rmid: 10, xid: i, blocks: [{ id: 0, rel: [1663, 5, 16384], blk: i, data: Buffer.alloc(40 + (i % 300), i & 0xFF) }], main: Buffer.alloc(3) })
  w.append({ rmid: 21, main: Buffer.alloc(2 * SEG + 5, 1) })
  for (let i = 0; i < 100; i++) w.append({ rmid: 10, main: Buffer.alloc(10) })
  for (const [name, b] of w.files()) writeFileSync(join(dir, name), b)
  const files = new SegmentFiles(dir, SEG, { chunkSize: 128 * 1024 })
  const fromDisk: string[] = []
  const fromMem: string[] = []
  const a = new WalReader(files, { version: V, segSize: SEG, sysid: w.sysid }).scanToEnd(w.records[0], r => fromDisk.push(`${r.lsn} ${r.totLen} ${r.xid}`))
  const b = new WalReader(new MemoryWalSource(SEG, w.files()), { version: V, segSize: SEG, sysid: w.sysid }).scanToEnd(w.records[0], r => fromMem.push(`${r.lsn} ${r.totLen} ${r.xid}`))
  t.same(fromDisk, fromMem)
  t.equal(fromDisk.length, w.records.length)
  t.equal(a.clean, true)
  t.equal(a.stop.code, b.stop.code)
  // backward walk re-reads earlier chunks correctly
  let n = 0
  new WalReader(files, { version: V, segSize: SEG, sysid: w.sysid }).walkBackward(w.records[w.records.length - 1], (_r, lsn) => { n++; return lsn === w.records[0] })
  t.equal(n, w.records.length)
  // the next segment is missing: a clean end
  t.equal(a.stop.code, 'WAL_END')
  files.close()
})
