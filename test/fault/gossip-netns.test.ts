// Gossip between hosts: four network namespaces this test makes (veth pairs into one bridge),
// one real agent in each, faults as iptables rules inside the namespaces. 10 % packet loss
// kills no one; a partition into two halves is detected on both sides and heals into one
// membership once the link returns. Needs root; where the kernel refuses namespaces the file
// says why and skips.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGossipKey } from '../../src/gossip/keyring.ts';
import { createLab, namespaceRefusal, type LabHost, type NetnsLab } from '../helpers/netns.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { metricsText, sampleValue } from '../integration/http-support.ts';
import { until } from '../helpers/until.ts';

const HOSTS = 4;
const KEY = generateGossipKey();
const refusal = namespaceRefusal();
if (refusal !== undefined) console.warn(`gossip-netns: skipped: ${refusal}`);

interface MemberView {
  readonly node: string;
  readonly status: string;
}

let lab: NetnsLab;
const agents: RunningAgent[] = [];

async function membersOf(agent: RunningAgent): Promise<MemberView[]> {
  const res = await fetch(`http://${agent.admin}/api/v1/members`);
  return ((await res.json()) as { members: MemberView[] }).members;
}

async function statusesSeenBy(index: number): Promise<Map<string, string>> {
  return new Map((await membersOf(agents[index]!)).map((m) => [m.node, m.status]));
}


const allAlive = async (): Promise<boolean> => (await Promise.all(agents.map(membersOf))).every((members) => members.filter((m) => m.status === 'alive').length === HOSTS - 1);
const deaths = async (agent: RunningAgent): Promise<number> => sampleValue(await metricsText(agent), 'meshlet_gossip_member_changes_total', { status: 'dead' });

function agentConfig(host: LabHost, seed: LabHost): object {
  return {
    node: `host-${host.index}`,
    admin: { listen: `${host.ip}:9901` },
    gossip: {
      bind: `${host.ip}:7946`,
      join: host === seed ? [] : [`${seed.ip}:7946`],
      keys: [KEY],
      probeInterval: '200ms',
      probeTimeout: '100ms',
      gossipInterval: '50ms',
      pushPullInterval: '1s',
      reconnectInterval: '1s',
    },
  };
}

describe.skipIf(refusal !== undefined)('gossip across network namespaces', () => {
  beforeAll(async () => {
    lab = createLab(HOSTS);
    const seed = lab.hosts[0]!;
    for (const host of lab.hosts) agents.push(await startAgent(agentConfig(host, seed), { networkNamespace: host.namespace }));
    await until(allAlive, 20_000, 'full membership');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.stop().catch(() => undefined)));
    lab?.close();
  });

  it('10 % packet loss on every host for 10 s declares no member dead', async () => {
    const before = await Promise.all(agents.map(deaths));
    lab.loss(0.1);
    let dropped: number;
    try {
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    } finally {
      dropped = lab.lossDrops();
      lab.heal();
    }
    console.log(`gossip-netns: the loss rules dropped ${dropped} packets in 10 s`);
    expect(dropped).toBeGreaterThan(0);
    expect(await Promise.all(agents.map(deaths))).toEqual(before);
    await until(allAlive, 10_000, 'everyone alive after the loss');
  }, 40_000);

  it('a partition into two halves is seen on both sides, and heals into one membership', async () => {
    const [a, b, c, d] = lab.hosts as [LabHost, LabHost, LabHost, LabHost];
    lab.partition([a, b], [c, d]);
    try {
      await until(async () => {
        const [left, right] = [await statusesSeenBy(0), await statusesSeenBy(2)];
        return left.get('host-2') === 'dead' && left.get('host-3') === 'dead' && right.get('host-0') === 'dead' && right.get('host-1') === 'dead';
      }, 30_000, 'each half declares the other dead');
      // Within a half, nobody is lost.
      expect((await statusesSeenBy(0)).get('host-1')).toBe('alive');
      expect((await statusesSeenBy(2)).get('host-3')).toBe('alive');
    } finally {
      lab.heal();
    }
    const healedIn = await until(allAlive, 30_000, 'one membership after the heal');
    console.log(`gossip-netns: healed into one membership ${(healedIn / 1000).toFixed(1)} s after the link returned`);
  }, 80_000);
});
