// A stand-in for `meshlet control` in the agent's tests (control-plane.ts starts the real one): a real @grpc/grpc-js server on
// 127.0.0.1 implementing Control.Connect from proto/meshlet/v1/control.proto. It checks the
// bearer token (when given one), answers each Hello with the current snapshot, pushes every
// snapshot published to each open stream, and keeps what agents sent, with the time it came.
import * as grpc from '@grpc/grpc-js';
import { controlProto, type PolicySnapshot } from '../../src/control/control-proto.ts';

/** An AgentMessage as proto-loader reads it: `kind` names the field that is set. */
export interface ReadAgentMessage {
  kind: 'hello' | 'ack' | 'nack' | 'report';
  hello?: { node: string; version: string; services: string[]; upstreams: string[]; policyVersion: number };
  ack?: { version: number };
  nack?: { version: number; errors: { path: string; message: string }[] };
  report?: {
    atMs: number;
    breakers: { upstream: string; endpoint: string; state: string; reason: string; sinceMs: number }[];
    endpoints: { upstream: string; address: string; health: string; ejected: boolean; ejectionReason: string; requestsPerSecond: number }[];
    upstreams: { name: string; requestsPerSecond: number; errorPercent: number; p50Ms: number; p99Ms: number; retries: number; fallbacks: number; ejections: number }[];
  };
}

export interface Received {
  /** performance.now() when it arrived. */
  readonly at: number;
  /** Which stream (1, 2, … in the order they opened). */
  readonly stream: number;
  readonly message: ReadAgentMessage;
}

export interface TestControlPlaneOptions {
  /** Required on every stream as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Default: any free port. */
  readonly port?: number;
  readonly snapshot?: { readonly version: number; readonly document: object };
  /** Send nothing on hello, as `meshlet control` does while it has no policy (default: the current snapshot, version 0 included). */
  readonly quietWithoutPolicy?: boolean;
  /** PEM: serve TLS with this key and certificate; with `clientCa`, require client certificates it signed (mTLS). */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly clientCa?: Buffer };
}

type ConnectStream = grpc.ServerDuplexStream<ReadAgentMessage, { snapshot: PolicySnapshot }>;

export function snapshotOf(version: number, document: object): PolicySnapshot {
  return { version, documentJson: JSON.stringify(document), createdAtMs: Date.now(), author: 'test', rolledBackFrom: 0 };
}

export class TestControlPlane {
  readonly received: Received[] = [];
  private readonly streams = new Set<ConnectStream>();
  private readonly waiters = new Set<() => void>();
  private opened = 0;

  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
    private current: PolicySnapshot,
  ) {}

  static async start(options: TestControlPlaneOptions = {}): Promise<TestControlPlane> {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) => {
      const { tls } = options;
      const credentials = tls
        ? grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.clientCa !== undefined)
        : grpc.ServerCredentials.createInsecure();
      server.bindAsync(`127.0.0.1:${options.port ?? 0}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    const initial = options.snapshot ? snapshotOf(options.snapshot.version, options.snapshot.document) : snapshotOf(0, {});
    const plane = new TestControlPlane(server, `127.0.0.1:${port}`, initial);
    server.addService(controlProto().service, { Connect: (stream: ConnectStream) => plane.connect(stream, options.token, options.quietWithoutPolicy === true) });
    return plane;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Makes `snapshot` current and sends it on every open stream; returns performance.now() just before the send. */
  publish(version: number, document: object): number {
    this.current = snapshotOf(version, document);
    const at = performance.now();
    for (const stream of this.streams) stream.write({ snapshot: this.current });
    return at;
  }

  /** Resolves with the first message from index `from` on that matches; rejects after `timeoutMs`. */
  waitFor(matches: (message: ReadAgentMessage) => boolean, timeoutMs = 10_000, from = 0): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = from; i < this.received.length; i++) {
          if (matches(this.received[i]!.message)) {
            resolve(this.received[i]!);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching message from the agent within ${timeoutMs} ms; got ${JSON.stringify(this.received.slice(from).map((r) => r.message.kind))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Ends every stream and stops: as a crashed control plane looks from the agent (connections reset). */
  kill(): void {
    this.server.forceShutdown();
  }

  async stop(): Promise<void> {
    for (const stream of this.streams) stream.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private connect(stream: ConnectStream, token: string | undefined, quiet: boolean): void {
    if (token !== undefined && stream.metadata.get('authorization')[0] !== `Bearer ${token}`) {
      stream.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'missing or wrong bearer token' });
      return;
    }
    const id = ++this.opened;
    this.streams.add(stream);
    stream.on('data', (message: ReadAgentMessage) => {
      this.received.push({ at: performance.now(), stream: id, message });
      if (message.kind === 'hello' && !(quiet && this.current.version === 0)) stream.write({ snapshot: this.current });
      for (const waiter of [...this.waiters]) waiter();
    });
    const gone = (): void => {
      this.streams.delete(stream);
    };
    stream.on('end', () => {
      gone();
      stream.end();
    });
    stream.on('error', gone);
    stream.on('cancelled', gone);
  }
}
