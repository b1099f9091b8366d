// Lifeguard's local health multiplier: a score from 0 (healthy) to max − 1 that rises when
// this member shows signs that it, not its peers, is slow (missed nacks, having to refute a
// suspicion about itself, a lagging event loop) and falls with each successful probe. The
// membership stretches its probe interval and timeouts by (score + 1), so a struggling member
// accuses others less readily.
//
// Missed nacks and refutations are indirect evidence, worked off one successful probe at a
// time as in memberlist. The event loop's lag is measured directly, so the points it added
// also go, one per reading, once the loop is on time again: otherwise a minute of load left
// the score at its top for half a minute after the load ended (a probe every (score + 1)
// intervals, one point each), and members killed in that time were found that much later.

import { awarenessScaled } from './timing.ts';

/**
 * Event-loop lag at or above this counts as a sign of poor health: a fifth of the default
 * 500 ms probe timeout, well above the few ms a healthy loop shows and below what makes acks
 * late.
 */
export const EVENT_LOOP_LAG_THRESHOLD_MS = 100;

export class Awareness {
  private current = 0;
  /** The points of the score that event-loop lag added and a healthy loop has not taken back. */
  private fromLag = 0;

  constructor(
    private readonly max: number,
    private readonly onChange: (score: number) => void = () => {},
  ) {}

  get score(): number {
    return this.current;
  }

  applyDelta(delta: number): void {
    const next = Math.min(this.max - 1, Math.max(0, this.current + delta));
    this.fromLag = Math.min(this.fromLag, next);
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
   * longer than `severeMs` (the probe timeout), since then every ack it sends is late; a
   * reading below the threshold takes back one point that lag added.
   */
  noteEventLoopLag(ms: number, severeMs: number): void {
    const points = ms >= severeMs ? 2 : ms >= EVENT_LOOP_LAG_THRESHOLD_MS ? 1 : 0;
    if (points === 0) {
      if (this.fromLag === 0) return;
      this.fromLag--;
      this.applyDelta(-1);
      return;
    }
    const before = this.current;
    this.applyDelta(points);
    this.fromLag += this.current - before;
  }
}
