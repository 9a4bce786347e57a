import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFailpoint } from '../../lib/target/failpoint'
import { Journal } from '../../lib/target/journal'
import { hasMarker, markerLine, withMarker, withoutMarker } from '../../lib/target/marker'
import { TargetWriter } from '../../lib/target/writer'
import { snapshotTree, treeDiff } from '../../lib/harness/cli'

/**
 * The journal's promise, checked exhaustively on a small directory: whatever prefix of
 * the announced changes was made when the process died, rollback puts every file back
 * byte for byte — and a rollback that is itself cut short and run again does too.
 */

function fresh (): { root: string, pgdata: string } {
  const root = mkdtempSync(join(tmpdir(), 'pgrewind-journal-'))
  const pgdata = join(root, 'data')
  mkdirSync(join(pgdata, 'base', '5'), { recursive: true })
  mkdirSync(join(pgdata, 'old', 'deeper'), { recursive: true })
  mkdirSync(join(pgdata, 'pg_tblspc'))
  writeFileSync(join(pgdata, 'base', '5', '100'), Buffer.alloc(4 * 8192, 1))
  writeFileSync(join(pgdata, 'base', '5', '101'), Buffer.alloc(2 * 8192, 2))
  writeFileSync(join(pgdata, 'base', '5', '102'), Buffer.alloc(6 * 8192, 3))
  writeFileSync(join(pgdata, 'postgresql.conf'), 'old conf\n')
  writeFileSync(join(pgdata, 'postgresql.auto.conf'), '# auto\n')
  writeFileSync(join(pgdata, 'old', 'deeper', 'f'), 'going away')
  symlinkSync('/nowhere/old', join(pgdata, 'pg_tblspc', '1'))
  writeFileSync(join(pgdata, 'global_pg_control'), Buffer.alloc(8192, 9))
  return { root, pgdata }
}

/** The apply, as a list of changes; the journal announcement of each comes first. */
function plan (j: Journal, w: TargetWriter, pgdata: string): Array<() => void> {
  const buf = Buffer.alloc(8192)
  j.rewrite('postgresql.auto.conf')
  j.create('base/6', 'dir')
  j.create('base/6/200', 'file')
  j.ranges('base/5/100', [[8192, 8192], [3 * 8192, 8192]], buf)
  j.aside('postgresql.conf')
  j.grow('base/5/101', 2 * 8192)
  j.cut('base/5/102', 8192, 6 * 8192, buf)
  j.aside('old/deeper/f')
  j.rmdir('old/deeper')
  j.rmdir('old')
  j.unlink('pg_tblspc/1')
  j.create('pg_tblspc/2', 'symlink', '/nowhere/new')
  j.rewrite('global_pg_control')
  j.commit()
  return [
    () => w.writeFileDurably('postgresql.auto.conf', withMarker(readFileSync(join(pgdata, 'postgresql.auto.conf'), 'utf8'), pgdata)),
    () => w.mkdir('base/6'),
    () => { w.open('base/6/200', true); w.writeAt('base/6/200', 0, Buffer.alloc(8192, 7)) },
    () => w.writeAt('base/5/100', 8192, Buffer.alloc(8192, 0xAA)),
    () => w.writeAt('base/5/100', 3 * 8192, Buffer.alloc(8192, 0xBB)),
    // the running source dropped it after its blocks were written: a removal no entry announced
    () => w.removeFile('base/5/100'),
    () => { w.open('postgresql.conf', true); w.writeAt('postgresql.conf', 0, Buffer.from('new conf\n')) },
    () => w.writeAt('base/5/101', 2 * 8192, Buffer.alloc(3 * 8192, 5)),
    () => w.truncate('base/5/102', 8192),
    () => w.removeFile('old/deeper/f'),
    () => w.removeDir('old/deeper'),
    () => w.removeDir('old'),
    () => w.removeSymlink('pg_tblspc/1'),
    () => w.symlink('pg_tblspc/2', '/nowhere/new'),
    () => w.writeFileDurably('global_pg_control', Buffer.alloc(8192, 0xCC)),
    () => w.writeFileDurably('postgresql.auto.conf', withoutMarker(readFileSync(join(pgdata, 'postgresql.auto.conf'), 'utf8')))
  ]
}

