import { PgRewindError } from '../../lib/errors'
import { walFileName } from '../../lib/format/lsn'
import type { WalPageSource } from '../../lib/wal/reader'

/** A WalPageSource over in-memory segment files keyed by file name (tests, tools). */
export class MemoryWalSource implements WalPageSource {
  /** names of the files read, in order of first use */
  readonly opened: string[] = []
  constructor (readonly segSize: number, readonly files: Map<string, Buffer>) {}

  readPage (tli: number, segNo: bigint, offsetInSegment: number, _length: number): Buffer {
    const name = walFileName(tli, segNo, this.segSize)
    const f = this.files.get(name)
    if (f === undefined) {
      throw new PgRewindError('WAL_MISSING', `could not open file "${name}": No such file or directory`, { data: { file: name } })
    }
    if (!this.opened.includes(name)) this.opened.push(name)
    return f.subarray(Math.min(offsetInSegment, f.length), Math.min(f.length, this.segSize))
  }
}
