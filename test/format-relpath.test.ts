import t from 'tap'
import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from 'pg'
import {
  DEFAULTTABLESPACE_OID,
  ForkNumber,
  GLOBALTABLESPACE_OID,
  type RelFileLocator,
  absoluteBlockNumber,
  blockLocation,
  blockPath,
  databasePath,
  isRelationDataFile,
  parseRelationPath,
  relationPath,
  segmentFileSize
} from '../lib/format/relpath'
import { parseControlFile } from '../lib/format/controlfile'
import { SUPPORTED_MAJORS, VERSIONS, tablespaceVersionDir } from '../lib/format/versions'
import { PgRewindError } from '../lib/errors'
import { Cluster, makeDir, makeTempRoot, removeTree, testMajors } from './harness'
import { xorshift32 } from './helpers/rng'

const V15 = VERSIONS[15]
const V18 = VERSIONS[18]

function expectRelpathError (t: tap.Test, fn: () => unknown, message: string | RegExp): void {
  try {
    fn()
  } catch (e) {
    t.type(e, PgRewindError)
    t.equal((e as PgRewindError).code, 'RELPATH')
    if (typeof message === 'string') t.equal((e as PgRewindError).message, message)
    else t.match((e as PgRewindError).message, message)
    return
  }
  t.fail(`expected RELPATH error ${String(message)}`)
}

const shared: RelFileLocator = { spcOid: GLOBALTABLESPACE_OID, dbOid: 0, relNumber: 1262 }
const plain: RelFileLocator = { spcOid: DEFAULTTABLESPACE_OID, dbOid: 5, relNumber: 16385 }
const tblspc: RelFileLocator = { spcOid: 16384, dbOid: 5, relNumber: 16400 }

t.test('relationPath builds what GetRelationPath builds', async t => {
  const cases: Array<[RelFileLocator, Parameters<typeof relationPath>[2], string]> = [
    [shared, {}, 'global/1262'],
    [shared, { fork: ForkNumber.FSM }, 'global/1262_fsm'],
    [shared, { fork: ForkNumber.VISIBILITYMAP, segNo: 3 }, 'global/1262_vm.3'],
    [plain, {}, 'base/5/16385'],
    [plain, { segNo: 0 }, 'base/5/16385'],
    [plain, { segNo: 1 }, 'base/5/16385.1'],
    [plain, { fork: ForkNumber.INIT }, 'base/5/16385_init'],
    [plain, { fork: ForkNumber.FSM, segNo: 4294967295 }, 'base/5/16385_fsm.4294967295'],
    [plain, { tempProcNumber: 3 }, 'base/5/t3_16385'],
    [plain, { tempProcNumber: 0, fork: ForkNumber.VISIBILITYMAP, segNo: 2 }, 'base/5/t0_16385_vm.2'],
    [tblspc, {}, 'pg_tblspc/16384/PG_15_202209061/5/16400'],
    [tblspc, { fork: ForkNumber.FSM, segNo: 7 }, 'pg_tblspc/16384/PG_15_202209061/5/16400_fsm.7'],
    [tblspc, { tempProcNumber: 12 }, 'pg_tblspc/16384/PG_15_202209061/5/t12_16400'],
    [{ spcOid: 0, dbOid: 0, relNumber: 0 }, {}, 'pg_tblspc/0/PG_15_202209061/0/0']
  ]
  for (const [loc, opts, want] of cases) t.equal(relationPath(loc, V15, opts), want, want)
  t.equal(relationPath(tblspc, V18), 'pg_tblspc/16384/PG_18_202506291/5/16400', 'the version decides the tablespace directory')
  for (const m of SUPPORTED_MAJORS) {
    t.equal(relationPath(tblspc, VERSIONS[m]), `pg_tblspc/16384/${tablespaceVersionDir(VERSIONS[m])}/5/16400`)
  }
  t.equal(databasePath(GLOBALTABLESPACE_OID, 0, V15), 'global')
  t.equal(databasePath(DEFAULTTABLESPACE_OID, 13383, V15), 'base/13383')
  t.equal(databasePath(16384, 5, VERSIONS[13]), 'pg_tblspc/16384/PG_13_202007201/5')
})

