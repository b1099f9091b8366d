// The meshlet.v1.Control handlers: every call is authorized first (Connect with the agent
// token, the rest with the operator token), then served from the store, the agent registry
// and the watchers. New snapshots reach agents through the store's watch, not through the
// apply that made them, so a replicated store's other writers are pushed the same way.
// With replicas (leadership.ts), only the leader takes Connect streams and pushes, and only it
// answers the calls that need the agents' reports (ListAgents, GetMeshStatus, WatchMesh); a
// follower answers those UNAVAILABLE naming the leader, and serves the policy calls itself.
import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import { AgentConnection, type ConnectLimits } from './agent-connection.ts';
import { AgentRegistry } from './agent-registry.ts';
import type { Role, TokenAuth } from './control-auth.ts';
import type { ControlMetrics } from './control-metrics.ts';
import { notLeaderStatus, type Leadership } from './leadership.ts';
import type {
  AgentMessage, ApplyPolicyRequest, ApplyPolicyResponse, ControlMessage, GetPolicyRequest, ListAgentsResponse,
  ListPolicyVersionsRequest, ListPolicyVersionsResponse, MeshEvent, MeshStatus, PolicySnapshot, RollbackRequest,
} from './control-proto.ts';
import { MeshWatchers, type MeshWatcher } from './mesh-watchers.ts';
import { PolicyOperations, type OperationOutcome } from './policy-operations.ts';
import { StoreUnavailableError, type PolicyStore } from './policy-store.ts';

export interface ControlServiceLimits extends ConnectLimits {
  readonly maxAgents: number;
  /** Connect streams that have not said hello yet. */
  readonly maxPendingStreams: number;
  readonly retainDisconnectedMs: number;
  readonly maxWatchers: number;
  /** Events a watcher may have unsent before it is dropped. */
  readonly maxWatcherBacklog: number;
}

export interface ControlServiceOptions {
  readonly store: PolicyStore;
  readonly leadership: Leadership;
  readonly auth: TokenAuth;
  readonly metrics: ControlMetrics;
  readonly clock: Clock;
  readonly wallNow: () => number;
  readonly logger: Logger;
  readonly limits: ControlServiceLimits;
}

const DEFAULT_PAGE = 50;

export class ControlService {
  readonly registry: AgentRegistry;
  readonly watchers: MeshWatchers;
  private readonly connections = new Set<AgentConnection>();
  /** The WatchMesh streams (the dashboard's own watcher is not one: it stays across terms). */
  private readonly meshStreams = new Set<MeshWatcher>();
  private readonly operations: PolicyOperations;
  private pendingStreams = 0;
  private readonly stopWatch: () => void;
  private readonly stopLeadership: () => void;
  private readonly sweepTimer: TimerHandle;

  constructor(private readonly options: ControlServiceOptions) {
    const { limits, clock, store } = options;
    this.registry = new AgentRegistry({ maxAgents: limits.maxAgents, retainDisconnectedMs: limits.retainDisconnectedMs, clock, wallNow: options.wallNow });
    this.watchers = new MeshWatchers(limits.maxWatchers, limits.maxWatcherBacklog, () => options.metrics.watchersDropped.inc());
    this.operations = new PolicyOperations(store, options.wallNow);
    this.stopWatch = store.watch((snapshot) => {
      if (!options.leadership.isLeader()) return;
      for (const connection of this.connections) connection.push(snapshot);
    });
    this.stopLeadership = options.leadership.onChange((leading) => {
      if (!leading) this.stepDown();
    });
    this.sweepTimer = clock.setInterval(() => this.registry.sweep(), Math.max(1000, limits.retainDisconnectedMs / 10));
    this.sweepTimer.unref();
  }

  get pending(): number {
    return this.pendingStreams;
  }

