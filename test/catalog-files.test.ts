import t from 'tap'
import { Client } from 'pg'
import { join } from 'node:path'
import { versionInfo } from '../lib/format/versions'
import type { ClassTable } from '../lib/catalog/classtable'
import { ClassRow, FileCatalog } from '../lib/catalog/filecatalog'
import { FileNameLookup, relationNames } from '../lib/catalog/names'
import { Cluster, makeDir, testMajors } from './harness'

/**
 * The catalog files, read without a server, say what SQL says: on every major,
 * pg_database and, per database, every live pg_class row with its schema, kind, file
 * number and tablespace, the mapped catalogs through the relation maps (pg_class
 * itself moved by VACUUM FULL), a database in another tablespace; and dead, rolled
 * back and prepared row versions have the state pg_xact gives them.
 */

type Truth = Record<string, unknown> & { oid: number, schema: string, name: string, kind: string, filenode: number, tablespace: number }

const TRUTH_SQL = `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
    coalesce(pg_relation_filenode(c.oid), 0)::int8 AS filenode,
    (CASE WHEN c.reltablespace = 0 THEN (SELECT dattablespace FROM pg_database WHERE datname = current_database()) ELSE c.reltablespace END)::int8 AS tablespace
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY c.oid`

const classRows = (table: ClassTable): ClassRow[] => Array.from({ length: table.length }, (_, i) => table.row(i))

const key = (r: Truth): string => `${r.oid} ${r.schema}.${r.name} ${r.kind} ${r.filenode} ${r.tablespace}`

