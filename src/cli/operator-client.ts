// The operator commands' connection to `meshlet control`: where it is, the token, TLS, a
// deadline on every call, and what each gRPC failure means as an exit code a script can trust.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { parseDuration } from '../config/duration.ts';
import { bearerMetadata, createControlClient, type ControlClient, type MeshEvent } from '../control/control-proto.ts';

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
  constructor(message: string, readonly exitCode: ExitCode) {
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

// ListAgents for a thousand agents with their last reports runs to megabytes.
const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

export class ControlConnection {
  private constructor(
    readonly server: string,
    private readonly client: ControlClient,
    private readonly metadata: grpc.Metadata,
    readonly callTimeoutMs: number,
  ) {}

  static open(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ControlConnection {
    const server = flags.server ?? (env.MESHLET_CONTROL || DEFAULT_SERVER);
    const token = env.MESHLET_TOKEN;
    if (!token) throw new CommandFailure('MESHLET_TOKEN is not set: export the operator token of the control plane in MESHLET_TOKEN', EXIT.unreachable);
    const timeout = parseDuration(flags.timeout ?? DEFAULT_CALL_TIMEOUT);
    if (!timeout.ok || timeout.ms === 0) throw new CommandFailure(`--timeout: ${timeout.ok ? 'must be longer than 0' : timeout.reason}`, EXIT.invalid);
    const client = createControlClient(server, credentials(flags), { 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES });
    return new ControlConnection(server, client, bearerMetadata(token), timeout.ms);
  }

  /** One unary call under the call deadline; a gRPC failure becomes a CommandFailure. */
  call<Method extends UnaryMethod>(method: Method, request: RequestOf<Method>): Promise<ResponseOf<Method>> {
    return new Promise((resolve, reject) => {
      const invoke = this.client[method] as unknown as (
        request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<ResponseOf<Method>>,
      ) => grpc.ClientUnaryCall;
      invoke.call(this.client, request, this.metadata, { deadline: Date.now() + this.callTimeoutMs }, (error, response) => {
        if (error) reject(this.failure(error));
        else resolve(response as ResponseOf<Method>);
      });
    });
  }

  /** WatchMesh without a deadline: it runs until cancelled or the server ends it. */
  watch(): grpc.ClientReadableStream<MeshEvent> {
    return this.client.WatchMesh({}, this.metadata, {});
  }

  /** What a gRPC status means to the operator, and the exit code that says so. */
  failure(error: grpc.ServiceError): CommandFailure {
    // grpc-js ends a connect failure's details with an empty "Resolution note: ".
    const details = (error.details || error.message).replace(/\s*Resolution note:\s*$/, '');
    switch (error.code) {
      case grpc.status.UNAVAILABLE:
        return new CommandFailure(`cannot reach the control plane at ${this.server}: ${details}`, EXIT.unreachable);
      case grpc.status.DEADLINE_EXCEEDED:
        return new CommandFailure(`no answer from the control plane at ${this.server} within ${this.callTimeoutMs} ms (--timeout)`, EXIT.unreachable);
      case grpc.status.UNAUTHENTICATED:
      case grpc.status.PERMISSION_DENIED:
        return new CommandFailure(`the control plane at ${this.server} refused the token in MESHLET_TOKEN: ${details}`, EXIT.unreachable);
      case grpc.status.ABORTED:
        return new CommandFailure(`conflict: ${details}`, EXIT.conflict);
      case grpc.status.INVALID_ARGUMENT:
      case grpc.status.FAILED_PRECONDITION:
      case grpc.status.NOT_FOUND:
      case grpc.status.OUT_OF_RANGE:
        return new CommandFailure(details, EXIT.invalid);
      default:
        return new CommandFailure(`the control plane at ${this.server} failed (${grpc.status[error.code] ?? error.code}): ${details}`, EXIT.unreachable);
    }
  }

  close(): void {
    this.client.close();
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
