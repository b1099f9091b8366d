import { describe, expect, it } from 'vitest';
import { GOSSIP_TIMING_DEFAULTS } from '../../../src/config/defaults.ts';
import { formatIssues, parseConfig } from '../../../src/config/load.ts';
import { DEFAULT_GOSSIP_SETTINGS, gossipSettingsFromConfig } from '../../../src/gossip/settings.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');
const config = (fields: string) => `gossip: { bind: 127.0.0.1:7946, keys: ["${KEY}"]${fields} }\nupstreams:\n  - name: catalog\n`;

function timingOf(fields: string) {
  const result = parseConfig(config(fields), { env: {}, hostname: 'h' });
  if (!result.ok) throw new Error(formatIssues(result.issues));
  return result.config.gossip!.timing;
}

function issuesOf(fields: string): string[] {
  const result = parseConfig(config(fields), { env: {}, hostname: 'h' });
  if (result.ok) throw new Error('expected the config to be refused');
  return formatIssues(result.issues).split('\n');
}

describe('gossip timing fields', () => {
  it('default to the LAN profile (memberlist DefaultLANConfig), which the membership uses too', () => {
    expect(timingOf('')).toEqual({
      probeInterval: 1000,
      probeTimeout: 500,
      indirectChecks: 3,
      gossipInterval: 200,
      gossipNodes: 3,
      pushPullInterval: 30_000,
      suspicionMultiplier: 4,
      suspicionMaxTimeoutMultiplier: 6,
      retransmitMultiplier: 4,
      reclaimTime: 30_000,
      reconnectInterval: 30_000,
    });
    expect(DEFAULT_GOSSIP_SETTINGS).toMatchObject(gossipSettingsFromConfig(GOSSIP_TIMING_DEFAULTS));
  });

  it('take durations as written elsewhere in the config', () => {
    const timing = timingOf(', probeInterval: 2s, probeTimeout: 800ms, gossipInterval: 100, pushPullInterval: 1m, reclaimTime: 5m, suspicionMultiplier: 5, indirectChecks: 0');
    expect(timing).toMatchObject({ probeInterval: 2000, probeTimeout: 800, gossipInterval: 100, pushPullInterval: 60_000, reclaimTime: 300_000, suspicionMultiplier: 5, indirectChecks: 0 });
    expect(gossipSettingsFromConfig(timing)).toMatchObject({ probeIntervalMs: 2000, probeTimeoutMs: 800, reclaimTimeMs: 300_000 });
  });

  it('a short probe interval brings the default probe timeout down to half of it', () => {
    expect(timingOf(', probeInterval: 400ms')).toMatchObject({ probeInterval: 400, probeTimeout: 200 });
  });

  it.each<[string, string, string[]]>([
    ['a probe timeout as long as the interval', ', probeInterval: 1s, probeTimeout: 1s', ['gossip.probeTimeout: must be shorter than probeInterval (1s), got 1s']],
    ['a probe timeout longer than the default interval', ', probeTimeout: 2s', ['gossip.probeTimeout: must be shorter than probeInterval (1s), got 2s']],
    ['a push-pull more often than a probe', ', probeInterval: 2s, pushPullInterval: 1s', ['gossip.pushPullInterval: must not be shorter than probeInterval (2s), got 1s']],
    ['a probe interval of garbage', ', probeInterval: often', ['gossip.probeInterval: expected a duration such as 250ms, 2s or 1m30s, got "often"']],
    ['a reclaim time of zero', ', reclaimTime: 0s', ['gossip.reclaimTime: must be longer than 0, got "0s"']],
    ['a suspicion multiplier of zero', ', suspicionMultiplier: 0', ['gossip.suspicionMultiplier: must be at least 1, got 0']],
    ['a fractional retransmit multiplier', ', retransmitMultiplier: 1.5', ['gossip.retransmitMultiplier: expected an integer, got 1.5']],
  ])('refuses %s, naming the field', (_what, fields, expected) => {
    expect(issuesOf(fields)).toEqual(expected);
  });
});
