// The retry step's loop on p-retry: the first attempt never enters it, a retry does, it waits
// on the injected clock alone, and a cancelled call sends nothing more and leaves no timer.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REPLAY_BUFFER_LIMIT } from '../../../src/config/defaults.ts';
import { retryStep } from '../../../src/resilience/retry-step.ts';
import type { Step } from '../../../src/proxy/call/attempt.ts';
import { elapse } from '../../helpers/fake-time.ts';
import { callRig } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

const loops = vi.hoisted(() => ({ started: 0 }));
vi.mock('p-retry', async (importOriginal) => {
  const real = await importOriginal<typeof import('p-retry')>();
  return {
    ...real,
    default: (...args: Parameters<typeof real.default>) => {
      loops.started++;
      return real.default(...args);
    },
  };
});

function retryRig(timeoutMs = 10_000, after: readonly Step[] = []) {
  return callRig({
    addresses: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'],
    timeoutMs,
    policy: { retry: { attempts: 3, backoff: { base: 100, max: 1000 }, on: ['5xx'], bufferLimit: REPLAY_BUFFER_LIMIT } },
    steps: (clock) => [retryStep({ clock, random: () => 0.5, wallNow: () => 0 }), ...after],
  });
}

/** A step whose second dispatch throws: a bug below the retry step, met inside the loop. */
function throwingOnRetry(): Step {
  let dispatches = 0;
  return (next) => ({
    dispatch(call, handler) {
      if (++dispatches === 2) throw new Error('a bug below the retry step');
      return next.dispatch(call, handler);
    },
  });
}

afterEach(() => {
  loops.started = 0;
  vi.restoreAllMocks();
});

describe('the retry loop on p-retry', () => {
  it('leaves a call answered at once out of it, and runs one loop for all the retries of a call', async () => {
    const r = retryRig();
    const { sink } = r.call();
    r.attempts()[0]!.head(200, {}, true);
    expect(sink.status).toBe(200);
    await elapse(r.clock, 0);
    expect(loops.started).toBe(0);

    const failing = r.call();
    r.attempts()[1]!.head(503, {}, true);
    await elapse(r.clock, 50);
    r.attempts()[2]!.head(503, {}, true);
    await elapse(r.clock, 100);
    r.attempts()[3]!.head(200, {}, true);
    expect(failing.sink.status).toBe(200);
    expect(loops.started).toBe(1);
  });

  it('waits its backoff on the injected clock only, never on a global timer', async () => {
    const globalTimer = vi.spyOn(globalThis, 'setTimeout');
    const r = retryRig();
    const { sink } = r.call();
    r.attempts()[0]!.head(503, {}, true);
    await elapse(r.clock, 49);
    expect(r.attempts()).toHaveLength(1);
    await elapse(r.clock, 1);
    expect(r.attempts()).toHaveLength(2);
    r.attempts()[1]!.head(502, {}, true);
    await elapse(r.clock, 100);
    r.attempts()[2]!.head(503, {}, true);
    expect(sink.status).toBe(503);
    expect(globalTimer).not.toHaveBeenCalled();
  });

  it('sends nothing more once the client is gone during a backoff, and leaves no timer', async () => {
    const r = retryRig();
    const { call } = r.call();
    r.attempts()[0]!.head(503, {}, true);
    await elapse(r.clock, 10);
    call.onClientClose();
    await elapse(r.clock, 5000);
    expect(r.attempts()).toHaveLength(1);
    expect(r.clock.pendingTimers()).toBe(0);
  });

  it('cancels the retry out at the deadline, sends nothing more, and leaves no timer', async () => {
    const r = retryRig(200);
    const { sink } = r.call();
    r.attempts()[0]!.head(503, {}, true);
    await elapse(r.clock, 50);
    const retry = r.attempts()[1]!;
    await elapse(r.clock, 150);
    expect(sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
    expect(retry.cancelledAs).toBe('timeout');
    await elapse(r.clock, 1000);
    expect(r.attempts()).toHaveLength(2);
    expect(r.clock.pendingTimers()).toBe(0);
  });

  it('fails the call as an internal error, rather than leave it hanging, when sending a retry throws', async () => {
    const r = retryRig(10_000, [throwingOnRetry()]);
    const { sink } = r.call();
    r.attempts()[0]!.head(503, {}, true);
    await elapse(r.clock, 50);
    expect(sink.failures).toEqual(['502 MESHLET_BAD_UPSTREAM_RESPONSE']);
    expect(r.clock.pendingTimers()).toBe(0);
    const metrics = await r.metrics.metricsText();
    expect(sampleValue(metrics, 'meshlet_internal_errors_total', { site: 'proxy_call' })).toBe(1);
  });
});
