import type * as Pg from 'pg'

/**
 * `pg`, loaded without Node's fetch implementation. pg 8.x decides when it is loaded
 * whether it runs in a Cloudflare Worker by constructing a `Response` (pg/lib/stream.js);
 * in Node that first touch of the global loads the whole of undici, Node's fetch:
 * 6 MB more at every peak of a rewind from a source server (bench/RESULTS.md), for a
 * check whose answer here is always no. Hidden while pg loads, the global is put back
 * as it was, still unloaded, for whoever uses it.
 */
function loadPg (): typeof Pg {
  const response = Object.getOwnPropertyDescriptor(globalThis, 'Response')
  if (response?.configurable !== true) return require('pg') as typeof Pg
  delete (globalThis as { Response?: unknown }).Response
  try {
    return require('pg') as typeof Pg
  } finally {
    Object.defineProperty(globalThis, 'Response', response)
  }
}

// loaded with this module (a source server's, required only when one is the source):
// before a process gives up root (lib/cli/privileges.ts), it may not read its files after
const pg = loadPg()

/** A new `pg` client. */
export function newClient (config: Pg.ClientConfig): Pg.Client {
  return new pg.Client(config)
}
