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

/** Heap in use after a step above which the step's leftovers are worth a full collection. */
const BIG_HEAP = 64 * 1024 * 1024
let bounded = false

/**
 * Between steps: when the heap is big (a plan of many files), collect what the step
 * left and, from then on, grow the heap by 20% of what is live (V8's
 * `--heap-growing-percent`, read at every collection). A small rewind pays for
 * neither: on a pgbench pair both together cost 10% more CPU in scanWal and buildPlan,
 * for no memory saved. `big`: the caller knows the work is big though the heap is not
 * yet (scanWal's compact maps of many files, before it reads the catalog to name them).
 */
export function settleHeap (big = false): void {
  if (!big && process.memoryUsage().heapUsed < BIG_HEAP) return
  if (!bounded) {
    setFlagsFromString('--heap-growing-percent=20')
    bounded = true
  }
  collectGarbage()
}

let gc: (() => void) | null = null

/** A full collection now: `gc` exposed for a moment, taken from a fresh context, hidden again. */
function collectGarbage (): void {
  if (gc === null) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
    setFlagsFromString('--no-expose-gc')
  }
  gc()
}