  /** Ends every agent stream (the agents reconnect to whoever serves next) and stops the timers. */
  close(): void {
    this.stopWatch();
    this.stopLeadership();
    this.options.clock.clearInterval(this.sweepTimer);
    for (const connection of [...this.connections]) connection.close('the control plane is shutting down', grpc.status.UNAVAILABLE);
    this.watchers.closeAll('the control plane is shutting down');
  }

  /** No longer the leader: every agent stream and WatchMesh stream ends, pointing at whoever leads now. */
  private stepDown(): void {
    const status = notLeaderStatus(this.options.leadership, 'Connect');
    for (const connection of [...this.connections]) connection.close(status.details, status.code, status.metadata);
    const watch = notLeaderStatus(this.options.leadership, 'WatchMesh');
    for (const watcher of [...this.meshStreams]) {
      this.watchers.remove(watcher);
      watcher.drop(watch.code, watch.details);
    }
    this.meshStreams.clear();
  }

  /** The handlers, by method name, for server.addService. */
  handlers(): grpc.UntypedServiceImplementation {
    return {
      Connect: (call: grpc.ServerDuplexStream<AgentMessage, ControlMessage>) => this.connect(call),
      ApplyPolicy: this.unary<ApplyPolicyRequest, ApplyPolicyResponse>('ApplyPolicy', (r) => this.outcome(this.operations.apply(r))),
      Rollback: this.unary<RollbackRequest, ApplyPolicyResponse>('Rollback', (r) => this.outcome(this.operations.rollback(r))),
      GetPolicy: this.unary<GetPolicyRequest, PolicySnapshot>('GetPolicy', (r) => this.getPolicy(r)),
      ListPolicyVersions: this.unary<ListPolicyVersionsRequest, ListPolicyVersionsResponse>('ListPolicyVersions', (r) => this.history(r)),
      ListAgents: this.unary<unknown, ListAgentsResponse>('ListAgents', async () => this.leaderOnly('ListAgents', () => ({ agents: this.registry.list(), currentVersion: this.options.store.current().version }))),
      GetMeshStatus: this.unary<unknown, MeshStatus>('GetMeshStatus', async () => this.leaderOnly('GetMeshStatus', () => this.registry.meshStatus(this.options.store.current().version))),
      WatchMesh: (call: grpc.ServerWritableStream<unknown, MeshEvent>) => this.watchMesh(call),
    };
  }

