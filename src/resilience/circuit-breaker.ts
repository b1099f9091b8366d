// A circuit breaker on opossum, fed by the one classified outcome of each attempt instead of
// opossum timing a promise of its own (fire() costs two promises, two Date.now and three
// events per call: ~5-10 µs; counting into its window costs ~40 ns). opossum keeps what it is
// good at: the rolling window (its Status, rotated by the one shared rotation) and the reset
// timer that takes an open breaker to half-open. This class keeps the state the request path
// reads (one field), admits a bounded number of half-open probes (opossum admits exactly one),
// and says why each transition happened in words and numbers.

import Opossum from 'opossum';
import type { CircuitBreakerConfig } from '../config/types.ts';
import { BREAKER_BUCKET_MS } from '../config/defaults.ts';
import { formatDuration } from '../config/duration.ts';
import type { Decision } from '../observability/decisions.ts';
import { errorCodeFor, judgesEndpoint, type Outcome } from '../proxy/call/outcome.ts';
import type { BreakerRotation } from './breaker-rotation.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';
/** 'auto' is the breaker deciding; 'open' and 'closed' are an operator's (Hystrix's forceOpen / forceClosed). */
export type BreakerOverride = 'auto' | 'open' | 'closed';

export interface BreakerSettings {
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly windowMs: number;
  readonly resetTimeoutMs: number;
  readonly halfOpenRequests: number;
}

export function breakerSettings(config: CircuitBreakerConfig): BreakerSettings {
  return {
    errorThresholdPercentage: config.errorThresholdPercentage,
    volumeThreshold: config.volumeThreshold,
    windowMs: config.window,
    resetTimeoutMs: config.resetTimeout,
    halfOpenRequests: config.halfOpenRequests,
  };
}

export function sameBreakerSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  return (
    a.errorThresholdPercentage === b.errorThresholdPercentage &&
    a.volumeThreshold === b.volumeThreshold &&
    a.windowMs === b.windowMs &&
    a.resetTimeoutMs === b.resetTimeoutMs &&
    a.halfOpenRequests === b.halfOpenRequests
  );
}

export interface BreakerTransition {
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** An operator's doing rather than the breaker's. */
  readonly forced: boolean;
  readonly reason: string;
  readonly data: Readonly<Record<string, number | string | boolean | null>>;
}

/** Hears every transition (and every operator override); returns the decision it recorded. */
export type TransitionListener = (breaker: CircuitBreaker, transition: BreakerTransition) => Decision;

/** What /api/v1/breakers shows of one breaker. */
export interface BreakerView {
  readonly state: BreakerState;
  readonly override: BreakerOverride;
  readonly calls: number;
  readonly failures: number;
  readonly errorPercentage: number;
  readonly windowMs: number;
  readonly probesInFlight: number;
  readonly lastFailure: string | null;
  readonly lastTransition: { readonly at: string; readonly from: BreakerState; readonly to: BreakerState; readonly reason: string } | null;
}

const NO_ACTION = (): undefined => undefined;

export class CircuitBreaker {
  /** What the request path reads: closed admits all, open none, half-open a bounded number of probes. */
  state: BreakerState = 'closed';
  private override: BreakerOverride = 'auto';
  private window: Opossum;
  /** Half-open probes admitted whose outcome has not come yet. */
  private probes = 0;
  private probeSuccesses = 0;
  private lastFailure: string | undefined;
  private lastChange: { readonly decision: Decision; readonly from: BreakerState; readonly to: BreakerState } | undefined;
  private shut = false;

  constructor(
    /** The endpoint's address, or undefined for an upstream's breaker. */
    readonly endpoint: string | undefined,
    private settings: BreakerSettings,
    private readonly rotation: BreakerRotation,
    private readonly listener: TransitionListener,
  ) {
    this.window = this.buildWindow();
  }

  /** Whether a call may go; a half-open breaker counts the probe it admits. */
  admit(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open' || this.probes >= this.settings.halfOpenRequests) return false;
    this.probes++;
    return true;
  }

  /** A probe admitted by admit() never reached an endpoint (no endpoint could take it): its place is free again. */
  releaseProbe(): void {
    if (this.state === 'half_open' && this.probes > 0) this.probes--;
  }

  /**
   * How an attempt ended. An outcome that says nothing of the endpoint (a cancel, an overflow)
   * only frees a probe's place. In half-open, every outcome is taken for a probe's: an attempt
   * still in flight from before the breaker opened ends as one.
   */
  record(outcome: Outcome, from: string): void {
    if (!judgesEndpoint(outcome)) {
      this.releaseProbe();
      return;
    }
    const status = this.window.status;
    status.increment('fires');
    if (!outcome.failed) {
      if (this.state === 'half_open') this.probeSucceeded();
      return;
    }
    status.increment('failures', outcome.latencyMs);
    this.lastFailure = `${failureName(outcome)} from ${from}`;
    if (this.override !== 'auto') return;
    if (this.state === 'half_open') {
      this.transition('open', false, `reopened: a probe failed (${this.lastFailure}); half-open again in ${formatDuration(this.settings.resetTimeoutMs)}`, { lastFailure: this.lastFailure });
    } else if (this.state === 'closed') {
      this.checkThreshold();
    }
  }

