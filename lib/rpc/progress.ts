import { Progress } from '../steps/types'

/**
 * Rate limit for $/progress: the steps report as often as is cheap for them; a
 * client wants a few updates a second, not thousands. A report goes out when its
 * phase is new, when `minIntervalMs` passed since the last one, or when it is the
 * first to reach the phase's total (so a client sees 100 %); everything else is
 * dropped. At most one per interval, plus the first and last of each phase.
 */
export class ProgressThrottle {
  private last = Number.NEGATIVE_INFINITY
  private phase: Progress['phase'] | null = null
  private finalSent = false

  constructor (
    private readonly emit: (p: Progress) => void,
    private readonly minIntervalMs = 250,
    private readonly now: () => number = () => Date.now()
  ) {}

  report (p: Progress): void {
    const t = this.now()
    const newPhase = p.phase !== this.phase
    if (newPhase) {
      this.phase = p.phase
      this.finalSent = false
    }
    const final = p.done >= p.total
    if (!newPhase && t - this.last < this.minIntervalMs && !(final && !this.finalSent)) return
    if (final) {
      if (this.finalSent) return
      this.finalSent = true
    }
    this.last = t
    this.emit(p)
  }
}
