import { rollback } from '../steps/rollback'
import { noPositional, parseArgs, usageError } from './args'
import { asTargetOwner } from './common'
import { PROG, stderrLogger } from './output'

export const ROLLBACK_HELP = `${PROG} rollback: undo a rewind from its journal.

Usage:
  ${PROG} rollback -D DIR [--discard] [--json]

Puts the target back byte for byte as it was before the rewind, whether the rewind
was interrupted or finished (until the node has started once): the old primary's
own transactions after the fork are back, to be inspected or salvaged. Can itself be
interrupted and run again.

Options:
  -D, --target-pgdata=DIRECTORY  the data directory the rewind changed
      --discard                  remove the journal of a finished rewind instead
                                 (the rewind can then no longer be undone)
      --json                     print the result as JSON on stdout
      --debug                    write a lot of debug messages
  -?, --help                     show this help, then exit
`

export async function rollbackCommand (argv: string[]): Promise<number> {
  const prog = `${PROG} rollback`
  const { opts, positional } = parseArgs(argv, [
    { short: 'D', long: 'target-pgdata', arg: true }, { long: 'discard' }, { long: 'json' }, { long: 'debug' }, { short: '?', long: 'help' }
  ], prog)
  if (opts.has('help')) { process.stdout.write(ROLLBACK_HELP); return 0 }
  noPositional(positional, prog)
  const pgdata = opts.get('target-pgdata')
  if (typeof pgdata !== 'string') throw usageError('no target data directory specified (--target-pgdata)', prog)
  const log = stderrLogger({ debug: opts.has('debug') })
  asTargetOwner(pgdata, log)
  const r = await rollback({ target: { pgdata }, discard: opts.has('discard') }, { log })
  if (opts.has('json')) process.stdout.write(JSON.stringify(r) + '\n')
  else log.info(r.message)
  return 0
}