  /** An operator's override; 'auto' gives the decision back to the breaker, in the state it is in. */
  force(override: BreakerOverride): void {
    this.override = override;
    const reason = override === 'auto' ? 'returned to automatic by operator' : `forced ${override} by operator`;
    const to = override === 'auto' ? this.state : override;
    this.transition(to, true, reason, { override });
  }

  get overridden(): BreakerOverride {
    return this.override;
  }

  /** A changed policy applies at once; a new window length starts an empty window. */
  reconfigure(settings: BreakerSettings): void {
    if (sameBreakerSettings(settings, this.settings)) return;
    const windowChanged = settings.windowMs !== this.settings.windowMs;
    this.settings = settings;
    if (windowChanged) {
      this.window.shutdown();
      this.rotation.release();
      this.window = this.buildWindow();
      // The new reset timer starts now: an open breaker stays open for a whole resetTimeout more.
      if (this.state === 'open') this.window.open();
    } else {
      // Read by opossum when it next arms the reset timer.
      this.window.options.resetTimeout = settings.resetTimeoutMs;
    }
  }

  /** The endpoint left (or breakers were turned off): no timer or rotation listener is left behind. */
  shutdown(): void {
    if (this.shut) return;
    this.shut = true;
    this.window.shutdown();
    this.rotation.release();
  }

  /** Calls and failures in the window, newest bucket included. */
  counts(): { calls: number; failures: number } {
    let calls = 0;
    let failures = 0;
    for (const bucket of this.window.status.window) {
      calls += bucket.fires;
      failures += bucket.failures;
    }
    return { calls, failures };
  }

  describe(): BreakerView {
    const { calls, failures } = this.counts();
    const last = this.lastChange;
    return {
      state: this.state,
      override: this.override,
      calls,
      failures,
      errorPercentage: percentage(failures, calls),
      windowMs: this.settings.windowMs,
      probesInFlight: this.probes,
      lastFailure: this.lastFailure ?? null,
      lastTransition: last === undefined ? null : { at: new Date(last.decision.at).toISOString(), from: last.from, to: last.to, reason: last.decision.reason },
    };
  }

  private buildWindow(): Opossum {
    const { windowMs, resetTimeoutMs, errorThresholdPercentage, volumeThreshold } = this.settings;
    this.rotation.retain();
    const window = new Opossum(NO_ACTION, {
      // Our deadlines time requests; opossum only counts and times the reset.
      timeout: false,
      resetTimeout: resetTimeoutMs,
      errorThresholdPercentage,
      volumeThreshold,
      rollingCountTimeout: windowMs,
      rollingCountBuckets: windowMs / BREAKER_BUCKET_MS,
      rotateBucketController: this.rotation.controller,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      allowWarmUp: false,
      name: this.endpoint ?? 'upstream',
    });
    window.on('halfOpen', this.onResetTimeout);
    return window;
  }

  /** opossum's reset timer ran out: the breaker lets its probes through, unless an operator holds it open. */
  private readonly onResetTimeout = (): void => {
    if (this.override === 'open') {
      this.window.open();
      return;
    }
    const n = this.settings.halfOpenRequests;
    this.transition('half_open', false, `half-open after ${formatDuration(this.settings.resetTimeoutMs)} open: lets ${n} probe${n === 1 ? '' : 's'} through`, { probes: n });
  };

  private checkThreshold(): void {
    const { calls, failures } = this.counts();
    const { volumeThreshold, errorThresholdPercentage, windowMs } = this.settings;
    // Hystrix's rule: at the threshold opens (opossum's own check needs more than it).
    if (calls < volumeThreshold || failures * 100 < errorThresholdPercentage * calls) return;
    const pct = percentage(failures, calls);
    this.transition(
      'open',
      false,
      `opened: ${failures} of ${calls} calls failed in the last ${formatDuration(windowMs)} (${pct} % ≥ ${errorThresholdPercentage} %, at least ${volumeThreshold} calls), last ${this.lastFailure}; half-open in ${formatDuration(this.settings.resetTimeoutMs)}`,
      { calls, failures, errorPercentage: pct, threshold: errorThresholdPercentage, volumeThreshold, windowMs, lastFailure: this.lastFailure ?? null },
    );
  }

  private probeSucceeded(): void {
    if (this.probes > 0) this.probes--;
    const n = this.settings.halfOpenRequests;
    if (++this.probeSuccesses < n) return;
    this.transition('closed', false, `closed: ${n} of ${n} probe${n === 1 ? '' : 's'} succeeded`, { probes: n });
  }

  private transition(to: BreakerState, forced: boolean, reason: string, data: BreakerTransition['data']): void {
    const from = this.state;
    this.state = to;
    if (from !== to) {
      this.probes = 0;
      this.probeSuccesses = 0;
      // opossum arms its reset timer on open and clears it on close; half-open comes from that timer.
      if (to === 'open') this.window.open();
      else if (to === 'closed') this.window.close();
    }
    this.lastChange = { decision: this.listener(this, { from, to, forced, reason, data: { ...data, from, to } }), from, to };
  }
}

function percentage(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10;
}

/** The failure as a client would have seen it: its typed error, else the endpoint's status. */
function failureName(outcome: Outcome): string {
  const code = outcome.reason === undefined ? undefined : errorCodeFor(outcome.reason);
  if (code !== undefined) return code;
  if (outcome.grpcStatus !== undefined && outcome.grpcStatus !== 0) return `grpc-status ${outcome.grpcStatus}`;
  return `HTTP ${outcome.status}`;
}
