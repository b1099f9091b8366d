// Lifeguard's local health multiplier: a score from 0 (healthy) to max − 1 that rises when
// this member shows signs that it, not its peers, is slow (missed nacks, having to refute a
// suspicion about itself, a lagging event loop) and falls with each successful probe. The
// membership stretches its probe interval and timeouts by (score + 1), so a struggling member
// accuses others less readily.

import { awarenessScaled } from './timing.ts';

/**
 * Event-loop lag at or above this counts as a sign of poor health: a fifth of the default
 * 500 ms probe timeout, well above the few ms a healthy loop shows and below what makes acks
 * late.
 */
export const EVENT_LOOP_LAG_THRESHOLD_MS = 100;

export class Awareness {
  private current = 0;

  constructor(
    private readonly max: number,
    private readonly onChange: (score: number) => void = () => {},
  ) {}

  get score(): number {
    return this.current;
  }

  applyDelta(delta: number): void {
    const next = Math.min(this.max - 1, Math.max(0, this.current + delta));
    if (next === this.current) return;
    this.current = next;
    this.onChange(next);
  }

  scale(ms: number): number {
    return awarenessScaled(ms, this.current);
  }

  /**
   * Fed with the event loop's recent delay (perf_hooks monitorEventLoopDelay, about once a
   * probe interval): one point per lag at or above the threshold, two when the loop stalled
   * longer than `severeMs` (the probe timeout), since then every ack it sends is late.
   */
  noteEventLoopLag(ms: number, severeMs: number): void {
    if (ms >= severeMs) this.applyDelta(2);
    else if (ms >= EVENT_LOOP_LAG_THRESHOLD_MS) this.applyDelta(1);
  }
}
