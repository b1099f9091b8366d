// An adaptive concurrency limit for the local application behind an inbound service, after
// Envoy's adaptive_concurrency gradient controller and Netflix concurrency-limits' Gradient2:
// the latency the application shows at a low, known concurrency (its minimum RTT) is what it
// costs without queueing; a window whose median latency is above that (by more than the
// tolerance) means calls queue inside the application, and the limit shrinks in proportion;
// a window at or below it lets the limit grow, plus a headroom of √limit so that it keeps
// probing. The minimum RTT is measured again every so often at minLimit, since an
// application's latency without load changes (a deploy, a warm cache); each interval is
// stretched by up to 15 % at random (Envoy's min_rtt_calc_params.jitter), so the instances of a
// service started together do not all drop to minLimit at the same moment. Time comes from the
// injected clock: windows close on the sample that ends them, no timer runs.

import type { Clock, Random } from '../clock.ts';

export interface GradientLimitSettings {
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly initialLimit: number;
  /** A window's latency up to tolerance × the minimum RTT counts as no queueing (Envoy's buffer, 1.25 = 25 %). */
  readonly tolerance: number;
  /** Weight of each window's computed limit against the current one: 1 follows at once. */
  readonly smoothing: number;
  /** A window of latency samples lasts at least this long (and has MIN_SAMPLES samples). */
  readonly sampleWindowMs: number;
  /** How often the minimum RTT is measured again, with the limit held at minLimit for one window. */
  readonly minRttIntervalMs: number;
}

/** Why the limit moved, for the decision log. */
export interface LimitChange {
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

export type LimitChangeListener = (change: LimitChange) => void;

/** A window with fewer samples says too little; it stays open until it has them. */
export const MIN_SAMPLES = 10;
/** Samples kept per window for its median; more in one window are counted but not kept. */
const MAX_SAMPLES = 1024;
/** The gradient's bounds: one window at most halves the limit or doubles it (Gradient2, Envoy). */
const MIN_GRADIENT = 0.5;
const MAX_GRADIENT = 2;
/** Latencies are read at this floor, so a window of 0 ms answers (a fake clock, a cache) divides nothing by zero. */
const RTT_FLOOR_MS = 0.001;
/** The minimum RTT's interval is stretched by up to this fraction, at random (Envoy's default jitter). */
export const MIN_RTT_JITTER = 0.15;
/** A move of this fraction of the limit last reported is a decision worth telling (not every window). */
const NOTABLE_CHANGE = 0.25;

export class GradientLimit {
  private estimate: number;
  /** The integer limit calls are admitted against. */
  private current: number;
  private active = 0;
  private minRtt = 0;
  /** While measuring, the limit is held at minLimit; `resumeAt` is what it goes back to. */
  private measuring = true;
  private resumeAt: number;
  private nextMeasurementAt = 0;
  private windowStart: number;
  private readonly samples = new Float64Array(MAX_SAMPLES);
  private count = 0;
  /** The most calls in flight during the window: a limit the window never reached is not raised. */
  private peakInFlight = 0;
  private reported: number;
  /** Hears the moves of 25 % or more (set by the limit's owner once it is in force). */
  onChange: LimitChangeListener | undefined = undefined;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly settings: GradientLimitSettings,
  ) {
    this.estimate = settings.initialLimit;
    this.resumeAt = settings.initialLimit;
    this.current = settings.minLimit;
    this.reported = settings.initialLimit;
    this.windowStart = clock.now();
  }

  get limit(): number {
    return this.current;
  }

  get inFlight(): number {
    return this.active;
  }

  /** The latency the application showed at minLimit; 0 until the first measurement ends. */
  get minRttMs(): number {
    return this.minRtt;
  }

  /** Admits one call if fewer than the limit are in flight; pair with release(). */
  tryAcquire(): boolean {
    if (this.active >= this.current) return false;
    this.active++;
    if (this.active > this.peakInFlight) this.peakInFlight = this.active;
    return true;
  }

  release(): void {
    this.active--;
  }

  /** An admitted call's latency at the application (undefined: it says nothing, a client cancel). */
  sample(latencyMs: number | undefined): void {
    if (latencyMs === undefined) return;
    if (this.count < MAX_SAMPLES) this.samples[this.count] = latencyMs;
    this.count++;
    const now = this.clock.now();
    if (this.count >= MIN_SAMPLES && now - this.windowStart >= this.settings.sampleWindowMs) this.closeWindow(now);
  }

  private closeWindow(now: number): void {
    const rtt = Math.max(RTT_FLOOR_MS, median(this.samples, Math.min(this.count, MAX_SAMPLES)));
    const peak = this.peakInFlight;
    this.count = 0;
    this.windowStart = now;
    this.peakInFlight = this.active;
    const s = this.settings;
    if (this.measuring) {
      this.measuring = false;
      this.minRtt = rtt;
      this.nextMeasurementAt = now + s.minRttIntervalMs * (1 + MIN_RTT_JITTER * this.random());
      this.estimate = this.resumeAt;
      this.current = Math.floor(this.estimate);
      this.tell(`minimum RTT measured at ${s.minLimit} in flight: ${ms(rtt)}; limit back to ${this.current}`);
      return;
    }
    // A window faster than the minimum shows the minimum was taken with calls queued.
    if (rtt < this.minRtt) this.minRtt = rtt;
    const gradient = clamp((s.tolerance * this.minRtt) / rtt, MIN_GRADIENT, MAX_GRADIENT);
    // An application that never had `limit / 2` calls at once shows nothing about a higher limit.
    const appLimited = gradient >= 1 && peak < this.estimate / 2;
    if (!appLimited) {
      const target = this.estimate * gradient + Math.sqrt(this.estimate * gradient);
      this.estimate = clamp(this.estimate * (1 - s.smoothing) + target * s.smoothing, s.minLimit, s.maxLimit);
    }
    if (now >= this.nextMeasurementAt) {
      this.measuring = true;
      this.resumeAt = this.estimate;
      this.current = s.minLimit;
      return;
    }
    this.current = Math.floor(this.estimate);
    this.tell(
      `window median latency ${ms(rtt)} is ${(rtt / this.minRtt).toFixed(2)}× the minimum RTT ${ms(this.minRtt)} ` +
        `(tolerance ${s.tolerance}×, gradient ${gradient.toFixed(2)}, peak ${peak} in flight)`,
    );
  }

  private tell(why: string): void {
    if (this.onChange === undefined) return;
    const to = this.current;
    if (Math.abs(to - this.reported) < NOTABLE_CHANGE * this.reported) return;
    const from = this.reported;
    this.reported = to;
    this.onChange({ from, to, reason: `concurrency limit ${from} → ${to}: ${why}` });
  }
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

/** Once per window, not per call: sorts the window's samples in place. */
function median(samples: Float64Array, count: number): number {
  const window = samples.subarray(0, count).sort();
  return window[count >> 1]!;
}
