import { grown } from './columns'

/**
 * A map from strings (paths) to numbers: the strings in one array (the caller's own
 * string objects, not copies), the numbers in a typed column, open addressing with
 * linear probing in another. A Map of 300,000 paths (a plan of 100,000 tables a side)
 * held 14.7 MB of hash table; this, under 10 MB in all. Entries are never removed.
 */
export class PathMap {
  private keys: string[] = []
  private values = new Float64Array(0)
  /** key index + 1 per bucket (0: empty), at most half full */
  private buckets = new Int32Array(0)

  get size (): number { return this.keys.length }

  get (key: string): number | undefined {
    const k = this.buckets.length === 0 ? -1 : this.buckets[this.bucketOf(key)] - 1
    return k < 0 ? undefined : this.values[k]
  }

  set (key: string, value: number): void {
    let b = this.bucketOf(key)
    let k = this.buckets.length === 0 ? -1 : this.buckets[b] - 1
    if (k < 0) {
      k = this.keys.length
      this.keys.push(key)
      this.values = grown(this.values, k + 1)
      if (2 * this.keys.length > this.buckets.length) {
        this.rehash()
        b = this.bucketOf(key)
      }
      this.buckets[b] = k + 1
    }
    this.values[k] = value
  }

  /** Every value, in the order their keys were first set. */
  * allValues (): Generator<number> {
    for (let k = 0; k < this.keys.length; k++) yield this.values[k]
  }

  /** The bucket holding `key`, or the empty one where it would go. */
  private bucketOf (key: string): number {
    const mask = this.buckets.length - 1
    if (mask < 0) return 0
    // FNV-1a over the UTF-16 code units
    let h = 0x811C9DC5
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
    h ^= h >>> 15
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const k = this.buckets[b] - 1
      if (k < 0 || this.keys[k] === key) return b
    }
  }

  private rehash (): void {
    let n = Math.max(this.buckets.length, 64)
    while (n < 2 * this.keys.length) n *= 2
    this.buckets = new Int32Array(n)
    // the key being added is in `keys` but not yet in a bucket: it goes in after
    for (let k = 0; k < this.keys.length - 1; k++) this.buckets[this.bucketOf(this.keys[k])] = k + 1
  }
}
