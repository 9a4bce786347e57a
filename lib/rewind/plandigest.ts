import { createHash } from 'node:crypto'
import type { JsonPlan, Plan } from '../steps/types'
import { canonicalText, writeJson } from '../jsonstream'
import { PlanEntries } from './planentries'

/**
 * A plan pins its own content: the sha256 of its canonical JSON (object keys sorted
 * at every level, so the same content always has the same text), everything but
 * the digest itself. The text is hashed as it is written (lib/jsonstream.ts),
 * never built whole: a plan of 100,000 entries would otherwise cost hundreds of MB.
 */
export const canonicalJson = canonicalText

export function sha256Hex (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export function planDigest (plan: Omit<Plan | JsonPlan, 'digest'> | Plan | JsonPlan): string {
  const { digest: _ignored, ...content } = plan as Plan
  const h = createHash('sha256')
  writeJson(content, chunk => h.update(chunk), { sortKeys: true })
  return h.digest('hex')
}

// Plans whose digest this process computed or checked (the one-shot CLI passes the
// plan buildPlan made on to applyPlan and writeBackupLabel): hashing a big plan's
// canonical JSON again would cost more than the check is worth.
const sealed = new WeakMap<object, string>()

/** The plan with its digest, remembered as checked. */
export function sealPlan (content: Omit<Plan, 'digest'>): Plan {
  const plan: Plan = { ...content, digest: planDigest(content) }
  sealed.set(plan, plan.digest)
  return plan
}

/** The digest of the plan's content: remembered when this process sealed or checked that very object. */
export function checkedDigest (plan: Plan | JsonPlan): string {
  const known = sealed.get(plan)
  if (known === plan.digest) return known
  const d = planDigest(plan)
  sealed.set(plan, d)
  return d
}

/**
 * A plan whose digest the caller checked another way (lib/rewind/planfile.ts: the
 * file it came from hashes to it), remembered as checked.
 */
export function markChecked<P extends Plan | JsonPlan> (plan: P): P {
  sealed.set(plan, plan.digest)
  return plan
}

/** A plan from JSON whose digest the caller checked: its entries in columns, the check remembered. */
export function checkedPlanOf (plan: JsonPlan): Plan {
  return markChecked({ ...plan, entries: PlanEntries.from(plan.entries) })
}
