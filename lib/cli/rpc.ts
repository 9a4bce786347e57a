import { PgRewindError } from '../errors'
import { DEFAULT_MAX_LINE_BYTES } from '../rpc/lines'
import { JsonLog } from '../rpc/log'
import { serve } from '../rpc/server'
import { parseArgs } from './args'
import { PROG } from './output'

export const RPC_HELP = `${PROG} rpc: JSON-RPC 2.0 on stdin/stdout, one JSON message per line.

Usage:
  ${PROG} rpc [OPTION]...

Options:
      --max-line-bytes=N   longest request line accepted (default ${DEFAULT_MAX_LINE_BYTES})
      --check-results      answer a result that fails its schema with an error
                           (also PGREWIND_RPC_CHECK_RESULTS=1; for tests)
      --debug              log the steps' debug messages (JSON lines on stderr)
  -?, --help               show this help, then exit

Methods and their schemas: call rpc.discover, or see schemas/ and the README.
`

/**
 * `pgrewind rpc`. stdout carries the protocol and nothing else: the real write is
 * kept for the server, and anything else that writes to process.stdout (console.log
 * in a dependency, say) is sent to stderr instead. Exits 0 once stdin is closed
 * and every request has been answered.
 */
export async function rpcCommand (argv: string[], version: string): Promise<number> {
  const { opts, positional } = parseArgs(argv, [
    { long: 'max-line-bytes', arg: true },
    { long: 'check-results' },
    { long: 'debug' },
    { short: '?', long: 'help' }
  ], `${PROG} rpc`)
  if (opts.has('help')) {
    process.stdout.write(RPC_HELP)
    return 0
  }
  if (positional.length > 0) throw new PgRewindError('USAGE', `too many command-line arguments (first is "${positional[0]}")`, { hint: `Try "${PROG} rpc --help" for more information.` })
  const maxRaw = opts.get('max-line-bytes')
  const maxLineBytes = maxRaw === undefined ? DEFAULT_MAX_LINE_BYTES : Number(maxRaw)
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1024) {
    throw new PgRewindError('USAGE', `invalid --max-line-bytes "${String(maxRaw)}"`, { hint: 'Give a number of bytes, at least 1024.' })
  }

  const stdout = process.stdout
  const protocolWrite = stdout.write.bind(stdout)
  stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => process.stderr.write(chunk, ...(rest as []))) as typeof stdout.write
  let outputOpen = true
  // a client that went away: keep going (a step in progress finishes), stop writing
  stdout.on('error', () => { outputOpen = false })

  const log = new JsonLog(s => { process.stderr.write(s) }, opts.has('debug'))
  process.on('unhandledRejection', (e: unknown) => log.log('error', `unhandled rejection: ${(e as Error)?.message ?? String(e)}`))
  log.log('info', 'pgrewind rpc ready', { version, pid: process.pid })
  await serve({
    input: process.stdin,
    write: line => { if (outputOpen) protocolWrite(line) },
    log,
    version,
    maxLineBytes,
    checkResults: opts.has('check-results') || process.env.PGREWIND_RPC_CHECK_RESULTS === '1',
    isRoot: typeof process.geteuid === 'function' && process.geteuid() === 0
  })
  log.log('info', 'all requests answered; exiting')
  return 0
}
