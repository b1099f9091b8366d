// Hosts for fault tests: network namespaces the test makes itself, each with a veth into one
// bridge in the root namespace, so the test process reaches every host and the hosts reach
// each other. Faults are iptables rules inside a host's namespace: a partition drops a peer's
// address both ways, loss drops a random share of what arrives. (netem is not in these
// kernels: delay belongs in the in-memory network's simulations.) Needs root.
import { execFileSync } from 'node:child_process';

export interface LabHost {
  readonly index: number;
  /** The namespace to run a process in (`ip netns exec`). */
  readonly namespace: string;
  readonly ip: string;
}

export interface NetnsLab {
  readonly hosts: readonly LabHost[];
  /** Every host of `a` stops hearing every host of `b`, and the other way round. */
  partition(a: readonly LabHost[], b: readonly LabHost[]): void;
  /** Drops `probability` of the packets every host receives. */
  loss(probability: number): void;
  /** Packets the loss rules have dropped so far, all hosts together. */
  lossDrops(): number;
  /** Removes every fault rule. */
  heal(): void;
  close(): void;
}

function run(command: string, args: readonly string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function inHost(host: LabHost, command: string, args: readonly string[]): string {
  return execFileSync('ip', ['netns', 'exec', host.namespace, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why this machine cannot run namespace tests, or undefined when it can. */
export function namespaceRefusal(): string | undefined {
  const probe = `mlprobe${process.pid % 100_000}`;
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['netns', 'exec', probe, 'iptables', '-L', '-n']);
  } catch (err) {
    return `network namespaces or iptables refused: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    try {
      run('ip', ['netns', 'del', probe]);
    } catch {
      // It was never made.
    }
  }
  return undefined;
}

export function createLab(count: number): NetnsLab {
  const id = `ml${process.pid % 100_000}`;
  const subnet = `10.213.${process.pid % 250}`;
  const bridge = `${id}br`;
  const hosts: LabHost[] = [];
  const lab: NetnsLab = {
    hosts,
    partition(a, b) {
      for (const [side, other] of [[a, b], [b, a]] as const) {
        for (const host of side) {
          for (const peer of other) {
            inHost(host, 'iptables', ['-A', 'INPUT', '-s', peer.ip, '-j', 'DROP']);
            inHost(host, 'iptables', ['-A', 'OUTPUT', '-d', peer.ip, '-j', 'DROP']);
          }
        }
      }
    },
    loss(probability) {
      for (const host of hosts) inHost(host, 'iptables', ['-A', 'INPUT', '-i', `${id}p${host.index}`, '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP']);
    },
    lossDrops() {
      let total = 0;
      for (const host of hosts) {
        for (const line of inHost(host, 'iptables', ['-L', 'INPUT', '-v', '-n', '-x']).split('\n')) {
          if (line.includes('statistic')) total += Number(line.trim().split(/\s+/)[0]);
        }
      }
      return total;
    },
    heal() {
      for (const host of hosts) {
        inHost(host, 'iptables', ['-F', 'INPUT']);
        inHost(host, 'iptables', ['-F', 'OUTPUT']);
      }
    },
    close() {
      for (const host of hosts) {
        try {
          run('ip', ['netns', 'del', host.namespace]);
        } catch {
          // Already gone.
        }
      }
      try {
        run('ip', ['link', 'del', bridge]);
      } catch {
        // Already gone.
      }
    },
  };
  try {
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    run('ip', ['link', 'set', bridge, 'up']);
    for (let index = 0; index < count; index++) {
      const host: LabHost = { index, namespace: `${id}h${index}`, ip: `${subnet}.${10 + index}` };
      const outside = `${id}v${index}`;
      const inside = `${id}p${index}`;
      run('ip', ['netns', 'add', host.namespace]);
      hosts.push(host);
      run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      run('ip', ['link', 'set', inside, 'netns', host.namespace]);
      run('ip', ['link', 'set', outside, 'master', bridge, 'up']);
      inHost(host, 'ip', ['addr', 'add', `${host.ip}/24`, 'dev', inside]);
      inHost(host, 'ip', ['link', 'set', inside, 'up']);
      inHost(host, 'ip', ['link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    lab.close();
    throw err;
  }
  return lab;
}
