// A stand-in for `meshlet control` in the operator CLI's tests (control-plane.ts starts the
// real one): a real @grpc/grpc-js server on 127.0.0.1 serving the operator calls of
// proto/meshlet/v1/control.proto over canned state, with the real server's conventions.
// Policies are validated with the real parsePolicyDocument and stored compare-and-set; after
// an apply each canned agent acks, nacks or stays silent, as the test scripted it, one by one.
import * as grpc from '@grpc/grpc-js';
import {
  controlProto,
  type AgentReport, type AgentStatus, type ApplyPolicyRequest, type ApplyPolicyResponse, type FieldError,
  type GetPolicyRequest, type MeshEvent, type MeshStatus, type PolicySnapshot, type RollbackRequest,
} from '../../src/control/control-proto.ts';
import { parsePolicyDocument } from '../../src/control/policy-document.ts';

export type AgentBehaviour = 'ack' | 'nack' | 'silent';

export interface FakeAgent {
  readonly node: string;
  readonly behaviour?: AgentBehaviour;
  readonly connected?: boolean;
  readonly version?: number;
  readonly nackErrors?: readonly FieldError[];
  readonly lastReport?: AgentReport;
}

export interface FakeOperatorApiOptions {
  readonly token: string;
  readonly agents?: readonly FakeAgent[];
  /** Milliseconds between one agent's answer to a new version and the next one's. */
  readonly answerStepMs?: number;
  /** Serve TLS with this key and certificate (PEM); with clientCa, require client certificates it signed (mTLS). */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly clientCa?: Buffer };
}

export interface ReceivedCall {
  readonly method: string;
  readonly request: unknown;
}

const emptyReport: AgentReport = { atMs: 0, breakers: [], endpoints: [], upstreams: [] };

