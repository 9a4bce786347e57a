import t from 'tap'
import { versionInfo } from '../../lib/format/versions'
import { BlockRanges } from '../../lib/rewind/blockranges'
import { Action, addBlocks, buildFileMap, changedBlocksOf, FileMap, FileMapInput, formatDebugMap, mapTotals, PlanEntry, replacedWhole } from '../../lib/rewind/filemap'
import { FileEntry } from '../../lib/source/types'
import { FileList } from '../../lib/datadir/filelist'
import { PlanEntries } from '../../lib/rewind/planentries'

/**
 * The file-action decision (pg_rewind 18's decide_file_action, src/bin/pg_rewind/
 * filemap.c), one row per rule, in the C function's order: a path that several rules
 * could claim must get the action of the first.
 */

const V18 = versionInfo(18)
const SEG = 16 * 1024 * 1024
const DB = 'base/5'
const file = (path: string, size: number): FileEntry => ({ path, type: 'file', size })
const dir = (path: string): FileEntry => ({ path, type: 'dir', size: 0 })
const link = (path: string, to: string): FileEntry => ({ path, type: 'symlink', size: 0, linkTarget: to })

type Over = Partial<Omit<FileMapInput, 'source' | 'target' | 'changedBlocks'>> & { changedBlocks?: ReadonlyMap<string, BlockRanges> }

function map (source: FileEntry[], target: FileEntry[], over: Over = {}): PlanEntry[] {
  return columns(source, target, over).toArray()
}

function columns (source: FileEntry[], target: FileEntry[], over: Over = {}): PlanEntries {
  return fileMap(source, target, over).entries
}

function fileMap (source: FileEntry[], target: FileEntry[], over: Over = {}): FileMap {
  const changed = Object.fromEntries(over.changedBlocks ?? [])
  return buildFileMap({
    version: V18,
    segSize: SEG,
    keepWal: new Set(),
    divergenceSegNo: 3n,
    ...over,
    source: FileList.of(source, 'source'),
    target: FileList.of(target, 'target'),
    changedBlocks: changedBlocksOf(changed)
  })
}

/** A path the map has no entry for needs nothing (the map holds only what does something). */
function actionOf (path: string, s: FileEntry | undefined, tg: FileEntry | undefined, over: Over = {}): Action {
  const m = map(s === undefined ? [] : [s], tg === undefined ? [] : [tg], over)
  return m.find(x => x.path === path)?.action ?? 'none'
}

interface Row { why: string, path: string, s?: FileEntry, t?: FileEntry, over?: Over, want: Action }

