#!/usr/bin/env node
// first: the launcher's variables out of the environment before anything starts a process
import './launched'
import { asPgRewindError, PgRewindError } from '../errors'
import { isSingleExecutable, printError } from './output'
import { REWIND_HELP, rewindCommand } from './rewind'
import { VERSION } from '../version'
import { versionLine } from './version'
import { boundYoungGeneration } from '../heap'

boundYoungGeneration()

async function main (argv: string[]): Promise<number> {
  // like pg_rewind, --help and --version count only as the first argument
  if (argv[0] === '--help' || argv[0] === '-?') { process.stdout.write(REWIND_HELP); return 0 }
  if (argv[0] === '--version' || argv[0] === '-V') { process.stdout.write(versionLine()); return 0 }
  // Subcommands are loaded when used: the one-shot rewind, which HA tools start at the
  // worst moment, need not pay for the JSON-RPC server, its schemas or the drill.
  switch (argv[0]) {
    case 'drill':
      if (isSingleExecutable()) {
        throw new PgRewindError('USAGE', 'the drill is not part of the single executable', {
          hint: 'It runs the embedded PostgreSQL builds of the npm package: from a clone, npm ci && npm run drill.'
        })
      }
      return await (require('./drill') as typeof import('./drill')).drillCommand(argv.slice(1))
    case 'rpc': return await (require('./rpc') as typeof import('./rpc')).rpcCommand(argv.slice(1), VERSION)
    case 'plan': return await (require('./plan') as typeof import('./plan')).planCommand(argv.slice(1))
    case 'apply': return await (require('./apply') as typeof import('./apply')).applyCommand(argv.slice(1))
    case 'verify': return await (require('./verify') as typeof import('./verify')).verifyCommand(argv.slice(1))
    case 'rollback': return await (require('./rollback') as typeof import('./rollback')).rollbackCommand(argv.slice(1))
    default: return await rewindCommand(argv)
  }
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (e: unknown) => {
  printError(asPgRewindError(e))
  process.exitCode = 1
})
