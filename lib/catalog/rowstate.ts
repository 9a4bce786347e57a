/**
 * What became of a catalog row version: its inserter committed and nobody deleted it
 * ("live"), its inserter is still in progress or prepared ("uncommitted"), a committed
 * delete or update ended it ("deleted"), its inserter rolled back, or pg_xact cannot
 * say ("unknown"). When an object has several versions, the one ranked highest
 * describes it now.
 */
export type RowState = 'live' | 'deleted' | 'uncommitted' | 'rolled-back' | 'unknown'

/** The states by rank, lowest first */
export const ROW_STATES: readonly RowState[] = ['unknown', 'rolled-back', 'deleted', 'uncommitted', 'live']

export const ROW_STATE_RANK: Readonly<Record<RowState, number>> = { unknown: 0, 'rolled-back': 1, deleted: 2, uncommitted: 3, live: 4 }

/** The row version that best describes an object now: live, else being inserted, else deleted, … */
export function bestRow<T extends { state: RowState }> (rows: Iterable<T>): T | undefined {
  let best: T | undefined
  for (const r of rows) if (best === undefined || ROW_STATE_RANK[r.state] > ROW_STATE_RANK[best.state]) best = r
  return best
}