const rows: Row[] = [
  // the control file is written last by writeBackupLabel, never by the map
  { why: 'pg_control is never in the map', path: 'global/pg_control', s: file('global/pg_control', 8192), t: file('global/pg_control', 8192), want: 'none' },
  { why: '.DS_Store is ignored, even when excluded otherwise', path: 'pg_stat_tmp/.DS_Store', s: file('pg_stat_tmp/.DS_Store', 10), want: 'none' },
  { why: 'an excluded file only on the source is not copied', path: 'postmaster.pid', s: file('postmaster.pid', 80), want: 'none' },
  { why: 'an excluded file on the target is removed', path: 'postmaster.pid', s: file('postmaster.pid', 80), t: file('postmaster.pid', 80), want: 'remove' },
  { why: 'backup_label on the target is removed', path: 'backup_label', t: file('backup_label', 200), want: 'remove' },
  { why: 'runtime directories\' contents are excluded', path: 'pg_replslot/s1/state', s: file('pg_replslot/s1/state', 200), t: file('pg_replslot/s1/state', 100), want: 'remove' },
  { why: 'pg_internal.init is a prefix match', path: 'base/5/pg_internal.init.123', t: file('base/5/pg_internal.init.123', 10), want: 'remove' },
  { why: 'temporary files are excluded', path: 'base/pgsql_tmp/pgsql_tmp1.0', s: file('base/pgsql_tmp/pgsql_tmp1.0', 10), want: 'none' },
  { why: 'our own interrupted temporary file is removed', path: 'pg_wal/000000010000000000000005.pgrewind-tmp', t: file('pg_wal/000000010000000000000005.pgrewind-tmp', 10), want: 'remove' },
  { why: 'a file only on the source is copied', path: 'extra.conf', s: file('extra.conf', 10), want: 'copy' },
  { why: 'a directory only on the source is created', path: 'base/7', s: dir('base/7'), want: 'create' },
  { why: 'a symlink only on the source is created', path: 'pg_tblspc/16400', s: link('pg_tblspc/16400', '/ts'), want: 'create' },
  { why: 'a file only on the target is removed', path: 'extra.conf', t: file('extra.conf', 10), want: 'remove' },
  { why: 'a directory only on the target is removed', path: 'base/9', t: dir('base/9'), want: 'remove' },
  { why: 'a WAL segment the target needs for recovery is kept', path: 'pg_wal/000000010000000000000002', t: file('pg_wal/000000010000000000000002', SEG), over: { keepWal: new Set(['pg_wal/000000010000000000000002']) }, want: 'none' },
  { why: 'PG_VERSION is never copied', path: 'base/5/PG_VERSION', s: file('base/5/PG_VERSION', 3), t: file('base/5/PG_VERSION', 4), want: 'none' },
  { why: 'directories on both sides need nothing', path: 'base/5', s: dir('base/5'), t: dir('base/5'), want: 'none' },
  { why: 'a WAL segment before the divergence, same size on both sides, is common history', path: 'pg_wal/000000010000000000000002', s: file('pg_wal/000000010000000000000002', SEG), t: file('pg_wal/000000010000000000000002', SEG), want: 'none' },
  { why: 'the segment of the divergence is copied', path: 'pg_wal/000000010000000000000003', s: file('pg_wal/000000010000000000000003', SEG), t: file('pg_wal/000000010000000000000003', SEG), want: 'copy' },
  { why: 'a WAL segment before the divergence of another size is copied', path: 'pg_wal/000000010000000000000002', s: file('pg_wal/000000010000000000000002', SEG), t: file('pg_wal/000000010000000000000002', 8192), want: 'copy' },
  { why: 'a history file is copied whole', path: 'pg_wal/00000002.history', s: file('pg_wal/00000002.history', 42), t: file('pg_wal/00000002.history', 42), want: 'copy' },
  { why: 'a non-relation file on both sides is copied whole', path: 'postgresql.conf', s: file('postgresql.conf', 100), t: file('postgresql.conf', 100), want: 'copy' },
  { why: 'a relation\'s other forks are copied whole', path: `${DB}/16384_fsm`, s: file(`${DB}/16384_fsm`, 24576), t: file(`${DB}/16384_fsm`, 24576), want: 'copy' },
  { why: 'a temporary relation file is not a relation data file', path: `${DB}/t3_16384`, s: file(`${DB}/t3_16384`, 8192), t: file(`${DB}/t3_16384`, 8192), want: 'copy' },
  { why: 'a relation file shorter on the target gets the source\'s tail', path: `${DB}/16384`, s: file(`${DB}/16384`, 3 * 8192), t: file(`${DB}/16384`, 8192), want: 'copy_tail' },
  { why: 'a relation file longer on the target is truncated', path: `${DB}/16384.1`, s: file(`${DB}/16384.1`, 8192), t: file(`${DB}/16384.1`, 3 * 8192), want: 'truncate' },
  { why: 'a relation file of equal size needs nothing but its changed blocks', path: `${DB}/16384`, s: file(`${DB}/16384`, 8192), t: file(`${DB}/16384`, 8192), want: 'none' },
  { why: 'a relation in a tablespace is a relation data file', path: 'pg_tblspc/16400/PG_18_202506291/5/16385', s: file('pg_tblspc/16400/PG_18_202506291/5/16385', 2 * 8192), t: file('pg_tblspc/16400/PG_18_202506291/5/16385', 8192), want: 'copy_tail' }
]

t.test('one action per rule, in decide_file_action\'s order', async t => {
  for (const r of rows) t.equal(actionOf(r.path, r.s, r.t, r.over), r.want, r.why)
})

t.test('the tablespace directory name is the version\'s', async t => {
  // PG_18_<catversion> is a relation path on 18 only; on 17 the same path is just a file
  const p = 'pg_tblspc/16400/PG_18_202506291/5/16385'
  const r17 = actionOf(p, file(p, 2 * 8192), file(p, 8192), { version: versionInfo(17) })
  t.equal(r17, 'copy', 'not a relation file of PostgreSQL 17: copied whole')
})

