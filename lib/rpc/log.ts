import { redact } from '../libpq/secrets'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * Diagnostic logs of the JSON-RPC server: one JSON object per line on stderr
 * (stdout carries the protocol only), with a fixed `method`/`id` when the line is
 * about a request. Messages pass through redact(); params are never logged.
 */
export class JsonLog {
  constructor (private readonly write: (line: string) => void, private readonly debugOn = false) {}

  log (level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (level === 'debug' && !this.debugOn) return
    let line: string
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level, msg: redact(msg), ...fields })
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level, msg: redact(msg) })
    }
    this.write(line + '\n')
  }
}