export class FakeOperatorApi {
  readonly snapshots: PolicySnapshot[] = [];
  readonly calls: ReceivedCall[] = [];
  readonly agents: AgentStatus[];
  private readonly behaviours = new Map<string, FakeAgent>();
  private readonly watchers = new Set<grpc.ServerWritableStream<unknown, MeshEvent>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
    private readonly options: FakeOperatorApiOptions,
  ) {
    this.agents = (options.agents ?? []).map((agent) => {
      this.behaviours.set(agent.node, agent);
      return {
        node: agent.node, softwareVersion: '0.1.0', connected: agent.connected ?? true, version: agent.version ?? 0,
        nack: null, lastSeenMs: Date.now(), lastReport: agent.lastReport ?? emptyReport,
      };
    });
  }

  static async start(options: FakeOperatorApiOptions): Promise<FakeOperatorApi> {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) => {
      const credentials = options.tls
        ? grpc.ServerCredentials.createSsl(options.tls.clientCa ?? null, [{ private_key: options.tls.key, cert_chain: options.tls.cert }], options.tls.clientCa !== undefined)
        : grpc.ServerCredentials.createInsecure();
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
    });
    const control = new FakeOperatorApi(server, `127.0.0.1:${port}`, options);
    server.addService(controlProto().service, control.handlers());
    return control;
  }

  get currentVersion(): number {
    return this.snapshots.at(-1)?.version ?? 0;
  }

  /** Stores a version as another operator would, behind the CLI's back. */
  storeBehindTheBack(document: object): void {
    this.store(JSON.stringify(document), 'someone-else', 0);
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  /** Sends an event to every WatchMesh stream open now. */
  emit(event: MeshEvent): void {
    for (const watcher of this.watchers) watcher.write(event);
  }

  /** Ends every WatchMesh stream open now with this status, as the real server drops a watcher that fell behind. */
  dropWatchers(code: grpc.status, details: string): void {
    for (const watcher of this.watchers) {
      this.watchers.delete(watcher);
      // As the real server does (control-service.ts): the error event ends the call with that status.
      watcher.emit('error', { code, details });
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const watcher of this.watchers) watcher.end();
    this.server.forceShutdown();
  }

  private handlers(): grpc.UntypedServiceImplementation {
    return {
      ApplyPolicy: this.unary('ApplyPolicy', (request: ApplyPolicyRequest) => this.apply(request)),
      GetPolicy: this.unary('GetPolicy', (request: GetPolicyRequest) => this.getPolicy(request)),
      ListAgents: this.unary('ListAgents', () => ({ agents: this.agents, currentVersion: this.currentVersion })),
      GetMeshStatus: this.unary('GetMeshStatus', () => this.meshStatus()),
      Rollback: this.unary('Rollback', (request: RollbackRequest) => this.rollback(request)),
      WatchMesh: (call: grpc.ServerWritableStream<unknown, MeshEvent>) => {
        const refusal = this.refusal(call.metadata);
        if (refusal) {
          call.destroy(Object.assign(new Error(refusal.details), refusal));
          return;
        }
        this.calls.push({ method: 'WatchMesh', request: call.request });
        this.watchers.add(call);
        call.on('cancelled', () => this.watchers.delete(call));
        call.on('close', () => this.watchers.delete(call));
      },
    };
  }

  private unary<Request>(method: string, handle: (request: Request) => unknown): grpc.handleUnaryCall<Request, unknown> {
    return (call, callback) => {
      const refusal = this.refusal(call.metadata);
      if (refusal) {
        callback(refusal);
        return;
      }
      this.calls.push({ method, request: call.request });
      try {
        callback(null, handle(call.request));
      } catch (error) {
        callback(error as grpc.ServiceError);
      }
    };
  }

  private refusal(metadata: grpc.Metadata): Partial<grpc.ServiceError> | undefined {
    const [header] = metadata.get('authorization');
    if (header === undefined) return { code: grpc.status.UNAUTHENTICATED, details: 'missing authorization: Bearer <token>' };
    if (header !== `Bearer ${this.options.token}`) return { code: grpc.status.PERMISSION_DENIED, details: 'the token is not an operator token' };
    return undefined;
  }

  // The real server's conventions: a conflict is the one error on expected_version with the
  // current version in `version`; an unknown rollback target is an error on to_version.
  private apply(request: ApplyPolicyRequest): ApplyPolicyResponse {
    let value: unknown;
    try {
      value = JSON.parse(request.documentJson);
    } catch {
      return refused([{ path: '', message: 'document_json is not JSON' }]);
    }
    return this.validateAndStore(value, request, 0);
  }

  private rollback(request: RollbackRequest): ApplyPolicyResponse {
    const target = this.snapshots.find((snapshot) => snapshot.version === request.toVersion);
    if (!target) return refused([{ path: 'to_version', message: `there is no version ${request.toVersion}; versions run from 1 to ${this.currentVersion}` }]);
    const asApply: ApplyPolicyRequest = { documentJson: target.documentJson, expectedVersion: request.expectedVersion, force: request.force, dryRun: false, author: request.author };
    return this.validateAndStore(JSON.parse(target.documentJson), asApply, target.version);
  }

  private validateAndStore(value: unknown, request: ApplyPolicyRequest, rolledBackFrom: number): ApplyPolicyResponse {
    const parsed = parsePolicyDocument(value);
    if (!parsed.ok) return refused([...parsed.errors]);
    const current = this.currentVersion;
    if (!request.force && request.expectedVersion !== current) {
      const message = `the policy is at version ${current}, not ${request.expectedVersion}: read it again (meshlet get policy), apply on top of version ${current}, or force`;
      return { ok: false, version: current, errors: [{ path: 'expected_version', message }], diff: [], unchanged: false };
    }
    const documentJson = JSON.stringify(parsed.document);
    if (documentJson === this.snapshots.at(-1)?.documentJson) return { ok: true, version: current, errors: [], diff: [], unchanged: true };
    const diff = policyDiff(this.currentDocument(), parsed.document);
    if (request.dryRun) return { ok: true, version: current + 1, errors: [], diff, unchanged: false };
    const snapshot = this.store(documentJson, request.author, rolledBackFrom);
    return { ok: true, version: snapshot.version, errors: [], diff, unchanged: false };
  }

  private getPolicy(request: GetPolicyRequest): PolicySnapshot {
    if (request.version === 0) return this.snapshots.at(-1) ?? { version: 0, documentJson: '', createdAtMs: 0, author: '', rolledBackFrom: 0 };
    const snapshot = this.snapshots.find((candidate) => candidate.version === request.version);
    if (!snapshot) throw Object.assign(new Error('no such version'), { code: grpc.status.NOT_FOUND, details: `there is no policy version ${request.version}; the current one is ${this.currentVersion}` });
    return snapshot;
  }

  private currentDocument(): object {
    const current = this.snapshots.at(-1);
    return current ? (JSON.parse(current.documentJson) as object) : {};
  }

  private store(documentJson: string, author: string, rolledBackFrom: number): PolicySnapshot {
    const snapshot = { version: this.currentVersion + 1, documentJson, createdAtMs: Date.now(), author, rolledBackFrom };
    this.snapshots.push(snapshot);
    this.answer(snapshot.version);
    return snapshot;
  }

  /** Each connected agent answers the new version in turn, answerStepMs apart. */
  private answer(version: number): void {
    let step = 0;
    for (const agent of this.agents) {
      const behaviour = this.behaviours.get(agent.node)?.behaviour ?? 'ack';
      if (!agent.connected || behaviour === 'silent') continue;
      step += 1;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (behaviour === 'ack') agent.version = version;
        else agent.nack = { version, errors: [...(this.behaviours.get(agent.node)?.nackErrors ?? [])] };
        agent.lastSeenMs = Date.now();
      }, step * (this.options.answerStepMs ?? 20));
      this.timers.add(timer);
    }
  }

  private meshStatus(): MeshStatus {
    const current = this.currentVersion;
    return {
      currentVersion: current,
      agents: this.agents.length,
      agentsConnected: this.agents.filter((agent) => agent.connected).length,
      agentsOnCurrent: this.agents.filter((agent) => agent.version === current).length,
      openBreakers: this.agents.flatMap((agent) => (agent.lastReport?.breakers ?? [])
        .filter((breaker) => breaker.state !== 'BREAKER_STATE_CLOSED')
        .map((breaker) => ({ ...breaker, node: agent.node }))),
      ejectedEndpoints: this.agents.flatMap((agent) => (agent.lastReport?.endpoints ?? [])
        .filter((endpoint) => endpoint.ejected)
        .map((endpoint) => ({ ...endpoint, node: agent.node }))),
      unreachableEndpoints: this.agents.flatMap((agent) => (agent.lastReport?.endpoints ?? [])
        .filter((endpoint) => endpoint.unreachable)
        .map((endpoint) => ({ ...endpoint, node: agent.node }))),
    };
  }
}

function refused(errors: FieldError[]): ApplyPolicyResponse {
  return { ok: false, version: 0, errors, diff: [], unchanged: false };
}

/** As the real server shows a change: "+ path: value", "- path: value", "~ path: old → new", by path. */
export function policyDiff(before: object, after: object): string[] {
  const old = leaves(before);
  const next = leaves(after);
  const lines: string[] = [];
  for (const path of [...new Set([...old.keys(), ...next.keys()])].sort()) {
    const was = old.get(path);
    const now = next.get(path);
    if (was === undefined) lines.push(`+ ${path}: ${now}`);
    else if (now === undefined) lines.push(`- ${path}: ${was}`);
    else if (was !== now) lines.push(`~ ${path}: ${was} → ${now}`);
  }
  return lines;
}

function leaves(value: unknown, prefix = '', into = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) leaves(child, prefix === '' ? key : `${prefix}.${key}`, into);
  } else if (prefix !== '') {
    into.set(prefix, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return into;
}
