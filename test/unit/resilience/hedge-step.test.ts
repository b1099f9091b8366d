// policy.hedge on the in-memory forwarder and a fake clock: a second attempt after the delay,
// on another endpoint, with the body whole; the first good head wins, the other is cancelled.
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { REPLAY_BUFFER_LIMIT } from '../../../src/config/defaults.ts';
import type { HedgeConfig, RetryConfig } from '../../../src/config/types.ts';
import { hedgeStep } from '../../../src/resilience/hedge-step.ts';
import { retryStep } from '../../../src/resilience/retry-step.ts';
import { callRig, GET } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

function hedgeRig(hedge: HedgeConfig = { delay: 20, maxAttempts: 2 }, retry?: RetryConfig) {
  return callRig({
    addresses: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'],
    timeoutMs: 10_000,
    policy: { hedge, ...(retry ? { retry } : {}) },
    steps: (clock) => [retryStep({ clock, random: () => 0, wallNow: () => 0 }), hedgeStep(clock)],
  });
}

describe('the hedge step', () => {
  it('sends a second attempt to another endpoint after the delay; the first good head wins and the other is cancelled', async () => {
    const rig = hedgeRig();
    const { sink } = rig.call();
    rig.clock.advance(19);
    expect(rig.attempts()).toHaveLength(1);
    rig.clock.advance(1);
    const [first, hedge] = rig.attempts();
    expect(hedge!.endpoint).not.toBe(first!.endpoint);
    expect(first!.head(200)).toBe(true);
    expect(hedge!.cancelledAs).toBe('superseded');
    first!.data('first');
    first!.end();
    expect(hedge!.head(200)).toBe(false);
    expect(sink).toMatchObject({ status: 200, text: 'first' });
    const metrics = await rig.metrics.metricsText();
    expect(sampleValue(metrics, 'meshlet_hedges_total', { upstream: 'catalog' })).toBe(1);
  });

  it('lets the hedge win when it answers first', () => {
    const rig = hedgeRig();
    const { sink } = rig.call();
    rig.clock.advance(20);
    const [first, hedge] = rig.attempts();
    expect(hedge!.head(200, {}, true)).toBe(true);
    hedge!.end();
    expect(first!.cancelledAs).toBe('superseded');
    expect(sink.status).toBe(200);
  });

  it('passes back-pressure on to the attempt that won', async () => {
    const rig = hedgeRig();
    const { sink } = rig.call();
    rig.clock.advance(20);
    const [first, hedge] = rig.attempts();
    hedge!.head(200);
    sink.full = true;
    hedge!.data('a');
    expect(hedge!.data('b')).toBe(false);
    sink.full = false;
    sink.release?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(hedge!.resumes).toBeGreaterThan(0);
    expect(first!.resumes).toBe(0);
  });

  it('sends nothing more when the answer comes within the delay', () => {
    const rig = hedgeRig();
    rig.call();
    rig.attempts()[0]!.head(200, {}, true);
    rig.attempts()[0]!.end();
    rig.clock.advance(1000);
    expect(rig.attempts()).toHaveLength(1);
    expect(rig.clock.pendingTimers()).toBe(0);
  });

  it('never hedges a POST', () => {
    const rig = hedgeRig();
    rig.call({ ...GET, method: 'POST' });
    rig.clock.advance(1000);
    expect(rig.attempts()).toHaveLength(1);
  });

  it('a failing head loses to the attempt still out', () => {
    const rig = hedgeRig();
    const { sink } = rig.call();
    rig.clock.advance(20);
    const [first, hedge] = rig.attempts();
    expect(first!.head(503, {}, true)).toBe(false);
    hedge!.head(200, {}, true);
    hedge!.end();
    expect(sink.status).toBe(200);
  });

  it('sends each attempt the whole body, from its own reader', async () => {
    const rig = hedgeRig();
    const body = new PassThrough();
    rig.call({ ...GET, method: 'PUT', body });
    body.write('one, ');
    rig.clock.advance(20);
    body.end('two');
    const [first, hedge] = rig.attempts();
    const [a, b] = await Promise.all([text(first!.body!), text(hedge!.body!)]);
    expect([a, b]).toEqual(['one, two', 'one, two']);
  });

  it('waits for the p95 of recent latencies, and sends no hedge before there are enough of them', () => {
    const rig = hedgeRig({ delay: 'p95', maxAttempts: 2 });
    for (let i = 0; i < 30; i++) {
      rig.call();
      rig.clock.advance(10);
      const attempt = rig.attempts().at(-1)!;
      attempt.head(200, {}, true);
      attempt.end();
    }
    // Thirty calls, none hedged: the first twenty had no p95 to wait for, the rest answered within it.
    expect(rig.attempts()).toHaveLength(30);
    rig.call();
    rig.clock.advance(10);
    expect(rig.attempts()).toHaveLength(31);
    // The p95 is 10 ms to within a bucket (10 %).
    rig.clock.advance(1);
    expect(rig.attempts()).toHaveLength(32);
  });

  it('spends the retry budget: past it, no hedge, and the refusal is counted', async () => {
    const retry: RetryConfig = { attempts: 1, backoff: { base: 10, max: 100 }, on: ['5xx'], budget: { ratio: 0.2, minPerSecond: 0 }, bufferLimit: REPLAY_BUFFER_LIMIT };
    const rig = hedgeRig({ delay: 20, maxAttempts: 2 }, retry);
    for (let i = 0; i < 10; i++) rig.call();
    rig.clock.advance(20);
    expect(rig.attempts()).toHaveLength(12);
    const metrics = await rig.metrics.metricsText();
    expect(sampleValue(metrics, 'meshlet_retry_budget_exhausted_total', { upstream: 'catalog', kind: 'hedge' })).toBe(8);
  });
});