  private connect(call: grpc.ServerDuplexStream<AgentMessage, ControlMessage>): void {
    if (!this.authorized(call, 'agent', 'Connect')) return;
    if (!this.options.leadership.isLeader()) {
      call.emit('error', notLeaderStatus(this.options.leadership, 'Connect'));
      return;
    }
    const { limits } = this.options;
    if (this.pendingStreams >= limits.maxPendingStreams) {
      this.options.metrics.refused('too_many_pending');
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `${limits.maxPendingStreams} Connect streams are waiting for their hello already; try again shortly` });
      return;
    }
    this.pendingStreams++;
    new AgentConnection(call, {
      registry: this.registry,
      watchers: this.watchers,
      metrics: this.options.metrics,
      clock: this.options.clock,
      wallNow: this.options.wallNow,
      logger: this.options.logger,
      limits,
      current: () => this.options.store.current(),
      track: (connection, joined) => {
        if (!joined) {
          this.connections.delete(connection);
        } else if (this.options.leadership.isLeader()) {
          this.connections.add(connection);
        } else {
          // Stepped down between the stream's opening and its hello.
          const status = notLeaderStatus(this.options.leadership, 'Connect');
          connection.close(status.details, status.code, status.metadata);
        }
      },
    }, () => this.pendingStreams--);
  }

  private watchMesh(call: grpc.ServerWritableStream<unknown, MeshEvent>): void {
    if (!this.authorized(call, 'operator', 'WatchMesh')) return;
    if (!this.options.leadership.isLeader()) {
      call.emit('error', notLeaderStatus(this.options.leadership, 'WatchMesh'));
      return;
    }
    const watcher: MeshWatcher = {
      write: (event: MeshEvent) => void call.write(event),
      backlog: () => call.writableLength,
      drop: (code: grpc.status, reason: string) => {
        const leader = code === grpc.status.UNAVAILABLE ? notLeaderStatus(this.options.leadership, 'WatchMesh').metadata : undefined;
        call.emit('error', { code, details: reason, ...(leader !== undefined ? { metadata: leader } : {}) });
      },
    };
    if (!this.watchers.add(watcher)) {
      this.options.metrics.refused('too_many_watchers');
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `${this.options.limits.maxWatchers} watchers are open already` });
      return;
    }
    // Headers now, so the watcher knows it is subscribed before the first event.
    call.sendMetadata(new grpc.Metadata());
    this.meshStreams.add(watcher);
    const remove = (): void => {
      this.watchers.remove(watcher);
      this.meshStreams.delete(watcher);
    };
    call.on('cancelled', remove);
    call.on('close', remove);
    call.on('error', remove);
  }

  private async getPolicy(request: GetPolicyRequest): Promise<PolicySnapshot> {
    if (request.version === 0) return this.options.store.fresh();
    const snapshot = await this.options.store.get(request.version);
    if (snapshot === undefined) throw statusError(grpc.status.NOT_FOUND, `there is no policy version ${request.version}; the current one is ${this.options.store.current().version}`);
    return snapshot;
  }

  private async history(request: ListPolicyVersionsRequest): Promise<ListPolicyVersionsResponse> {
    const page = await this.options.store.history(request.beforeVersion, request.pageSize === 0 ? DEFAULT_PAGE : request.pageSize);
    return { versions: [...page.versions], nextBeforeVersion: page.nextBefore };
  }

  private leaderOnly<T>(method: string, serve: () => T): T {
    if (!this.options.leadership.isLeader()) throw Object.assign(new Error(), notLeaderStatus(this.options.leadership, method));
    return serve();
  }

  private async outcome(pending: Promise<OperationOutcome>): Promise<ApplyPolicyResponse> {
    let outcome: OperationOutcome;
    try {
      outcome = await pending;
    } catch (error) {
      this.options.metrics.apply('failed');
      this.options.logger.error({ err: (error as Error).message }, 'policy could not be stored');
      throw statusError(grpc.status.UNAVAILABLE, `the policy could not be stored durably, so it is not applied: ${(error as Error).message}`);
    }
    this.options.metrics.apply(outcome.result);
    if (outcome.result === 'applied') this.options.logger.info({ version: outcome.response.version, changes: outcome.response.diff.length }, 'policy applied');
    return outcome.response;
  }

  private unary<Req, Res>(method: string, serve: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      if (!this.authorized(call, 'operator', method, callback)) return;
      serve(call.request).then(
        (response) => callback(null, response),
        (error: unknown) => callback(isStatusError(error) ? error : statusError(error instanceof StoreUnavailableError ? grpc.status.UNAVAILABLE : grpc.status.INTERNAL, (error as Error).message)),
      );
    };
  }

  private authorized(
    call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
    role: Role, method: string, callback?: grpc.sendUnaryData<never>,
  ): boolean {
    const result = this.options.auth.check(call.metadata, role, method);
    if (result.ok) return true;
    this.options.metrics.refused(result.code === grpc.status.PERMISSION_DENIED ? 'permission_denied' : 'unauthenticated');
    const error = statusError(result.code, result.details);
    if (callback) callback(error);
    else call.emit('error', error);
    return false;
  }
}

type StatusError = Partial<grpc.StatusObject> & Error & { code: grpc.status };

function statusError(code: grpc.status, details: string): StatusError {
  return Object.assign(new Error(details), { code, details });
}

function isStatusError(error: unknown): error is StatusError {
  return error instanceof Error && typeof (error as Partial<StatusError>).code === 'number';
}
