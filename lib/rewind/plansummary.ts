import { BLCKSZ } from '../format/versions'
import type { Plan, PlanSummary } from '../steps/types'
import type { PlanEntry } from './planentries'
import { rangesCount } from './blockranges'
import { discardSummaryLines } from './discardsummary'
import type { Action } from './filemap'

const ACTIONS: readonly Action[] = ['create', 'copy', 'copy_tail', 'truncate', 'remove', 'none']

/** Bytes an entry's own action moves: copied, appended, cut off or removed (its changed blocks are counted apart). */
function actionBytes (e: PlanEntry): number {
  switch (e.action) {
    case 'copy': return e.sourceSize ?? 0
    case 'copy_tail': return (e.sourceSize ?? 0) - (e.targetSize ?? 0)
    case 'truncate': return (e.targetSize ?? 0) - (e.sourceSize ?? 0)
    case 'remove': return e.type === 'file' ? e.targetSize ?? 0 : 0
    default: return 0
  }
}

/**
 * What a reviewer needs of a plan, small whatever its size: its header, entries and
 * bytes per action, changed blocks, and the short form of what it discards. The
 * `pgrewind plan` summary prints it; buildPlan with planFile returns it in place of
 * the plan.
 */
export function planSummaryOf (plan: Plan): PlanSummary {
  const actions = Object.fromEntries(ACTIONS.map(a => [a, { entries: 0, bytes: 0 }])) as PlanSummary['actions']
  const changedBlocks = { files: 0, blocks: 0, bytes: 0 }
  for (const e of plan.entries) {
    actions[e.action].entries++
    actions[e.action].bytes += actionBytes(e)
    const n = rangesCount(e.blocks ?? [])
    if (n > 0) {
      changedBlocks.files++
      changedBlocks.blocks += n
      changedBlocks.bytes += n * BLCKSZ
    }
  }
  return {
    createdAt: plan.createdAt,
    target: plan.target,
    source: plan.source,
    divergence: plan.divergence,
    rewindNeeded: plan.rewindNeeded,
    backupLabel: plan.backupLabel,
    method: plan.method,
    totals: plan.totals,
    actions,
    changedBlocks,
    discards: discardSummaryLines(plan.discards)
  }
}
