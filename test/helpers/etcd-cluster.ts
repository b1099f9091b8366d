// Real etcd members for tests: N `etcd` processes on one loopback address with free ports, fresh data
// dirs in one temp folder and one --initial-cluster, started together and waited for until
// each answers /health. Each member can be killed (by its PID) and started again on its own
// data dir and ports; stop() ends them all and removes the folder.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedChild } from '../../src/cli/demo/managed-child.ts';
import { until } from './until.ts';

export const ETCD_BINARY = process.env.ETCD_BINARY ?? '/usr/bin/etcd';

export interface EtcdMember {
  readonly name: string;
  /** "127.0.0.1:port" of its client URL. */
  readonly client: string;
  readonly peer: string;
  readonly dataDir: string;
  child: ManagedChild | undefined;
}

export class EtcdCluster {
  private constructor(
    private readonly dir: string,
    readonly members: readonly EtcdMember[],
  ) {}

  /**
   * Starts `size` members and resolves once every one is healthy. A port found free can be
   * taken by a parallel test before etcd binds it: such a start is made again on fresh ports.
   */
  static async start(size: number): Promise<EtcdCluster> {
    for (let attempt = 1; ; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), 'meshlet-etcd-'));
      // A loopback address of its own, away from the 127.0.0.x that other tests bind.
      const host = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
      const members: EtcdMember[] = [];
      for (let i = 0; i < size; i++) {
        members.push({ name: `m${i}`, client: `${host}:${await freePort(host)}`, peer: `${host}:${await freePort(host)}`, dataDir: join(dir, `m${i}`), child: undefined });
      }
      const cluster = new EtcdCluster(dir, members);
      for (const member of members) cluster.spawn(member);
      try {
        for (const member of members) await cluster.waitHealthy(member);
        return cluster;
      } catch (error) {
        const portTaken = members.some((m) => m.child?.stderr().includes('address already in use'));
        await cluster.stop();
        if (!portTaken || attempt === 3) throw error;
      }
    }
  }

  /** The `--store` value for `meshlet control`: etcd://every member. */
  get storeUrl(): string {
    return `etcd://${this.members.map((m) => m.client).join(',')}`;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.client);
  }

  /**
   * A member that is not etcd's own Raft leader: killing the leader makes etcd elect another
   * (seconds, with calls failing "leader changed" meanwhile), which is etcd's behaviour, not ours.
   */
  async raftFollower(): Promise<number> {
    for (const [index, member] of this.members.entries()) {
      const response = await fetch(`http://${member.client}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2_000) });
      const status = (await response.json()) as { header: { member_id: string }; leader: string };
      if (status.header.member_id !== status.leader) return index;
    }
    throw new Error('no etcd member is a Raft follower');
  }

  /** kill -9 of one member. */
  async kill(index: number): Promise<void> {
    const member = this.members[index]!;
    await member.child?.stop('SIGKILL');
    member.child = undefined;
  }

  /** Starts a killed member again on its data dir and waits until it is healthy. */
  async restart(index: number): Promise<void> {
    const member = this.members[index]!;
    if (member.child === undefined) this.spawn(member);
    await this.waitHealthy(member);
  }

  async stop(): Promise<void> {
    for (const member of this.members) {
      await member.child?.stop('SIGKILL');
      member.child = undefined;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private spawn(member: EtcdMember): void {
    const initialCluster = this.members.map((m) => `${m.name}=http://${m.peer}`).join(',');
    const child = spawn(ETCD_BINARY, [
      '--name', member.name,
      '--data-dir', member.dataDir,
      '--listen-client-urls', `http://${member.client}`,
      '--advertise-client-urls', `http://${member.client}`,
      '--listen-peer-urls', `http://${member.peer}`,
      '--initial-advertise-peer-urls', `http://${member.peer}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', 'meshlet-test',
      // A loaded 2-core machine stalls for longer than etcd's 100 ms heartbeat default.
      '--heartbeat-interval', '200',
      '--election-timeout', '2000',
      '--logger', 'zap',
      '--log-level', 'error',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    member.child = new ManagedChild(`etcd-${member.name}`, child);
  }

  private async waitHealthy(member: EtcdMember): Promise<void> {
    await until(async () => {
      if (member.child === undefined) throw new Error(`etcd ${member.name} is not running`);
      try {
        const response = await fetch(`http://${member.client}/health`, { signal: AbortSignal.timeout(2_000) });
        return response.ok && ((await response.json()) as { health?: string }).health === 'true';
      } catch {
        return false;
      }
    }, 30_000, `etcd ${member.name} healthy (${member.child?.stderr().slice(-500) ?? ''})`);
  }
}

/** A port the OS hands out now on `host` and that nothing holds once this resolves. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