t.test('relationPath refuses what PostgreSQL never builds', async t => {
  expectRelpathError(t, () => relationPath({ ...shared, dbOid: 5 }, V15), 'shared relations have database OID 0 and are never temporary')
  expectRelpathError(t, () => relationPath(shared, V15, { tempProcNumber: 1 }), 'shared relations have database OID 0 and are never temporary')
  expectRelpathError(t, () => relationPath(plain, V15, { fork: 4 as ForkNumber }), 'invalid fork number 4')
  expectRelpathError(t, () => relationPath(plain, V15, { fork: -1 as ForkNumber }), 'invalid fork number -1')
  expectRelpathError(t, () => relationPath({ ...plain, relNumber: -1 }, V15), 'invalid relNumber -1')
  expectRelpathError(t, () => relationPath({ ...plain, relNumber: 2 ** 32 }, V15), 'invalid relNumber 4294967296')
  expectRelpathError(t, () => relationPath({ ...plain, dbOid: 1.5 }, V15), 'invalid dbOid 1.5')
  expectRelpathError(t, () => relationPath({ ...plain, spcOid: NaN }, V15), 'invalid spcOid NaN')
  expectRelpathError(t, () => relationPath(plain, V15, { segNo: -1 }), 'invalid segNo -1')
  expectRelpathError(t, () => relationPath(plain, V15, { tempProcNumber: -1 }), 'invalid temporary relation proc number -1')
  expectRelpathError(t, () => relationPath(plain, V15, { tempProcNumber: 2 ** 31 }), 'invalid temporary relation proc number 2147483648')
})

