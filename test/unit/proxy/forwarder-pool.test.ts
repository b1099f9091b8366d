// Forwarders are leased, not swept: one per endpoint and connection limits, shared by every
// holder, closed when the last lease goes; the connect timeout is a setting, not part of
// what a forwarder is, so changing it reconnects nothing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { CONNECTIONS_DEFAULTS } from '../../../src/config/defaults.ts';
import { ForwarderPool, type ForwarderTarget } from '../../../src/proxy/forward/forwarder-pool.ts';

const target = (transport: 'h1' | 'h2', maxPerEndpoint: number = CONNECTIONS_DEFAULTS.maxPerEndpoint): ForwarderTarget => ({
  transport,
  host: '127.0.0.1',
  port: 1,
  connections: { ...CONNECTIONS_DEFAULTS, maxPerEndpoint },
});

let pool: ForwarderPool;

afterEach(async () => {
  await pool.closeAll();
});

describe('forwarder leases', () => {
  it('share one forwarder per endpoint and limits whatever the connect timeout, and close it with the last release', () => {
    pool = new ForwarderPool(new FakeClock());
    const first = pool.lease(target('h1'), { connectTimeoutMs: 1000 });
    const second = pool.lease(target('h1'), { connectTimeoutMs: 3000 });
    expect(second.forwarder).toBe(first.forwarder);
    const close = vi.spyOn(first.forwarder, 'close');
    first.release();
    first.release();
    expect(close).not.toHaveBeenCalled();
    second.release();
    expect(close).toHaveBeenCalledTimes(1);
    // The next lease gets a forwarder of its own, not the closing one.
    expect(pool.lease(target('h1'), { connectTimeoutMs: 1000 }).forwarder).not.toBe(first.forwarder);
  });

  it('give other connection limits or another transport a forwarder of their own', () => {
    pool = new ForwarderPool(new FakeClock());
    const base = pool.lease(target('h2'), { connectTimeoutMs: 1000 });
    expect(pool.lease(target('h2', 4), { connectTimeoutMs: 1000 }).forwarder).not.toBe(base.forwarder);
    expect(pool.lease(target('h1'), { connectTimeoutMs: 1000 }).forwarder).not.toBe(base.forwarder);
  });

  it('hand the forwarder the shortest connect timeout its holders ask for, following new leases and releases', () => {
    pool = new ForwarderPool(new FakeClock());
    const slow = pool.lease(target('h2'), { connectTimeoutMs: 1000 });
    const apply = vi.spyOn(slow.forwarder, 'applySettings');
    const fast = pool.lease(target('h2'), { connectTimeoutMs: 250 });
    expect(apply).toHaveBeenLastCalledWith({ connectTimeoutMs: 250 });
    // A policy change: the holder takes a lease with its new settings, then drops the old one.
    const changed = pool.lease(target('h2'), { connectTimeoutMs: 2000 });
    fast.release();
    expect(apply).toHaveBeenLastCalledWith({ connectTimeoutMs: 1000 });
    slow.release();
    expect(apply).toHaveBeenLastCalledWith({ connectTimeoutMs: 2000 });
    expect(changed.forwarder).toBe(slow.forwarder);
  });
});
