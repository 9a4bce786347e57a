import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * pgrewind's version: package.json is the one place it is written. Read from the
 * package root, which is above this file whether it runs from lib/ (ts-node) or
 * dist/lib/ (compiled, installed).
 */
function readVersion (): string {
  let d = __dirname
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'pgrewind' && typeof pkg.version === 'string') return pkg.version
    } catch { /* not here */ }
    d = dirname(d)
  }
  return 'unknown'
}

/** Set by the bundler of the single executable (scripts/package.js), which has no package.json beside it. */
declare const PGREWIND_BUNDLED_VERSION: string | undefined

export const VERSION = typeof PGREWIND_BUNDLED_VERSION === 'string' ? PGREWIND_BUNDLED_VERSION : readVersion()
