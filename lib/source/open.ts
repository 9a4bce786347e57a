import { PgRewindError } from '../errors'
import { LocalSource } from './local'
import type { ServerSourceOptions } from './server'
import { RewindSource } from './types'

// the libpq client (pg, TLS) is loaded only when a server is the source
const serverModule = (): typeof import('./server') => require('./server') as typeof import('./server')

/**
 * Load it now: a process about to give up root (lib/cli/privileges.ts) may not be
 * able to read its own files afterwards, and Node resolves `./server` again, from
 * this module, unless this module has required it once.
 */
export function preloadServerSource (): void { serverModule() }

/** A source by its description: a local data directory, or a connection string. */
export async function openSource (spec: { pgdata?: string, connstr?: string }, opts: ServerSourceOptions = {}): Promise<RewindSource> {
  if (spec.pgdata !== undefined) return new LocalSource(spec.pgdata)
  if (spec.connstr !== undefined) return await serverModule().ServerSource.open(spec.connstr, opts)
  throw new PgRewindError('INVALID_PARAMS', 'a source is required: a data directory (pgdata) or a connection string (connstr)')
}
