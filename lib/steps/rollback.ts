import { checkNotRunning } from '../rewind/preconditions'
import { rollbackTarget, RollbackResult } from '../rewind/journaling'
import { Ports, RollbackInput } from './types'

export type { RollbackResult }

/**
 * Undo an apply from its journal: the target byte for byte as it was before,
 * whether the apply was interrupted or finished (until the node has started once).
 * The old primary's own transactions after the fork are back with it, to be
 * inspected or salvaged. With `discard`, remove the journal of a finished rewind.
 */
export async function rollback (input: RollbackInput, ports: Pick<Ports, 'log' | 'progress'>): Promise<RollbackResult> {
  const pgdata = input.target.pgdata
  checkNotRunning(pgdata, 'target')
  return rollbackTarget(pgdata, {
    discard: input.discard,
    log: ports.log,
    progress: (done, total) => ports.progress?.({ phase: 'rollback', done, total })
  })
}
