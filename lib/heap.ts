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

/**
 * Memory in use after a step (V8's heap and the typed arrays' buffers outside it)
 * above which the step's leftovers are worth a full collection. The buffers count:
 * a scan of 300,000 files leaves some 70 MB of typed columns and only 20 MB of heap,
 * and they went only when the next step's own garbage called for a collection —
 * after it had added its listings on top (189 MB instead of 176 at the high-water).
 */
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
  const m = process.memoryUsage()
  if (!big && m.heapUsed + m.arrayBuffers < BIG_HEAP) return
  if (!bounded) {
    setFlagsFromString('--heap-growing-percent=20')
    bounded = true
  }
  collectGarbage()
}

/**
 * For the whole process (the CLI and the JSON-RPC server with its step workers): the
 * young generation stays at the size it starts with (1 MB a semi-space) instead of
 * growing to 16 MB when much survives a scavenge. A plan of many files does exactly
 * that (objects per relation while naming them, per entry while planning), and the
 * young generation then held 30–50 MB of RSS at every step's peak, on top of what is
 * live. V8 reads the factor whenever it would grow the space, so setting it once
 * after start works (unlike --max-semi-space-size, fixed when the heap is made).
 * Measured on the one-shot rewind of 30,000 tables a side: peak RSS 199–212 MB →
 * 173–175 MB, wall time unchanged (bench/RESULTS.md).
 */
export function boundYoungGeneration (): void {
  setFlagsFromString('--semi-space-growth-factor=1')
}

/**
 * The same bound for a worker thread (the JSON-RPC server runs each step in one): a
 * worker's heap ignores the flag above, so it is made with a young generation of
 * 3 MB (its `resourceLimits`), which V8 splits into the same 1 MB semi-spaces.
 */
export const WORKER_HEAP_LIMITS = { maxYoungGenerationSizeMb: 3 } as const

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