function attempt (made: number, cutRollbackAfter?: number): { diff: string[], total: number } {
  const { root, pgdata } = fresh()
  try {
    const before = snapshotTree(pgdata)
    const j = Journal.begin(pgdata, { planDigest: 'x'.repeat(64), controlDigestBefore: 'y', createdAt: 'now', pgdata }, { dirMode: 0o700, fileMode: 0o600 })
    const w = new TargetWriter(pgdata, { dryRun: false, dirMode: 0o700, fileMode: 0o600, journal: j })
    const steps = plan(j, w, pgdata)
    for (const s of steps.slice(0, made)) s()
    w.close()
    j.close()
    // the process died here; a new one finds the journal
    const again = Journal.open(pgdata)
    if (again === null) throw new Error('no journal found')
    if (cutRollbackAfter !== undefined) {
      // a rollback that dies after undoing some intents: the journal is still there
      setFailpoint(`enospc:${cutRollbackAfter + 1}`)
      try {
        (Journal.open(pgdata) as Journal).rollback()
      } catch { /* died */ } finally {
        setFailpoint('')
      }
    }
    const reopened = Journal.open(pgdata)
    reopened?.rollback()
    return { diff: treeDiff(before, snapshotTree(pgdata)), total: steps.length }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

t.test('rollback after any prefix of the changes restores every byte', async t => {
  const { total } = attempt(0)
  for (let made = 0; made <= total; made++) {
    t.same(attempt(made).diff, [], `after ${made} of ${total} changes`)
  }
})

t.test('a rollback cut short, run again, restores every byte', async t => {
  const { total } = attempt(0)
  for (const made of [5, 9, total]) {
    for (let cut = 0; cut < 14; cut += 3) t.same(attempt(made, cut).diff, [], `after ${made} changes, the rollback cut after ${cut} undos`)
  }
})

t.test('intents written out as they are announced, the process dead before the commit: the rollback undoes them as nothing', async t => {
  const { root, pgdata } = fresh()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const before = snapshotTree(pgdata)
  const j = Journal.begin(pgdata, { planDigest: 'x'.repeat(64), controlDigestBefore: 'y', createdAt: 'now', pgdata }, { dirMode: 0o700, fileMode: 0o600 })
  const buf = Buffer.alloc(8192)
  j.rewrite('postgresql.auto.conf')
  // some 2 MB of intents of every kind, none of their changes made
  for (let i = 0; i < 20000; i++) {
    j.create(`base/6/${i}`, 'file')
    j.grow('base/5/101', 2 * 8192)
    j.aside('base/5/100')
  }
  j.create('base/6', 'dir')
  j.ranges('base/5/102', [[0, 8192]], buf)
  j.cut('base/5/102', 8192, 6 * 8192, buf)
  j.aside('old/deeper/f')
  j.rmdir('old/deeper')
  j.unlink('pg_tblspc/1')
  j.create('pg_tblspc/2', 'symlink', '/nowhere/new')
  const written = readFileSync(join(Journal.pathIn(pgdata), 'intents.jsonl'), 'utf8').split('\n').length
  t.ok(written > 20000, `written before any commit (${written} lines)`)
  j.close()
  const again = Journal.open(pgdata)
  t.ok(again !== null, 'found by the next process')
  again?.rollback()
  t.same(treeDiff(before, snapshotTree(pgdata)), [], 'every byte as it was, the journal gone')
})

t.test('the marker: one line, removable, recognised', async t => {
  const text = withMarker('a = 1\n', '/pg/data')
  t.equal(text, `a = 1\n${markerLine('/pg/data')}`)
  t.match(markerLine('/pg/data'), /^include '\/pg\/data\/pgrewind_journal\/REWIND IN PROGRESS - run the same pgrewind command again to complete it, or pgrewind rollback -D \/pg\/data'\n$/)
  t.equal(withMarker(text, '/pg/data'), text, 'added once')
  t.ok(hasMarker(text))
  t.equal(withoutMarker(`${text}primary_conninfo = 'x'\n`), "a = 1\nprimary_conninfo = 'x'\n")
  t.equal(withMarker('', '/d'), markerLine('/d'))
  t.match(markerLine("/it's"), /'\/it''s\//, 'quotes doubled as postgresql.conf wants')
})

t.test('a journal read back a chunk at a time: lines across chunks, a torn end, a damaged line, and read for its state only', async t => {
  const { root, pgdata } = fresh()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const j = Journal.begin(pgdata, { planDigest: 'x'.repeat(64), controlDigestBefore: 'y', createdAt: 'now', pgdata }, { dirMode: 0o700, fileMode: 0o600 })
  // more than two 1 MB chunks of intents (committed in pieces), the path's length varying so lines end anywhere in a chunk
  const N = 30000
  for (let i = 0; i < N; i++) j.grow(`base/5/${'9'.repeat(i % 50)}${i}`, 8192)
  j.commit()
  j.setState('applied', { filesDurable: true })
  t.throws(() => j.rollback(), { code: 'INTERNAL' }, 'the apply\'s handle keeps the paths it needs, not every intent: no rollback through it')
  j.close()
  const intentsFile = join(pgdata, 'pgrewind_journal', 'intents.jsonl')
  const text = readFileSync(intentsFile, 'utf8')
  t.ok(text.length > 2 * 1024 * 1024, `more than two chunks: intents.jsonl is ${text.length} bytes`)
  const lastSeq = (): number => JSON.parse(readFileSync(intentsFile, 'utf8').trimEnd().split('\n').pop() ?? '{}').seq

  for (const statesOnly of [false, true]) {
    writeFileSync(intentsFile, text)
    const k = Journal.open(pgdata, 0o600, { statesOnly })
    if (k === null) throw new Error('no journal')
    t.equal(k.state, 'applied', `statesOnly ${String(statesOnly)}: its state`)
    t.equal(k.filesDurable, true)
    k.setState('finishing')
    t.equal(lastSeq(), N + 1, 'the next intent numbered after every one read')
    if (statesOnly) {
      t.throws(() => k.rollback(), { code: 'INTERNAL' }, 'read for its state only: no rollback')
      t.throws(() => k.files, { code: 'INTERNAL' })
    } else {
      t.equal(k.files, 0)
    }
    k.close()
  }

  // an append cut short: its last line torn (never fsynced, so never acted on)
  writeFileSync(intentsFile, `${text}{"seq":${N + 1},"op":"sta`)
  t.equal(Journal.open(pgdata)?.state, 'applied', 'a torn last line is ignored')
  // a damaged line before the end is not
  const lines = text.split('\n')
  lines[12345] = lines[12345].slice(0, 10)
  writeFileSync(intentsFile, lines.join('\n'))
  t.throws(() => Journal.open(pgdata), { code: 'JOURNAL_INVALID', message: /damaged at line 12346/ })
  t.throws(() => Journal.open(pgdata, 0o600, { statesOnly: true }), { code: 'JOURNAL_INVALID' }, 'read for its state only, every line is still checked')
})
