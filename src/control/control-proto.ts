// proto/meshlet/v1/control.proto, loaded once per process for the control server, the agent's
// control client and the operator CLI, with the TypeScript shapes of its messages as
// @grpc/proto-loader gives them (camelCase fields, uint64/int64 as numbers, enums as their
// names, every field present with its default, a oneof's case in `kind`).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { repoRoot } from '../cli/demo/repo-root.ts';
import type { FieldError } from './policy-document.ts';

export const controlServiceName = 'meshlet.v1.Control';
export const controlProtoFile = 'meshlet/v1/control.proto';
export const protoRoot = join(repoRoot, 'proto');

export const loaderOptions: protoLoader.Options = {
  includeDirs: [protoRoot],
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

// ---- policy ----

export interface PolicySnapshot {
  version: number;
  documentJson: string;
  createdAtMs: number;
  author: string;
  rolledBackFrom: number;
}

export type { FieldError } from './policy-document.ts';

export interface ApplyPolicyRequest {
  documentJson: string;
  expectedVersion: number;
  force: boolean;
  dryRun: boolean;
  author: string;
}

export interface ApplyPolicyResponse {
  ok: boolean;
  version: number;
  errors: FieldError[];
  diff: string[];
  unchanged: boolean;
}

export interface GetPolicyRequest {
  version: number;
}

export interface RollbackRequest {
  toVersion: number;
  expectedVersion: number;
  force: boolean;
  author: string;
}

export interface ListPolicyVersionsRequest {
  beforeVersion: number;
  pageSize: number;
}

export interface ListPolicyVersionsResponse {
  versions: PolicySnapshot[];
  nextBeforeVersion: number;
}

// ---- agents ----

export interface Hello {
  node: string;
  version: string;
  services: string[];
  upstreams: string[];
  policyVersion: number;
}

export interface Ack {
  version: number;
}

export interface Nack {
  version: number;
  errors: FieldError[];
}

export type BreakerState = 'BREAKER_STATE_CLOSED' | 'BREAKER_STATE_HALF_OPEN' | 'BREAKER_STATE_OPEN';

export interface BreakerReport {
  upstream: string;
  endpoint: string;
  state: BreakerState;
  reason: string;
  sinceMs: number;
  node: string;
}

export interface EndpointReport {
  upstream: string;
  address: string;
  health: string;
  ejected: boolean;
  ejectionReason: string;
  requestsPerSecond: number;
  errorPercent: number;
  p50Ms: number;
  p99Ms: number;
  node: string;
  unreachable: boolean;
  unreachableReason: string;
}

export interface UpstreamReport {
  name: string;
  requestsPerSecond: number;
  errorPercent: number;
  p50Ms: number;
  p99Ms: number;
  retries: number;
  fallbacks: number;
  ejections: number;
}

export interface AgentReport {
  atMs: number;
  breakers: BreakerReport[];
  endpoints: EndpointReport[];
  upstreams: UpstreamReport[];
}

/** What an agent sends on Connect, as received (exactly one case set, named by `kind`). */
export type AgentMessage =
  | { kind: 'hello'; hello: Hello }
  | { kind: 'ack'; ack: Ack }
  | { kind: 'nack'; nack: Nack }
  | { kind: 'report'; report: AgentReport };

/** What an agent sends, as written: one case, other fields may be left out. */
export type AgentMessageOut =
  | { hello: Partial<Hello> }
  | { ack: Ack }
  | { nack: Partial<Nack> }
  | { report: AgentReportOut };

/** A report as written: fields left out are sent as their defaults. */
export interface AgentReportOut {
  atMs?: number;
  breakers?: Partial<BreakerReport>[];
  endpoints?: Partial<EndpointReport>[];
  upstreams?: Partial<UpstreamReport>[];
}

export interface ControlMessage {
  kind: 'snapshot';
  snapshot: PolicySnapshot;
}

export interface AgentStatus {
  node: string;
  softwareVersion: string;
  connected: boolean;
  version: number;
  /** null when the agent has not NACKed a later version than it acked. */
  nack: Nack | null;
  lastSeenMs: number;
  /** null before its first report. */
  lastReport: AgentReport | null;
}

export interface ListAgentsResponse {
  agents: AgentStatus[];
  currentVersion: number;
}

export interface MeshStatus {
  currentVersion: number;
  agents: number;
  agentsConnected: number;
  agentsOnCurrent: number;
  openBreakers: BreakerReport[];
  ejectedEndpoints: EndpointReport[];
  unreachableEndpoints: EndpointReport[];
}

export type MeshEvent = { atMs: number; node: string } & (
  | { kind: 'breaker'; breaker: BreakerReport }
  | { kind: 'endpoint'; endpoint: EndpointReport }
  | { kind: 'agent'; agent: AgentStatus }
);

type Empty = Record<string, never>;

/** A meshlet.v1.Control client; every call takes metadata and options so overloads stay out. */
export interface ControlClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<AgentMessageOut, ControlMessage>;
  ApplyPolicy(request: Partial<ApplyPolicyRequest>, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<ApplyPolicyResponse>): grpc.ClientUnaryCall;
  GetPolicy(request: Partial<GetPolicyRequest>, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<PolicySnapshot>): grpc.ClientUnaryCall;
  ListAgents(request: Empty, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<ListAgentsResponse>): grpc.ClientUnaryCall;
  GetMeshStatus(request: Empty, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<MeshStatus>): grpc.ClientUnaryCall;
  WatchMesh(request: Empty, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<MeshEvent>;
  Rollback(request: Partial<RollbackRequest>, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<ApplyPolicyResponse>): grpc.ClientUnaryCall;
  ListPolicyVersions(request: Partial<ListPolicyVersionsRequest>, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<ListPolicyVersionsResponse>): grpc.ClientUnaryCall;
}

export interface ControlProto {
  /** The package definition, for server reflection. */
  readonly definition: protoLoader.PackageDefinition;
  readonly service: grpc.ServiceDefinition;
  readonly Client: grpc.ServiceClientConstructor;
}

let loaded: ControlProto | undefined;

/** The loaded proto; the file is read on the first call only. */
export function controlProto(): ControlProto {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(controlProtoFile, loaderOptions);
  const root = grpc.loadPackageDefinition(definition) as unknown as { meshlet: { v1: { Control: grpc.ServiceClientConstructor } } };
  const Client = root.meshlet.v1.Control;
  loaded = { definition, service: Client.service, Client };
  return loaded;
}

/** A client of `address` ("host:port"); insecure unless credentials are given. */
export function createControlClient(address: string, credentials?: grpc.ChannelCredentials, options?: grpc.ChannelOptions): ControlClient {
  const { Client } = controlProto();
  return new Client(address, credentials ?? grpc.credentials.createInsecure(), options) as unknown as ControlClient;
}

/** The metadata every call carries: `authorization: Bearer <token>`. */
export function bearerMetadata(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}
