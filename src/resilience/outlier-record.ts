// What outlier detection knows of one endpoint. It lives on the endpoint's EndpointState, so it
// lasts across reloads and snapshots while the address stays and goes when the address leaves,
// and recording a call is a few additions on a field the attempt already holds.

export class OutlierRecord {
  /** Calls that counted in the current interval (outcomes that say nothing of the endpoint do not). */
  successes = 0;
  failures = 0;
  consecutiveFailures = 0;
  /**
   * Envoy's ejection multiplier: one more per ejection, one less per interval once the
   * endpoint has behaved for baseEjectionTime since it came back, so the next ejection lasts
   * baseEjectionTime × (multiplier + 1).
   */
  multiplier = 0;
  /** Clock ms of the last un-ejection. */
  unejectedAt = 0;
  /** Ejections since the address joined, for the reason text. */
  ejections = 0;
  /** Clock ms when the current ejection ends; undefined while not ejected. */
  ejectedUntil: number | undefined = undefined;
  /** How long the current (or last) ejection lasts, ms. */
  ejectedFor = 0;

  resetInterval(): void {
    this.successes = 0;
    this.failures = 0;
  }
}
