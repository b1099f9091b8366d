import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { REPLAY_WINDOW, ReplayGuard } from '../../../src/gossip/replay-guard.ts';

const A = 0x0102030405060708n;
const B = 0x1112131415161718n;

describe('ReplayGuard', () => {
  it('accepts each counter once, in any order within the window', () => {
    const guard = new ReplayGuard({ clock: new FakeClock() });
    expect(guard.accept(A, 0)).toBe(true);
    for (const counter of [5, 3, 4, 1, 2, 100, 50, 99]) expect(guard.accept(A, counter)).toBe(true);
    for (const counter of [0, 5, 3, 100, 50]) expect(guard.accept(A, counter)).toBe(false);
  });

  it('refuses a counter older than the window, accepts the oldest still inside it', () => {
    const guard = new ReplayGuard({ clock: new FakeClock() });
    guard.accept(A, 0);
    guard.accept(A, 10_000);
    expect(guard.accept(A, 10_000 - REPLAY_WINDOW)).toBe(false);
    expect(guard.accept(A, 10_000 - REPLAY_WINDOW + 1)).toBe(true);
    expect(guard.accept(A, 10_000 - REPLAY_WINDOW + 1)).toBe(false);
  });

  it('forgets what slid out of the window: slots reused by new counters start unseen', () => {
    const guard = new ReplayGuard({ clock: new FakeClock() });
    guard.accept(A, 0);
    for (let c = 1; c <= 3 * REPLAY_WINDOW; c += 7) expect(guard.accept(A, c)).toBe(true);
    // Every counter between those accepted, still inside the window, is new.
    const top = 1 + 7 * Math.floor((3 * REPLAY_WINDOW - 1) / 7);
    for (let c = top - REPLAY_WINDOW + 1; c < top; c++) expect(guard.accept(A, c)).toBe((c - 1) % 7 !== 0);
  });

  it('learns an epoch from whichever frame comes first, and takes the ones reordered before it', () => {
    const guard = new ReplayGuard({ clock: new FakeClock() });
    expect(guard.accept(A, 2)).toBe(true);
    expect(guard.accept(A, 0)).toBe(true);
    expect(guard.accept(A, 1)).toBe(true);
    expect(guard.accept(A, 2)).toBe(false);
    expect(guard.accept(A, 0)).toBe(false);
  });

  it('never refuses a restarted sender: a new epoch starts over at 0', () => {
    const guard = new ReplayGuard({ clock: new FakeClock() });
    for (let c = 0; c < 1000; c++) guard.accept(A, c);
    expect(guard.accept(B, 0)).toBe(true);
    expect(guard.accept(B, 1)).toBe(true);
    expect(guard.accept(A, 999)).toBe(false);
  });

  it('remembers at most maxSenders epochs, dropping the one heard from longest ago', () => {
    const guard = new ReplayGuard({ clock: new FakeClock(), maxSenders: 3 });
    guard.accept(1n, 0);
    guard.accept(2n, 0);
    guard.accept(3n, 0);
    guard.accept(1n, 1); // 2 is now the least recently heard
    guard.accept(4n, 0);
    expect(guard.senders).toBe(3);
    expect(guard.accept(1n, 1)).toBe(false);
    expect(guard.accept(3n, 0)).toBe(false);
    expect(guard.accept(2n, 0)).toBe(true); // forgotten, so learnt again
  });

  it('forgets an epoch silent for senderIdleMs', () => {
    const clock = new FakeClock();
    const guard = new ReplayGuard({ clock, senderIdleMs: 60_000 });
    guard.accept(A, 7);
    clock.advance(30_000);
    guard.accept(B, 0);
    clock.advance(30_000);
    guard.accept(B, 1);
    expect(guard.senders).toBe(1);
    clock.advance(59_999);
    expect(guard.accept(B, 0)).toBe(false);
    expect(guard.senders).toBe(1);
  });
});
