import { PgRewindError } from '../errors'
import { LocalSource } from './local'
import type { ServerSourceOptions } from './server'
import { RewindSource } from './types'

/** A source by its description: a local data directory, or a connection string. */
export async function openSource (spec: { pgdata?: string, connstr?: string }, opts: ServerSourceOptions = {}): Promise<RewindSource> {
  if (spec.pgdata !== undefined) return new LocalSource(spec.pgdata)
  // the libpq client (pg, TLS) is loaded only when a server is the source
  if (spec.connstr !== undefined) return await (require('./server') as typeof import('./server')).ServerSource.open(spec.connstr, opts)
  throw new PgRewindError('INVALID_PARAMS', 'a source is required: a data directory (pgdata) or a connection string (connstr)')
}
