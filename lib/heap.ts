import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * How much of the memory a big rewind takes is garbage (issue 13). V8 grows its heap
 * rather than collect the old generation while the machine has room, by a factor of
 * up to 4 of what was live at the last full collection: a step's garbage (a catalog
 * read whole, JSON text, the discard report's intermediate objects) was still there
 * when the next step added its own. Measured on the one-shot rewind of 30,000 tables
 * a side (PG 15): 799 MB peak RSS as it was, 508 MB with a full collection at each
 * step boundary, 349 MB with that and the heap grown by 20% of what is live.
 */

/** The heap grows by 20% of what is live after each full collection (V8's `--heap-growing-percent`). */
export function boundHeapGrowth (): void {
  setFlagsFromString('--heap-growing-percent=20')
}

let gc: (() => void) | null = null

/** A full collection now: `gc` exposed for a moment, taken from a fresh context, hidden again. */
export function collectGarbage (): void {
  if (gc === null) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
    setFlagsFromString('--no-expose-gc')
  }
  gc()
}
