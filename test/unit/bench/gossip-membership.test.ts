import { describe, expect, it } from 'vitest';
import type { MemberStatus, Observation } from '../../../bench/gossip/cluster.ts';
import { convergedAt, detectionMs, detectionTimes, firstSuspicion, missingPairs } from '../../../bench/gossip/membership.ts';
import { disagreements, victimIndices } from '../../../bench/gossip/run-gossip.ts';

const seen = (observer: string, member: string, status: MemberStatus, at: number): Observation => ({ observer, member, status, at });

/** Every ordered pair of `nodes` alive at `at`. */
function allAlive(nodes: readonly string[], at: number): Observation[] {
  return nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => seen(a, b, 'alive', at)));
}

describe('convergedAt', () => {
  it('is the time the last observer saw the last member alive', () => {
    const joined = [...allAlive(['a', 'b'], 100), seen('c', 'a', 'alive', 1200), seen('a', 'c', 'alive', 1300), seen('c', 'b', 'alive', 1250), seen('b', 'c', 'alive', 1500)];
    expect(convergedAt(joined, ['a', 'b', 'c'], 1000)).toBe(1500);
    // The first two alone had converged long before; the answer is never earlier than `from`.
    expect(convergedAt(joined, ['a', 'b'], 1000)).toBe(1000);
  });

  it('replays observations by time, whatever order they arrived in', () => {
    const shuffled = [seen('b', 'a', 'alive', 900), seen('a', 'b', 'suspect', 500), seen('a', 'b', 'alive', 700)];
    expect(convergedAt(shuffled, ['a', 'b'], 0)).toBe(900);
  });

  it('is undefined while anyone misses a member, or lists one as anything but alive at the end', () => {
    expect(convergedAt([seen('a', 'b', 'alive', 10)], ['a', 'b'], 0)).toBeUndefined();
    expect(convergedAt([...allAlive(['a', 'b'], 10), seen('a', 'b', 'dead', 20)], ['a', 'b'], 0)).toBeUndefined();
  });

  it('counts from the last time all were alive again after a false suspicion', () => {
    const flapped = [...allAlive(['a', 'b'], 10), seen('a', 'b', 'suspect', 20), seen('a', 'b', 'alive', 35)];
    expect(convergedAt(flapped, ['a', 'b'], 0)).toBe(35);
  });

  it('ignores an agent listing itself and members outside the set', () => {
    const noisy = [...allAlive(['a', 'b'], 10), seen('a', 'a', 'dead', 11), seen('a', 'x', 'dead', 12), seen('x', 'a', 'dead', 13)];
    expect(convergedAt(noisy, ['a', 'b'], 0)).toBe(10);
  });
});

describe('missingPairs', () => {
  it('lists who does not list whom as alive, by the latest observation', () => {
    const obs = [...allAlive(['a', 'b'], 10), seen('a', 'c', 'alive', 20), seen('b', 'c', 'suspect', 30), seen('c', 'a', 'alive', 25), seen('a', 'b', 'suspect', 5)];
    expect(missingPairs(obs, ['a', 'b', 'c'])).toEqual(['b→c suspect', 'c→b missing']);
    expect(missingPairs(obs, ['a', 'b'])).toEqual([]);
  });
});

describe('detection', () => {
  const kill = 10_000;
  const afterKill = [
    seen('a', 'v', 'suspect', 12_000),
    seen('a', 'v', 'dead', 15_000),
    seen('b', 'v', 'dead', 16_500),
    // Before the kill (a death an earlier run saw) and about someone else: neither counts.
    seen('c', 'v', 'dead', 9_000),
    seen('c', 'b', 'dead', 15_000),
  ];

  it('times each survivor by the first time it listed the victim dead after the kill', () => {
    expect(detectionTimes(afterKill, ['a', 'b', 'c'], 'v', kill)).toEqual(new Map([['a', 15_000], ['b', 16_500]]));
  });

  it('is the time until the last survivor listed it dead, once every one has', () => {
    expect(detectionMs(afterKill, ['a', 'b'], 'v', kill)).toBe(6_500);
    expect(detectionMs(afterKill, ['a', 'b', 'c'], 'v', kill)).toBeUndefined();
    expect(detectionMs([...afterKill, seen('c', 'v', 'left', 17_000)], ['a', 'b', 'c'], 'v', kill)).toBe(7_000);
  });

  it('times the first suspicion by any survivor after the kill, of the victim only', () => {
    const suspicions = [seen('a', 'v', 'suspect', 8_000), seen('b', 'v', 'suspect', 12_500), seen('a', 'v', 'suspect', 11_000), seen('c', 'v', 'suspect', 10_200), seen('b', 'x', 'suspect', 10_100)];
    expect(firstSuspicion(suspicions, ['a', 'b'], 'v', kill)).toEqual({ observer: 'a', ms: 1_000 });
    expect(firstSuspicion(suspicions, ['b'], 'v', kill)).toEqual({ observer: 'b', ms: 2_500 });
    expect(firstSuspicion(suspicions, ['d'], 'v', kill)).toBeUndefined();
  });
});

describe('victimIndices', () => {
  it('spreads the kills over the cluster and spares the seed', () => {
    expect(victimIndices(10, 3)).toEqual([10, 7, 4]);
    expect(victimIndices(10, 5)).toEqual([10, 9, 8, 7, 6]);
    expect(victimIndices(50, 5)).toEqual([50, 41, 32, 23, 14]);
  });

  it('comes round to the same members again where there are fewer than kills (each is restarted in between)', () => {
    expect(victimIndices(3, 5)).toEqual([3, 2, 3, 2, 3]);
    expect(victimIndices(2, 2)).toEqual([2, 2]);
    expect(victimIndices(1, 2)).toEqual([]);
  });
});

describe('disagreements', () => {
  it('names each agent whose own listing misses a member or lists it as anything but alive', () => {
    const view = (entries: [string, MemberStatus][]): Map<string, MemberStatus> => new Map(entries);
    const views = new Map([
      ['a', view([['b', 'alive'], ['c', 'alive']])],
      ['b', view([['a', 'alive'], ['c', 'suspect']])],
      ['c', view([['a', 'alive']])],
    ]);
    expect(disagreements(views, ['a', 'b', 'c'])).toEqual(['b lists c suspect', 'c lists b missing']);
    expect(disagreements(views, ['a', 'b'])).toEqual([]);
  });
});