t.test('type mismatches and impossible source entries are refused', async t => {
  t.throws(() => map([dir('x')], [file('x', 1)]), { code: 'FILE_TYPE_MISMATCH', detail: 'It is a directory in the source and a regular file in the target.' }, 'directory on the source, file on the target')
  t.throws(() => map([link('postgresql.conf', '/etc/pg/main.conf')], [file('postgresql.conf', 10)]), {
    code: 'FILE_TYPE_MISMATCH',
    message: 'file "postgresql.conf" is of different type in source and target',
    detail: 'It is a symbolic link to "/etc/pg/main.conf" in the source and a regular file in the target.',
    hint: 'Make "postgresql.conf" in the target data directory the same link (ln -sfn \'/etc/pg/main.conf\' \'postgresql.conf\'), or remove it there, then run again.'
  }, 'a linked configuration file: what was found and what to do')
  t.equal(map([link('postgresql.conf', '/etc/a')], [link('postgresql.conf', '/etc/b')]).filter(e => e.action !== 'none').length, 0, 'a link on both sides is left alone (pg_rewind)')
  t.match(map([link('server.key', '/etc/ssl/k')], []), [{ path: 'server.key', action: 'create', type: 'symlink', linkTarget: '/etc/ssl/k' }], 'a link only the source has is created')
  t.throws(() => map([link(`${DB}/16384`, '/elsewhere')], []), { code: 'FILE_TYPE_MISMATCH' }, 'a relation data file that is a symlink on the source')
  t.throws(() => map([file('a', 1), file('a', 2)], []), { code: 'INTERNAL' }, 'a duplicate listing entry')
  const changed = new Map<string, BlockRanges>([['pg_tblspc/16400', [[0, 1]]]])
  t.throws(() => map([link('pg_tblspc/16400', '/a')], [link('pg_tblspc/16400', '/a')], { changedBlocks: changed }), { code: 'FILE_TYPE_MISMATCH' },
    'changed blocks of a non-regular file')
})

t.test('changed blocks: kept below the shorter copy, dropped where the file goes', async t => {
  const p = `${DB}/16384`
  const changed = new Map<string, BlockRanges>([[p, [[0, 2], [5, 9]]]])
  const [e] = map([file(p, 6 * 8192)], [file(p, 8 * 8192)], { changedBlocks: changed })
  t.equal(e.action, 'truncate')
  t.same(e.blocks, [[0, 2], [5, 6]], 'blocks past the source\'s end are the truncation\'s business')
  t.same(map([file(p, 8 * 8192)], [file(p, 8 * 8192)], { changedBlocks: new Map([[p, [[8, 10]]]]) }), [], 'no block left below both ends: nothing to do')
  const kept = map([file(p, 8 * 8192)], [file(p, 8 * 8192)], { changedBlocks: new Map([[p, [[1, 3]]]]) })
  t.same(kept, [{ path: p, sourceSize: 8 * 8192, targetSize: 8 * 8192, type: 'file', action: 'none', blocks: [[1, 3]] }], 'a file with only changed blocks')
  const [only] = map([], [file(p, 8192)], { changedBlocks: changed })
  t.equal(only.action, 'remove')
  t.equal(only.blocks, undefined, 'a file that only the target has gets no blocks')
})

t.test('order: creations, copies, tails, block-only, truncations, removals (deepest first)', async t => {
  const m = map(
    [dir('a'), dir('a/b'), file('z.conf', 1), file(`${DB}/1`, 2 * 8192), file(`${DB}/2`, 8192), file(`${DB}/3`, 8192)],
    [file(`${DB}/1`, 8192), file(`${DB}/2`, 2 * 8192), file(`${DB}/3`, 8192), dir('old'), dir('old/deeper'), file('old/deeper/f', 1)],
    { changedBlocks: new Map([[`${DB}/3`, [[0, 1]]]]) })
  t.same(m.map(e => `${e.action} ${e.path}`), [
    'create a', 'create a/b', 'copy z.conf', `copy_tail ${DB}/1`, `none ${DB}/3`, `truncate ${DB}/2`,
    'remove old/deeper/f', 'remove old/deeper', 'remove old'
  ])
  t.ok(formatDebugMap(m).includes(`${DB}/3 (NONE)`), 'a block-only entry is active')
  t.same(formatDebugMap(m).slice(0, 4), ['a (CREATE)', 'a/b (CREATE)', 'z.conf (COPY)', `${DB}/1 (COPY_TAIL)`])
  t.ok(formatDebugMap(m).includes('block 0'), 'changed blocks are listed as pg_rewind --debug lists them')
})

t.test('both listings walked together: unordered input, paths on one side, on the other, on both', async t => {
  const m = map(
    [file('b.conf', 1), dir('a'), file('a/x', 1), file('a.conf', 2), file(`${DB}/1`, 8192)],
    [file('a.conf', 2), file(`${DB}/1`, 8192), file('c', 1), file('a/x', 1), dir('a'), file('a/y', 1)])
  t.same(m.map(e => `${e.action} ${e.path}`), ['copy a.conf', 'copy a/x', 'copy b.conf', 'remove c', 'remove a/y'],
    'every path decided once, whichever side lists it first')
})

