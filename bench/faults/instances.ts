// Three instances of the service, each its own process on CPU 0 (so kill -9 is a real death),
// switched into their fault modes and read through their control ports.
import { LOAD_CPU } from '../lib/cpus.ts';
import { startTsHelper } from '../lib/node-process.ts';
import { freePorts } from '../lib/ports.ts';
import type { ManagedProcess, ProcessGroup } from '../lib/processes.ts';
import { waitForPort } from '../lib/readiness.ts';

export const INSTANCE_COUNT = 3;

export interface InstanceStats {
  readonly requests: number;
  readonly accepts: number;
  readonly errors: number;
}

export interface FaultInstance {
  readonly name: string;
  readonly port: number;
  readonly process: ManagedProcess;
  setMode(mode: 'ok' | 'half-errors' | 'slow' | 'fail' | 'reset'): Promise<void>;
  /** Undefined once the instance is gone (killed). */
  stats(): Promise<InstanceStats | undefined>;
  kill(): void;
}

export async function startInstances(group: ProcessGroup): Promise<FaultInstance[]> {
  const ports = await freePorts(INSTANCE_COUNT * 2);
  const instances: FaultInstance[] = [];
  for (let i = 0; i < INSTANCE_COUNT; i++) {
    const name = `i${i + 1}`;
    const port = ports[i * 2]!;
    const control = ports[i * 2 + 1]!;
    const child = startTsHelper(group, `instance ${name}`, LOAD_CPU, 'bench/faults/instance.ts', ['--listen', String(port), '--control', String(control), '--name', name]);
    await waitForPort(child, port);
    await waitForPort(child, control);
    const base = `http://127.0.0.1:${control}`;
    instances.push({
      name,
      port,
      process: child,
      setMode: async (mode) => {
        const res = await fetch(`${base}/mode?m=${mode}`, { method: 'POST', signal: AbortSignal.timeout(2000) });
        if (res.status !== 204) throw new Error(`${name}: mode ${mode} refused: ${await res.text()}`);
      },
      stats: async () => {
        if (!child.isRunning()) return undefined;
        try {
          const res = await fetch(`${base}/stats`, { signal: AbortSignal.timeout(1000) });
          return (await res.json()) as InstanceStats;
        } catch {
          return undefined;
        }
      },
      kill: () => process.kill(child.pid, 'SIGKILL'),
    });
  }
  return instances;
}
