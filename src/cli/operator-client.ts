// The operator commands' connection to `meshlet control`: where it is, the token, TLS, a
// deadline on every call, and what each gRPC failure means as an exit code a script can trust.
// --server (or MESHLET_CONTROL) may list several replicas, "a:7950,b:7950": a call that finds
// one UNAVAILABLE goes to the leader it names (trailer meshlet-leader), else to the next
// replica, each replica at most once a call; the one that answered is used from then on.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { parseDuration } from '../config/duration.ts';
import { bearerMetadata, createControlClient, type ControlClient, type MeshEvent } from '../control/control-proto.ts';
import { leaderHint } from '../control/leadership.ts';

export const DEFAULT_SERVER = '127.0.0.1:7950';
export const DEFAULT_CALL_TIMEOUT = '5s';

/** Exit codes every operator command keeps to. */
export const EXIT = {
  ok: 0,
  /** The input or the request was refused as invalid (validation errors, unknown version, usage). */
  invalid: 1,
  /** The policy changed underneath: the version the request was based on is no longer current. */
  conflict: 2,
  /** Applied, but not every connected agent acknowledged it in time (timeout or NACKs). */
  notAcked: 3,
  /** The control plane could not be reached, or refused the token. */
  unreachable: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the command reports as one message and an exit code, not as a stack trace. */
export class CommandFailure extends Error {
  /** `grpcCode`: the gRPC status it came from, if it did. */
  constructor(message: string, readonly exitCode: ExitCode, readonly grpcCode?: grpc.status) {
    super(message);
  }
}

export interface ConnectionFlags {
  readonly server?: string;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly timeout?: string;
}

// ListAgents for a thousand agents with their last reports runs to megabytes. Each channel
// has its own subchannel (not grpc-js's process-wide pool), so that after reopen() a call makes
// a real connect rather than inheriting the failed connection's reconnect backoff.
const CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.use_local_subchannel_pool': 1 };

export class ControlConnection {
  private readonly clients = new Map<string, ControlClient>();

  private constructor(
    /** The replicas named, in the order tried. */
    private readonly servers: readonly string[],
    /** The replica calls go to: the last one that answered. */
    private current: string,
    private readonly channelCredentials: grpc.ChannelCredentials,
    private readonly metadata: grpc.Metadata,
    readonly callTimeoutMs: number,
  ) {}

  static open(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ControlConnection {
    const listed = flags.server ?? (env.MESHLET_CONTROL || DEFAULT_SERVER);
    const servers = listed.split(',').map((server) => server.trim());
    if (servers.some((server) => server === '')) throw new CommandFailure(`--server ${listed}: expected host:port, or several separated by commas`, EXIT.invalid);
    const token = env.MESHLET_TOKEN;
    if (!token) throw new CommandFailure('MESHLET_TOKEN is not set: export the operator token of the control plane in MESHLET_TOKEN', EXIT.unreachable);
    const timeout = parseDuration(flags.timeout ?? DEFAULT_CALL_TIMEOUT);
    if (!timeout.ok || timeout.ms === 0) throw new CommandFailure(`--timeout: ${timeout.ok ? 'must be longer than 0' : timeout.reason}`, EXIT.invalid);
    return new ControlConnection(servers, servers[0]!, credentials(flags), bearerMetadata(token), timeout.ms);
  }

  /** The replica the connection uses now. */
  get server(): string {
    return this.current;
  }

  /**
   * One unary call, each attempt under the call deadline: on UNAVAILABLE, again at the leader
   * the replica named or at the next replica; a gRPC failure becomes a CommandFailure.
   */
  async call<Method extends UnaryMethod>(method: Method, request: RequestOf<Method>): Promise<ResponseOf<Method>> {
    const tried = new Set<string>();
    for (;;) {
      tried.add(this.current);
      try {
        return await this.once(method, request);
      } catch (error) {
        const failure = error as grpc.ServiceError;
        const next = failure.code === grpc.status.UNAVAILABLE ? this.nextServer(leaderHint(failure.metadata), tried) : undefined;
        if (next === undefined) throw this.failure(failure);
        this.current = next;
      }
    }
  }

  /**
   * WatchMesh without a deadline: it runs until cancelled or the server ends it. Opened on the
   * replica that leads (only the leader hears the agents), found with a call only it answers.
   */
  async watch(): Promise<grpc.ClientReadableStream<MeshEvent>> {
    if (this.servers.length > 1) await this.call('GetMeshStatus', {});
    return this.client().WatchMesh({}, this.metadata, {});
  }

  private once<Method extends UnaryMethod>(method: Method, request: RequestOf<Method>): Promise<ResponseOf<Method>> {
    const client = this.client();
    return new Promise((resolve, reject) => {
      const invoke = client[method] as unknown as (
        request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<ResponseOf<Method>>,
      ) => grpc.ClientUnaryCall;
      invoke.call(client, request, this.metadata, { deadline: Date.now() + this.callTimeoutMs }, (error, response) => {
        if (error) reject(error);
        else resolve(response as ResponseOf<Method>);
      });
    });
  }

  /** The named leader if not tried yet in this call, else the first replica not tried; undefined when none is left. */
  private nextServer(leader: string | undefined, tried: ReadonlySet<string>): string | undefined {
    if (leader !== undefined && !tried.has(leader)) return leader;
    return this.servers.find((server) => !tried.has(server));
  }

  private client(): ControlClient {
    let client = this.clients.get(this.current);
    if (client === undefined) {
      client = createControlClient(this.current, this.channelCredentials, CHANNEL_OPTIONS);
      this.clients.set(this.current, client);
    }
    return client;
  }

  /** What a gRPC status means to the operator, and the exit code that says so. */
  failure(error: grpc.ServiceError): CommandFailure {
    // grpc-js ends a connect failure's details with an empty "Resolution note: ".
    const details = (error.details || error.message).replace(/\s*Resolution note:\s*$/, '');
    switch (error.code) {
      case grpc.status.UNAVAILABLE:
        return new CommandFailure(`cannot reach the control plane at ${this.servers.length > 1 ? `${this.servers.join(',')} (last tried ${this.server})` : this.server}: ${details}`, EXIT.unreachable, error.code);
      case grpc.status.DEADLINE_EXCEEDED:
        return new CommandFailure(`no answer from the control plane at ${this.server} within ${this.callTimeoutMs} ms (--timeout)`, EXIT.unreachable, error.code);
      case grpc.status.UNAUTHENTICATED:
      case grpc.status.PERMISSION_DENIED:
        return new CommandFailure(`the control plane at ${this.server} refused the token in MESHLET_TOKEN: ${details}`, EXIT.unreachable, error.code);
      case grpc.status.ABORTED:
        return new CommandFailure(`conflict: ${details}`, EXIT.conflict, error.code);
      case grpc.status.INVALID_ARGUMENT:
      case grpc.status.FAILED_PRECONDITION:
      case grpc.status.NOT_FOUND:
      case grpc.status.OUT_OF_RANGE:
        return new CommandFailure(details, EXIT.invalid, error.code);
      default:
        return new CommandFailure(`the control plane at ${this.server} failed (${grpc.status[error.code] ?? error.code}): ${details}`, EXIT.unreachable, error.code);
    }
  }

  /** Fresh channels for the calls from now on (a watch reconnecting after the server went away). */
  reopen(): void {
    this.close();
    this.clients.clear();
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }
}

type UnaryMethod = 'ApplyPolicy' | 'GetPolicy' | 'ListAgents' | 'GetMeshStatus' | 'Rollback';
type RequestOf<Method extends UnaryMethod> = Parameters<ControlClient[Method]>[0];
type ResponseOf<Method extends UnaryMethod> = Parameters<ControlClient[Method]>[3] extends grpc.requestCallback<infer Response> ? Response : never;

function credentials(flags: ConnectionFlags): grpc.ChannelCredentials {
  if (flags.tlsCa === undefined && flags.tlsCert === undefined && flags.tlsKey === undefined) return grpc.credentials.createInsecure();
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new CommandFailure('--tls-cert and --tls-key go together (a client certificate for mTLS)', EXIT.invalid);
  }
  return grpc.credentials.createSsl(
    flags.tlsCa !== undefined ? readFlagFile('--tls-ca', flags.tlsCa) : null,
    flags.tlsKey !== undefined ? readFlagFile('--tls-key', flags.tlsKey) : null,
    flags.tlsCert !== undefined ? readFlagFile('--tls-cert', flags.tlsCert) : null,
  );
}

function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CommandFailure(`${flag}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`, EXIT.invalid);
  }
}

/**
 * Runs a command against the control plane: opens the connection, closes it however the
 * command ends, and turns a CommandFailure into its message on stderr and its exit code.
 */
export async function withControl(flags: ConnectionFlags, command: (control: ControlConnection) => Promise<number>): Promise<number> {
  let control: ControlConnection | undefined;
  try {
    control = ControlConnection.open(flags);
    return await command(control);
  } catch (error) {
    if (!(error instanceof CommandFailure)) throw error;
    process.stderr.write(`meshlet: ${error.message}\n`);
    return error.exitCode;
  } finally {
    control?.close();
  }
}
