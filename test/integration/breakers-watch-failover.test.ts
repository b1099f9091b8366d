// `meshlet breakers --watch` with two replicas in MESHLET_CONTROL (three etcd members, two
// `meshlet control --store etcd://…`): the watch runs on the leader; kill -9 of the leader, and
// the watch reconnects by itself, finds the replica that leads now, and prints a breaker change
// an agent reports to it.
import { afterAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, RawAgent, controlClient, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { RunningCommand } from '../helpers/meshlet-cli.ts';
import { until } from '../helpers/until.ts';

let cluster: EtcdCluster | undefined;
const replicas: RunningControl[] = [];

afterAll(async () => {
  for (const replica of replicas) await replica.stop('SIGKILL');
  await cluster?.stop();
});

async function leads(replica: RunningControl): Promise<boolean> {
  const response = await fetch(`http://${replica.admin}/api/v1/leader`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  return ((await response?.json()) as { leader: boolean } | undefined)?.leader === true;
}

function breakerReport(state: 'BREAKER_STATE_OPEN' | 'BREAKER_STATE_HALF_OPEN', reason: string) {
  return { report: { atMs: Date.now(), breakers: [{ upstream: 'payments', endpoint: '127.0.0.1:9001', state, reason, sinceMs: Date.now() }] } };
}

describe('meshlet breakers --watch across a leader failover', () => {
  it('follows the new leader after kill -9 of the old one and prints the change reported there', async () => {
    cluster = await EtcdCluster.start(3);
    for (let i = 0; i < 2; i++) replicas.push(await startControl({ store: cluster.storeUrl }));
    await until(async () => (await Promise.all(replicas.map(leads))).filter(Boolean).length === 1, 20_000, 'one replica leads');
    const leading = await Promise.all(replicas.map(leads));
    const leader = replicas[leading.indexOf(true)]!;
    const other = replicas[leading.indexOf(false)]!;

    const agent = new RawAgent(controlClient(leader.address)).hello('node-f');
    // The follower first: the watch must find the leader by itself.
    const watch = new RunningCommand(['breakers', '--watch', '--server', `${other.address},${leader.address}`], { ...process.env, MESHLET_TOKEN: OPERATOR_TOKEN });
    try {
      agent.send(breakerReport('BREAKER_STATE_OPEN', '5 consecutive failures (before the failover)'));
      await until(async () => watch.stdout.includes('before the failover'), 20_000, 'the open breaker printed');

      await leader.stop('SIGKILL');
      agent.close();
      await until(async () => leads(other), 20_000, 'the other replica leads');
      await until(async () => watch.stderr.includes('again'), 30_000, 'the watch reconnected');
      const again = new RawAgent(controlClient(other.address)).hello('node-f');
      again.send(breakerReport('BREAKER_STATE_HALF_OPEN', 'trial after 10s open (after the failover)'));
      await until(async () => watch.stdout.includes('after the failover'), 20_000, 'the change on the new leader printed');
      expect(watch.stdout).toMatch(/node-f {2}payments 127\.0\.0\.1:9001 {2}half-open {2}trial after 10s open \(after the failover\)\n/);
      expect(watch.stderr).toContain('meshlet: lost the watch stream');
      expect(watch.stderr).toContain(`meshlet: watching ${other.address} again`);
      again.close();
      watch.signal('SIGINT');
      expect(await watch.exited).toBe(0);
    } finally {
      watch.signal('SIGKILL');
    }
  }, 120_000);
});
