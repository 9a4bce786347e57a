import t from 'tap'
import { noPositional, parseArgs, REWIND_OPTIONS, syncMethodOption } from '../../lib/cli/args'
import { rewindOptions } from '../../lib/cli/common'
import { drillCommand } from '../../lib/cli/drill'

const parse = (argv: string[]): ReturnType<typeof parseArgs> => parseArgs(argv, REWIND_OPTIONS, 'pg_rewind')

t.test('getopt_long forms', async t => {
  const a = parse(['-D', '/t', '--source-pgdata=/s', '-nP', '--sync-method', 'syncfs', '-D/u', 'extra', '--', '-x'])
  t.equal(a.opts.get('target-pgdata'), '/u', 'the last occurrence wins, -DDIR form')
  t.equal(a.opts.get('source-pgdata'), '/s')
  t.equal(a.opts.get('dry-run'), true)
  t.equal(a.opts.get('progress'), true)
  t.equal(a.opts.get('sync-method'), 'syncfs')
  t.same(a.positional, ['extra', '-x'], 'after --, everything is positional')
  t.equal(parse(['-nD', '/t']).opts.get('target-pgdata'), '/t', 'a short option with an argument ends a group')
})

t.test('pg_rewind\'s messages for bad options', async t => {
  const hint = 'Try "pg_rewind --help" for more information.'
  t.throws(() => parse(['--bogus']), { code: 'USAGE', message: 'unrecognized option \'--bogus\'', hint })
  t.throws(() => parse(['-x']), { code: 'USAGE', message: 'invalid option -- \'x\'' })
  t.throws(() => parse(['-D']), { code: 'USAGE', message: 'option requires an argument -- \'D\'' })
  t.throws(() => parse(['--target-pgdata']), { code: 'USAGE', message: 'option \'--target-pgdata\' requires an argument' })
  t.throws(() => parse(['--dry-run=yes']), { code: 'USAGE', message: 'option \'--dry-run\' doesn\'t allow an argument' })
  t.throws(() => noPositional(['a', 'b'], 'pg_rewind'), { code: 'USAGE', message: 'too many command-line arguments (first is "a")' })
  t.throws(() => syncMethodOption(parse(['--sync-method=fast']).opts, 'pg_rewind'), { code: 'USAGE', message: 'unrecognized sync method: fast' })
})

t.test('pg_rewind\'s option rules', async t => {
  const ok = rewindOptions(parse(['-D', '/t', '--source-server', 'host=h', '-R', '-c', '--config-file=/c', '--pg-bindir', '/b']).opts)
  t.same(ok.source, { connstr: 'host=h' })
  t.equal(ok.writeRecoveryConf, true)
  t.same(ok.options, { dryRun: false, noSync: false, syncMethod: undefined, restoreTargetWal: true, configFile: '/c', noEnsureShutdown: false, pgBindir: '/b' })
  t.throws(() => rewindOptions(parse(['-D', '/t']).opts), { code: 'USAGE', message: 'no source specified (--source-pgdata or --source-server)' })
  t.throws(() => rewindOptions(parse(['-D', '/t', '--source-pgdata=/s', '--source-server=x']).opts), { message: 'only one of --source-pgdata or --source-server can be specified' })
  t.throws(() => rewindOptions(parse(['--source-pgdata=/s']).opts), { message: 'no target data directory specified (--target-pgdata)' })
  t.throws(() => rewindOptions(parse(['-D', '/t', '--source-pgdata=/s', '-R']).opts), { message: 'no source server information (--source-server) specified for --write-recovery-conf' })
})

t.test('the drill\'s options are a usage error, never a bug report', async t => {
  await t.rejects(drillCommand(['--bogus']), { code: 'USAGE', message: 'unrecognized option \'--bogus\'', hint: 'Try "pgrewind drill --help" for more information.' })
  await t.rejects(drillCommand(['--pg-version', '12']), { code: 'USAGE', message: /unsupported PostgreSQL version "12"/ })
  await t.rejects(drillCommand(['18']), { code: 'USAGE', message: 'too many command-line arguments (first is "18")' })
})