for (const major of testMajors()) {
  t.test(`PostgreSQL ${major}: pg_database, pg_class, pg_namespace from their files`, async t => {
    const c = await Cluster.init({ major, conf: { max_prepared_transactions: 2 } })
    t.teardown(async () => { await c.destroy() })
    await c.start()
    const ts = makeDir(join(c.root, 'ts'))
    await c.query(`CREATE TABLESPACE ts LOCATION '${ts}'`)
    await c.query('CREATE DATABASE dbts TABLESPACE ts')
    await c.query('CREATE TABLE in_ts (id int PRIMARY KEY, v text)', 'dbts')
    await c.query(`CREATE SCHEMA s1;
      CREATE TABLE s1.t1 (id int PRIMARY KEY, big text);
      CREATE TABLE gone (id int);
      CREATE TABLE elsewhere (id int) TABLESPACE ts`)
    // (VACUUM FULL would also remove the dead row versions made below)
    await c.query('VACUUM FULL pg_class')
    // an old snapshot keeps the dead row versions below from being pruned away when
    // a page of pg_class is read (as a prepared transaction would); the server's stop ends it
    const holder = new Client({ host: c.socketDir, port: c.port, user: 'postgres', database: 'postgres' })
    holder.on('error', () => {})
    await holder.connect()
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
    await holder.query('SELECT 1')
    t.teardown(async () => { await holder.end().catch(() => {}) })
    await c.query('ALTER TABLE s1.t1 RENAME TO t2')
    await c.query('DROP TABLE gone')
    await c.query('BEGIN; CREATE TABLE rolled_back (id int); ROLLBACK')
    await c.query("BEGIN; CREATE TABLE in_prepared (id int); PREPARE TRANSACTION 'p'")
    const truth = new Map<string, Truth[]>()
    const dbs = await c.query<{ oid: string, datname: string, tablespace: string }>('SELECT oid::int8 AS oid, datname, dattablespace::int8 AS tablespace FROM pg_database ORDER BY oid')
    for (const d of dbs.filter(x => x.datname !== 'template0')) {
      truth.set(d.datname, (await c.query<Truth>(TRUTH_SQL, d.datname)).map(r => ({ ...r, oid: Number(r.oid), filenode: Number(r.filenode), tablespace: Number(r.tablespace) })))
    }
    const pgClassFile = truth.get('postgres')?.find(r => r.name === 'pg_class')?.filenode
    t.not(pgClassFile, 1259, 'VACUUM FULL moved pg_class to a new file (only the relation map knows it)')
    await c.stop()

    const cat = new FileCatalog(c.dataDir, 'target', versionInfo(major))
    const rows = await cat.databases()
    t.same(rows.filter(r => r.state === 'live').map(r => [r.oid, r.name, r.tablespace]).sort((a, b) => Number(a[0]) - Number(b[0])),
      dbs.map(d => [Number(d.oid), d.datname, Number(d.tablespace)]), 'pg_database')
    for (const d of dbs.filter(x => x.datname !== 'template0')) {
      const db = rows.find(r => r.oid === Number(d.oid) && r.state === 'live')
      if (db === undefined) throw new Error(`no row for ${d.datname}`)
      const { classes: table, namespaces } = await cat.database(db)
      const classes = classRows(table)
      // read a page at a time and three at a time (chunk boundaries inside the file): the same rows
      for (const chunkPages of [1, 3]) {
        const small = new FileCatalog(c.dataDir, 'target', versionInfo(major), chunkPages)
        t.same(classRows((await small.database(db)).classes), classes, `${d.datname}: read ${chunkPages} page(s) at a time, the same rows`)
      }
      const nsp = (r: ClassRow): string => namespaces.find(n => n.oid === r.namespace && n.state === 'live')?.name ?? '?'
      // a mapped catalog whose file the map gives, and every other relation with storage
      const live = classes.filter(r => r.state === 'live').map(r => ({ oid: r.oid, schema: nsp(r), name: r.name, kind: r.kind, filenode: r.filenode, tablespace: r.tablespace }))
      // views and the like have no file: pg_relation_filenode says NULL (0 here), so does relfilenode
      t.same(live.map(key).sort(), (truth.get(d.datname) ?? []).map(key).sort(), `${d.datname}: every live pg_class row, named, with its file and tablespace`)
    }
    const postgres = rows.find(r => r.name === 'postgres' && r.state === 'live')
    if (postgres === undefined) throw new Error('no postgres database')
    const classes = classRows((await cat.database(postgres)).classes)
    const states = (name: string): string[] => classes.filter(r => r.name === name).map(r => r.state).sort()
    t.same(states('gone'), ['deleted'], 'a dropped table: its deleted row')
    t.same(states('t1'), ['deleted'], 'the old version of a renamed row')
    t.same(states('t2'), ['live'])
    t.equal(classes.find(r => r.name === 't2')?.updated, true, 'the new version of an UPDATEd row')
    t.same(states('rolled_back'), ['rolled-back'])
    t.same(states('in_prepared'), ['uncommitted'])

    // names for files, as the report asks for them
    const lookup = new FileNameLookup(c.dataDir, 'target', versionInfo(major))
    const file = (name: string): { spcOid: number, relNumber: number } => {
      const r = classes.find(x => x.name === name)
      if (r === undefined) throw new Error(`no ${name}`)
      return { spcOid: r.tablespace, relNumber: r.filenode }
    }
    const t2 = classes.find(x => x.name === 't2' && x.state === 'live')
    const toast = classes.find(x => t2 !== undefined && x.oid === t2.toastrelid && x.state === 'live')
    if (toast === undefined) throw new Error('no TOAST table for s1.t2')
    const asked = [file('t2'), file('gone'), file('elsewhere'), file('pg_class'), { spcOid: toast.tablespace, relNumber: toast.filenode }, { spcOid: 1663, relNumber: 999999 }]
    t.same(asked.map(await relationNames(lookup, postgres.oid, 'postgres', asked)), [
      { oid: t2?.oid, schema: 's1', name: 't2', kind: 'table', toastOf: null, systemCatalog: false },
      { oid: classes.find(x => x.name === 'gone')?.oid, schema: 'public', name: 'gone', kind: 'table', toastOf: null, systemCatalog: false },
      { oid: classes.find(x => x.name === 'elsewhere')?.oid, schema: 'public', name: 'elsewhere', kind: 'table', toastOf: null, systemCatalog: false },
      { oid: 1259, schema: 'pg_catalog', name: 'pg_class', kind: 'table', toastOf: null, systemCatalog: true },
      { oid: toast.oid, schema: 'pg_toast', name: toast.name, kind: 'toast table', toastOf: 's1.t2', systemCatalog: false },
      { reason: 'no row of the target\'s pg_class in database "postgres" has file 999999 in tablespace 1663 (VACUUM may have removed it)' }
    ])
    const sharedFiles = [{ spcOid: 1664, relNumber: (await cat.sharedRelMap()).get(1262) ?? 0 }]
    t.same(sharedFiles.map(await relationNames(lookup, 0, null, sharedFiles)).map(n => 'name' in n ? `${n.schema ?? ''}.${n.name}` : n.reason), ['pg_catalog.pg_database'], 'a shared catalog, by the global relation map')
    const dbts = rows.find(r => r.name === 'dbts' && r.state === 'live')
    if (dbts === undefined) throw new Error('no dbts')
    const inTs = classRows((await cat.database(dbts)).classes).find(x => x.name === 'in_ts')
    const inTsFiles = [{ spcOid: inTs?.tablespace ?? 0, relNumber: inTs?.filenode ?? 0 }]
    t.same(inTsFiles.map(await relationNames(lookup, dbts.oid, 'dbts', inTsFiles)).map(n => 'name' in n ? n.name : n.reason), ['in_ts'], 'a database whose default tablespace is another')
    t.same(await lookup.databases([Number(dbts.oid), 424242]), new Map<number, unknown>([[dbts.oid, { name: 'dbts' }], [424242, { reason: 'the target\'s pg_database has no row for OID 424242' }]]))
  })
}
