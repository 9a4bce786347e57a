import t from 'tap'
import { versionInfo } from '../../lib/format/versions'
import { DiscardCollector } from '../../lib/rewind/discardcollector'
import { RelFileIndex } from '../../lib/rewind/relfiles'
import { feedRecords, SynthRecord } from '../helpers/synthwal'

/**
 * The collector on scanWal's own index of relation files (test/discards-report.test.ts
 * names what it counts from real catalogs): files the scan met only before the fork
 * are not the report's, and a record counts once for each file it touches.
 */

const vi = versionInfo(16)
const FORK = 0x3000000n
const REL = (rel: number): [number, number, number] => [1663, 5, rel]
const insert = (xid: number, rel: number, blk = 0): SynthRecord => ({ rmid: 10, info: 0x00, xid, blocks: [{ id: 0, rel: REL(rel), blk }], main: Buffer.from([1, 0, 0]) })

t.test('the scan\'s index shared: the report has the files met after the fork, in the order met', async t => {
  const index = new RelFileIndex()
  // the scan met these before the collector saw a record: segment 1 of 100, and 200
  t.same([index.slot(1663, 5, 100, 1), index.slot(1663, 5, 200, 0)], [0, 1])
  const c = new DiscardCollector(vi, FORK, 0x4000000n, index)
  feedRecords(c, FORK - 0x1000n, [insert(10, 300)], vi)
  feedRecords(c, FORK, [
    insert(11, 400),
    insert(11, 100, 5),
    // one record, three blocks of two files: it counts once for each
    { rmid: 10, info: 0x40, xid: 11, blocks: [{ id: 0, rel: REL(400), blk: 1 }, { id: 1, blk: 0 }, { id: 2, rel: REL(100), blk: 2 }], main: Buffer.alloc(14) }
  ], vi)
  const raw = c.finish()
  const files = Array.from({ length: raw.files.length }, (_, i) => raw.files.at(i))
  t.same(files.map(f => [f.path, f.records, f.blocks]), [['base/5/400', 2, 2], ['base/5/100', 2, 2]],
    'not 200 (the scan\'s only) nor 300 (before the fork); 100 by its segment 0, whatever segment the scan met')
  t.same([index.find(1663, 5, 300, 0), index.find(1663, 5, 400, 0), index.find(1663, 5, 100, 0), index.size], [-1, 2, 3, 4], 'the collector\'s files are slots of the same index (it slots none before the fork)')
  t.same(files.map(f => f.walBytes > 0), [true, true])
  t.same([raw.files.ref(0), raw.files.dbOid(1)], [{ spcOid: 1663, relNumber: 400 }, 5])
})
