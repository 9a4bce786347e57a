import { Lsn } from '../format/lsn'

/**
 * Where the source's files come from (PostgreSQL's pg_rewind calls this the
 * rewind_source): a local, cleanly stopped data directory, or a running server
 * read over an ordinary SQL connection. The target is always local.
 */

export type FileType = 'file' | 'dir' | 'symlink'

export interface FileEntry {
  /** relative to the data directory, '/'-separated */
  path: string
  type: FileType
  /** bytes; 0 for directories and symlinks */
  size: number
  /** for symlinks: where the link points (tablespaces: an absolute path) */
  linkTarget?: string
}

export interface FetchRequest {
  path: string
  offset: number
  length: number
  /**
   * Copy the whole file: `length` is the size seen when the file was listed and the
   * copy must end exactly there, else the source changed under us (an error naming
   * the file: a silently short or long copy is a corrupted target).
   */
  wholeFile?: boolean
}

/** Receives fetched bytes; called in request order, chunks ascending within a request. */
export type ChunkSink = (req: FetchRequest, fileOffset: number, data: Buffer) => void

export interface RewindSource {
  readonly kind: 'local' | 'server'
  /** for messages; never contains a password */
  readonly description: string
  listFiles (): Promise<FileEntry[]>
  /** a small whole file: pg_control, a history file */
  readFile (path: string): Promise<Buffer>
  fetch (requests: Iterable<FetchRequest>, sink: ChunkSink, onBytes?: (n: number) => void, shouldStop?: () => void): Promise<void>
  /** server source: where its WAL ends now (insert LSN, or replay point of a standby) */
  currentEndLsn? (): Promise<Lsn>
  close (): Promise<void>
}