t.test('blocks from a comparison: joined to an entry, or a new entry in pg_rewind\'s order', async t => {
  const source = [file(`${DB}/1`, 2 * 8192), file(`${DB}/2`, 4 * 8192), file(`${DB}/3`, 8192), file('z', 1)]
  const target = [file(`${DB}/1`, 2 * 8192), file(`${DB}/2`, 3 * 8192), file(`${DB}/3`, 2 * 8192), dir('old')]
  const { entries: m, shared } = fileMap([...source, dir('both')], [...target, dir('both')], { changedBlocks: new Map([[`${DB}/2`, [[0, 1]]]]), share: p => p.startsWith(DB) || p === 'both' })
  t.same(shared, [{ path: `${DB}/1`, sourceSize: 2 * 8192, targetSize: 2 * 8192 }, { path: `${DB}/2`, sourceSize: 4 * 8192, targetSize: 3 * 8192 }, { path: `${DB}/3`, sourceSize: 8192, targetSize: 2 * 8192 }],
    'regular files both sides have, that the predicate selects, collected as the map is built')
  t.same(fileMap(source, target).shared, [], 'none without a predicate')
  const added = addBlocks(m, shared, new Map<string, BlockRanges>([[`${DB}/1`, [[1, 2]]], [`${DB}/2`, [[0, 2]]], [`${DB}/3`, [[0, 1]]]]))
  t.equal(added, 1 + 1 + 1, 'the blocks not already in the map')
  t.same(m.toArray().map(e => `${e.action} ${e.path} ${JSON.stringify(e.blocks ?? null)}`), [
    'copy z null', `copy_tail ${DB}/2 [[0,2]]`, `none ${DB}/1 [[1,2]]`, `truncate ${DB}/3 [[0,1]]`, 'remove old null'
  ], 'a file the map left alone gets an entry in its place')
  t.equal(addBlocks(m, shared, new Map()), 0, 'nothing to add')
})

t.test('a path that names a property every object has is not a changed file', async t => {
  t.same(map([file('constructor', 1), file('toString', 1)], [file('constructor', 1), file('toString', 1)]).map(e => `${e.path} ${JSON.stringify(e.blocks ?? null)}`),
    ['constructor null', 'toString null'], 'copied as files, without blocks')
  t.equal(changedBlocksOf({ a: [[0, 1]] })('__proto__'), undefined)
})

t.test('totals: what is fetched and what the source holds', async t => {
  const source = [file('z.conf', 100), file(`${DB}/1`, 3 * 8192), file(`${DB}/3`, 3 * 8192), dir('d')]
  const m = map(source, [file(`${DB}/1`, 8192), file(`${DB}/3`, 3 * 8192)], { changedBlocks: new Map([[`${DB}/3`, [[0, 2]]]]) })
  t.same(mapTotals(m, FileList.of(source, 'source')), { sourceBytes: 100 + 6 * 8192, fetchBytes: 100 + 2 * 8192 + 2 * 8192, blocks: 2, journalBytes: 2 * 8192 })
})

t.test('a file whose changed blocks cover it is replaced whole: the same bytes fetched, nothing for the journal to copy', async t => {
  const source = [file(`${DB}/1`, 3 * 8192), file(`${DB}/3`, 2 * 8192), file(`${DB}/4`, 2 * 8192), file(`${DB}/5`, 2 * 8192)]
  const target = [file(`${DB}/1`, 2 * 8192), file(`${DB}/3`, 2 * 8192), file(`${DB}/4`, 2 * 8192), file(`${DB}/5`, 3 * 8192)]
  const changedBlocks = new Map<string, BlockRanges>([[`${DB}/1`, [[0, 2]]], [`${DB}/3`, [[0, 1], [1, 2]]], [`${DB}/4`, [[1, 2]]], [`${DB}/5`, [[0, 3]]]])
  const m = map(source, target, { changedBlocks })
  const by = (p: string): PlanEntry => m.find(e => e.path === p)!
  t.same(m.filter(replacedWhole).map(e => `${e.action} ${e.path}`), [`copy_tail ${DB}/1`, `none ${DB}/3`],
    'covered with a tail, and covered block by block; not one block short, not a file the source has shorter')
  t.same(by(`${DB}/1`).blocks, [[0, 2]], 'the plan keeps the blocks (pg_rewind\'s --debug map)')
  t.same(mapTotals(m, FileList.of(source, 'source')), { sourceBytes: 9 * 8192, fetchBytes: 3 * 8192 + 2 * 8192 + 8192 + 2 * 8192, blocks: 7, journalBytes: 8192 + 2 * 8192 + 8192 }, 'the journal keeps the one block of 4, and the two blocks and the cut tail of 5')
  t.notOk(replacedWhole({ action: 'none', blocks: [[0, 1]], sourceSize: 8192, targetSize: 8192 + 100 }), 'a torn target file is patched block by block')
  t.notOk(replacedWhole({ action: 'none', blocks: [[0, 1]], targetSize: 8192 }), 'a plan without the source size is never copied whole')
})
