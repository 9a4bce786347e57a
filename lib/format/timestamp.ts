/**
 * PostgreSQL's TimestampTz (src/include/datatype/timestamp.h): a signed 64-bit count
 * of microseconds since 2000-01-01 00:00:00 UTC, as commit records carry it.
 */

/** seconds between 1970-01-01 and 2000-01-01 (POSTGRES_EPOCH_JDATE − UNIX_EPOCH_JDATE days) */
const PG_EPOCH_UNIX_SECONDS = 946684800n

/** ISO 8601 in UTC with all six fractional digits: 2026-01-02T03:04:05.123456Z */
export function timestampTzToIso (ts: bigint): string {
  const us = ts + PG_EPOCH_UNIX_SECONDS * 1000000n
  let sec = us / 1000000n
  let frac = us % 1000000n
  if (frac < 0n) { frac += 1000000n; sec -= 1n }
  const d = new Date(Number(sec) * 1000)
  if (Number.isNaN(d.getTime())) return `${ts}us`
  return `${d.toISOString().slice(0, 19)}.${frac.toString().padStart(6, '0')}Z`
}
