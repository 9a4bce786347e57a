import { ControlFile } from '../format/controlfile'
import { Lsn } from '../format/lsn'
import type { FileList } from '../datadir/filelist'

/**
 * Where the source's files come from (PostgreSQL's pg_rewind calls this the
 * rewind_source): a local, cleanly stopped data directory, or a running server
 * read over an ordinary SQL connection. The target is always local.
 */

export type { FileEntry, FileType } from '../datadir/listing'

export interface FetchRequest {
  path: string
  offset: number
  length: number
  /**
   * Copy the whole file; `length` is the size seen when the file was listed. A local
   * (stopped) source must still have exactly that size, else it changed under us (an
   * error naming the file). A running server's files may change while we read them,
   * as pg_rewind 14+ allows: a file that vanished is removed on the target (see
   * `onVanished`), a shorter one is copied as it is now, a small one (≤ 1 MiB) that
   * grew is copied whole; WAL replay repairs relation files.
   */
  wholeFile?: boolean
}

/**
 * Receives fetched bytes (each chunk is written at its offset, so the order does not
 * matter): the local source calls it as its parallel reads complete; the server
 * source in request order within one connection, with several connections
 * interleaving, each chunk in pieces as its socket reads them. A piece starts and
 * ends on a page boundary of the file (BLCKSZ), except at a request's own ends, so
 * whole pages can be checked as they pass. `data` is only valid during the call.
 */
export type ChunkSink = (req: FetchRequest, fileOffset: number, data: Buffer) => void

/** What a fetch may do besides handing chunks to the sink. */
export interface FetchHooks {
  /**
   * A local source: copy a whole file (`wholeFile` request) from `sourceFile` by
   * itself (a kernel-side copy: no bytes through this process); resolves to the bytes
   * copied. Without it, whole files come through the sink like any range.
   */
  copyFile?: (req: FetchRequest, sourceFile: string) => Promise<number>
}

export interface RewindSource {
  readonly kind: 'local' | 'server'
  /** for messages; never contains a password */
  readonly description: string
  /** every file, directory and link, ordered by path */
  listFiles (): Promise<FileList>
  /** a small whole file: pg_control, a history file */
  readFile (path: string): Promise<Buffer>
  /**
   * Fetch the requested ranges. `requests` may be a lazy iterable: it is consumed in
   * order, one request at a time, and only as far as the source is ready for more
   * (the caller may act on the target between requests). `shouldStop` throws to
   * cancel; `onVanished` is told about a file the running source no longer has.
   * Nothing is in flight any more when the returned promise settles (also on failure).
   */
  fetch (requests: Iterable<FetchRequest>, sink: ChunkSink, onBytes?: (n: number) => void, shouldStop?: () => void,
    onVanished?: (path: string) => void, hooks?: FetchHooks): Promise<void>
  /**
   * Server source: where the rewound target must replay to before it is consistent,
   * given the source's control file read after the copy (pg_rewind's rule: a
   * standby's minRecoveryPoint, a primary's current WAL insert location).
   */
  currentEndLsn? (control: ControlFile): Promise<{ lsn: Lsn, tli: number }>
  /**
   * Server source: the md5 (hex) of each `unit` bytes of [offset, offset + length) of a
   * file, computed by the server (null where the file has nothing).
   */
  rangeHashes? (path: string, offset: number, length: number, unit: number): Promise<Array<string | null>>
  /** Local source: its data directory. */
  readonly pgdata?: string
  /**
   * Server source: a read-only query in one of its databases (null: the session's
   * own), for names in the report of what the rewind discards.
   */
  catalogQuery?<T extends Record<string, unknown>> (dbname: string | null, sql: string, params: unknown[]): Promise<T[]>
  /** Server source: -R's primary_conninfo, and the same with secrets masked. */
  standbyConninfo? (): { conninfo: string, redacted: string }
  close (): Promise<void>
}
