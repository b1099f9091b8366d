// Peak EWMA as Finagle and Linkerd do it: each endpoint's latency estimate jumps to any
// slower observation at once (the peak) and otherwise decays toward what is observed, with
// time constant `lb.decay`; between observations it decays toward zero, so an endpoint left
// alone after being slow is eventually tried again. Cost = estimate × (inFlight + 1) × the
// failure factor; each pick compares `choiceCount` distinct random endpoints (two by default,
// as Finagle's P2C) and takes the cheapest.
// The failure factor is this balancer's own (MOSN's peak EWMA divides by a success rate to the
// same end): 1 + e^(−t/decay), t the time since the endpoint's last failed attempt, so a failure
// doubles its cost and the doubling fades as the estimate does. Without it an endpoint that
// answers every second call with a fast 500 costs what its healthy peers do, and at low
// concurrency P2C gives the cheapest endpoint nearly every call: one that led before it began to
// fail kept half the traffic, and its failures outgrew the retry budget before outlier detection
// could judge it (its peers then had too few calls for a success-rate verdict). Bounded at 2×
// however often it fails: removing a failing endpoint is outlier detection's and the breakers' job.
// Weights are not used, as in Finagle and Linkerd.

import type { Clock } from '../clock.ts';
import type { Endpoint } from './endpoint-set.ts';
import { integerRange, type LbIssue, type LoadBalancerType } from './lb-type.ts';
import { MIN_CHOICE_COUNT } from './least-request.ts';
import type { EndpointLoad } from './load-table.ts';
import type { PickerContext } from './picker-context.ts';
import { DistinctChoices } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

/**
 * Cost of an endpoint with no latency sample yet and a request already out to it (Finagle's
 * Penalty): an endpoint of unknown speed gets one request at a time until the first answers.
 */
const UNPROBED_PENALTY = 1e12;

/** The estimate at `nowMs`: the last one decayed toward zero for the time since. */
export function decayedEstimate(load: EndpointLoad, nowMs: number, decayMs: number): number {
  const elapsed = Math.max(0, nowMs - load.stampMs);
  return load.ewmaMs * Math.exp(-elapsed / decayMs);
}

/** Folds one observed latency into the estimate: a peak is taken at once, anything else blended by age. */
export function observeLatency(load: EndpointLoad, latencyMs: number, nowMs: number, decayMs: number): void {
  if (!load.sampled || latencyMs > load.ewmaMs) {
    load.ewmaMs = latencyMs;
  } else {
    const w = Math.exp(-Math.max(0, nowMs - load.stampMs) / decayMs);
    load.ewmaMs = load.ewmaMs * w + latencyMs * (1 - w);
  }
  load.stampMs = nowMs;
  load.sampled = true;
}

/** 1 + e^(−t/decay), t since the last failed attempt: 2 right after one, 1 for an endpoint that never failed. */
export function failureFactor(load: EndpointLoad, nowMs: number, decayMs: number): number {
  return 1 + Math.exp(-Math.max(0, nowMs - load.failedAtMs) / decayMs);
}

/** What a pick minimizes. An endpoint never measured costs nothing while idle, so a new one is tried at once. */
export function peakEwmaCost(load: EndpointLoad, nowMs: number, decayMs: number): number {
  if (!load.sampled) return load.inFlight === 0 ? 0 : UNPROBED_PENALTY + load.inFlight;
  return decayedEstimate(load, nowMs, decayMs) * (load.inFlight + 1) * failureFactor(load, nowMs, decayMs);
}

export class PeakEwmaPicker extends TrackedPicker {
  readonly algorithm = 'peak_ewma';
  private readonly clock: Clock;
  private readonly decayMs: number;
  private readonly choices: DistinctChoices;
  private readonly choiceCount: number;

  constructor(context: PickerContext) {
    super(context);
    this.clock = context.clock;
    this.decayMs = context.lb.decay;
    this.choiceCount = Math.min(context.lb.choiceCount, this.endpoints.length);
    this.choices = new DistinctChoices(this.endpoints.length, context.random);
  }

  pick(): Endpoint | undefined {
    const n = this.endpoints.length;
    if (n <= 1) return this.endpoints[0];
    const now = this.clock.now();
    let best = this.choices.draw(0);
    let bestCost = peakEwmaCost(this.loads[best]!, now, this.decayMs);
    for (let step = 1; step < this.choiceCount; step++) {
      const candidate = this.choices.draw(step);
      const cost = peakEwmaCost(this.loads[candidate]!, now, this.decayMs);
      if (cost < bestCost) {
        best = candidate;
        bestCost = cost;
      }
    }
    return this.endpoints[best];
  }

  /**
   * A failure is no evidence of speed: it may raise the estimate (a timeout) but never lowers
   * it, so an endpoint that refuses fast does not look attractive; and it doubles the cost for a while.
   */
  protected override observe(load: EndpointLoad, latencyMs: number, failed: boolean): void {
    if (!(latencyMs >= 0)) return;
    const now = this.clock.now();
    if (failed) load.failedAtMs = now;
    const sample = failed && load.sampled ? Math.max(latencyMs, decayedEstimate(load, now, this.decayMs)) : latencyMs;
    observeLatency(load, sample, now, this.decayMs);
  }

  protected override describeEndpoint(index: number): { ewmaMs: number | undefined } {
    const load = this.loads[index]!;
    return { ewmaMs: load.sampled ? decayedEstimate(load, this.clock.now(), this.decayMs) : undefined };
  }
}

function decayIssues(decay: number): LbIssue[] {
  return decay > 0 && Number.isFinite(decay) ? [] : [{ field: 'decay', message: `must be a positive number of ms, got ${decay}` }];
}

export const peakEwmaType: LoadBalancerType = {
  fields: ['decay', 'choiceCount'],
  validate: (lb) => [...decayIssues(lb.decay), ...integerRange('choiceCount', lb.choiceCount, MIN_CHOICE_COUNT)],
  create: (context) => new PeakEwmaPicker(context),
};
