import t from 'tap'
import { FileList, mergeLists } from '../../lib/datadir/filelist'

t.test('a listing in columns: ordered by path, links kept with their rows, duplicates refused', async t => {
  const l = new FileList()
  l.add('a/b', 'file', 3)
  l.add('a', 'dir', 0)
  l.add('pg_tblspc/16400', 'symlink', 0, '/ts')
  l.add('a.b', 'file', 2 ** 40)
  l.finish('target')
  t.same([...l.entries()], [
    { path: 'a', type: 'dir', size: 0 },
    { path: 'a.b', type: 'file', size: 2 ** 40 },
    { path: 'a/b', type: 'file', size: 3 },
    { path: 'pg_tblspc/16400', type: 'symlink', size: 0, linkTarget: '/ts' }
  ], 'rows added out of order ("a/b" before "a.b") are put in the paths\' order; sizes past 32 bits kept')
  t.equal(l.fileBytes(), 2 ** 40 + 3, 'regular files only')
  const d = new FileList()
  d.add('x', 'file', 1)
  d.add('w', 'file', 1)
  d.add('x', 'dir', 0)
  t.throws(() => d.finish('source'), { code: 'INTERNAL', message: 'duplicate source file "x"' })
})

t.test('two listings walked together', async t => {
  const s = FileList.of(['a', 'c', 'd'].map(path => ({ path, type: 'file' as const, size: 1 })), 'source')
  const g = FileList.of(['b', 'c', 'e'].map((path, size) => ({ path, type: 'file' as const, size })), 'target')
  const seen: string[] = []
  mergeLists(s, g, (path, i, e) => seen.push(`${path} ${i} ${e === undefined ? '-' : `${e.path}:${e.size}`}`))
  t.same(seen, ['a 0 -', 'b -1 b:0', 'c 1 c:1', 'd 2 -', 'e -1 e:2'])
  const none: string[] = []
  mergeLists(new FileList(), new FileList(), p => none.push(p))
  t.same(none, [])
  const walked = (paths: string[]): Array<{ path: string, type: 'file', size: number }> => paths.map(path => ({ path, type: 'file', size: 0 }))
  t.throws(() => mergeLists(s, walked(['b', 'a']), () => {}), { code: 'INTERNAL', message: 'target file "a" listed out of order or twice' })
  t.throws(() => mergeLists(s, walked(['b', 'b']), () => {}), { code: 'INTERNAL' }, 'a path met twice')
})