t.test('parseRelationPath: every form round-trips, on every version', async t => {
  let n = 0
  const wrong: string[] = []
  for (const m of SUPPORTED_MAJORS) {
    const v = VERSIONS[m]
    for (const loc of [shared, plain, tblspc, { spcOid: 4294967295, dbOid: 4294967295, relNumber: 4294967295 }]) {
      for (const fork of [ForkNumber.MAIN, ForkNumber.FSM, ForkNumber.VISIBILITYMAP, ForkNumber.INIT]) {
        for (const segNo of [0, 1, 12, 4294967295]) {
          for (const temp of loc.spcOid === GLOBALTABLESPACE_OID ? [null] : [null, 0, 3, 2147483647]) {
            const path = relationPath(loc, v, { fork, segNo, tempProcNumber: temp })
            const got = parseRelationPath(path, v)
            const want = { ...loc, fork, segNo, tempProcNumber: temp }
            if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${path}: ${JSON.stringify(got)}`)
            if (isRelationDataFile(path, v) !== (fork === ForkNumber.MAIN && temp === null)) wrong.push(`${path}: isRelationDataFile`)
            n++
          }
        }
      }
    }
  }
  t.same(wrong, [], 'parsed back to the same numbers, classified as pg_rewind does')
  t.ok(n > 1000, `${n} paths`)
})

// [path, parseRelationPath accepts it, isRelationDataFile] for a PG 15 cluster
const TABLE: Array<[string, boolean, boolean]> = [
  ['global/1262', true, true],
  ['global/1262.1', true, true],
  ['global/0', true, true],
  ['global/1262_fsm', true, false],
  ['global/1262_vm', true, false],
  ['global/1262_init', true, false],
  ['base/5/16385', true, true],
  ['base/5/16385.3', true, true],
  ['base/0/0', true, true],
  ['base/4294967295/4294967295.4294967295', true, true],
  ['base/5/16385_fsm', true, false],
  ['base/5/16385_vm.1', true, false],
  ['base/5/16385_init', true, false],
  ['base/5/t3_16385', true, false],
  ['base/5/t0_16385_fsm', true, false],
  ['pg_tblspc/16384/PG_15_202209061/5/16400', true, true],
  ['pg_tblspc/16384/PG_15_202209061/5/16400.2', true, true],
  ['pg_tblspc/16384/PG_15_202209061/5/16400_vm', true, false],
  ['pg_tblspc/16384/PG_15_202209061/5/t3_16400', true, false],
  // not what GetRelationPath would generate
  ['base/5/16385.0', false, false],
  ['base/5/016385', false, false],
  ['base/05/16385', false, false],
  ['global/01262', false, false],
  ['base/5/16385.01', false, false],
  ['base/5/t03_16385', false, false],
  ['base/5/+16385', false, false],
  ['base/5/ 16385', false, false],
  ['base/5/16385 ', false, false],
  ['base/5/16385.', false, false],
  ['base/5/16385_', false, false],
  ['base/5/16385_main', false, false],
  ['base/5/16385_fsm_vm', false, false],
  ['base/5/16385.1_fsm', false, false],
  ['base/5/16385abc', false, false],
  ['base/5/t_16385', false, false],
  ['base/5/t3_', false, false],
  ['base/5/t-1_16385', false, false],
  ['base/4294967296/1', false, false],
  ['base/5/4294967296', false, false],
  ['base/5/1.4294967296', false, false],
  ['global/t3_1262', false, false],
  ['pg_tblspc/1663/PG_15_202209061/5/16400', false, false], // re-generates as base/5/16400
  ['pg_tblspc/1664/PG_15_202209061/0/16400', false, false], // re-generates as global/16400
  ['pg_tblspc/1664/PG_15_202209061/5/16400', false, false], // a shared relation never has a database
  ['pg_tblspc/1664/PG_15_202209061/0/t3_16400', false, false], // nor is temporary
  ['base/5/t2147483648_16385', false, false], // proc numbers are C ints
  ['pg_tblspc/16384/PG_14_202107181/5/16400', false, false], // another version's directory
  ['pg_tblspc/16384/PG_15_202209061/16400', false, false],
  ['pg_tblspc/16384/5/16400', false, false],
  ['/base/5/16385', false, false],
  ['./base/5/16385', false, false],
  ['base/5/16385/', false, false],
  ['base//5/16385', false, false],
  ['base/5/6/16385', false, false],
  ['base/5', false, false],
  ['base/5/', false, false],
  ['global', false, false],
  ['global/', false, false],
  ['global/pg_control', false, false],
  ['global/pg_filenode.map', false, false],
  ['global/pg_internal.init', false, false],
  ['base/5/PG_VERSION', false, false],
  ['base/5/pg_filenode.map', false, false],
  ['base/5/pg_internal.init', false, false],
  ['base/pgsql_tmp/pgsql_tmp123.0', false, false],
  ['pg_wal/000000010000000000000001', false, false],
  ['PG_VERSION', false, false],
  ['', false, false],
  ['base/٥/16385', false, false] // non-ASCII digits
]

t.test('parseRelationPath / isRelationDataFile decision table', async t => {
  for (const [path, parses, isRel] of TABLE) {
    t.equal(parseRelationPath(path, V15) !== null, parses, `parse ${JSON.stringify(path)}`)
    t.equal(isRelationDataFile(path, V15), isRel, `isRelationDataFile ${JSON.stringify(path)}`)
  }
  t.same(parseRelationPath('pg_tblspc/16384/PG_15_202209061/5/t3_16400_vm.9', V15),
    { spcOid: 16384, dbOid: 5, relNumber: 16400, fork: ForkNumber.VISIBILITYMAP, segNo: 9, tempProcNumber: 3 })
  t.equal(isRelationDataFile('pg_tblspc/16384/PG_14_202107181/5/16400', VERSIONS[14]), true, 'own version directory accepted')
})

// ---------------------------------------------------------------------------------
// Oracle: pg_rewind's isRelDataFile written the C way (sscanf + re-generation), to
// compare with ours (regexes + canonical check) on fuzzed paths.
// ---------------------------------------------------------------------------------

const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\r\v\f'.includes(c)

/** glibc sscanf with literal text and %u conversions only; returns the conversions made. */
function sscanfU (input: string, format: string): number[] {
  const out: number[] = []
  let i = 0
  for (let f = 0; f < format.length; f++) {
    if (format.startsWith('%u', f)) {
      f++
      while (isSpace(input[i])) i++
      let neg = false
      if (input[i] === '+' || input[i] === '-') { neg = input[i] === '-'; i++ }
      const start = i
      while (i < input.length && input[i] >= '0' && input[i] <= '9') i++
      if (i === start) return out
      let v = BigInt(input.slice(start, i))
      if (v > 0xFFFFFFFFFFFFFFFFn) v = 0xFFFFFFFFFFFFFFFFn // strtoul saturates
      if (neg) v = (-v) & 0xFFFFFFFFFFFFFFFFn
      out.push(Number(v & 0xFFFFFFFFn)) // stored into an unsigned int
    } else {
      if (input[i] !== format[f]) return out
      i++
    }
  }
  return out
}

function cIsRelDataFile (path: string, verDir: string): boolean {
  let spc = 0
  let db = 0
  let rel = 0
  let seg = 0
  let matched = false
  let m = sscanfU(path, 'global/%u.%u')
  if (m.length === 1 || m.length === 2) {
    spc = GLOBALTABLESPACE_OID; rel = m[0]; seg = m[1] ?? 0; matched = true
  } else {
    m = sscanfU(path, 'base/%u/%u.%u')
    if (m.length === 2 || m.length === 3) {
      spc = DEFAULTTABLESPACE_OID; db = m[0]; rel = m[1]; seg = m[2] ?? 0; matched = true
    } else {
      m = sscanfU(path, `pg_tblspc/%u/${verDir}/%u/%u.%u`)
      if (m.length === 3 || m.length === 4) {
        spc = m[0]; db = m[1]; rel = m[2]; seg = m[3] ?? 0; matched = true
      }
    }
  }
  if (!matched) return false
  let check = spc === GLOBALTABLESPACE_OID ? `global/${rel}` : spc === DEFAULTTABLESPACE_OID ? `base/${db}/${rel}` : `pg_tblspc/${spc}/${verDir}/${db}/${rel}`
  if (seg > 0) check += `.${seg}`
  return check === path
}

t.test('isRelationDataFile agrees with a literal port of pg_rewind\'s C logic', async t => {
  const rand = xorshift32(1234)
  const pick = <T>(a: readonly T[]): T => a[rand() % a.length]
  const prefixes = ['global/', 'base/', 'pg_tblspc/', 'base/5/', 'pg_tblspc/16384/PG_15_202209061/', 'pg_tblspc/1663/PG_15_202209061/5/',
    'pg_tblspc/1664/PG_15_202209061/0/', 'pg_tblspc/16384/PG_14_202107181/5/', '', 'base/5/t3_']
  const tokens = ['0', '5', '16385', '1663', '1664', '4294967295', '4294967296', '18446744073709551617', '007', '/', '/', '.', '.', '_fsm', '_vm',
    '_init', '_main', 't3_', ' ', '+', '-', 'x', '1', '2']
  let agree = 0
  let relFiles = 0
  for (let i = 0; i < 30000; i++) {
    let p = pick(prefixes)
    const n = 1 + rand() % 5
    for (let k = 0; k < n; k++) p += pick(tokens)
    const ours = isRelationDataFile(p, V15)
    const theirs = cIsRelDataFile(p, 'PG_15_202209061')
    if (ours !== theirs) {
      t.fail(`disagree on ${JSON.stringify(p)}: ours ${ours}, C ${theirs}`)
      return
    }
    agree++
    if (ours) relFiles++
  }
  for (const [path] of TABLE) t.equal(isRelationDataFile(path, V15), cIsRelDataFile(path, 'PG_15_202209061'), JSON.stringify(path))
  t.ok(relFiles > 500 && relFiles < agree - 5000, `agreement on ${agree} fuzzed paths, ${relFiles} of them relation files`)
})

t.test('block arithmetic', async t => {
  t.same(blockLocation(0), { segNo: 0, blockInSegment: 0, offset: 0 })
  t.same(blockLocation(131071), { segNo: 0, blockInSegment: 131071, offset: 131071 * 8192 })
  t.same(blockLocation(131072), { segNo: 1, blockInSegment: 0, offset: 0 })
  t.same(blockLocation(3 * 131072 + 5), { segNo: 3, blockInSegment: 5, offset: 5 * 8192 })
  t.same(blockLocation(0xFFFFFFFE), { segNo: 32767, blockInSegment: 131070, offset: 131070 * 8192 })
  t.same(blockLocation(1000, 256, 32768), { segNo: 3, blockInSegment: 232, offset: 232 * 32768 }, 'other builds: relseg_size and blcksz from pg_control')
  t.equal(segmentFileSize(), 1024 * 1024 * 1024)
  t.equal(segmentFileSize(256, 32768), 8 * 1024 * 1024)
  for (const b of [0, 1, 131071, 131072, 262149, 0xFFFFFFFE]) {
    const l = blockLocation(b)
    t.equal(absoluteBlockNumber(l.segNo, l.blockInSegment), b, `inverse for ${b}`)
  }
  t.same(blockPath(plain, ForkNumber.MAIN, 2 * 131072 + 9, V15), { segNo: 2, blockInSegment: 9, offset: 9 * 8192, path: 'base/5/16385.2' })
  t.same(blockPath(tblspc, ForkNumber.FSM, 4, V18), { segNo: 0, blockInSegment: 4, offset: 4 * 8192, path: 'pg_tblspc/16384/PG_18_202506291/5/16400_fsm' })
  t.same(blockPath(plain, ForkNumber.MAIN, 600, V15, 256, 8192).path, 'base/5/16385.2')

  expectRelpathError(t, () => blockLocation(-1), 'invalid blockNo -1')
  expectRelpathError(t, () => blockLocation(1.5), 'invalid blockNo 1.5')
  expectRelpathError(t, () => blockLocation(2 ** 32), 'invalid blockNo 4294967296')
  expectRelpathError(t, () => blockLocation(1, 0), 'invalid relation segment size 0')
  expectRelpathError(t, () => blockLocation(1, 131072, 0), 'invalid block size 0')
  expectRelpathError(t, () => segmentFileSize(-5), 'invalid relation segment size -5')
  expectRelpathError(t, () => absoluteBlockNumber(0, 131072), 'invalid block 131072 of segment 0')
  expectRelpathError(t, () => absoluteBlockNumber(-1, 0), 'invalid block 0 of segment -1')
  expectRelpathError(t, () => absoluteBlockNumber(32768, 0), 'invalid blockNo 4294967296')
})

// ---------------------------------------------------------------------------------
// Real data directories of every major
// ---------------------------------------------------------------------------------

const majors = testMajors()

/** Files in database directories that are not relations. */
const NON_RELATION_FILES = new Set(['PG_VERSION', 'pg_filenode.map', 'pg_internal.init', 'pg_control'])

function walk (dir: string, rel: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name)
    const r = rel === '' ? name : `${rel}/${name}`
    const st = lstatSync(full)
    if (st.isSymbolicLink()) walk(readlinkSync(full), r, out) // pg_tblspc/<oid> → tablespace location
    else if (st.isDirectory()) walk(full, r, out)
    else if (st.isFile()) out.push(r)
  }
}

interface RelRow { relname: string, relkind: string, relpersistence: string, path: string, filenode: string, spc: string, dboid: string }

for (const major of majors) {
  t.test(`real relation files of PostgreSQL ${major}`, async t => {
    const root = makeTempRoot()
    let cluster: Cluster | undefined
    let session: Client | undefined
    t.teardown(async () => {
      if (session !== undefined) await session.end().catch(() => {})
      if (cluster !== undefined) await cluster.destroy()
      removeTree(root)
    })
    cluster = await Cluster.init({ major, root })
    await cluster.start()
    const tsDir = makeDir(join(root, 'ts1'))
    await cluster.query(`CREATE TABLESPACE ts1 LOCATION '${tsDir}'`)
    await cluster.query(`
      CREATE TABLE r (id int PRIMARY KEY, v text);
      INSERT INTO r SELECT g, 'row-' || g || '-marker' FROM generate_series(1, 20000) g;
      CREATE UNLOGGED TABLE u (id int); INSERT INTO u SELECT generate_series(1, 100);
      CREATE TABLE ts_t (id int, v text) TABLESPACE ts1; INSERT INTO ts_t SELECT g, 'x' FROM generate_series(1, 1000) g;
      CREATE INDEX ts_i ON ts_t (id) TABLESPACE ts1;
      CREATE SEQUENCE sq; CREATE MATERIALIZED VIEW mv AS SELECT * FROM r WHERE id < 10;
`)
    await cluster.query('VACUUM r')
    await cluster.query('VACUUM ts_t')
    // A temporary table lives only as long as its session: keep one open.
    session = new Client({ host: cluster.socketDir, port: cluster.port, user: 'postgres', database: 'postgres' })
    await session.connect()
    await session.query('CREATE TEMP TABLE tmp (id int); INSERT INTO tmp SELECT generate_series(1, 100); CREATE TEMP TABLE tmp_ts (id int) TABLESPACE ts1')
    await cluster.checkpoint()

    const cf = parseControlFile(readFileSync(join(cluster.dataDir, 'global', 'pg_control')))
    const v = VERSIONS[cf.major]
    t.equal(cf.major, major)

    // 1. Every relation the server knows: its own path for it parses back to its numbers.
    const rows = (await session.query<RelRow>(`
      SELECT c.relname, c.relkind, c.relpersistence, pg_relation_filepath(c.oid) AS path,
             pg_relation_filenode(c.oid)::text AS filenode, c.reltablespace::text AS spc, d.oid::text AS dboid
      FROM pg_class c, pg_database d
      WHERE d.datname = current_database() AND pg_relation_filepath(c.oid) IS NOT NULL`)).rows
    t.ok(rows.length > 200, `${rows.length} relations with storage`)
    let bad = 0
    const tempPrefixes = new Set<string>()
    for (const r of rows) {
      const p = parseRelationPath(r.path, v)
      const spc = Number(r.spc) === 0 ? DEFAULTTABLESPACE_OID : Number(r.spc)
      const want = {
        spcOid: spc,
        dbOid: spc === GLOBALTABLESPACE_OID ? 0 : Number(r.dboid),
        relNumber: Number(r.filenode),
        fork: ForkNumber.MAIN,
        segNo: 0
      }
      const ok = p !== null &&
        p.spcOid === want.spcOid && p.dbOid === want.dbOid && p.relNumber === want.relNumber && p.fork === 0 && p.segNo === 0 &&
        (p.tempProcNumber !== null) === (r.relpersistence === 't') &&
        isRelationDataFile(r.path, v) === (r.relpersistence !== 't') &&
        relationPath(p, v, { tempProcNumber: p.tempProcNumber }) === r.path
      if (!ok) { bad++; t.fail(`${r.relname}: ${r.path} → ${JSON.stringify(p)}`) }
      if (r.relpersistence === 't') tempPrefixes.add(/\/(t\d+_)\d+$/.exec(r.path)?.[1] ?? '?')
    }
    t.equal(bad, 0, 'pg_relation_filepath of every relation parses to its tablespace, database and filenode')
    t.ok(rows.some(r => r.path.startsWith('pg_tblspc/') && r.path.includes(`/${tablespaceVersionDir(v)}/`)), 'tablespace paths use the version table\'s directory')
    t.ok(rows.some(r => r.path.startsWith('global/')), 'shared catalogs')
    t.equal(tempPrefixes.size, 1, `temporary relations are named ${[...tempPrefixes].join(',')}`)
    t.comment(`PG ${major}: temporary relation prefix ${[...tempPrefixes].join(',')}`)

    // 2. Every file on disk in a database directory is either a relation file or one
    //    of the known non-relation files; the fork files are there and classified.
    const files: string[] = []
    for (const top of ['global', 'base', 'pg_tblspc']) walk(join(cluster.dataDir, top), top, files)
    const unknown = files.filter(f => parseRelationPath(f, v) === null && !NON_RELATION_FILES.has(f.slice(f.lastIndexOf('/') + 1)))
    t.same(unknown, [], 'no unclassified file in global/, base/, pg_tblspc/')
    const parsed = files.map(f => ({ f, p: parseRelationPath(f, v) })).filter(x => x.p !== null)
    const forks = new Set(parsed.map(x => x.p?.fork))
    t.same([...forks].sort(), [0, 1, 2, 3], 'main, fsm, vm and init forks all present on disk')
    t.ok(parsed.every(x => isRelationDataFile(x.f, v) === (x.p?.fork === ForkNumber.MAIN && x.p?.tempProcNumber === null)),
      'only main-fork permanent files are relation data files')
    t.ok(parsed.some(x => x.p?.tempProcNumber !== null && x.f.startsWith('pg_tblspc/')), 'a temporary relation in a tablespace')
    const dirs = readdirSync(join(cluster.dataDir, 'pg_tblspc')).map(oid => readdirSync(readlinkSync(join(cluster.dataDir, 'pg_tblspc', oid))))
    t.same(dirs, [[tablespaceVersionDir(v)]], `the tablespace holds exactly ${tablespaceVersionDir(v)}`)
    t.equal(cf.catalogVersionNo, v.catalogVersion, 'and its catalog version is the control file\'s')

    // 3. Block arithmetic against a real heap: the row the server says is in block b
    //    is in the 8 kB at blockLocation(b).offset of the file.
    const rPath = rows.find(r => r.relname === 'r')?.path as string
    const file = readFileSync(join(cluster.dataDir, rPath))
    const nblocks = Number((await session.query('SELECT pg_relation_size(\'r\') / 8192 AS n')).rows[0].n)
    t.equal(file.length, nblocks * cf.blcksz)
    for (const id of [1, 7777, 20000]) {
      const blk = Number((await session.query(`SELECT (ctid::text::point)[0]::int AS b FROM r WHERE id = ${id}`)).rows[0].b)
      const loc = blockLocation(blk, cf.relsegSize, cf.blcksz)
      t.equal(loc.segNo, 0)
      const page = file.subarray(loc.offset, loc.offset + cf.blcksz)
      t.equal(page.readUInt16LE(18), 0x2004, `block ${blk}: a page header (8192 | layout 4)`)
      t.ok(page.includes(Buffer.from(`row-${id}-marker`)), `row ${id} is in block ${blk} at offset ${loc.offset}`)
      const other = blockLocation(blk === 0 ? 1 : blk - 1, cf.relsegSize, cf.blcksz)
      t.notOk(file.subarray(other.offset, other.offset + cf.blcksz).includes(Buffer.from(`row-${id}-marker`)), 'and not in its neighbour')
    }
    t.equal(statSync(join(cluster.dataDir, rPath)).size % segmentFileSize(cf.relsegSize, cf.blcksz), file.length, 'a single segment')
  })
}
