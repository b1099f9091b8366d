import { describe, expect, it } from 'vitest';
import { Awareness, EVENT_LOOP_LAG_THRESHOLD_MS } from '../../../src/gossip/awareness.ts';

describe('Awareness', () => {
  it('keeps its score from 0 to max − 1 and reports only changes', () => {
    const seen: number[] = [];
    const a = new Awareness(8, (score) => seen.push(score));
    a.applyDelta(-1);
    a.applyDelta(3);
    a.applyDelta(10);
    a.applyDelta(1);
    a.applyDelta(-2);
    expect(seen).toEqual([3, 7, 5]);
    expect(a.score).toBe(5);
  });

  it('stretches timeouts by score + 1', () => {
    const a = new Awareness(8);
    expect(a.scale(500)).toBe(500);
    a.applyDelta(2);
    expect(a.scale(500)).toBe(1500);
  });

  it('counts event-loop lag past the threshold, doubly past the probe timeout', () => {
    const a = new Awareness(8);
    a.noteEventLoopLag(EVENT_LOOP_LAG_THRESHOLD_MS - 1, 500);
    expect(a.score).toBe(0);
    a.noteEventLoopLag(EVENT_LOOP_LAG_THRESHOLD_MS, 500);
    expect(a.score).toBe(1);
    a.noteEventLoopLag(800, 500);
    expect(a.score).toBe(3);
  });

  it('takes back the points lag added once the loop is on time again, one a reading, and only those', () => {
    const a = new Awareness(8);
    a.applyDelta(2); // missed nacks: worked off by successful probes only
    for (let i = 0; i < 10; i++) a.noteEventLoopLag(800, 500);
    expect(a.score).toBe(7);
    a.noteEventLoopLag(5, 500);
    expect(a.score).toBe(6);
    for (let i = 0; i < 10; i++) a.noteEventLoopLag(5, 500);
    expect(a.score).toBe(2);
    a.applyDelta(-1);
    a.noteEventLoopLag(EVENT_LOOP_LAG_THRESHOLD_MS, 500);
    a.applyDelta(-2); // successful probes took the lag's point too: nothing left for a healthy reading
    a.noteEventLoopLag(5, 500);
    expect(a.score).toBe(0);
    a.applyDelta(1);
    a.noteEventLoopLag(5, 500);
    expect(a.score).toBe(1);
  });
});
