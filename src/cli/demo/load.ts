// The demo's bounded load: a fixed number of calls, a fixed number in flight, each timed and
// attributed to the instance that answered (x-instance / EchoReply.instance).
import * as grpc from '@grpc/grpc-js';
import { Pool } from 'undici';
import { createEchoClient, loadDemoProtos } from './echo-proto.ts';

/** What a batch of calls came to. */
export class LoadTally {
  readonly latenciesMs: number[] = [];
  readonly byInstance = new Map<string, number>();
  failures = 0;
  firstFailure: string | undefined;

  get calls(): number {
    return this.latenciesMs.length + this.failures;
  }

  succeeded(latencyMs: number, instance: string): void {
    this.latenciesMs.push(latencyMs);
    this.byInstance.set(instance, (this.byInstance.get(instance) ?? 0) + 1);
  }

  failed(reason: string): void {
    this.failures++;
    this.firstFailure ??= reason;
  }
}

/** Runs `call` `total` times with at most `concurrency` in flight. */
export async function runBounded(total: number, concurrency: number, call: () => Promise<void>): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

export interface HttpLoad {
  /** "host:port" to send to. */
  readonly address: string;
  readonly count: number;
  readonly concurrency: number;
  /** Sent as the Host header, e.g. to route through the proxy port. */
  readonly host?: string;
}

export async function httpLoad(load: HttpLoad): Promise<LoadTally> {
  const tally = new LoadTally();
  const pool = new Pool(`http://${load.address}`, { connections: load.concurrency });
  const headers = load.host ? { host: load.host } : {};
  let sent = 0;
  try {
    await runBounded(load.count, load.concurrency, async () => {
      const started = performance.now();
      try {
        const res = await pool.request({ path: `/items/${sent++}`, method: 'GET', headers });
        await res.body.dump();
        const instance = res.headers['x-instance'];
        if (res.statusCode >= 400) tally.failed(`HTTP ${res.statusCode}`);
        else tally.succeeded(performance.now() - started, typeof instance === 'string' ? instance : 'unknown');
      } catch (error) {
        tally.failed((error as Error).message);
      }
    });
  } finally {
    await pool.close();
  }
  return tally;
}

export interface GrpcLoad {
  readonly address: string;
  readonly count: number;
  readonly concurrency: number;
}

export async function grpcUnaryLoad(load: GrpcLoad): Promise<LoadTally> {
  const tally = new LoadTally();
  const client = createEchoClient(loadDemoProtos(), load.address);
  const metadata = new grpc.Metadata();
  try {
    await runBounded(load.count, load.concurrency, () => new Promise<void>((resolve) => {
      const started = performance.now();
      client.Unary({ message: 'hello' }, metadata, { deadline: Date.now() + 5_000 }, (error, reply) => {
        if (error) tally.failed(`gRPC ${grpc.status[error.code]}: ${error.details}`);
        else tally.succeeded(performance.now() - started, reply!.instance);
        resolve();
      });
    }));
  } finally {
    client.close();
  }
  return tally;
}
