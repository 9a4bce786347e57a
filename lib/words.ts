/** "1 row", "2 rows": counts in the messages people read. */
export function plural (n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
