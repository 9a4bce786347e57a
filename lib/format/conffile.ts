/** postgresql.conf syntax (src/backend/utils/misc/guc-file.l), for the lines pgrewind writes. */

/** A postgresql.conf string literal: quotes and backslashes doubled (fe_utils' escape_quotes). */
export function confQuote (v: string): string {
  return `'${v.replace(/['\\]/g, c => c + c)}'`
}

/** The last primary_conninfo setting in a postgresql.conf-style text, still quoted, or null. */
export function lastPrimaryConninfo (text: string): string | null {
  let last: string | null = null
  for (const line of text.split('\n')) {
    const m = /^\s*primary_conninfo\s*=?\s*('(?:[^']|'')*')/.exec(line)
    if (m !== null) last = m[1]
  }
  return last
}
